"""Satisfaction indices: item -> factor -> overall, each with its design-based uncertainty.

An item index is a ratio of weighted sums over the item's valid answers (share in the
satisfied codes, or a mean, or a mean rescaled to [0, 1]); a factor index is a linear
combination of item indices (``aggregate="items"``) or the mean of per-respondent factor
scores (``aggregate="respondents"``); the overall index is a linear combination of factor
indices or a separately asked item. Everything is computed from one reduction of the data, so
every index in every domain gets its SE, CI, df, design effect and n from the same variance
engine, and covariances between indices are available for comparisons and PAR points.

Shares and rescaled means are in [0, 1] inside results (0.748, not 74.8); ``measure="mean"``
stays on the item scale (3.74). The report layer turns them into percentages.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> f = sipas.factor_index(d, ["q01", "q02", "q03", "q04"], satisfied=[4, 5]).to_frame()
>>> bool(0.5 < f["estimate"][0] < 1)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import as_name_list, check_choice, check_df, check_level, message
from sipas.ci import proportion_interval, wald_interval
from sipas.errors import EstimationError
from sipas.estimation import (
    COLUMNS,
    AnyDesign,
    Estimate,
    RatioFit,
    _check_design,
    domains,
    fit_ratios,
)
from sipas.reliability import ReliabilityRules, flag_rows
from sipas.spec import SHARE_MEANING, Spec
from sipas.variance import RatioSource, VarBasis

__all__ = ["IndexResult", "ItemScores", "factor_index", "item_scores", "satisfaction_index"]

Measure = Literal["top_box", "mean", "pct_of_max", "pct_of_range"]
Aggregate = Literal["items", "respondents"]


@dataclass(frozen=True)
class ItemScores:
    """Per-respondent scores of items under one measure: ``score`` and ``valid`` (n x J)."""

    names: tuple[str, ...]
    score: np.ndarray
    valid: np.ndarray
    measure: str


def item_scores(frame: pd.DataFrame, items: Sequence[str], measure: Measure = "top_box", *,
                satisfied: Sequence[float] | Mapping[str, Sequence[float]] = (4, 5),
                missing: Sequence[float] = (), scale: tuple[float, float] | Mapping[str, tuple]
                | None = None) -> ItemScores:
    """Score every answer: 1/0 for top box, the code for ``mean``, rescaled for ``pct_*``.

    ``missing`` codes (and empty cells) are not valid answers: they leave the denominator of
    that item only. A code that is neither valid nor missing is not checked here (the reader
    does that); the scale range is needed for ``pct_of_max`` / ``pct_of_range``.
    """
    check_choice("measure", measure, ("top_box", "mean", "pct_of_max", "pct_of_range"))
    names = as_name_list("items", list(items))
    absent = [c for c in names if c not in frame.columns]
    if absent or not names:
        raise EstimationError(f"item column(s) {absent or names} not found in the data; items "
                              "must be columns of the design's frame.")
    scores, valids = [], []
    for name in names:
        col = frame[name]
        if not pd.api.types.is_numeric_dtype(col):
            raise EstimationError(f"item {name!r} must hold numeric codes; got {col.dtype}.")
        y = col.to_numpy(dtype="float64", na_value=np.nan)
        valid = ~np.isnan(y) & ~np.isin(y, np.asarray(list(missing), dtype="float64"))
        scores.append(_score(name, y, valid, measure, satisfied, scale))
        valids.append(valid)
    return ItemScores(tuple(names), np.column_stack(scores), np.column_stack(valids), measure)


def _score(name, y, valid, measure, satisfied, scale) -> np.ndarray:
    if measure == "top_box":
        codes = satisfied.get(name, ()) if isinstance(satisfied, Mapping) else satisfied
        if not len(codes):
            raise EstimationError(f"item {name!r}: no satisfied codes given for top_box.")
        return np.where(valid, np.isin(y, np.asarray(list(codes), dtype="float64")), 0.0)
    if measure == "mean":
        return np.where(valid, y, 0.0)
    rng = scale.get(name) if isinstance(scale, Mapping) else scale
    if rng is None:
        raise EstimationError(f"measure={measure!r} needs scale=(min, max) for item {name!r}.")
    lo, hi = float(rng[0]), float(rng[1])
    if not hi > lo:
        raise EstimationError(message("scale", "(min, max) with min < max", rng))
    outside = valid & ((y < lo) | (y > hi))
    if outside.any():
        raise EstimationError(f"item {name!r} has valid answers outside the scale {rng}: "
                              f"{sorted(set(y[outside]))[:8]}. Declare them missing or fix scale.")
    value = y / hi if measure == "pct_of_max" else (y - lo) / (hi - lo)
    return np.where(valid, value, 0.0)


# ---------------------------------------------------------------------- factor_index

def factor_index(design: AnyDesign, items: Sequence[str], *, measure: Measure = "top_box",
                 satisfied: Sequence[float] = (4, 5), missing: Sequence[float] = (),
                 aggregate: Aggregate = "items", by: str | Sequence[str] | None = None,
                 item_weights: Sequence[float] | None = None,
                 scale: tuple[float, float] | None = None, name: str = "index",
                 level: float = 0.95, df: float | None = None) -> Estimate:
    """Index of a group of items (a factor), overall or by domains, with its uncertainty.

    Parameters
    ----------
    design : Design or ReplicateDesign
    items : list of str
        Item columns (numeric answer codes).
    measure : {"top_box", "mean", "pct_of_max", "pct_of_range"}
        Item index: share of valid answers in ``satisfied``; mean code; mean / max (the
        "3.74/5 = 74.8%" convention); (mean - min)/(max - min).
    satisfied : list
        Codes that count as satisfied (top box).
    missing : list
        Codes that are not valid answers (don't know, not applicable, ...).
    aggregate : {"items", "respondents"}
        ``items``: weighted mean of the item indices, each over its own valid answers.
        ``respondents``: each respondent's mean score over their valid items first, then the
        weighted mean of those over respondents with at least one valid item.
    item_weights : list of float, optional
        Weights of the items (normalised to sum 1); default equal.
    scale : (min, max), optional
        Range of the answer scale (needed for ``pct_of_max`` and ``pct_of_range``).
    name : str
        Name of the index in the result (``variable`` column).

    Returns
    -------
    Estimate
        One row per domain (statistic ``index``).

    Notes
    -----
    ``aggregate="items"``: ``I = sum_j a_j R_j`` with ``R_j = sum_i w v_ij s_ij / sum_i w
    v_ij``; its linearized influence is ``sum_j a_j v_ij (s_ij - R_j) / sum w v_j``, so the SE
    is that of a linear combination of ratio estimators (R: ``svycontrast`` of ``svyratio``
    results). ``deff`` compares with simple random sampling of the same respondents.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> sipas.factor_index(d, ["q19", "q20"], measure="pct_of_max", scale=(1, 5),
    ...                    by="urban").to_frame()["n"].tolist()
    [33, 223]
    """
    _check_design(design)
    check_choice("aggregate", aggregate, ("items", "respondents"))
    level, df = check_level(level), check_df(df)
    scores = item_scores(design.frame, items, measure, satisfied=satisfied, missing=missing,
                         scale=scale)
    groups = {name: list(range(len(scores.names)))}
    weights = {name: _item_weights(item_weights, len(scores.names))}
    return _IndexBuild(design, scores, by, level, df).factors(groups, weights, aggregate)[0]


def _item_weights(weights: Sequence[float] | None, j: int) -> np.ndarray:
    if weights is None:
        return np.full(j, 1.0 / j)
    a = np.asarray(weights, dtype="float64")
    if a.shape != (j,) or np.any(a < 0) or a.sum() <= 0:
        raise EstimationError(message("item_weights", f"{j} non-negative numbers with a positive "
                                      "sum", list(a)))
    return a / a.sum()


@dataclass
class _IndexBuild:
    """One reduction of the item scores of a design, shared by items, factors and overall."""

    design: AnyDesign
    scores: ItemScores
    by: Any
    level: float
    df: float | None
    codes: np.ndarray = field(init=False)
    labels: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.codes, self.labels = domains(self.design, self.by)

    @property
    def n_domains(self) -> int:
        return len(self.labels)

    def item_source(self) -> RatioSource:
        v = self.scores.valid.astype("float64")
        return RatioSource(self.scores.score * v, v, self.codes, self.n_domains)

    def respondent_source(self, groups: Mapping[str, list[int]],
                          weights: Mapping[str, np.ndarray]) -> RatioSource:
        """Per-respondent factor scores: weighted mean over the respondent's valid items."""
        per_resp, valid = [], []
        for name, cols in groups.items():
            v = self.scores.valid[:, cols]
            wsum = v @ weights[name]
            with np.errstate(divide="ignore", invalid="ignore"):
                per_resp.append(np.where(wsum > 0, (self.scores.score[:, cols] * v)
                                         @ weights[name] / wsum, 0.0))
            valid.append(wsum > 0)
        vmat = np.column_stack(valid).astype("float64")
        return RatioSource(np.column_stack(per_resp) * vmat, vmat, self.codes, self.n_domains)

    def basis(self, source: RatioSource) -> RatioFit:
        """One reduction of ``source``: estimates, variance basis, counts, moments."""
        binary = self.scores.measure == "top_box" and source.num is not None and \
            bool(np.all((source.num == 0) | (source.num == 1)))
        return fit_ratios(self.design, source, second_moment=True, binary=binary)

    def combine(self, fit: RatioFit, load: np.ndarray, names: list[str],
                ci_method: str = "wald") -> Estimate:
        """Indices ``load' R`` (per domain) of the ratios in ``fit`` as an Estimate."""
        d, k = self.n_domains, len(names)
        combined = fit.basis.combine(np.kron(np.eye(d), load))
        table = self.labels.loc[self.labels.index.repeat(k)].reset_index(drop=True)
        table["variable"] = np.tile(np.asarray(names, dtype=object), d)
        var = combined.var()
        table["estimate"] = combined.full
        table["se"] = np.sqrt(np.maximum(var, 0))
        table["df"] = np.full(d * k, self.df) if self.df is not None else \
            np.repeat(fit.domain_df(), k)
        n = _respondents(fit, load) if np.any((load > 0).sum(axis=0) > 1) else \
            (fit.n.reshape(d, -1) @ (load > 0)).ravel()
        rows = np.repeat(fit.rows, k)
        table["n"] = n.astype(np.int64)
        table["n_missing"] = (rows - n).astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            table["deff"] = var / _srs_variance(fit, load)
            table["cv"] = table["se"] / table["estimate"].abs()
        table["deff_replace"] = np.nan
        table = _intervals(table, combined, ci_method, self.level, rows)
        table = table[[*self.labels.columns, *COLUMNS]]
        return Estimate(table=table, statistic="index", level=self.level, ci_method=ci_method,
                        by=tuple(self.labels.columns), basis=combined)

    def factors(self, groups: Mapping[str, list[int]], weights: Mapping[str, np.ndarray],
                aggregate: str) -> tuple[Estimate, RatioFit, np.ndarray]:
        """Factor indices, and the fit and loadings they are built from."""
        if aggregate == "items":
            source = self.item_source()
            load = np.zeros((source.n_vars, len(groups)))
            for f, (name, cols) in enumerate(groups.items()):
                load[cols, f] = weights[name]
        else:
            source = self.respondent_source(groups, weights)
            load = np.eye(len(groups))
        fit = self.basis(source)
        return self.combine(fit, load, list(groups)), fit, load


def _respondents(fit: RatioFit, load: np.ndarray) -> np.ndarray:
    """Positive-weight respondents with at least one valid item of each index, per domain."""
    src = fit.source
    used = (src.den @ (load > 0)) > 0
    pos = (fit.design.weight_array > 0) & (src.domain >= 0)
    dom = np.where(pos, src.domain, 0)
    counts = [np.bincount(dom, weights=(used[:, f] & pos).astype("float64"),
                          minlength=src.n_domains) for f in range(load.shape[1])]
    return np.column_stack(counts).ravel()


def _srs_variance(fit: RatioFit, load: np.ndarray) -> np.ndarray:
    """Variance of ``load' R`` under simple random sampling of the same respondents.

    Item covariance ``n_jk/(n_j n_k) s_jk n_jk/(n_jk-1) (1 - n_jk/N_jk)`` with ``s_jk`` the
    weighted covariance over respondents valid for both items; for one item it is R's
    ``svymean(deff=TRUE)`` denominator. The diagonal comes from the reduction's moments;
    cross terms, needed only for indices of several items, from one pass per domain.
    """
    s, src = fit.sums, fit.source
    d, j = src.n_domains, src.n_vars
    theta = fit.basis.full.reshape(d, j)
    wnum, wval = s.by_domain(s.wnum), s.by_domain(s.wval)
    wnum2, n = s.by_domain(s.wnum2), s.by_domain(s.pden)
    with np.errstate(divide="ignore", invalid="ignore"):
        ss = wnum2 - 2 * theta * wnum + theta**2 * wval
        diag = ss / wval / (n - 1) * (1 - n / wval)
    diag = np.nan_to_num(diag)
    out = np.einsum("jf,dj->df", load**2, diag)
    if np.any((load != 0).sum(axis=0) > 1):
        out = out + _cross_terms(fit, theta, load)
    return out.ravel()


def _cross_terms(fit: RatioFit, theta: np.ndarray, load: np.ndarray) -> np.ndarray:
    src, w = fit.source, fit.design.weight_array
    d = src.n_domains
    keep = np.flatnonzero((w > 0) & (src.domain >= 0))
    order = keep[np.argsort(src.domain[keep], kind="stable")]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(src.domain[order], minlength=d))])
    out = np.zeros((d, load.shape[1]))
    for dom in range(d):
        rows = order[bounds[dom]: bounds[dom + 1]]
        if len(rows) < 2:
            continue
        v = src.den[rows]
        c = (src.num[rows] - theta[dom] * v) * v
        wr = w[rows]
        cov_num = (c * wr[:, None]).T @ c
        wv = (v * wr[:, None]).T @ v
        njk = v.T @ v
        nj = np.diag(njk)
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = cov_num / wv * njk / (njk - 1) * (1 - njk / wv) * njk / np.outer(nj, nj)
        cov = np.nan_to_num(cov)
        np.fill_diagonal(cov, 0.0)
        out[dom] = np.einsum("jf,jk,kf->f", load, cov, load)
    return out


