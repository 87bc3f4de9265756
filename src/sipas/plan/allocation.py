"""Allocation of a sample across strata: proportional, equal, Neyman and power allocation.

Every method gives each stratum a share of ``n`` proportional to a weight ``a_h``:
``N_h`` (proportional), ``1`` (equal), ``N_h S_h sqrt(deff_h)`` (Neyman) or
``N_h^q S_h sqrt(deff_h)`` (power allocation, Bankier 1988, with ``S_h`` the coefficient of
variation). With bounds ``minimum_h <= n_h <= maximum_h`` (the maximum is at most ``N_h``) the
allocation is ``n_h = clip(lambda a_h, minimum_h, maximum_h)`` with ``lambda`` such that the
sizes add to ``n``: for Neyman this is the optimal allocation under the bounds (the
Karush-Kuhn-Tucker conditions of minimising ``sum a_h^2 / n_h``). The sizes are then rounded
to integers by largest remainders, which keeps the total and the bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, message, plain
from sipas.errors import PlanError
from sipas.plan._common import ArrayLike, check_positive, frozen, labelled

__all__ = ["Allocation", "allocate"]

Method = Literal["proportional", "neyman", "power", "equal"]
METHODS: tuple[str, ...] = ("proportional", "neyman", "power", "equal")


@dataclass(frozen=True)
class Allocation:
    """Integer sample sizes per stratum that add to ``n``, and the precision they give.

    ``to_frame()`` has the columns ``stratum, population, sd, size, fraction, se``; ``se`` is
    the standard error of the stratum mean, ``sqrt(deff S^2 (1 - n_h/N_h) / n_h)`` (NaN
    without ``sd``), and :attr:`se_overall` that of the stratified mean of the whole.
    """

    strata: np.ndarray
    population: np.ndarray
    sizes: np.ndarray
    sd: np.ndarray
    deff: np.ndarray
    method: str

    @property
    def n(self) -> int:
        """The total sample size."""
        return int(self.sizes.sum())

    @property
    def se(self) -> np.ndarray:
        """Standard error of each stratum's mean (NaN without ``sd``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            v = self.deff * self.sd**2 * (1 - self.sizes / self.population) / self.sizes
        return np.sqrt(np.where(self.sizes > 0, v, np.inf))

    @property
    def se_overall(self) -> float:
        """Standard error of the stratified mean of the whole population."""
        share = self.population / self.population.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            v = self.deff * self.sd**2 * (1 - self.sizes / self.population) / self.sizes
        v = np.where(self.sizes > 0, v, np.where(self.sd > 0, np.inf, 0.0))
        return float(np.sqrt(np.sum(share**2 * v)))

    def to_frame(self) -> pd.DataFrame:
        """One row per stratum (columns in the class docstring)."""
        return pd.DataFrame({"stratum": self.strata, "population": self.population,
                             "sd": self.sd, "size": self.sizes,
                             "fraction": self.sizes / self.population, "se": self.se})

    def summary(self) -> pd.DataFrame:
        """One row: method, strata, n, the smallest and largest stratum sample, overall se."""
        return pd.DataFrame({"method": [self.method], "strata": [len(self.strata)],
                             "n": [self.n], "min_size": [int(self.sizes.min())],
                             "max_size": [int(self.sizes.max())],
                             "se_overall": [self.se_overall]})

    def __repr__(self) -> str:
        return f"Allocation(method={self.method!r}, strata={len(self.strata)}, n={self.n})"


