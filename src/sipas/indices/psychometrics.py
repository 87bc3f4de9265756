"""Weighted scale reliability: Cronbach's alpha with a design-based CI, omega, item analysis.

Respondents with every item of the scale answered are used (listwise, as pingouin does);
the weighted covariance matrix of the items gives alpha, alpha if an item is deleted,
corrected item-total correlations, and McDonald's omega from a one-factor model.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> res = item_analysis(d, ["q10", "q11", "q12", "q13", "q14"])
>>> bool(0.6 < res.alpha < 1)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sipas._validate import as_name_list, check_level, plain
from sipas.backends.base import needs_memory, row_domains
from sipas.design.protocol import SurveyDesign
from sipas.engine.intervals import wald_interval
from sipas.errors import DesignError, EstimationError
from sipas.estimation.estimators import check_design
from sipas.estimation.fit import fit
from sipas.estimation.recipes import ArrayRecipe
from sipas.spec import Spec

__all__ = ["ItemAnalysis", "cronbach_alpha_from_cov", "factor_reliability", "item_analysis"]


def cronbach_alpha_from_cov(cov: np.ndarray) -> float:
    """``alpha = k/(k-1) (1 - trace(C) / sum(C))`` for an item covariance matrix ``C``.

    Parameters
    ----------
    cov : numpy.ndarray
        (k x k) covariance matrix of the items, k >= 2.

    Returns
    -------
    float
        Cronbach's alpha.

    Notes
    -----
    Equals R ``psych::alpha(cov)$total$raw_alpha`` and pingouin ``cronbach_alpha`` on the
    same covariance matrix.

    Examples
    --------
    >>> round(cronbach_alpha_from_cov(np.array([[1.0, 0.5], [0.5, 1.0]])), 12)
    0.666666666667
    """
    k = cov.shape[0]
    return float(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))


@dataclass(frozen=True)
class ItemAnalysis:
    """Reliability of one scale.

    Attributes
    ----------
    alpha, se, ci_low, ci_high, df : float
        Weighted Cronbach's alpha and its design-based (linearized) SE and interval.
    omega : float
        McDonald's omega (total) from a one-factor model of the weighted correlations.
    n : int
        Respondents with every item answered.
    items : DataFrame
        Per item: weighted mean and SD, corrected item-total correlation, alpha if deleted.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> res = item_analysis(d, ["q10", "q11", "q12", "q13", "q14"])
    >>> round(res.alpha, 2), res.n, res.items["item"].tolist()[:2]
    (0.9, 690, ['q10', 'q11'])
    """

    alpha: float
    se: float
    ci_low: float
    ci_high: float
    df: float
    omega: float
    n: int
    items: pd.DataFrame

    def summary(self) -> dict[str, float]:
        """The scale-level numbers as a dict (one row of :func:`factor_reliability`).

        Returns
        -------
        dict
            ``alpha, se, ci_low, ci_high, df, omega, n``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> list(item_analysis(d, ["q01", "q02", "q03"]).summary())
        ['alpha', 'se', 'ci_low', 'ci_high', 'df', 'omega', 'n']
        """
        return {"alpha": self.alpha, "se": self.se, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "df": self.df, "omega": self.omega, "n": self.n}


def _complete(design: SurveyDesign, items: list[str],
              missing_codes: Mapping[str, Sequence[float]] | Sequence[float] = (),
              valid: Mapping[str, Sequence[float]] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    missing = [c for c in items if c not in design.frame.columns]
    if missing:
        raise DesignError(f"item column(s) {missing} are not in the data.")
    x = design.frame[items].to_numpy(dtype="float64", na_value=np.nan, copy=True)
    for j, name in enumerate(items):
        codes = missing_codes.get(name, ()) if isinstance(missing_codes, Mapping) \
            else missing_codes
        if len(codes):
            x[np.isin(x[:, j], np.asarray(codes, dtype="float64")), j] = np.nan
        allowed = None if valid is None else valid.get(name)
        if allowed is not None:
            bad = np.unique(x[~np.isnan(x[:, j]) & ~np.isin(x[:, j], allowed), j])
            if len(bad):
                raise EstimationError(
                    f"item {name!r} has answer code(s) {[plain(v) for v in bad[:10]]} outside "
                    f"its scale {[plain(v) for v in allowed]}; declare them as missing codes "
                    "(the spec's missing_codes, or missing_codes=) or recode them.")
    w = design.weight_array
    ok = ~np.isnan(x).any(axis=1) & (w > 0)
    if ok.sum() < 3:
        raise EstimationError(f"items {items} have fewer than 3 respondents with every item "
                              "answered; reliability cannot be estimated.")
    return x, w, ok


def _weighted_cov(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    mean = np.average(x, axis=0, weights=w)
    c = x - mean
    return (c * w[:, None]).T @ c / w.sum()


def item_analysis(design: SurveyDesign, items: Sequence[str], *, level: float = 0.95,
                  missing_codes: Sequence[float] | Mapping[str, Sequence[float]] = (),
                  scale: Sequence[float] | Mapping[str, Sequence[float]] | None = None
                  ) -> ItemAnalysis:
    """Weighted Cronbach's alpha (design-based CI), omega and item statistics of a scale.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design; respondents with positive weight and every item answered are
        used (listwise).
    items : list of str
        At least two numeric item columns.
    level : float
        Confidence level of the (Wald-t) interval of alpha, in (0, 1).
    missing_codes : sequence of float, or mapping item -> sequence
        Answer codes that mean "no answer" (don't know, not applicable): treated as missing,
        as every other estimator treats them.
    scale : sequence of float, or mapping item -> sequence, optional
        The valid answer codes; an answer outside them (and outside ``missing_codes``) is
        refused rather than scored.

    Returns
    -------
    ItemAnalysis
        Alpha with SE, interval and df (the design df of the respondents used), omega, n
        and the item table.

    Raises
    ------
    EstimationError
        Fewer than two items; fewer than three respondents with every item answered; an
        answer code outside ``scale``.
    DesignError
        ``design`` is not a design, an item is not in the data, or ``level`` is invalid.

    Notes
    -----
    ``alpha = k/(k-1) (1 - trace(C)/sum(C))`` with ``C`` the weighted covariance matrix of the
    items (divisor ``sum w``). Alpha is a smooth function of the weighted first and second
    moments of the items; its SE is the linearized SE of that function through the design's
    variance engine (Taylor or replicate), so strata, clusters and weights are accounted
    for. With equal weights the point estimate equals the unweighted alpha (pingouin
    ``cronbach_alpha``). Omega total is
    ``(sum lambda)^2 / ((sum lambda)^2 + sum(1 - lambda^2))`` from a one-factor
    maximum-likelihood fit of the weighted correlations (NaN for two items). R has no
    design-based alpha in ``survey``; the point estimate matches ``psych::alpha`` with equal
    weights.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> res = item_analysis(d, ["q10", "q11", "q12", "q13", "q14"])
    >>> bool(res.ci_low < res.alpha < res.ci_high), res.df
    (True, 30.0)
    """
    check_design(design)
    needs_memory(design.backend, "item analysis")
    level = check_level(level)
    names = as_name_list("items", list(items))
    if len(names) < 2:
        raise EstimationError("a scale needs at least two items for alpha.")
    valid: dict[str, Sequence[float]] | None = None if scale is None else {
        n: [float(v) for v in (scale[n] if isinstance(scale, Mapping) else scale)]
        for n in names}
    x, w, ok = _complete(design, names, missing_codes, valid)
    xw, ww = x[ok], w[ok]
    cov = _weighted_cov(xw, ww)
    alpha = cronbach_alpha_from_cov(cov)
    se = _alpha_se(design, x, ok, names)
    df = float(design.domain_df(ok))
    lo, hi = wald_interval(np.array([alpha]), np.array([se]), np.array([df]), level)
    total = xw.sum(axis=1)
    rows = []
    for j, name in enumerate(names):
        rest = total - xw[:, j]
        keep = [k for k in range(len(names)) if k != j]
        rows.append({"item": name, "mean": np.average(xw[:, j], weights=ww),
                     "sd": np.sqrt(cov[j, j]),
                     "corrected_item_total_r": _wcorr(xw[:, j], rest, ww),
                     "alpha_if_deleted": cronbach_alpha_from_cov(cov[np.ix_(keep, keep)])
                     if len(keep) > 1 else np.nan})
    return ItemAnalysis(alpha=alpha, se=se, ci_low=float(lo[0]), ci_high=float(hi[0]), df=df,
                        omega=_omega(cov, int(ok.sum())), n=int(ok.sum()),
                        items=pd.DataFrame(rows))


def _wcorr(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    c = _weighted_cov(np.column_stack([a, b]), w)
    return float(c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]))


def _alpha_se(design: SurveyDesign, x: np.ndarray, ok: np.ndarray, names: list[str]) -> float:
    """Delta-method SE of alpha from the design covariance of the item moments."""
    k = len(names)
    pairs = [(a, b) for a in range(k) for b in range(a, k)]
    xz = np.where(ok[:, None], x, 0.0)
    cols = [xz[:, a] for a in range(k)] + [xz[:, a] * xz[:, b] for a, b in pairs]
    num = np.column_stack(cols)
    den = np.repeat(ok[:, None].astype("float64"), num.shape[1], axis=1)
    basis = fit(design, ArrayRecipe(num, den), row_domains(np.zeros(len(ok), np.int64), 1)).basis
    m, m2 = basis.full[:k], basis.full[k:]
    second = np.zeros((k, k))
    for idx, (a, b) in enumerate(pairs):
        second[a, b] = second[b, a] = m2[idx]
    cov = second - np.outer(m, m)
    s, t, c = cov.sum(), np.trace(cov), k / (k - 1)
    grad_c = -c * (np.eye(k) * s - t) / s**2  # d alpha / d C_ab (full symmetric matrix)
    grad = np.concatenate([-2 * grad_c @ m,
                           [grad_c[a, b] * (1 if a == b else 2) for a, b in pairs]])
    return float(np.sqrt(max(basis.combine(grad[:, None]).var()[0], 0.0)))


def _omega(cov: np.ndarray, n: int) -> float:
    """McDonald's omega total from a one-factor maximum-likelihood fit of the correlations."""
    from statsmodels.multivariate.factor import Factor

    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    if cov.shape[0] < 3:
        return np.nan  # a one-factor model of two items is not identified
    try:
        # fixed seed: the EM start values are drawn at random; omega must be reproducible
        fit = Factor(corr=corr, n_factor=1, method="ml", nobs=n).fit(rng=0)
    except (np.linalg.LinAlgError, ValueError):
        return np.nan
    lam = np.abs(np.asarray(fit.loadings)[:, 0])
    psi = np.clip(1 - lam**2, 0, None)
    return float(lam.sum() ** 2 / (lam.sum() ** 2 + psi.sum()))


def factor_reliability(design: SurveyDesign, spec: Spec, *, level: float = 0.95) -> pd.DataFrame:
    """Alpha (with CI), omega and n of every factor (node of items) of the spec.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design.
    spec : Spec
        Its factors name the scales; factors with a single item are skipped.
    level : float
        Confidence level of the intervals of alpha.

    Returns
    -------
    pandas.DataFrame
        One row per factor: ``factor, label_vi, label_en, items, alpha, se, ci_low,
        ci_high, df, omega, n, note``. A factor :func:`item_analysis` cannot estimate (e.g.
        fewer than three complete respondents) gets blank statistics and ``note`` saying
        ``not estimable`` and why; the other factors are computed.

    Notes
    -----
    :func:`item_analysis` applied to the items of each factor, with the spec's missing codes
    of each item treated as missing and its scale's codes as the only valid answers.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> factor_reliability(d, sd.spec)["factor"].tolist()[:2]
    ['access', 'procedures']
    """
    rows = []
    tree = spec.tree
    for f in (tree.node(n) for n in tree.order):   # the factors, or a tree's nodes of items
        if len(f.items) < 2:
            continue
        items = list(f.items)
        row = {"factor": f.name, "label_vi": f.label.get("vi", f.name),
               "label_en": f.label.get("en", f.name), "items": len(f.items)}
        try:
            res = item_analysis(
                design, items, level=level,
                missing_codes={i: [c for codes in spec.missing_codes(i).values()
                                   for c in codes] for i in items},
                scale={i: spec.scale_of(i).codes for i in items})
        except EstimationError as exc:
            # one factor answered by too few is reported, not a reason to stop the run
            rows.append({**row, **dict.fromkeys(_SUMMARY, np.nan),
                         "note": f"not estimable: {exc}"})
            continue
        rows.append({**row, **res.summary(), "note": ""})
    return pd.DataFrame(rows)


_SUMMARY = ("alpha", "se", "ci_low", "ci_high", "df", "omega", "n")
