"""The Fay–Herriot area-level model: EBLUP, Prasad–Rao or bootstrap MSE, benchmarking.

``y_i = x_i' beta + u_i + e_i`` with ``u_i ~ N(0, A)`` and ``e_i ~ N(0, D_i)``, ``D_i`` the
variance of area ``i``'s direct estimate (Rao & Molina 2015, *Small Area Estimation*, 2nd ed.,
ch. 6), optionally smoothed by a generalized variance function
(:mod:`sipas.small_area.smoothing`). ``A`` is estimated by REML or ML (Fisher scoring,
truncated at 0), ``beta`` by weighted least squares, and the EBLUP is ``gamma_i y_i + (1 -
gamma_i) x_i' beta`` with ``gamma_i = A / (A + D_i)``, the share of the direct estimate;
``1 - gamma_i`` is the share from the model. The MSE is Prasad–Rao's (Datta–Lahiri's for
ML) or the parametric bootstrap's (:mod:`sipas.small_area.bootstrap`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from sipas._validate import check_choice, check_level, message, plain
from sipas.errors import SmallAreaError
from sipas.small_area.bootstrap import bootstrap_mse, check_replicates, unarcsin
from sipas.small_area.model import fit_model, prasad_rao_mse
from sipas.small_area.smoothing import SMOOTHING, Smoothing, fit_gvf

__all__ = ["MSE_METHODS", "FayHerriot", "fay_herriot"]

FitMethod = Literal["REML", "ML"]
MseMethod = Literal["prasad-rao", "bootstrap"]
MSE_METHODS = ("prasad-rao", "bootstrap")


@dataclass(frozen=True)
class FayHerriot:
    """A fitted Fay–Herriot model.

    ``to_frame()`` has one row per area: ``area, direct, direct_se, estimate, se, mse,
    ci_low, ci_high, gamma, model_share, synthetic`` (and ``n`` when the direct estimates
    have it, ``smoothed_se`` with ``smooth=``, ``benchmarked`` with ``benchmark=``);
    ``estimate`` and ``se`` are the EBLUP and the root of its MSE on the scale of the direct
    estimates (proportions after the back-transformation with ``transform="arcsin"``).
    ``mse_method`` is ``"prasad-rao"`` or ``"bootstrap"`` (with ``replicates``), and
    ``smoothing`` the fitted variance function (empty without smoothing).
    """

    table: pd.DataFrame
    coefficients: pd.DataFrame
    variance: float
    method: str
    transform: str | None
    loglik: float
    iterations: int
    level: float
    mse_method: str = "prasad-rao"
    replicates: int = 0
    smoothing: dict[str, Any] = field(default_factory=dict)

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
                f"variance={self.variance:.4g}, mse={self.mse_method!r})")


def fay_herriot(direct: pd.DataFrame, covariates: pd.DataFrame, *, area: str,
                x: Sequence[str] | None = None, estimate: str = "estimate",
                se: str = "se", method: FitMethod = "REML", intercept: bool = True,
                transform: Literal["arcsin"] | None = None, n: str = "n",
                smooth: Smoothing | None = None, mse: MseMethod = "prasad-rao",
                replicates: int = 200, rng: int | np.random.Generator | None = None,
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
        0 or 1, where the effective size cannot be computed, and by ``smooth``).
    smooth : {"deff", "loglinear"}, optional
        Replace the direct variances by a generalized variance function of ``n``
        (:func:`sipas.small_area.smoothing.smooth_variances`): ``deff`` (shares) ``deff p (1
        - p) / n`` with a pooled share and design effect, ``loglinear`` ``log se² = a + b log
        n``. An area whose direct SE is 0 or missing is then accepted.
    mse : {"prasad-rao", "bootstrap"}
        The MSE: Prasad–Rao's formula (Datta–Lahiri's for ML), or the parametric bootstrap
        of González-Manteiga et al. (2008) with ``replicates`` refits.
    replicates : int
        Bootstrap replicates (``mse="bootstrap"``).
    rng : int, numpy.random.Generator or None
        Seed of the bootstrap: the same seed gives the same MSE.
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
        An area missing from ``covariates`` (named), a covariate that is not numeric, a
        variance that is zero, negative or missing (the area named; with ``smooth``, only a
        negative one), fewer areas than coefficients plus one, or a singular covariate
        matrix.

    Notes
    -----
    MSE (Rao & Molina 2015, 6.2.3): ``g1 + g2 + 2 g3`` for REML (Prasad–Rao, Datta–Lahiri),
    with ``g1 = gamma D``, ``g2 = (1 - gamma)^2 x'(X'V^-1 X)^-1 x``, ``g3 = D^2 (A + D)^-3
    Vbar(A)``, ``Vbar(A) = 2 / sum (A + D)^-2``; ML subtracts ``(D / (A + D))^2 b_ML(A)`` with
    the bias ``b_ML = -tr[(X'V^-1X)^-1 X'V^-2 X] / sum (A + D)^-2``. When ``A`` is estimated
    at 0 every EBLUP is the synthetic estimate ``x' beta`` (``gamma = 0``) and the MSE is
    ``g2 + 2 g3``, as R ``sae::mseFH`` gives; a warning says so. R equivalent:
    ``sae::mseFH(y ~ x, vardir, method = "REML")``; ``sae::pbmseFH`` for the bootstrap. The
    bootstrap MSE estimates about ``g1 + g2 + g3`` (it does not correct the bias of ``g1``
    at the estimated ``A``); with ``transform="arcsin"`` its ``mse`` column is the MSE of the
    back-transformed share itself, and the interval ends are transformed from the arcsine
    scale as with Prasad–Rao.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"a": range(6), "estimate": [3.1, 5.0, 4.2, 6.8, 6.1, 8.9],
    ...                   "se": [0.3, 0.4, 0.3, 0.5, 0.3, 0.4]})
    >>> c = pd.DataFrame({"a": range(6), "x1": [1, 2, 3, 4, 5, 6]})
    >>> fit = fay_herriot(d, c, area="a")
    >>> fit.variance > 0, bool(fit.to_frame()["model_share"].between(0, 1).all())
    (True, True)
    >>> boot = fay_herriot(d, c, area="a", mse="bootstrap", replicates=100, rng=1)
    >>> boot.mse_method, bool((boot.to_frame()["mse"] > 0).all())
    ('bootstrap', True)
    """
    check_choice("method", method, ("REML", "ML"), SmallAreaError)
    check_choice("mse", mse, MSE_METHODS, SmallAreaError)
    if smooth is not None:
        check_choice("smooth", smooth, SMOOTHING, SmallAreaError)
    if transform is not None:
        check_choice("transform", transform, ("arcsin",), SmallAreaError)
    level = check_level(level)
    if mse == "bootstrap":
        check_replicates(replicates)
    y, s, xmat, names, frame = _inputs(direct, covariates, area, x, estimate, se, intercept)
    n_eff, smoothing = None, {}
    if smooth is not None:
        if n not in frame.columns:
            raise SmallAreaError(f"smooth={smooth!r} needs the respondents column {n!r} in "
                                 "the direct estimates; name it with n=.")
        fitted = fit_gvf(y, s, frame[n].to_numpy(dtype="float64"), smooth,
                        frame[area].to_numpy())
        s, n_eff, smoothing = fitted.se, fitted.n_eff, {"method": smooth, **fitted.parameters}
    _check_se(s, frame[area])
    d = s**2
    if transform == "arcsin":
        y, d = _arcsin(frame, y, d, n, estimate, n_eff)
    fit = fit_model(y, d, xmat, method, tol, max_iter)
    if fit.variance == 0.0:
        warnings.warn("The random-effect variance is estimated at 0: every area gets the "
                      "synthetic estimate x'beta and no weight on its direct estimate.",
                      UserWarning, stacklevel=2)
    gamma = fit.gamma
    if mse == "bootstrap":
        model_mse, share_mse = bootstrap_mse(fit, d, xmat, method, replicates=replicates,
                                             rng=rng, arcsin=transform == "arcsin", tol=tol,
                                             max_iter=max_iter)
    else:
        model_mse = prasad_rao_mse(d, xmat, fit.variance, fit.cov_beta, gamma, method)
        share_mse = None
    z = float(stats.norm.ppf(0.5 + level / 2))
    eblup, root = fit.eblup, np.sqrt(model_mse)
    if transform == "arcsin":
        est = unarcsin(eblup, gamma * d)
        # delta method (d sin^2(t) / dt = sin(2t)), or the bootstrap's own share MSE
        out_mse = np.sin(2 * eblup) ** 2 * model_mse if share_mse is None else share_mse
        low = np.sin(np.clip(eblup - z * root, 0, math.pi / 2)) ** 2
        high = np.sin(np.clip(eblup + z * root, 0, math.pi / 2)) ** 2
        syn = np.sin(np.clip(fit.synthetic, 0, math.pi / 2)) ** 2
    else:
        est, out_mse, syn = eblup, model_mse, fit.synthetic
        low, high = est - z * root, est + z * root
    table = pd.DataFrame({area: frame[area].to_numpy(), "direct": frame[estimate].to_numpy(),
                          "direct_se": frame[se].to_numpy(), "estimate": est,
                          "se": np.sqrt(out_mse), "mse": out_mse, "ci_low": low,
                          "ci_high": high, "gamma": gamma, "model_share": 1 - gamma,
                          "synthetic": syn})
    if smooth is not None:
        table.insert(3, "smoothed_se", s)
    if n in frame.columns:
        table["n"] = frame[n].to_numpy()
    if benchmark is not None:
        table["benchmarked"] = _benchmark(table["estimate"].to_numpy(), frame, population,
                                          benchmark)
    coef_se = np.sqrt(np.diag(fit.cov_beta))
    coefficients = pd.DataFrame({"estimate": fit.beta, "se": coef_se, "z": fit.beta / coef_se,
                                 "p": 2 * stats.norm.sf(np.abs(fit.beta / coef_se))},
                                index=names)
    return FayHerriot(table, coefficients, float(fit.variance), method, transform,
                      float(fit.loglik), fit.iterations, level, mse,
                      int(replicates) if mse == "bootstrap" else 0, smoothing)


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
    cov = covariates[keep]
    direct = direct.drop(columns=[c for c in x if c in direct.columns and c != area])
    if (pd.api.types.is_numeric_dtype(direct[area]) and pd.api.types.is_numeric_dtype(cov[area])
            and direct[area].dtype != cov[area].dtype):  # codes 1 and 1.0 are one area
        cov = cov.assign(**{area: cov[area].astype("float64")})
        frame = direct.assign(_key=direct[area].astype("float64")).merge(
            cov.rename(columns={area: "_key"}), on="_key", how="left", indicator=True,
            suffixes=("", "_cov")).drop(columns="_key")
    else:
        frame = direct.merge(cov, on=area, how="left", indicator=True, suffixes=("", "_cov"))
    lost = frame[area][frame["_merge"] != "both"]
    if len(lost):
        raise SmallAreaError(f"area {plain(lost.iloc[0])!r} has a direct estimate but no row "
                             "in the covariates table; add its covariates or drop the area.")
    y = frame[estimate].to_numpy(dtype="float64")
    if not np.isfinite(y).all():
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise SmallAreaError(f"the direct estimate of area {plain(frame[area].iloc[i])!r} is "
                             "missing; drop the area or give its estimate.")
    s = pd.to_numeric(frame[se], errors="coerce").to_numpy(dtype="float64")
    xcols = [_numeric(frame, c, area) for c in x]
    names = (["(intercept)"] if intercept else []) + x
    xmat = np.column_stack(([np.ones(len(y))] if intercept else []) + xcols) \
        if names else np.empty((len(y), 0))
    if not np.isfinite(xmat).all():
        i = int(np.flatnonzero(~np.isfinite(xmat).all(axis=1))[0])
        raise SmallAreaError(f"the covariates of area {plain(frame[area].iloc[i])!r} have "
                             "missing values; fill or drop them.")
    if len(y) <= xmat.shape[1] or np.linalg.matrix_rank(xmat) < xmat.shape[1]:
        raise SmallAreaError(f"{len(y)} areas cannot fit {xmat.shape[1]} coefficients: the "
                             "covariate matrix is singular or has too few rows; drop "
                             "covariates.")
    return y, s, xmat, names, frame