def _intervals(table: pd.DataFrame, basis: VarBasis, ci_method: str, level: float,
               rows: np.ndarray | None) -> pd.DataFrame:
    est, se, row_df = basis.full, table["se"].to_numpy(), table["df"].to_numpy()
    if ci_method in ("logit", "beta", "wilson", "asin", "xlogit"):
        lo, hi = proportion_interval(ci_method, est, se, row_df, level, rows)
    else:
        lo, hi = wald_interval(est, se, row_df, level)
    table["ci_low"], table["ci_high"] = lo, hi
    return table


# ---------------------------------------------------------------------- satisfaction_index

@dataclass(frozen=True, eq=False, repr=False)
class IndexResult:
    """Item, factor and overall indices of a survey, with the definition used.

    Attributes
    ----------
    items, factors, overall : DataFrame
        Tidy tables: domain columns, ``name``, ``label_vi``, ``label_en``, ``estimate``,
        ``se``, ``ci_low``, ``ci_high``, ``df``, ``deff``, ``n``, ``n_missing``, ``flag``
        (reliability), plus for items the share of each missing kind and ``meaning``.
    definition : str
        The index definition used (measure, aggregation, overall rule).
    factor_estimate, overall_estimate : Estimate
        The estimates behind the tables (covariances for comparisons and PAR points).
    """

    items: pd.DataFrame
    factors: pd.DataFrame
    overall: pd.DataFrame
    definition: str
    factor_estimate: Estimate
    overall_estimate: Estimate
    by: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        """All three tables stacked, with a ``level`` column (item / factor / overall)."""
        parts = [t.assign(level=lv) for lv, t in (("item", self.items), ("factor", self.factors),
                                                  ("overall", self.overall))]
        return pd.concat(parts, ignore_index=True)

    def __repr__(self) -> str:
        cols = [*self.by, "name", "estimate", "ci_low", "ci_high", "flag"]
        body = pd.concat([self.overall[cols], self.factors[cols]]).head(12)
        return (f"<IndexResult {self.definition}>\n"
                + body.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    def _repr_html_(self) -> str:
        return (f"<p><b>IndexResult</b> {self.definition}</p>"
                + self.overall.to_html(index=False) + self.factors.to_html(index=False))


def satisfaction_index(design: AnyDesign, spec: Spec, *, by: str | Sequence[str] | None = None,
                       missing_kinds: pd.DataFrame | None = None, level: float = 0.95,
                       df: float | None = None, rules: ReliabilityRules | None = None,
                       item_ci: str = "logit") -> IndexResult:
    """Item, factor and overall indices as the spec defines them, by domains.

    Parameters
    ----------
    design : Design or ReplicateDesign
        Built from data read with ``spec`` (missing codes already NA).
    spec : Spec
        Items, scales, factors and the ``[index]`` definition.
    by : str or list of str, optional
        Domain columns (province, district, service ...).
    missing_kinds : DataFrame, optional
        ``SurveyData.missing``: per row and item the kind of missing answer; with it the
        weighted share of each kind (don't know, not applicable, ...) is reported beside
        each item.
    rules : ReliabilityRules, optional
        Thresholds of the reliability flags (see :mod:`sipas.reliability`).
    item_ci : str
        Interval method of item shares (``logit`` default; ``wald`` etc.).

    Returns
    -------
    IndexResult

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> res = sipas.satisfaction_index(d, sd.spec)
    >>> list(res.factors["name"])
    ['access', 'procedures', 'officials', 'results', 'feedback']
    """
    _check_design(design)
    rules = rules or ReliabilityRules()
    definition = spec.index
    scores = _spec_scores(design.frame, spec)
    build = _IndexBuild(design, scores, by, check_level(level), check_df(df))
    item_fit = build.basis(build.item_source())
    names = list(scores.names)
    ci = item_ci if definition.measure != "mean" else "wald"
    item_est = build.combine(item_fit, np.eye(len(names)), names, ci)
    items = _item_table(item_est, spec, design, build, missing_kinds, rules)
    index_of = {name: i for i, name in enumerate(names)}
    groups = {f.name: [index_of[i] for i in f.items] for f in spec.factors}
    weights = {f.name: np.full(len(f.items), 1.0 / len(f.items)) for f in spec.factors}
    if definition.overall == "item":
        factor_est = build.factors(groups, weights, definition.aggregate)[0] if groups else None
        load = np.zeros((len(names), 1))
        load[index_of[spec.overall_item], 0] = 1.0
        overall_est = build.combine(item_fit, load, ["overall"])
    else:
        factor_est, f_fit, f_load = build.factors(groups, weights, definition.aggregate)
        overall_est = build.combine(f_fit, f_load @ _overall_weights(spec)[:, None],
                                    ["overall"])
    factors = _label(factor_est, spec, "factor", rules) if factor_est else pd.DataFrame()
    overall = _label(overall_est, spec, "overall", rules)
    text = definition.describe()
    for table in (items, factors, overall):
        if len(table):
            table["definition"] = text
    return IndexResult(items=items, factors=factors, overall=overall, definition=text,
                       factor_estimate=factor_est, overall_estimate=overall_est,
                       by=tuple(build.labels.columns))


def _overall_weights(spec: Spec) -> np.ndarray:
    names = [f.name for f in spec.factors]
    if spec.index.overall == "weighted_factors":
        a = np.array([spec.index.factor_weights[n] for n in names])
        return a / a.sum()
    return np.full(len(names), 1.0 / len(names))


def _spec_scores(frame: pd.DataFrame, spec: Spec) -> ItemScores:
    measure = spec.index.measure
    names = list(spec.item_names)
    satisfied = {it: spec.scale_of(it).satisfied for it in names}
    scale = {it: (spec.scale_of(it).min, spec.scale_of(it).max) for it in names}
    missing = sorted({c for it in names for v in spec.missing_codes(it).values() for c in v})
    parts = []
    for it in names:
        # binary yes/no items have no meaningful mean: they are always shares
        m = "top_box" if len(spec.scale_of(it).codes) == 2 else measure
        parts.append(item_scores(frame, [it], m, satisfied=satisfied, missing=missing,
                                 scale=scale))
    return ItemScores(tuple(names), np.column_stack([p.score for p in parts]),
                      np.column_stack([p.valid for p in parts]), measure)


def _item_table(est: Estimate, spec: Spec, design: AnyDesign, build: _IndexBuild,
                kinds: pd.DataFrame | None, rules: ReliabilityRules) -> pd.DataFrame:
    table = _label(est, spec, "item", rules)
    table["kind"] = [spec.item(n).kind for n in table["name"]]
    table["meaning"] = [SHARE_MEANING[k]["en"] if spec.index.measure == "top_box"
                        or len(spec.scale_of(n).codes) == 2 else f"{spec.index.measure}"
                        for k, n in zip(table["kind"], table["name"])]
    if kinds is None:
        return table
    w = design.weight_array
    pos = w > 0
    totals = np.bincount(build.codes[pos], weights=w[pos], minlength=len(build.labels))
    for kind in ("dont_know", "not_applicable", "refused", "not_asked", "system"):
        shares = []
        for item in spec.item_names:
            if item not in kinds.columns:
                shares.append(np.full(len(build.labels), np.nan))
                continue
            hit = (kinds[item].astype("object") == kind).to_numpy() & pos
            got = np.bincount(build.codes[hit], weights=w[hit], minlength=len(build.labels))
            with np.errstate(divide="ignore", invalid="ignore"):
                shares.append(got / totals)
        table[f"share_{kind}"] = np.column_stack(shares).ravel()
    return table


def _label(est: Estimate, spec: Spec, level: str, rules: ReliabilityRules) -> pd.DataFrame:
    table = est.to_frame().rename(columns={"variable": "name"})
    if level == "item":
        lab = {it.name: it.label for it in spec.items}
    elif level == "factor":
        lab = {f.name: f.label for f in spec.factors}
    else:
        lab = {"overall": {"vi": "Chỉ số hài lòng chung", "en": "Overall satisfaction index"}}
    pos = est.by and list(est.by)
    idx = len(pos) if pos else 0
    table.insert(idx + 1, "label_vi", [lab.get(n, {}).get("vi", n) for n in table["name"]])
    table.insert(idx + 2, "label_en", [lab.get(n, {}).get("en", n) for n in table["name"]])
    if level == "item":
        share = [spec.index.measure != "mean" or len(spec.scale_of(n).codes) == 2
                 for n in table["name"]]
    else:
        share = spec.index.measure != "mean"
    table["flag"] = flag_rows(table, rules, share=np.asarray(share))
    return table
