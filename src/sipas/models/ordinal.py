"""The proportional-odds model for ordered answers on a design (R ``svyolr``).

``logit P(Y <= k) = zeta_k - x' beta`` for the answer levels ``k = 1..K-1`` (the
parameterisation of MASS ``polr``): a positive coefficient moves answers up the scale. The
weighted log-likelihood is maximised by Newton's method with the analytic Hessian; the
design-based covariance is the sandwich ``H^-1 V_design(sum w U) H^-1`` of the per-row scores
on a Taylor design (calibration-aware), or the variance of the refits under every replicate
weight on a replicate design, as R ``svyolr`` does.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> res = ordinal(d, "p03 ~ C(urban)")
>>> res.terms
('urban=2', '2|3', '3|4', '4|5')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from sipas._validate import check_level, plain
from sipas.design.protocol import SurveyDesign, is_design
from sipas.errors import DesignError, EstimationError
from sipas.models.formula import ModelFrame, check_levels, model_frame
from sipas.models.irls import solve_normal
from sipas.models.result import ModelResult, build_model_result
from sipas.models.sandwich import ScoreColumns, replicate_basis, taylor_basis

__all__ = ["ordinal"]


@dataclasses.dataclass(frozen=True, eq=False)
class OrdinalState:
    """What a term test needs of a fitted ordinal model."""

    design: SurveyDesign
    frame: ModelFrame


def ordinal(design: SurveyDesign, formula: str, *,
            subset: np.ndarray | pd.Series | None = None,
            reference: Mapping[str, Any] | None = None, level: float = 0.95) -> ModelResult:
    """Fit a proportional-odds (ordinal logistic) model with design-based SEs (R ``svyolr``).

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design (in memory).
    formula : str
        ``"answer ~ terms"``; the answer is a column of ordered codes (numbers, or an ordered
        pandas Categorical) with at least three observed levels. No intercept is estimated:
        the thresholds take its place.
    subset : array of bool, optional
        A domain (R ``subset``).
    reference : mapping, optional
        Reference level per categorical column.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    ModelResult
        Coefficients then thresholds ``k|k+1`` (column ``kind``), t statistics and intervals
        on ``df_residual = design df - #coefficients`` (R ``svyolr``'s ``df.residual``).

    Raises
    ------
    DesignError
        Unknown column or malformed formula.
    EstimationError
        Fewer than three answer levels, collinear terms, an empty level, no convergence.

    Notes
    -----
    ``logit P(Y <= k | x) = zeta_k - x' beta``. R equivalent:
    ``svyolr(factor(y) ~ x, design)``; R's default optimiser stops early (its SEs differ from
    the optimum's by up to about 1e-3 relative); sipas solves the score equations to machine
    precision.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> ordinal(d, "p03 ~ C(urban)").to_frame()["kind"].tolist()[:2]
    ['coefficient', 'threshold']
    """
    if not is_design(design):
        raise DesignError(f"design must be a sipas Design or ReplicateDesign; got "
                          f"{type(design).__name__}.")
    level = check_level(level)
    if subset is not None:
        design = design.subset(subset)
    if not design.backend.in_memory:
        raise EstimationError("models need the data in memory: build the design on a pandas "
                              "frame.")
    frame, labels, response = _coded(design.frame, formula)
    mf = model_frame(frame, formula, reference=reference)
    if mf.names[:1] != ("(Intercept)",):
        raise DesignError(f"formula {formula!r} must keep the intercept (the thresholds "
                          "replace it); remove '- 1' or '0 +'.")
    mf = mf.without((0,))
    w = np.where(mf.used, design.weight_array, 0.0)
    if mf.X.k:
        check_levels(mf, w)
    X = mf.X.toarray()
    y = mf.y.astype(np.int64)
    present = np.unique(y[w > 0])
    if len(present) < 3:
        raise EstimationError(f"response {response!r} has {len(present)} level(s) with "
                              "respondents; an ordinal model needs at least 3 (use "
                              "sipas.glm with family='binomial' for two).")
    if len(present) < len(labels):
        missing = [plain(labels[k]) for k in range(len(labels)) if k not in set(present)]
        raise EstimationError(f"answer level(s) {missing} of {response!r} have no "
                              "respondents; merge them with a neighbour.")
    scale = float(w[w > 0].mean())
    names = (*mf.names, *(f"{plain(labels[k])}|{plain(labels[k + 1])}"
                          for k in range(len(labels) - 1)))
    theta, hess = _newton(X, y, w / scale, len(labels), names)
    if design.replicated:
        basis = replicate_basis(design, lambda wr: _newton(X, y, wr, len(labels), names,
                                                           theta)[0], mf.used, theta)
        variance = "replicate (refitted)"
    else:
        scores = _scores(X, y, theta, len(labels))
        basis = taylor_basis(design, [ScoreColumns(scores, np.arange(len(theta)))],
                             np.linalg.inv(hess) / scale, theta)
        variance = "Taylor (sandwich)"
    df = float(design.domain_df(w > 0)) - X.shape[1]
    kinds = ("coefficient",) * X.shape[1] + ("threshold",) * (len(labels) - 1)
    dev = -2 * float(_loglik(X, y, w / scale, theta, len(labels)))
    return build_model_result(model="ordinal", formula=formula, family="ordinal",
                              link="logit", terms=names, basis=basis, df_residual=df,
                              level=level, n=int(np.count_nonzero(w > 0)),
                              info={"deviance": dev, "variance": variance},
                              model_frame=OrdinalState(design, mf), kinds=kinds)


def _coded(frame: pd.DataFrame, formula: str) -> tuple[pd.DataFrame, list[Any], str]:
    """The frame with the answer column replaced by level positions 0..K-1."""
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise DesignError(f"formula must be a string 'answer ~ terms'; got {formula!r}.")
    response = formula.split("~")[0].strip()
    if response not in frame.columns:
        raise DesignError(f"the answer {response!r} of an ordinal model must be a column of "
                          "the data (ordered codes).")
    col = frame[response]
    if isinstance(col.dtype, pd.CategoricalDtype):
        labels = list(col.cat.categories)
        codes = col.cat.codes.to_numpy().astype("float64")
        codes[codes < 0] = np.nan
    else:
        labels = sorted(pd.unique(col.dropna()), key=lambda v: (isinstance(v, str), v))
        codes = pd.Series(col).map({v: i for i, v in enumerate(labels)}).to_numpy(
            dtype="float64", na_value=np.nan)
    out = frame.copy()
    out[response] = codes
    return out, labels, response


def _parts(X: np.ndarray, y: np.ndarray, theta: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Per row: upper and lower cut ``a, b``, their cdf and density, derivative of density."""
    p = X.shape[1]
    zeta = np.concatenate([[-np.inf], theta[p:], [np.inf]])
    eta = X @ theta[:p]
    a, b = zeta[y + 1] - eta, zeta[y] - eta
    fa, fb = special.expit(a), special.expit(b)
    da, db = fa * (1 - fa), fb * (1 - fb)
    return a, b, fa - fb, da, db, da * (1 - 2 * fa), db * (1 - 2 * fb)