def _numeric(frame: pd.DataFrame, column: str, area: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    text = values.isna() & frame[column].notna()
    if text.any():
        i = int(np.flatnonzero(text.to_numpy())[0])
        raise SmallAreaError(message(f"covariate {column!r} of area "
                                     f"{plain(frame[area].iloc[i])!r}", "a number",
                                     plain(frame[column].iloc[i]),
                                     "Covariates are numbers; leave no text in the column."))
    return values.to_numpy(dtype="float64")


def _check_se(s: np.ndarray, areas: pd.Series) -> None:
    bad = ~np.isfinite(s) | (s <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SmallAreaError(message(
            f"the standard error of area {plain(areas.iloc[i])!r}",
            "positive and finite", plain(s[i]), "A direct estimate with no variance (one "
            "respondent, or everyone alike) cannot be weighed: smooth the variances "
            "(smooth='deff' or 'loglinear') or merge the area."))


def _arcsin(frame: pd.DataFrame, y: np.ndarray, d: np.ndarray, n: str, estimate: str,
            n_eff: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if ((y < 0) | (y > 1)).any():
        raise SmallAreaError(f"transform='arcsin' needs shares in [0, 1] in {estimate!r}.")
    if n_eff is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            n_eff = y * (1 - y) / d
        edge = (y <= 0) | (y >= 1)
        if edge.any():
            if n not in frame.columns:
                raise SmallAreaError(f"a share of 0 or 1 needs the respondents column {n!r}.")
            n_eff = np.where(edge, frame[n].to_numpy(dtype="float64"), n_eff)
    return np.arcsin(np.sqrt(y)), 1 / (4 * n_eff)


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

