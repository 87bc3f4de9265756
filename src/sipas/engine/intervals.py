"""Confidence intervals: Wald-t, and the interval methods for proportions.

All functions are vectorised over arrays of estimates. ``df`` is the degrees of freedom of the
t quantile (``math.inf`` gives the normal quantile); an interval with ``df <= 0`` is NaN.

Methods for a proportion ``p`` with standard error ``se`` (R ``svyciprop`` names):

* ``wald`` / ``mean``: ``p -+ t se``;
* ``logit`` and ``xlogit``: ``expit(logit(p) -+ t se / (p (1 - p)))``;
* ``asin``: ``sin(asin(sqrt p) -+ t se / (2 sqrt(p (1-p))))^2``, the limits on the
  arcsine scale clipped to ``[0, pi/2]``;
* ``beta`` (Korn-Graubard): Clopper-Pearson with effective sample size
  ``n* = p(1-p)/se^2 (t_{n-1}/t_df)^2``;
* ``wilson``: score interval with the effective sample size ``p(1-p)/se^2``;
* ``likelihood``: profile likelihood of the quasibinomial intercept, scaled by the design
  effect (R ``confint(svyglm, method="likelihood")``); see :mod:`sipas._likelihood`.

Examples
--------
>>> import numpy as np
>>> lo, hi = wald_interval(np.array([0.5]), np.array([0.1]), np.array([np.inf]), 0.95)
>>> round(float(lo[0]), 4), round(float(hi[0]), 4)
(0.304, 0.696)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import stats
from scipy.special import expit, logit

from sipas._validate import message
from sipas.errors import DesignError

__all__ = ["CIMethod", "proportion_interval", "t_quantile", "wald_interval"]

CIMethod = Literal["wald", "mean", "logit", "xlogit", "likelihood", "asin", "beta", "wilson"]


def t_quantile(level: float, df: np.ndarray | float) -> np.ndarray:
    """Upper ``(1+level)/2`` quantile of t with ``df`` (normal for inf; NaN for df <= 0).

    Parameters
    ----------
    level : float
        Confidence level in (0, 1) (not checked here; estimators check it).
    df : float or numpy.ndarray
        Degrees of freedom; ``inf`` gives the normal quantile, ``df <= 0`` or NaN gives NaN.

    Returns
    -------
    numpy.ndarray
        ``t_{df}((1 + level)/2)``, with the shape of ``df``.

    Notes
    -----
    R equivalent: ``qt((1 + level)/2, df)`` (``qnorm`` for infinite df), as
    ``confint(svymean(...), df=degf(design))`` uses it.

    Examples
    --------
    >>> import numpy as np
    >>> t_quantile(0.95, np.array([np.inf, 30, 0])).round(4).tolist()
    [1.96, 2.0423, nan]
    """
    df = np.asarray(df, dtype="float64")
    alpha = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        q = np.where(np.isinf(df), stats.norm.isf(alpha),
                     stats.t.isf(alpha, np.where(df > 0, df, 1.0)))
    return np.where((df > 0) & ~np.isnan(df), q, np.nan)


def wald_interval(est: np.ndarray, se: np.ndarray, df: np.ndarray,
                  level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wald-t interval ``est -+ t_{df} se``.

    Parameters
    ----------
    est : numpy.ndarray
        Estimates.
    se : numpy.ndarray
        Their standard errors (same shape).
    df : numpy.ndarray
        Degrees of freedom per estimate (``inf``: normal; ``<= 0``: NaN interval).
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Lower and upper limits.

    Notes
    -----
    ``est -+ t_{df}((1 + level)/2) se``. R equivalent:
    ``confint(svymean(~y, design), df=degf(design))``.

    Examples
    --------
    >>> import numpy as np
    >>> lo, hi = wald_interval(np.array([3.5]), np.array([0.1]), np.array([30.0]), 0.95)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (3.2958, 3.7042)
    """
    q = t_quantile(level, df)
    return est - q * se, est + q * se


