"""Smoothed variances of direct estimates: generalized variance functions (GVF).

The Fay–Herriot model treats the variance ``D`` of each direct estimate as known, but a
direct variance from a few dozen respondents in a few clusters is itself noisy: it can be 0
(everyone answered alike, a share of 0 or 100%), and for shares it moves with the estimate,
so small estimates get small variances and are trusted too much. A generalized variance
function replaces each area's variance by one predicted from its sample size (Wolter 2007,
*Introduction to Variance Estimation*, 2nd ed., ch. 7; for the Fay–Herriot model, Rao &
Molina 2015, ch. 6, and You & Chapman 2006). Two functions:

* ``"deff"`` (shares): ``D_d = deff p (1 - p) / n_d``, with ``p`` the share pooled over the
  areas (respondent-weighted mean of the direct shares) and ``deff`` the design effect
  pooled as a ratio of sums, ``sum_d se_d² / sum_d p_d (1 - p_d) / n_d`` over the areas
  whose share is strictly between 0 and 1 and whose SE is positive. The effective size of
  area ``d`` is then ``n_d / deff``, which is also what the arcsine transformation uses
  (``D = deff / (4 n_d)``). ``D_d`` no longer depends on the area's own estimate.
* ``"loglinear"`` (any estimate): ``log se_d² = a + b log n_d`` fitted by least squares over
  the areas with a positive SE, and ``D_d = c exp(a + b log n_d)`` with Duan's (1983)
  smearing factor ``c = mean(exp(residual))``, so that the smoothed variances are not the
  geometric but the arithmetic mean of the direct ones at a given size. ``b`` near -1 is
  what sampling theory expects.

Areas whose direct SE is 0 or missing do not enter the fit but get a smoothed variance.

Examples
--------
>>> import pandas as pd
>>> d = pd.DataFrame({"estimate": [0.5, 0.8, 0.0], "se": [0.1, 0.1, 0.0], "n": [50, 40, 20]})
>>> smooth_variances(d, method="deff")["smoothed_se"].round(4).tolist()
[0.1053, 0.1178, 0.1666]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, message, plain
from sipas.errors import SmallAreaError

__all__ = ["SMOOTHING", "Smoothed", "fit_gvf", "smooth_variances"]

Smoothing = Literal["deff", "loglinear"]
SMOOTHING = ("deff", "loglinear")


@dataclass(frozen=True)
class Smoothed:
    """Smoothed standard errors, the effective sizes (``"deff"`` only) and the fitted
    parameters of the variance function."""

    se: np.ndarray
    n_eff: np.ndarray | None
    parameters: dict[str, float]


def smooth_variances(direct: pd.DataFrame, *, method: Smoothing, estimate: str = "estimate",
                     se: str = "se", n: str = "n") -> pd.DataFrame:
    """Direct standard errors smoothed by a generalized variance function.

    Parameters
    ----------
    direct : pandas.DataFrame
        One row per area with the direct ``estimate``, its ``se`` and the respondents ``n``.
    method : {"deff", "loglinear"}
        ``deff``: ``deff p (1 - p) / n`` with a pooled share and design effect (shares
        only); ``loglinear``: ``log se² = a + b log n`` with a smearing factor.
    estimate, se, n : str
        Columns of ``direct``.

    Returns
    -------
    pandas.DataFrame
        A copy of ``direct`` with ``smoothed_se`` (and ``n_eff`` for ``deff``); the
        parameters of the function (``p``, ``deff``; or ``a``, ``b``, ``smearing``) in
        ``attrs["smoothing"]``.

    Raises
    ------
    SmallAreaError
        A missing column; ``n`` not positive; shares outside [0, 1] with ``deff``; fewer
        than one (``deff``) or three (``loglinear``) areas with a usable variance, or every
        area of the same size (``loglinear``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"estimate": [3.0, 3.5, 2.8, 3.1], "se": [0.2, 0.14, 0.1, 0.07],
    ...                   "n": [25, 50, 100, 200]})
    >>> out = smooth_variances(d, method="loglinear")
    >>> round(out.attrs["smoothing"]["b"], 1)
    -1.0
    """
    check_choice("smooth", method, SMOOTHING, SmallAreaError)
    for col in (estimate, se, n):
        if col not in direct.columns:
            raise SmallAreaError(f"column {col!r} is not in the direct estimates; smoothing "
                                 f"needs {estimate!r}, {se!r} and {n!r}.")
    fit = fit_gvf(direct[estimate].to_numpy(dtype="float64"),
                 direct[se].to_numpy(dtype="float64"), direct[n].to_numpy(dtype="float64"),
                 method)
    out = direct.copy()
    out["smoothed_se"] = fit.se
    if fit.n_eff is not None:
        out["n_eff"] = fit.n_eff
    out.attrs["smoothing"] = {"method": method, **fit.parameters}
    return out


def fit_gvf(y: np.ndarray, s: np.ndarray, n: np.ndarray, method: str,
            areas: np.ndarray | None = None) -> Smoothed:
    """The smoothed standard errors of areas with estimates ``y``, SEs ``s`` and sizes
    ``n`` (``areas`` names them in messages)."""
    names = areas if areas is not None else np.arange(len(y))
    bad = ~np.isfinite(n) | (n <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SmallAreaError(message(f"the respondents n of area {plain(names[i])!r}",
                                     "a positive number", plain(n[i]),
                                     "Smoothing predicts each variance from n."))
    negative = np.isfinite(s) & (s < 0)
    if negative.any():
        i = int(np.flatnonzero(negative)[0])
        raise SmallAreaError(message(f"the standard error of area {plain(names[i])!r}",
                                     "0 or more", plain(s[i])))
    usable = np.isfinite(s) & (s > 0) & np.isfinite(y)
    if method == "deff":
        return _deff(y, s, n, usable)
    return _loglinear(s, n, usable)


def _deff(y: np.ndarray, s: np.ndarray, n: np.ndarray, usable: np.ndarray) -> Smoothed:
    if ((y < 0) | (y > 1)).any() or not np.isfinite(y).all():
        raise SmallAreaError("smooth='deff' needs shares in [0, 1] (p (1 - p) / n is the "
                             "variance of a share); use smooth='loglinear' for means.")
    inner = usable & (y > 0) & (y < 1)
    if not inner.any():
        raise SmallAreaError("smooth='deff' needs at least one area with a share strictly "
                             "between 0 and 1 and a positive SE to pool the design effect.")
    deff = float(np.sum(s[inner] ** 2) / np.sum(y[inner] * (1 - y[inner]) / n[inner]))
    p = float(np.sum(n * y) / np.sum(n))
    if not 0 < p < 1:
        raise SmallAreaError(f"the pooled share is {p:g}: every area is at 0 or 1, so no "
                             "variance can be smoothed.")
    n_eff = n / deff
    return Smoothed(np.sqrt(p * (1 - p) / n_eff), n_eff, {"p": p, "deff": deff})


def _loglinear(s: np.ndarray, n: np.ndarray, usable: np.ndarray) -> Smoothed:
    if usable.sum() < 3 or np.unique(n[usable]).size < 2:
        raise SmallAreaError("smooth='loglinear' needs at least 3 areas with a positive SE "
                             "and at least two different sizes n to fit log se² = a + b "
                             "log n; use smooth='deff' for shares or merge areas.")
    x, z = np.log(n[usable]), np.log(s[usable] ** 2)
    b = float(np.sum((x - x.mean()) * (z - z.mean())) / np.sum((x - x.mean()) ** 2))
    a = float(z.mean() - b * x.mean())
    smearing = float(np.mean(np.exp(z - a - b * x)))
    return Smoothed(np.sqrt(smearing * np.exp(a + b * np.log(n))), None,
                    {"a": a, "b": b, "smearing": smearing})