def allocate(population: ArrayLike, n: int, method: Method = "proportional",
             sd: ArrayLike | None = None, minimum: ArrayLike | None = None,
             maximum: ArrayLike | None = None, *, power: float = 0.5,
             deff: ArrayLike | None = None) -> Allocation:
    """Share ``n`` among strata, as integers that add to ``n``, within bounds.

    Parameters
    ----------
    population : array, Series or mapping
        Population (units or people) of each stratum; a Series or mapping gives the labels.
    n : int
        Total sample size.
    method : {"proportional", "neyman", "power", "equal"}
        ``"neyman"`` needs ``sd`` (last wave's SD of each stratum); ``"power"`` uses ``sd``
        as the coefficient of variation when given.
    sd : array, optional
        Standard deviation of the variable in each stratum (for ``"neyman"``, ``"power"`` and
        the precision columns).
    minimum, maximum : number or array, optional
        Bounds per stratum; the maximum is never above the stratum's population.
    power : float
        Exponent ``q`` of power allocation, in [0, 1]: 0 gives equal precision across
        strata, 1 Neyman's allocation (best for the whole).
    deff : number or array, optional
        Design effect of each stratum (default 1): enters Neyman and power allocation and
        the precision.

    Returns
    -------
    Allocation
        ``sizes`` (int64, adding to ``n``), ``to_frame()``, ``se`` and ``se_overall``.

    Raises
    ------
    PlanError
        A stratum with no units, ``n`` larger than the population or outside the bounds'
        sum, a minimum above a stratum's population, a negative or missing sd.

    Notes
    -----
    Proportional ``n_h = n N_h / N``; Neyman ``n_h = n N_h S_h / sum N_k S_k`` (Cochran 1977,
    5.25); power allocation ``n_h ∝ N_h^q CV_h`` (Bankier 1988). R equivalent:
    ``PracTools::strAlloc``.

    Examples
    --------
    >>> allocate([500, 300, 200], 100).sizes.tolist()
    [50, 30, 20]
    >>> allocate([500, 300, 200], 100, "neyman", sd=[1, 2, 4]).sizes.tolist()
    [26, 32, 42]
    >>> allocate([500, 300, 200], 100, "neyman", sd=[1, 2, 4], maximum=40).sizes.tolist()
    [27, 33, 40]
    """
    check_choice("method", method, METHODS, PlanError)
    pop, labels = labelled("population", population)
    if pop.ndim != 1 or len(pop) == 0:
        raise PlanError(message("population", "a list of stratum populations", population))
    labels = labels if labels is not None else np.arange(len(pop)).astype(object)
    check_positive("population", pop, labels,
                   hint="A stratum with no units cannot be sampled: drop it from the frame.")
    n = _check_n(n, pop)
    s = _per_stratum("sd", sd, len(pop), labels, default=np.nan if sd is None else 1.0,
                     allow_zero=True)
    d = _per_stratum("deff", deff, len(pop), labels, default=1.0)
    if method in ("neyman",) and sd is None:
        raise PlanError(message("sd", "given for method='neyman'", None,
                                "Neyman allocation needs last wave's SD of each stratum."))
    weight = {"proportional": pop, "equal": np.ones_like(pop),
              "neyman": pop * s * np.sqrt(d),
              "power": pop ** _check_power(power) * (np.nan_to_num(s, nan=1.0) * np.sqrt(d))
              }[method]
    lo = np.ceil(_per_stratum("minimum", minimum, len(pop), labels, default=0.0,
                              allow_zero=True))
    hi = np.floor(np.minimum(_per_stratum("maximum", maximum, len(pop), labels,
                                          default=np.inf), pop))
    over = lo > hi
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise PlanError(f"stratum {plain(labels[i])!r}: the minimum {plain(lo[i])} is above "
                        f"what it can take ({plain(hi[i])}: its population or maximum); lower "
                        "the minimum for that stratum.")
    if not lo.sum() <= n <= hi.sum():
        raise PlanError(message("n", f"between the sum of the minimums ({plain(lo.sum())}) "
                                f"and of the maximums ({plain(hi.sum())})", n,
                                "Change n or the bounds."))
    sizes = _round(_bounded(weight, n, lo, hi), n, hi)
    return Allocation(frozen(labels), frozen(pop), frozen(sizes), frozen(s), frozen(d),
                      method)


def _check_n(n: int, pop: np.ndarray) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise PlanError(message("n", "a positive integer", n))
    if n > pop.sum():
        raise PlanError(message("n", f"at most the population ({plain(pop.sum())})", int(n),
                                "A sample cannot be larger than the population."))
    return int(n)


def _check_power(power: float) -> float:
    if not isinstance(power, (int, float)) or not 0 <= power <= 1:
        raise PlanError(message("power", "a number in [0, 1]", power))
    return float(power)


def _per_stratum(name: str, value: ArrayLike | None, size: int, labels: np.ndarray, *,
                 default: float, allow_zero: bool = False) -> np.ndarray:
    if value is None:
        return np.full(size, default)
    arr, _ = labelled(name, value)
    if arr.ndim == 1 and len(arr) != size:
        raise PlanError(message(name, f"one value per stratum ({size})", len(arr)))
    arr = np.broadcast_to(arr, (size,)).astype("float64")
    check_positive(name, arr, labels, allow_zero=allow_zero)
    return arr


def _bounded(weight: np.ndarray, n: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``clip(lambda w, lo, hi)`` adding to ``n``: bisection on ``lambda``, then exact."""
    if weight.sum() <= 0:
        weight = np.ones_like(weight)
    total = float(weight.sum())
    a, b = 0.0, n / total
    while np.clip(b * weight, lo, hi).sum() < n:
        b *= 2
        if b > 1e300:
            break
    for _ in range(200):
        mid = 0.5 * (a + b)
        if np.clip(mid * weight, lo, hi).sum() < n:
            a = mid
        else:
            b = mid
        if b - a <= 1e-15 * b:
            break
    x = np.clip(b * weight, lo, hi)
    free = (x > lo) & (x < hi)
    if free.any():
        # solve lambda exactly on the strata the bounds leave free, so the sum is n
        fixed = x[~free].sum()
        x[free] = weight[free] * (n - fixed) / weight[free].sum()
    return x


def _round(x: np.ndarray, n: int, hi: np.ndarray) -> np.ndarray:
    """Largest-remainder rounding: floors, then one more to the largest fractions."""
    base = np.floor(x + 1e-9)
    short = round(n - base.sum())
    frac = np.where(base + 1 <= hi, x - base, -np.inf)
    if short > 0:
        order = np.argsort(-frac, kind="stable")[:short]
        base[order] += 1
    elif short < 0:
        order = np.argsort(x - base, kind="stable")
        order = order[base[order] > 0][:-short]
        base[order] -= 1
    return base.astype("int64")