def proportion_interval(method: str, p: np.ndarray, se: np.ndarray, df: np.ndarray,
                        level: float, n_rows: np.ndarray,
                        likelihood: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Interval for proportions by ``method`` (see the module docstring).

    Parameters
    ----------
    method : {"wald", "mean", "logit", "xlogit", "likelihood", "asin", "beta", "wilson"}
        Interval method (R ``svyciprop`` names).
    p : numpy.ndarray
        Estimated proportions in [0, 1].
    se : numpy.ndarray
        Their (linearized or replicate) standard errors.
    df : numpy.ndarray or float
        Degrees of freedom of the t quantile (broadcast to the shape of ``p``).
    level : float
        Confidence level in (0, 1).
    n_rows : numpy.ndarray
        Number of respondents behind each estimate (used by ``beta``).
    likelihood : callable, optional
        Returns the likelihood interval (it needs the data); required for
        ``method="likelihood"``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Lower and upper limits; NaN where ``df <= 0`` or ``p`` is NaN.

    Raises
    ------
    ValueError
        An unknown ``method``, or ``"likelihood"`` without ``likelihood``.

    Notes
    -----
    The formulas of every method are in the module docstring; e.g. ``logit`` is
    ``expit(logit(p) -+ t se / (p (1 - p)))``. R equivalent:
    ``svyciprop(~I(y == 1), design, method=, level=)``.

    Examples
    --------
    >>> import numpy as np
    >>> lo, hi = proportion_interval("logit", np.array([0.8]), np.array([0.02]),
    ...                              np.array([30.0]), 0.95, np.array([400]))
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.756, 0.8377)
    """
    p = np.asarray(p, dtype="float64")
    se = np.asarray(se, dtype="float64")
    df = np.broadcast_to(np.asarray(df, dtype="float64"), p.shape)
    q = t_quantile(level, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method in ("wald", "mean"):
            return p - q * se, p + q * se
        edge = (p == 0) | (p == 1)
        if method not in ("likelihood", "beta") and n_rows is not None and edge.any():
            # a share of 0% or 100% has se 0: the other methods give no interval (or a
            # point); it gets the Korn-Graubard interval on the respondents behind it
            lo, hi = proportion_interval(method, np.where(edge, 0.5, p), se, df, level,
                                         n_rows)
            kg_lo, kg_hi = _korn_graubard(p, se, df, level,
                                          np.asarray(n_rows, dtype="float64"))
            return np.where(edge, kg_lo, lo), np.where(edge, kg_hi, hi)
        if method in ("logit", "xlogit"):
            centre, half = logit(p), q * se / (p * (1 - p))
            return expit(centre - half), expit(centre + half)
        if method == "asin":
            # limits beyond the range [0, pi/2] of asin(sqrt p) are clipped to it, so the
            # interval cannot wrap around (R's svyciprop does not clip: it can return an
            # interval that excludes the estimate when t se is large)
            centre, half = np.arcsin(np.sqrt(p)), q * se / (2 * np.sqrt(p * (1 - p)))
            lo = np.clip(centre - half, 0.0, np.pi / 2)
            hi = np.clip(centre + half, 0.0, np.pi / 2)
            return np.sin(lo) ** 2, np.sin(hi) ** 2
        if method == "beta":
            return _korn_graubard(p, se, df, level, np.asarray(n_rows, dtype="float64"))
        if method == "wilson":
            n_eff = p * (1 - p) / se**2
            z2 = q**2
            centre = (p + z2 / (2 * n_eff)) / (1 + z2 / n_eff)
            half = q * np.sqrt(p * (1 - p) / n_eff + z2 / (4 * n_eff**2)) / (1 + z2 / n_eff)
            return centre - half, centre + half
    if method == "likelihood" and likelihood is not None:
        return likelihood()
    raise DesignError(message("method", "one of wald, mean, logit, xlogit, likelihood, asin, "
                              "beta, wilson", method))


def _korn_graubard(p: np.ndarray, se: np.ndarray, df: np.ndarray, level: float,
                   n_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    alpha = 1 - level
    # at 0% or 100% the variance is 0 and p(1-p)/se^2 is undefined: Korn and Graubard
    # (1998) then take the number of respondents (design effect 1: Clopper-Pearson)
    n_eff = np.where((p == 0) | (p == 1), n_rows, p * (1 - p) / se**2)
    ratio = stats.t.ppf(alpha / 2, np.maximum(n_rows - 1, 1)) / stats.t.ppf(
        alpha / 2, np.where(df > 0, df, np.nan))
    n_eff = n_eff * ratio**2
    x = n_eff * p
    lo = np.where(x > 0, stats.beta.ppf(alpha / 2, np.where(x > 0, x, 1), n_eff * (1 - p) + 1),
                  0.0)
    y = n_eff * (1 - p)
    hi = np.where(y > 0, stats.beta.ppf(1 - alpha / 2, x + 1, np.where(y > 0, y, 1)), 1.0)
    bad = np.isnan(p) | ~(df > 0)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)
