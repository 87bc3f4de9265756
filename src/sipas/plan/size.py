"""Sample size for a target margin of error, with the design effect, response rate and fpc.

The size that gives a share, a mean or an index the margin of error ``e`` at confidence
``level`` under a design with design effect ``deff`` is the solution ``n`` of

``e^2 = z^2 * deff * S^2 * (1/n - 1/N)``,  i.e.  ``n = n0 * deff / (1 + n0 * deff / N)``

with ``n0 = z^2 S^2 / e^2`` (``S^2 = p (1 - p)`` for a share) and ``N`` the population. The
design effect is given, or built from the intra-cluster correlation ``icc``, the cluster take
``take`` and the weighting effect ``kish``: ``deff = kish * (1 + (take - 1) * icc)``. The
respondents are rounded up; the people to select are ``respondents / response_rate``, rounded
up; the clusters are ``respondents / take``, rounded up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sipas._validate import check_level, message, plain
from sipas.errors import PlanError
from sipas.plan._common import (
    ArrayLike,
    check_positive,
    check_unit_interval,
    frozen,
    labelled,
)

__all__ = ["SampleSize", "sample_size"]

COLUMNS = ("domain", "population", "s2", "margin", "deff", "n0", "respondents", "selected",
           "clusters")


@dataclass(frozen=True)
class SampleSize:
    """The sample each domain needs: respondents, people to select and clusters.

    Attributes are arrays (one value per domain), or numbers when every input was a number.
    ``to_frame()`` has the columns ``domain, population, s2, margin, deff, n0, respondents,
    selected, clusters`` (``n0``: simple random sampling from an infinite population).
    """

    domain: np.ndarray
    population: np.ndarray
    s2: np.ndarray
    margin_abs: np.ndarray
    deff_used: np.ndarray
    n0_: np.ndarray
    respondents_: np.ndarray
    selected_: np.ndarray
    clusters_: np.ndarray
    scalar: bool

    def _out(self, arr: np.ndarray) -> Any:
        return plain(arr[0]) if self.scalar else arr

    @property
    def respondents(self) -> Any:
        """Respondents needed (rounded up)."""
        return self._out(self.respondents_)

    @property
    def selected(self) -> Any:
        """People to select: respondents over the response rate, rounded up."""
        return self._out(self.selected_)

    @property
    def clusters(self) -> Any:
        """Clusters to select (respondents over the take, rounded up); NaN without a take."""
        return self._out(self.clusters_)

    @property
    def deff(self) -> Any:
        """The design effect used."""
        return self._out(self.deff_used)

    @property
    def n0(self) -> Any:
        """Respondents a simple random sample from an infinite population would need."""
        return self._out(self.n0_)

    @property
    def total(self) -> int:
        """Respondents over all domains."""
        return int(self.respondents_.sum())

    def to_frame(self) -> pd.DataFrame:
        """One row per domain (see the class docstring for the columns)."""
        return pd.DataFrame({"domain": self.domain, "population": self.population,
                             "s2": self.s2, "margin": self.margin_abs, "deff": self.deff_used,
                             "n0": self.n0_, "respondents": self.respondents_,
                             "selected": self.selected_, "clusters": self.clusters_})

    def summary(self) -> pd.DataFrame:
        """Totals over the domains: respondents, selected and clusters."""
        clusters = self.clusters_.sum() if np.isfinite(self.clusters_).all() else np.nan
        return pd.DataFrame({"domains": [len(self.domain)],
                             "respondents": [int(self.respondents_.sum())],
                             "selected": [int(self.selected_.sum())], "clusters": [clusters]})

    def __repr__(self) -> str:
        return (f"SampleSize(domains={len(self.domain)}, respondents={self.total}, "
                f"selected={int(self.selected_.sum())})")


def sample_size(p: ArrayLike | None = None, margin: ArrayLike = 0.05,
                deff: ArrayLike | None = None, level: float = 0.95,
                response_rate: ArrayLike = 1.0, population: ArrayLike | None = None, *,
                sd: ArrayLike | None = None, mean: ArrayLike | None = None,
                relative: bool = False, icc: ArrayLike | None = None,
                take: ArrayLike | None = None, kish: ArrayLike = 1.0,
                domains: Sequence[Any] | None = None) -> SampleSize:
    """Respondents, people to select and clusters for a target margin of error.

    Parameters
    ----------
    p : float or array, optional
        Expected share (in (0, 1)); ``S^2 = p (1 - p)``. Give ``p`` or ``sd``.
    margin : float or array
        Half-width of the interval: absolute (0.05 = 5 points), or relative to ``p`` (or
        ``mean``) with ``relative=True``.
    deff : float or array, optional
        Design effect of last wave. Default: from ``icc`` and ``take``, else 1.
    level : float
        Confidence level, in (0, 1).
    response_rate : float or array
        Expected share of the selected people who answer, in (0, 1].
    population : float, array or Series, optional
        Population of each domain, for the finite population correction. A Series (or
        mapping) also gives the domain labels.
    sd : float or array, optional
        Standard deviation of a mean or an index (instead of ``p``).
    mean : float or array, optional
        Expected mean, for a relative margin of a mean.
    relative : bool
        Whether ``margin`` is relative to the share or the mean.
    icc : float or array, optional
        Intra-cluster correlation, with ``take``: ``deff = kish (1 + (take - 1) icc)``.
    take : float or array, optional
        Respondents per cluster; gives the number of clusters.
    kish : float or array
        Weighting effect ``1 + cv^2`` of the weights, used with ``icc``.
    domains : sequence, optional
        Labels of the domains (default: the index of ``population``, else 0, 1, ...).

    Returns
    -------
    SampleSize
        ``respondents``, ``selected``, ``clusters``, ``deff`` and ``n0``: numbers when every
        input is a number, else arrays; ``to_frame()`` for the table.

    Raises
    ------
    PlanError
        A share outside (0, 1), a margin, sd, deff or take that is not positive, a response
        rate outside (0, 1], both ``deff`` and ``icc``, or a domain whose population cannot
        deliver the people to select (the message names the domain).

    Notes
    -----
    ``n = n0 deff / (1 + n0 deff / N)`` with ``n0 = z^2 S^2 / e^2`` is the exact solution of
    ``e = z sqrt(deff S^2 (1/n - 1/N))``; ``z`` is the normal quantile. R equivalent:
    ``PracTools::nProp(moe.sw = 1, e = margin, pU = p, N = N) * deff``.

    Examples
    --------
    >>> sample_size(p=0.5, margin=0.05).respondents
    385
    >>> s = sample_size(p=0.7, margin=0.05, icc=0.05, take=20, kish=1.2, response_rate=0.8)
    >>> s.respondents, s.selected, s.clusters
    (756, 945, 38)
    """
    level = check_level(level)
    z = float(stats.norm.ppf(0.5 + level / 2))
    pop, pop_labels = (labelled("population", population) if population is not None
                       else (np.array(np.inf), None))
    s2, centre = _variance(p, sd, mean, relative)
    e, _ = labelled("margin", margin)
    check_positive("margin", e, None)
    rr, _ = labelled("response_rate", response_rate)
    check_unit_interval("response_rate", rr, None, closed_high=True,
                        hint="Give the expected share of selected people who answer.")
    d = _deff(deff, icc, take, kish)
    t = labelled("take", take)[0] if take is not None else np.array(np.nan)
    if take is not None:
        check_positive("take", t, None, hint="A cluster take is at least one respondent.")
    arrays = np.broadcast_arrays(pop, s2, e, rr, d, t, centre)
    pop, s2, e, rr, d, t, centre = (np.atleast_1d(a).astype("float64") for a in arrays)
    scalar = all(np.ndim(a) == 0 for a in arrays)
    labels = _labels(domains, pop_labels, len(pop))
    bad = np.isnan(pop) | (pop <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = "" if scalar else f" of domain {plain(labels[i])!r}"
        raise PlanError(message(f"population{where}", "positive", plain(pop[i]),
                                "A domain with no population cannot be sampled: drop it "
                                "from the plan."))
    e = e * centre if relative else e
    n0 = (z * z) * s2 / (e * e)
    need = n0 * d / (1 + n0 * d / pop)
    respondents = np.ceil(need - 1e-9).astype("int64")
    selected = np.ceil(respondents / rr - 1e-9).astype("int64")
    over = selected > pop
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise PlanError(
            f"domain {plain(labels[i])!r} would need {selected[i]} people selected "
            f"({respondents[i]} respondents at a response rate of {plain(rr[i])}) but has a "
            f"population of {plain(pop[i])}; widen its margin, merge it with a neighbour, or "
            "take everyone and report it with its own margin.")
    clusters = np.where(np.isfinite(t), np.ceil(respondents / t - 1e-9), np.nan)
    return SampleSize(frozen(labels), frozen(pop), frozen(s2), frozen(e), frozen(d),
                      frozen(n0), frozen(respondents), frozen(selected), frozen(clusters),
                      scalar)


def _variance(p: ArrayLike | None, sd: ArrayLike | None, mean: ArrayLike | None,
              relative: bool) -> tuple[np.ndarray, np.ndarray]:
    """``S^2`` and the value a relative margin is relative to."""
    if (p is None) == (sd is None):
        raise PlanError(message("p or sd", "given (exactly one of them)", (p, sd),
                                "Give p= for a share, sd= for a mean or an index."))
    if p is not None:
        arr, labels = labelled("p", p)
        check_unit_interval("p", arr, labels, hint="Give the expected share, e.g. 0.7.")
        return arr * (1 - arr), arr
    if sd is None:  # the check above asked for p= or sd=
        raise PlanError("Give p= for a share, sd= for a mean or an index.")
    arr, labels = labelled("sd", sd)
    check_positive("sd", arr, labels)
    if relative and mean is None:
        raise PlanError(message("mean", "given with sd= and relative=True", None,
                                "A relative margin of a mean is relative to the mean."))
    centre = labelled("mean", mean)[0] if mean is not None else np.array(1.0)
    return arr * arr, np.abs(centre)


def _deff(deff: ArrayLike | None, icc: ArrayLike | None, take: ArrayLike | None,
          kish: ArrayLike) -> np.ndarray:
    if deff is not None and icc is not None:
        raise PlanError(message("deff and icc", "not both given", (deff, icc),
                                "Give the design effect, or the icc with the take."))
    k, _ = labelled("kish", kish)
    check_positive("kish", k, None, hint="Kish's effect is 1 + cv^2 of the weights, >= 1.")
    if deff is not None:
        d, labels = labelled("deff", deff)
        check_positive("deff", d, labels)
        return d
    if icc is None:
        return k
    if take is None:
        raise PlanError(message("take", "given with icc=", None,
                                "The clustering effect 1 + (take - 1) icc needs the take."))
    rho, _ = labelled("icc", icc)
    t, _ = labelled("take", take)
    check_positive("take", t, None, hint="A cluster take is at least one respondent.")
    if not np.all(np.isfinite(rho) & (rho > -1) & (rho < 1)):
        raise PlanError(message("icc", "in (-1, 1)", icc))
    out = k * (1 + (t - 1) * rho)
    check_positive("deff (from icc and take)", np.asarray(out), None,
                   hint="A negative icc this large is not plausible; use icc=0.")
    return out


def _labels(domains: Sequence[Any] | None, pop_labels: np.ndarray | None,
            size: int) -> np.ndarray:
    if domains is not None:
        labels = np.asarray(list(domains), dtype=object)
        if len(labels) != size:
            raise PlanError(message("domains", f"{size} labels", len(labels)))
        return labels
    if pop_labels is not None and len(pop_labels) == size:
        return pop_labels
    return np.arange(size, dtype="int64").astype(object)


def margin_of_error(n: float, p: float, deff: float = 1.0, level: float = 0.95,
                    population: float = math.inf) -> float:
    """The margin of error ``z sqrt(deff p (1 - p) (1/n - 1/N))`` a sample gives a share.

    >>> round(margin_of_error(385, 0.5), 4)
    0.0499
    """
    z = float(stats.norm.ppf(0.5 + check_level(level) / 2))
    return z * math.sqrt(deff * p * (1 - p) * (1 / n - 1 / population))
