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

from sipas._validate import as_name_list, check_choice, check_df, check_level, message, plain
from sipas.backends import is_dask
from sipas.ci import proportion_interval, wald_interval
from sipas.errors import EstimationError
from sipas.estimate import COLUMNS, Estimate
from sipas.fitting import AnyDesign, RatioFit, _check_design, domains, fit_ratios
from sipas.reliability import ReliabilityRules, flag_rows
from sipas.spec import SHARE_MEANING, Spec
from sipas.variance import RatioSource, VarBasis

__all__ = ["IndexResult", "ItemScores", "factor_index", "item_scores", "satisfaction_index"]

Measure = Literal["top_box", "mean", "pct_of_max", "pct_of_range"]
IndexCI = Literal["logit", "wald"]
Aggregate = Literal["items", "respondents"]


@dataclass(frozen=True)
class ItemScores:
    """Per-respondent scores of items under one measure: ``score`` and ``valid`` (n x J).

    Attributes
    ----------
    names : tuple of str
        The item columns, in order.
    score : numpy.ndarray
        (n x J) scores (0 where the answer is not valid).
    valid : numpy.ndarray of bool
        (n x J) whether each answer is valid (answered, not a missing code).
    measure : str
        The measure that made the scores.

    Examples
    --------
    >>> import pandas as pd
    >>> s = item_scores(pd.DataFrame({"q1": [5, 3], "q2": [4, 1]}), ["q1", "q2"])
    >>> s.names, s.score.tolist()
    (('q1', 'q2'), [[1.0, 1.0], [0.0, 0.0]])
    """

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

    Parameters
    ----------
    frame : pandas.DataFrame
        The data (one row per respondent).
    items : list of str
        Item columns with numeric answer codes.
    measure : {"top_box", "mean", "pct_of_max", "pct_of_range"}
        ``top_box``: 1 if the answer is in ``satisfied``, else 0; ``mean``: the code;
        ``pct_of_max``: code / max; ``pct_of_range``: (code - min) / (max - min).
    satisfied : list of codes, or mapping item -> list
        The top-box codes (per item with a mapping).
    missing : list of codes
        Codes that are not valid answers (don't know, not applicable, ...).
    scale : (min, max) or mapping item -> (min, max), optional
        Range of the answer scale; required by ``pct_of_max`` and ``pct_of_range``.

    Returns
    -------
    ItemScores
        ``score`` and ``valid`` (n x J), 0 and False for empty cells and missing codes.

    Raises
    ------
    EstimationError
        An item is not a column or not numeric; ``top_box`` without satisfied codes for an
        item; ``pct_*`` without a scale, with ``min >= max``, or with valid answers outside
        the scale.
    DesignError
        An unknown ``measure``, or ``items`` not a list of names.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> f = pd.DataFrame({"q1": [5, 3, np.nan, 9], "q2": [4, 4, 2, 1]})
    >>> s = item_scores(f, ["q1", "q2"], satisfied=[4, 5], missing=[9])
    >>> s.score.tolist()
    [[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    >>> s.valid[:, 0].tolist()  # empty cell and code 9 are not valid answers
    [True, True, False, False]
    >>> item_scores(f, ["q2"], "pct_of_range", scale=(1, 5)).score.ravel().tolist()
    [0.75, 0.75, 0.25, 0.0]
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
                              f"{[plain(v) for v in sorted(set(y[outside]))[:8]]}. Declare them "
                              "missing or fix the scale.")
    value = y / hi if measure == "pct_of_max" else (y - lo) / (hi - lo)
    return np.where(valid, value, 0.0)


# ---------------------------------------------------------------------- factor_index

def factor_index(design: AnyDesign, items: Sequence[str], *, measure: Measure = "top_box",
                 satisfied: Sequence[float] = (4, 5), missing: Sequence[float] = (),
                 aggregate: Aggregate = "items", by: str | Sequence[str] | None = None,
                 item_weights: Sequence[float] | None = None,
                 scale: tuple[float, float] | None = None, name: str = "index",
                 level: float = 0.95, df: float | None = None,
                 ci: IndexCI | None = None) -> Estimate:
    """Index of a group of items (a factor), overall or by domains, with its uncertainty.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design; it decides the variance method.
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
    by : str or list of str, optional
        Domain columns; one row per observed combination (sorted).
    item_weights : list of float, optional
        Weights of the items (normalised to sum 1); default equal.
    scale : (min, max), optional
        Range of the answer scale (needed for ``pct_of_max`` and ``pct_of_range``).
    name : str
        Name of the index in the result (``variable`` column).
    level : float
        Confidence level of the intervals, in (0, 1).
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain; ``math.inf`` for normal quantiles.

    Returns
    -------
    Estimate
        One row per domain (statistic ``index``); ``n`` counts respondents with at least
        one valid item.

    Raises
    ------
    EstimationError
        An item is not a numeric column; no satisfied codes for ``top_box``; ``pct_*``
        without ``scale`` or with answers outside it; ``item_weights`` not one
        non-negative number per item with a positive sum.
    DesignError
        ``design`` is not a design; an unknown ``measure`` or ``aggregate``; a bad
        ``level`` or ``df``; a ``by`` column not in the data or with missing values.

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
    names = as_name_list("items", list(items))
    if not is_dask(design.frame):
        item_scores(design.frame.head(0), names, measure, satisfied=satisfied,
                    missing=missing, scale=scale)  # check the arguments once, up front
    recipe = ScoreRecipe(tuple(names), measure, satisfied, tuple(missing), scale)
    groups = {name: list(range(len(names)))}
    weights = {name: _item_weights(item_weights, len(names))}
    method = interval_method(ci, measure)
    return _IndexBuild(design, recipe, by, level, df).factors(groups, weights, aggregate,
                                                             method)[0]


def interval_method(ci: str | None, measure: str) -> str:
    """Interval of an index: ``logit`` for indices in [0, 1] (shares and rescaled means: the
    interval stays in [0, 1] even with few PSUs), ``wald`` for means on the item scale."""
    if ci is None:
        return "wald" if measure == "mean" else "logit"
    check_choice("ci", ci, ("logit", "wald"))
    if ci == "logit" and measure == "mean":
        raise EstimationError("ci='logit' needs an index in [0, 1]; a mean on the item scale "
                              "uses ci='wald'.")
    return ci



def _item_weights(weights: Sequence[float] | None, j: int) -> np.ndarray:
    if weights is None:
        return np.full(j, 1.0 / j)
    a = np.asarray(weights, dtype="float64")
    if a.shape != (j,) or np.any(a < 0) or a.sum() <= 0:
        raise EstimationError(message("item_weights", f"{j} non-negative numbers with a positive "
                                      "sum", [plain(v) for v in a]))
    return a / a.sum()


@dataclass(frozen=True)
class ScoreRecipe:
    """Computes the item scores of a frame (picklable: it runs on Dask workers too)."""

    items: tuple[str, ...]
    measure: str
    satisfied: Any
    missing: tuple[float, ...]
    scale: Any
    spec: Spec | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the scores read."""
        return self.items

    def __call__(self, frame: pd.DataFrame) -> ItemScores:
        if self.spec is not None:
            return _spec_scores(frame, self.spec)
        return item_scores(frame, self.items, self.measure, satisfied=self.satisfied,
                           missing=self.missing, scale=self.scale)

    @property
    def binary(self) -> bool:
        if self.spec is None:
            return self.measure == "top_box"
        return all(self.measure == "top_box" or len(self.spec.scale_of(i).codes) == 2
                   for i in self.items)


@dataclass(frozen=True)
class ItemRecipe:
    """Item scores as ratio sources: (score x valid, valid, valid)."""

    scores: ScoreRecipe

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the scores read."""
        return self.scores.columns

    def __call__(self, frame: pd.DataFrame, w: np.ndarray):
        return self.from_scores(self.scores(frame))

    @staticmethod
    def from_scores(sc: ItemScores):
        v = np.asarray(sc.valid, dtype="float64", order="F")
        return np.asarray(sc.score * v, order="F"), v, v


@dataclass(frozen=True)
class RespondentRecipe:
    """Per-respondent factor scores: weighted mean over the respondent's valid items."""

    scores: ScoreRecipe
    groups: tuple[tuple[int, ...], ...]
    weights: tuple[tuple[float, ...], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the scores read."""
        return self.scores.columns

    def __call__(self, frame: pd.DataFrame, w: np.ndarray):
        return self.from_scores(self.scores(frame))

    def from_scores(self, sc: ItemScores):
        per_resp, valid = [], []
        for cols, a in zip(self.groups, self.weights):
            v = sc.valid[:, list(cols)]
            wsum = v @ np.asarray(a)
            with np.errstate(divide="ignore", invalid="ignore"):
                per_resp.append(np.where(wsum > 0, (sc.score[:, list(cols)] * v) @ np.asarray(a)
                                         / wsum, 0.0))
            valid.append(wsum > 0)
        vmat = np.asarray(np.column_stack(valid), dtype="float64", order="F")
        return np.asarray(np.column_stack(per_resp) * vmat, order="F"), vmat, vmat


@dataclass
class _IndexBuild:
    """One reduction of the item scores of a design, shared by items, factors and overall.

    In memory the scores are computed once; on a Dask design every reduction runs the
    recipes on the partitions (:mod:`sipas.backends.dask`).
    """

    design: AnyDesign
    recipe: ScoreRecipe
    by: Any
    level: float
    df: float | None
    codes: np.ndarray | None = field(init=False)
    labels: pd.DataFrame = field(init=False)
    scores: ItemScores | None = field(init=False)
    domain_fn: Any = field(init=False)

    def __post_init__(self) -> None:
        if is_dask(self.design.frame):
            from sipas.backends.dask import domain_table

            self.labels, self.domain_fn = domain_table(self.design, self.by)
            self.codes, self.scores = None, None
        else:
            self.codes, self.labels = domains(self.design, self.by)
            self.scores = self.recipe(self.design.frame)

    @property
    def n_domains(self) -> int:
        return len(self.labels)

    @property
    def names(self) -> list[str]:
        return list(self.recipe.items)

    def fit(self, rows: ItemRecipe | RespondentRecipe, binary: bool) -> RatioFit:
        """One reduction of the rows of ``rows``: estimates, basis, counts, moments."""
        if self.scores is None:
            from sipas.backends.dask import fit_domains

            return fit_domains(self.design, rows, self.domain_fn, self.n_domains,
                               second_moment=True, binary=binary)
        num, den, valid = rows.from_scores(self.scores)
        source = RatioSource(num, den, self.codes, self.n_domains)
        return fit_ratios(self.design, source, valid=valid, second_moment=True, binary=binary)

    def row_sums(self, rows: Any, fn: Any) -> Any:
        """Sum of ``fn(num, den, domain, w)`` over the rows (partitions for Dask)."""
        if self.scores is None:
            from sipas.backends.dask import sum_partitions

            return sum_partitions(self.design, rows, self.domain_fn, fn)
        num, den, _v = rows.from_scores(self.scores)
        return fn(num, den, self.codes, self.design.weight_array)

    def combine(self, fit: RatioFit, rows: Any, load: np.ndarray, names: list[str],
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
        multi = np.any((load > 0).sum(axis=0) > 1)
        n = self.row_sums(rows, _RespondentCounts(load > 0, d)).ravel() if multi else \
            (fit.n.reshape(d, -1) @ (load > 0)).ravel()
        rows_in = np.repeat(fit.rows, k)
        table["n"] = n.astype(np.int64)
        table["n_missing"] = (rows_in - n).astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            table["deff"] = var / self._srs_variance(fit, rows, load)
            table["cv"] = table["se"] / table["estimate"].abs()
        table["deff_replace"] = np.nan
        table = _intervals(table, combined, ci_method, self.level, rows_in)
        table = table[[*self.labels.columns, *COLUMNS]]
        return Estimate(table=table, statistic="index", level=self.level, ci_method=ci_method,
                        by=tuple(self.labels.columns), basis=combined)

    def factors(self, groups: Mapping[str, list[int]], weights: Mapping[str, np.ndarray],
                aggregate: str, ci: str = "wald") -> tuple[Estimate, RatioFit, Any, np.ndarray]:
        """Factor indices, and the fit, row recipe and loadings they are built from."""
        if aggregate == "items":
            rows = ItemRecipe(self.recipe)
            load = np.zeros((len(self.names), len(groups)))
            for f, (name, cols) in enumerate(groups.items()):
                load[cols, f] = weights[name]
            fit = self.fit(rows, self.recipe.binary)
        else:
            rows = RespondentRecipe(self.recipe, tuple(tuple(c) for c in groups.values()),
                                    tuple(tuple(float(x) for x in weights[g]) for g in groups))
            load = np.eye(len(groups))
            fit = self.fit(rows, False)
        return self.combine(fit, rows, load, list(groups), ci), fit, rows, load

    def _srs_variance(self, fit: RatioFit, rows: Any, load: np.ndarray) -> np.ndarray:
        """Variance of ``load' R`` under simple random sampling of the same respondents.

        Item covariance ``n_jk/(n_j n_k) s_jk n_jk/(n_jk-1) (1 - n_jk/N_jk)`` with ``s_jk``
        the weighted covariance over respondents valid for both items; for one item it is
        R's ``svymean(deff=TRUE)`` denominator. The diagonal comes from the reduction's
        moments; cross terms, needed only for indices of several items, from one more pass.
        """
        s, d = fit.sums, self.n_domains
        theta = fit.basis.full.reshape(d, -1)
        wnum, wval = s.by_domain(s.wnum), s.by_domain(s.wval)
        wnum2, n = s.by_domain(s.wnum2), s.by_domain(s.pden)
        with np.errstate(divide="ignore", invalid="ignore"):
            ss = wnum2 - 2 * theta * wnum + theta**2 * wval
            diag = np.nan_to_num(ss / wval / (n - 1) * (1 - n / wval))
        out = np.einsum("jf,dj->df", load**2, diag)
        if np.any((load != 0).sum(axis=0) > 1):
            cov_num, wv, njk = self.row_sums(rows, _CrossSums(theta, d))
            nj = np.einsum("djj->dj", njk)
            with np.errstate(divide="ignore", invalid="ignore"):
                cov = cov_num / wv * njk / (njk - 1) * (1 - njk / wv) * njk / (
                    nj[:, :, None] * nj[:, None, :])
            cov = np.nan_to_num(cov)
            idx = np.arange(cov.shape[1])
            cov[:, idx, idx] = 0.0
            out = out + np.einsum("jf,djk,kf->df", load, cov, load)
        return out.ravel()


@dataclass(frozen=True)
class _RespondentCounts:
    """Positive-weight respondents with at least one valid item of each index, per domain."""

    used_items: np.ndarray
    n_domains: int

    def __call__(self, num, den, dom, w) -> np.ndarray:
        used = (den @ self.used_items) > 0
        pos = (w > 0) & (dom >= 0)
        d = np.where(pos, dom, 0)
        return np.column_stack([np.bincount(d, weights=(used[:, f] & pos).astype("float64"),
                                            minlength=self.n_domains)
                                for f in range(used.shape[1])])


@dataclass(frozen=True)
class _CrossSums:
    """Per domain: weighted cross products of centred scores, weighted and plain counts of
    pairs of valid items (additive over rows, so partitions can be summed)."""

    theta: np.ndarray
    n_domains: int

    def __call__(self, num, den, dom, w):
        d, j = self.n_domains, num.shape[1]
        out = [np.zeros((d, j, j)) for _ in range(3)]
        keep = np.flatnonzero((w > 0) & (dom >= 0))
        order = keep[np.argsort(dom[keep], kind="stable")]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(dom[order], minlength=d))])
        for k in range(d):
            rows = order[bounds[k]: bounds[k + 1]]
            if not len(rows):
                continue
            v, wr = den[rows], w[rows]
            c = (num[rows] - self.theta[k] * v) * v
            out[0][k] = (c * wr[:, None]).T @ c
            out[1][k] = (v * wr[:, None]).T @ v
            out[2][k] = v.T @ v
        return tuple(out)


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
    by : tuple of str
        Domain columns of the tables.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> res = sipas.satisfaction_index(d, sd.spec)
    >>> len(res.items), len(res.factors), len(res.overall)
    (31, 5, 1)
    >>> res.definition
    'item measure=top_box; factor aggregate=items; overall=mean_of_factors'
    """

    items: pd.DataFrame
    factors: pd.DataFrame
    overall: pd.DataFrame
    definition: str
    factor_estimate: Estimate
    overall_estimate: Estimate
    by: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        """All three tables stacked, with an ``index_level`` column (item / factor / overall).

        Returns
        -------
        pandas.DataFrame
            The rows of ``items``, ``factors`` and ``overall`` (columns absent from a table
            are NaN), plus ``level``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> t = sipas.satisfaction_index(d, sd.spec).to_frame()
        >>> t["index_level"].value_counts().to_dict()
        {'item': 31, 'factor': 5, 'overall': 1}
        """
        tables = (("item", self.items), ("factor", self.factors), ("overall", self.overall))
        parts = [t.assign(index_level=lv) for lv, t in tables]
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
                       item_ci: str = "logit", index_ci: IndexCI | None = None
                       ) -> IndexResult:
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
    level : float
        Confidence level of the intervals, in (0, 1).
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain; ``math.inf`` for normal quantiles.
    rules : ReliabilityRules, optional
        Thresholds of the reliability flags (see :mod:`sipas.reliability`).
    item_ci : {"logit", "wald", "mean", "xlogit", "asin", "beta", "wilson"}
        Interval method of item shares.
    index_ci : {"logit", "wald"}, optional
        Interval of factor and overall indices: default ``logit`` when they are in [0, 1]
        (the limits stay in [0, 1] even in a district with 4 PSUs), ``wald`` for means.

    Returns
    -------
    IndexResult
        Item, factor and overall tables by domain, with the definition and the estimates.

    Raises
    ------
    DesignError
        ``design`` is not a design; an unknown ``item_ci``; a bad ``level`` or ``df``; a
        ``by`` column not in the data or with missing values.
    EstimationError
        An item column that is not numeric or has valid answers outside its scale;
        ``missing_kinds`` with a Dask design.

    Notes
    -----
    Item indices are ratio estimators over each item's valid answers (yes/no items are
    always shares); factor indices combine them as the spec's ``[index]`` says (see
    :func:`factor_index`), the overall index combines the factors (equal or
    ``factor_weights``) or is the overall item. All share one reduction of the data and one
    variance engine. R equivalent: ``svyby(~I(q %in% satisfied), ~by, design, svyciprop)``
    per item and ``svycontrast`` of the item ratios for factors and overall.

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
    check_choice("item_ci", item_ci, ("logit", "wald", "mean", "xlogit", "asin", "beta",
                                      "wilson"))
    if missing_kinds is not None and is_dask(design.frame):
        raise EstimationError("missing_kinds are per-row data of a pandas frame; leave them out "
                              "on a Dask design.")
    f_ci = interval_method(index_ci, definition.measure)
    recipe = ScoreRecipe(tuple(spec.item_names), definition.measure, None, (), None, spec)
    build = _IndexBuild(design, recipe, by, check_level(level), check_df(df))
    item_rows = ItemRecipe(recipe)
    item_fit = build.fit(item_rows, recipe.binary)
    names = build.names
    ci = item_ci if definition.measure != "mean" else "wald"
    item_est = build.combine(item_fit, item_rows, np.eye(len(names)), names, ci)
    items = _item_table(item_est, spec, design, build, missing_kinds, rules)
    index_of = {name: i for i, name in enumerate(names)}
    groups = {f.name: [index_of[i] for i in f.items] for f in spec.factors}
    weights = {f.name: np.full(len(f.items), 1.0 / len(f.items)) for f in spec.factors}
    if definition.overall == "item":
        factor_est = build.factors(groups, weights, definition.aggregate,
                                   f_ci)[0] if groups else None
        load = np.zeros((len(names), 1))
        load[index_of[spec.overall_item], 0] = 1.0
        overall_est = build.combine(item_fit, item_rows, load, ["overall"], f_ci)
    else:
        factor_est, f_fit, f_rows, f_load = build.factors(groups, weights,
                                                          definition.aggregate, f_ci)
        overall_est = build.combine(f_fit, f_rows, f_load @ _overall_weights(spec)[:, None],
                                    ["overall"], f_ci)
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
