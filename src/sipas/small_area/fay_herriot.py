"""The Fay–Herriot area-level model: EBLUP, Prasad–Rao MSE, benchmarking, shrinkage.

``y_i = x_i' beta + u_i + e_i`` with ``u_i ~ N(0, A)`` and ``e_i ~ N(0, D_i)``, ``D_i`` the
variance of area ``i``'s direct estimate (Rao & Molina 2015, *Small Area Estimation*, 2nd ed.,
ch. 6). ``A`` is estimated by REML or ML (Fisher scoring, truncated at 0), ``beta`` by
weighted least squares, and the EBLUP is ``gamma_i y_i + (1 - gamma_i) x_i' beta`` with
``gamma_i = A / (A + D_i)``, the share of the direct estimate; ``1 - gamma_i`` is the share
from the model.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sipas._validate import check_choice, check_level, message, plain
from sipas.errors import SmallAreaError

__all__ = ["FayHerriot", "fay_herriot"]

FitMethod = Literal["REML", "ML"]


@dataclass(frozen=True)
class FayHerriot:
    """A fitted Fay–Herriot model.

    ``to_frame()`` has one row per area: ``area, direct, direct_se, estimate, se, mse,
    ci_low, ci_high, gamma, model_share, synthetic`` (and ``benchmarked`` when asked);
    ``estimate`` and ``se`` are the EBLUP and the root of its MSE on the scale of the direct
    estimates (proportions after the back-transformation with ``transform="arcsin"``).
    """

    table: pd.DataFrame
    coefficients: pd.DataFrame
    variance: float
    method: str
    transform: str | None
    loglik: float
    iterations: int
    level: float

    @property
    def zero_variance(self) -> bool:
        """Whether the random-effect variance was estimated at 0 (every area synthetic)."""
        return self.variance == 0.0

    def to_frame(self) -> pd.DataFrame:
        """One row per area (columns in the class docstring)."""
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """The coefficients (``estimate, se, z, p``) and, as a last row, the variance ``A``."""
        extra = pd.DataFrame({"estimate": [self.variance]}, index=["random effect variance"])
        return pd.concat([self.coefficients, extra])

    def __repr__(self) -> str:
        return (f"FayHerriot(areas={len(self.table)}, method={self.method!r}, "
                f"variance={self.variance:.4g})")


def fay_herriot(direct: pd.DataFrame, covariates: pd.DataFrame, *, area: str,
                x: Sequence[str] | None = None, estimate: str = "estimate",
                se: str = "se", method: FitMethod = "REML", intercept: bool = True,
                transform: Literal["arcsin"] | None = None, n: str = "n",
                benchmark: float | None = None, population: str | None = None,
                level: float = 0.95, tol: float = 1e-10, max_iter: int = 100) -> FayHerriot:
    """Fit the Fay–Herriot model to direct estimates and give EBLUPs with their MSE.

    Parameters
    ----------
    direct : pandas.DataFrame
        One row per area: the ``area`` column, the direct ``estimate`` and its ``se`` (as
        ``Estimate.to_frame()`` by a domain gives them).
    covariates : pandas.DataFrame
        One row per area: the ``area`` column and the covariates ``x``.
    area : str
        The column naming the areas in both tables.
    x : list of str, optional
        Covariate columns (default: every numeric column of ``covariates`` but ``area``).
    estimate, se : str
        Columns of ``direct``.
    method : {"REML", "ML"}
        How the random-effect variance is estimated.
    intercept : bool
        Whether to add an intercept.
    transform : {"arcsin"}, optional
        For shares: fit on ``asin(sqrt(p))`` with ``D = 1 / (4 n_eff)``, ``n_eff = p (1 - p)
        / se^2`` (the design's effective size), and back-transform with the bias correction
        ``E[sin^2 theta] = (1 - cos(2 theta) exp(-2 g1)) / 2``; estimates stay in [0, 1].
    n : str
        Column of ``direct`` with the respondents (used with ``transform`` when a share is
        0 or 1, where the effective size cannot be computed).
    benchmark : float, optional
        The direct estimate of the whole: the EBLUPs are ratio-benchmarked so that their
        ``population``-weighted mean equals it (column ``benchmarked``).
    population : str, optional
        Column of ``covariates`` with the population of each area, for ``benchmark``.
    level : float
        Confidence level of the (normal) intervals ``estimate ± z se``.
    tol, max_iter : float, int
        Convergence of the Fisher scoring.

    Returns
    -------
    FayHerriot

    Raises
    ------
    SmallAreaError
        An area missing from ``covariates`` (named), a variance that is zero, negative or
        missing (the area named), fewer areas than coefficients plus one, or a singular
        covariate matrix.

    Notes
    -----
    MSE (Rao & Molina 2015, 6.2.3): ``g1 + g2 + 2 g3`` for REML (Prasad–Rao, Datta–Lahiri),
    with ``g1 = gamma D``, ``g2 = (1 - gamma)^2 x'(X'V^-1 X)^-1 x``, ``g3 = D^2 (A + D)^-3
    Vbar(A)``, ``Vbar(A) = 2 / sum (A + D)^-2``; ML subtracts ``(D / (A + D))^2 b_ML(A)`` with
    the bias ``b_ML = -tr[(X'V^-1X)^-1 X'V^-2 X] / sum (A + D)^-2``. When ``A`` is estimated
    at 0 every EBLUP is the synthetic estimate ``x' beta`` (``gamma = 0``) and the MSE is
    ``g2 + 2 g3``, as R ``sae::mseFH`` gives; a warning says so. R equivalent:
    ``sae::mseFH(y ~ x, vardir, method = "REML")``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"a": range(6), "estimate": [3.1, 5.0, 4.2, 6.8, 6.1, 8.9],
    ...                   "se": [0.3, 0.4, 0.3, 0.5, 0.3, 0.4]})
    >>> c = pd.DataFrame({"a": range(6), "x1": [1, 2, 3, 4, 5, 6]})
    >>> fit = fay_herriot(d, c, area="a")
    >>> fit.variance > 0, bool(fit.to_frame()["model_share"].between(0, 1).all())
    (True, True)
    """
    check_choice("method", method, ("REML", "ML"), SmallAreaError)
    level = check_level(level)
    y, d, xmat, names, frame = _inputs(direct, covariates, area, x, estimate, se, intercept)
    if transform is not None:
        check_choice("transform", transform, ("arcsin",), SmallAreaError)
        y, d = _arcsin(frame, y, d, n, estimate)
    a_hat, it, loglik = _fit_variance(y, d, xmat, method, tol, max_iter)
    if a_hat == 0.0:
        warnings.warn("The random-effect variance is estimated at 0: every area gets the "
                      "synthetic estimate x'beta and no weight on its direct estimate.",
                      UserWarning, stacklevel=2)
    beta, cov_beta = _beta(y, d, xmat, a_hat)
    synthetic = xmat @ beta
    gamma = a_hat / (a_hat + d)
    eblup = synthetic + gamma * (y - synthetic)
    mse = _mse(d, xmat, a_hat, cov_beta, gamma, method)
    z = float(stats.norm.ppf(0.5 + level / 2))
    if transform == "arcsin":
        g1 = gamma * d
        est = 0.5 * (1 - np.cos(2 * eblup) * np.exp(-2 * g1))
        # delta method: d sin^2(t) / dt = sin(2t)
        out_mse = np.sin(2 * eblup) ** 2 * mse
        low = np.sin(np.clip(eblup - z * np.sqrt(mse), 0, math.pi / 2)) ** 2
        high = np.sin(np.clip(eblup + z * np.sqrt(mse), 0, math.pi / 2)) ** 2
        syn = np.sin(np.clip(synthetic, 0, math.pi / 2)) ** 2
    else:
        est, out_mse, syn = eblup, mse, synthetic
        low, high = est - z * np.sqrt(mse), est + z * np.sqrt(mse)
    table = pd.DataFrame({area: frame[area].to_numpy(), "direct": frame[estimate].to_numpy(),
                          "direct_se": frame[se].to_numpy(), "estimate": est,
                          "se": np.sqrt(out_mse), "mse": out_mse, "ci_low": low,
                          "ci_high": high, "gamma": gamma, "model_share": 1 - gamma,
                          "synthetic": syn})
    if benchmark is not None:
        table["benchmarked"] = _benchmark(table["estimate"].to_numpy(), frame, population,
                                          benchmark)
    coef_se = np.sqrt(np.diag(cov_beta))
    coefficients = pd.DataFrame({"estimate": beta, "se": coef_se, "z": beta / coef_se,
                                 "p": 2 * stats.norm.sf(np.abs(beta / coef_se))}, index=names)
    return FayHerriot(table, coefficients, float(a_hat), method, transform, float(loglik),
                      it, level)


def _inputs(direct: pd.DataFrame, covariates: pd.DataFrame, area: str,
            x: Sequence[str] | None, estimate: str, se: str, intercept: bool
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], pd.DataFrame]:
    for table, name, cols in ((direct, "direct", (area, estimate, se)),
                              (covariates, "covariates", (area,))):
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise SmallAreaError(f"column {missing[0]!r} is not in the {name} table; "
                                 f"columns: {list(table.columns)[:12]}.")
    if x is None:
        x = [c for c in covariates.columns
             if c != area and pd.api.types.is_numeric_dtype(covariates[c])]
    x = list(x)
    absent = [c for c in x if c not in covariates.columns]
    if absent:
        raise SmallAreaError(f"covariate {absent[0]!r} is not in the covariates table.")
    if covariates[area].duplicated().any():
        dup = covariates[area][covariates[area].duplicated()].iloc[0]
        raise SmallAreaError(f"area {plain(dup)!r} appears twice in the covariates table.")
    keep = [area, *x, *(c for c in covariates.columns
                         if c not in direct.columns and c not in x and c != area)]
    frame = direct.merge(covariates[keep], on=area, how="left", indicator=True,
                         suffixes=("", "_cov"))
    lost = frame[area][frame["_merge"] != "both"]
    if len(lost):
        raise SmallAreaError(f"area {plain(lost.iloc[0])!r} has a direct estimate but no row "
                             "in the covariates table; add its covariates or drop the area.")
    y = frame[estimate].to_numpy(dtype="float64")
    s = frame[se].to_numpy(dtype="float64")
    v = s**2
    bad = ~np.isfinite(v) | (s <= 0) | ~np.isfinite(y)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SmallAreaError(message(
            f"the standard error of area {plain(frame[area].iloc[i])!r}",
            "positive and finite", plain(s[i]), "A direct estimate with no variance (one "
            "respondent, or everyone alike) cannot be weighed: smooth the variances or "
            "merge the area."))
    xcols = [frame[c].to_numpy(dtype="float64") for c in x]
    names = (["(intercept)"] if intercept else []) + x
    xmat = np.column_stack(([np.ones(len(y))] if intercept else []) + xcols) \
        if names else np.empty((len(y), 0))
    if not np.isfinite(xmat).all():
        raise SmallAreaError("the covariates have missing values; fill or drop them.")
    if len(y) <= xmat.shape[1] or np.linalg.matrix_rank(xmat) < xmat.shape[1]:
        raise SmallAreaError(f"{len(y)} areas cannot fit {xmat.shape[1]} coefficients: the "
                             "covariate matrix is singular or has too few rows; drop "
                             "covariates.")
    return y, v, xmat, names, frame


def _arcsin(frame: pd.DataFrame, y: np.ndarray, d: np.ndarray, n: str,
            estimate: str) -> tuple[np.ndarray, np.ndarray]:
    if ((y < 0) | (y > 1)).any():
        raise SmallAreaError(f"transform='arcsin' needs shares in [0, 1] in {estimate!r}.")
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = y * (1 - y) / d
    edge = (y <= 0) | (y >= 1)
    if edge.any():
        if n not in frame.columns:
            raise SmallAreaError(f"a share of 0 or 1 needs the respondents column {n!r}.")
        n_eff = np.where(edge, frame[n].to_numpy(dtype="float64"), n_eff)
    return np.arcsin(np.sqrt(y)), 1 / (4 * n_eff)


def _gls(y: np.ndarray, d: np.ndarray, xmat: np.ndarray, a: float
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """beta, (X'V^-1 X)^-1 and the residuals for a given A."""
    vi = 1 / (a + d)
    xtvx = xmat.T @ (xmat * vi[:, None])
    q = np.linalg.inv(xtvx)
    beta = q @ (xmat.T @ (vi * y))
    return beta, q, y - xmat @ beta


def _score(y: np.ndarray, d: np.ndarray, xmat: np.ndarray, a: float, method: str
           ) -> tuple[float, float]:
    """The score of the (restricted) log-likelihood in ``A`` and its Fisher information."""
    vi = 1 / (a + d)
    _, q, r = _gls(y, d, xmat, a)
    if method == "ML":
        return -0.5 * vi.sum() + 0.5 * np.sum((r * vi) ** 2), 0.5 * np.sum(vi**2)
    xv2 = xmat.T @ (xmat * (vi**2)[:, None])
    xv3 = xmat.T @ (xmat * (vi**3)[:, None])
    trace_p = vi.sum() - np.trace(q @ xv2)
    trace_p2 = np.sum(vi**2) - 2 * np.trace(q @ xv3) + np.trace(q @ xv2 @ q @ xv2)
    return -0.5 * trace_p + 0.5 * np.sum((r * vi) ** 2), 0.5 * trace_p2


def _fit_variance(y: np.ndarray, d: np.ndarray, xmat: np.ndarray, method: str,
                  tol: float, max_iter: int) -> tuple[float, int, float]:
    a = float(np.median(d))
    for iterations in range(1, min(max_iter, 30) + 1):
        score, info = _score(y, d, xmat, a, method)
        new = max(a + score / info, 0.0)
        if abs(new - a) <= tol * max(1.0, a):
            return new, iterations, _loglik(y, d, xmat, new, method)
        a = new
    # Fisher scoring can cycle across the boundary on a flat likelihood: find the root of
    # the score instead (it falls through zero once where the likelihood peaks)
    if _score(y, d, xmat, 0.0, method)[0] <= 0:
        return 0.0, iterations, _loglik(y, d, xmat, 0.0, method)
    high = max(float(np.var(y)), float(d.max()), 1e-12)
    for _ in range(200):
        if _score(y, d, xmat, high, method)[0] < 0:
            break
        high *= 2
    else:
        raise SmallAreaError(f"the {method} fit of the random-effect variance did not converge; "
                             "check the direct estimates and their variances.")
    root, found = optimize.brentq(
        lambda v: _score(y, d, xmat, v, method)[0], 0.0, float(high), xtol=tol * 1e-4,
        rtol=4 * np.finfo(float).eps, maxiter=max(max_iter, 200), full_output=True)
    if not found.converged:
        raise SmallAreaError(f"the {method} fit of the random-effect variance did not converge "
                             f"in {max_iter} iterations; raise max_iter or check the data.")
    return float(root), iterations + int(found.iterations), _loglik(y, d, xmat, root, method)


def _loglik(y: np.ndarray, d: np.ndarray, xmat: np.ndarray, a: float, method: str) -> float:
    v = a + d
    _, q, r = _gls(y, d, xmat, a)
    ll = -0.5 * (len(y) * math.log(2 * math.pi) + np.log(v).sum() + np.sum(r * r / v))
    if method == "REML":
        ll -= 0.5 * np.linalg.slogdet(np.linalg.inv(q))[1]
    return float(ll)


def _beta(y: np.ndarray, d: np.ndarray, xmat: np.ndarray, a: float
          ) -> tuple[np.ndarray, np.ndarray]:
    beta, q, _ = _gls(y, d, xmat, a)
    return beta, q


def _mse(d: np.ndarray, xmat: np.ndarray, a: float, q: np.ndarray, gamma: np.ndarray,
         method: str) -> np.ndarray:
    vi = 1 / (a + d)
    g1 = gamma * d
    g2 = (1 - gamma) ** 2 * np.einsum("ij,jk,ik->i", xmat, q, xmat)
    vbar = 2 / np.sum(vi**2)
    g3 = d**2 * vi**3 * vbar
    mse = g1 + g2 + 2 * g3
    if method == "ML":
        bias = -np.trace(q @ (xmat.T @ (xmat * (vi**2)[:, None]))) / np.sum(vi**2)
        mse = mse - (d * vi) ** 2 * bias
    return mse


def _benchmark(est: np.ndarray, frame: pd.DataFrame, population: str | None,
               target: float) -> np.ndarray:
    if population is None or population not in frame.columns:
        raise SmallAreaError(message("population", "a column of the covariates table with "
                                     "benchmark=", population,
                                     "Benchmarking weighs the areas by their population."))
    w = frame[population].to_numpy(dtype="float64")
    if not np.all(np.isfinite(w) & (w >= 0)) or w.sum() <= 0:
        raise SmallAreaError(f"column {population!r} must hold non-negative populations.")
    return est * (target / np.sum(w * est / w.sum()))