def _design_rows(X: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """d a / d theta and d b / d theta per row (n x (p + K - 1))."""
    n, q = len(y), k - 1
    ea, eb = np.zeros((n, q)), np.zeros((n, q))
    up, low = y < q, y > 0
    ea[np.flatnonzero(up), y[up]] = 1.0
    eb[np.flatnonzero(low), y[low] - 1] = 1.0
    return np.hstack([-X, ea]), np.hstack([-X, eb])


def _loglik(X: np.ndarray, y: np.ndarray, w: np.ndarray, theta: np.ndarray, k: int) -> float:
    pr = _parts(X, y, theta, k)[2]
    if np.any(pr[w > 0] <= 0):
        return -np.inf
    return float(w[w > 0] @ np.log(pr[w > 0]))


def _scores(X: np.ndarray, y: np.ndarray, theta: np.ndarray, k: int) -> np.ndarray:
    """Per-row score of the log-likelihood (without the weight)."""
    _a, _b, pr, da, db, _ha, _hb = _parts(X, y, theta, k)
    dA, dB = _design_rows(X, y, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        la, lb = np.where(pr > 0, da / pr, 0.0), np.where(pr > 0, -db / pr, 0.0)
    return dA * la[:, None] + dB * lb[:, None]


def _newton(X: np.ndarray, y: np.ndarray, w: np.ndarray, k: int, names: tuple[str, ...],
            start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Maximise the weighted log-likelihood; return the estimates and ``-Hessian``."""
    p = X.shape[1]
    if start is None:
        share = np.bincount(y, weights=w, minlength=k).cumsum()[:-1] / w.sum()
        start = np.concatenate([np.zeros(p), special.logit(share)])
    theta = start.copy()
    ll = _loglik(X, y, w, theta, k)
    for _it in range(200):
        grad, info = _derivatives(X, y, w, theta, k)
        step, _inv = solve_normal(info, grad, names)
        t = 1.0
        while t > 1e-10:
            new = theta + t * step
            ll_new = _loglik(X, y, w, new, k)
            if ll_new >= ll - 1e-12 * abs(ll):
                break
            t /= 2
        theta, ll_old, ll = new, ll, ll_new
        if np.max(np.abs(t * step) / (np.abs(theta) + 1e-8)) < 1e-13 or \
                (abs(ll - ll_old) <= 1e-16 * abs(ll) and t == 1.0):
            break
    else:
        raise EstimationError("the ordinal model did not converge; check for terms that "
                              "predict the answer perfectly, or merge sparse levels.")
    return theta, _derivatives(X, y, w, theta, k)[1]


def _derivatives(X: np.ndarray, y: np.ndarray, w: np.ndarray, theta: np.ndarray,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and minus the Hessian of the weighted log-likelihood."""
    _a, _b, pr, da, db, ha, hb = _parts(X, y, theta, k)
    dA, dB = _design_rows(X, y, k)
    keep = w > 0
    pr, da, db, ha, hb, wk = pr[keep], da[keep], db[keep], ha[keep], hb[keep], w[keep]
    dA, dB = dA[keep], dB[keep]
    la, lb = da / pr, -db / pr
    laa, lbb, lab = ha / pr - la**2, -hb / pr - lb**2, -la * lb
    grad = dA.T @ (wk * la) + dB.T @ (wk * lb)
    hess = (dA * (wk * laa)[:, None]).T @ dA + (dB * (wk * lbb)[:, None]).T @ dB
    cross = (dA * (wk * lab)[:, None]).T @ dB
    return grad, -(hess + cross + cross.T)
