"""Satisfaction indices as the spec defines them: items, factors and the overall index.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> res = sipas.satisfaction_index(d, sd.spec)
>>> len(res.items), len(res.factors), len(res.overall)
(31, 5, 1)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sipas._validate import check_choice, check_df, check_level, message
from sipas.backends.base import needs_memory
from sipas.design.protocol import SurveyDesign
from sipas.errors import DesignError
from sipas.estimation.estimate import Estimate
from sipas.estimation.estimators import check_design
from sipas.indices.build import IndexBuild, IndexCI, interval_method
from sipas.indices.reliability import ReliabilityRules, flag_rows
from sipas.indices.scores import ItemRecipe, ScoreRecipe
from sipas.spec import SHARE_MEANING, Spec

__all__ = ["IndexResult", "satisfaction_index"]


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


def satisfaction_index(design: SurveyDesign, spec: Spec, *,
                       by: str | Sequence[str] | None = None,
                       missing_kinds: pd.DataFrame | None = None, level: float = 0.95,
                       df: float | None = None, rules: ReliabilityRules | None = None,
                       ci: str | Mapping[str, str] | None = None,
                       item_ci: str | None = None, index_ci: IndexCI | None = None
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
        Thresholds of the reliability flags (see :mod:`sipas.indices.reliability`).
    ci : str or mapping, optional
        Interval method: one of ``logit``/``wald`` for items and indices alike, or
        ``{"item": ..., "index": ...}``. Items take any method of :func:`sipas.proportion`
        (default ``logit``); factor and overall indices ``logit`` (the default when they are
        in [0, 1]: the limits stay in [0, 1] even in a district with 4 PSUs) or ``wald``
        (the default for means, which always use ``wald``).
    item_ci, index_ci : str, optional
        Deprecated spellings of ``ci={"item": ...}`` and ``ci={"index": ...}``.

    Returns
    -------
    IndexResult
        Item, factor and overall tables by domain, with the definition and the estimates.

    Raises
    ------
    DesignError
        ``design`` is not a design; an unknown ``ci``; a bad ``level`` or ``df``; a
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
    check_design(design)
    rules = rules or ReliabilityRules()
    definition = spec.index
    item_method, f_ci = _interval_methods(ci, item_ci, index_ci, definition.measure)
    if missing_kinds is not None:
        needs_memory(design.backend, "missing_kinds (per-row data of a pandas frame)")
    recipe = ScoreRecipe(tuple(spec.item_names), definition.measure, None, (), None, spec)
    build = IndexBuild(design, recipe, by, check_level(level), check_df(df))
    item_rows = ItemRecipe(recipe)
    item_fit = build.fit(item_rows, recipe.binary)
    names = build.names
    item_est = build.combine(item_fit, item_rows, np.eye(len(names)), names, item_method)
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


def _interval_methods(ci: str | Mapping[str, str] | None, item_ci: str | None,
                      index_ci: str | None, measure: str) -> tuple[str, str]:
    """The interval methods of items and of indices, from ``ci`` (or its old spellings)."""
    if item_ci is not None or index_ci is not None:
        if ci is not None:
            raise DesignError("give ci= only (item_ci= and index_ci= are its old spellings).")
        warnings.warn("item_ci= and index_ci= are deprecated; use ci={'item': ..., "
                      "'index': ...}.", DeprecationWarning, stacklevel=3)
        ci = {k: v for k, v in (("item", item_ci), ("index", index_ci)) if v is not None}
    if ci is None or isinstance(ci, str):
        if isinstance(ci, str):
            check_choice("ci", ci, ("logit", "wald"))
        chosen = {"item": ci, "index": ci}
    elif isinstance(ci, Mapping):
        unknown = [k for k in ci if k not in ("item", "index")]
        if unknown:
            raise DesignError(message("ci", "a method or a mapping with keys 'item' and "
                                      "'index'", dict(ci)))
        chosen = {"item": ci.get("item"), "index": ci.get("index")}
    else:
        raise DesignError(message("ci", "a method or a mapping with keys 'item' and 'index'",
                                  ci))
    item = chosen["item"] or "logit"
    check_choice("ci", item, ("logit", "wald", "mean", "xlogit", "asin", "beta", "wilson"))
    return (item if measure != "mean" else "wald"), interval_method(chosen["index"], measure)


def _overall_weights(spec: Spec) -> np.ndarray:
    names = [f.name for f in spec.factors]
    if spec.index.overall == "weighted_factors":
        a = np.array([spec.index.factor_weights[n] for n in names])
        return a / a.sum()
    return np.full(len(names), 1.0 / len(names))


def _item_table(est: Estimate, spec: Spec, design: SurveyDesign, build: IndexBuild,
                kinds: pd.DataFrame | None, rules: ReliabilityRules) -> pd.DataFrame:
    table = _label(est, spec, "item", rules)
    table["kind"] = [spec.item(n).kind for n in table["name"]]
    table["meaning"] = [SHARE_MEANING[k]["en"] if spec.index.measure == "top_box"
                        or len(spec.scale_of(n).codes) == 2 else f"{spec.index.measure}"
                        for k, n in zip(table["kind"], table["name"])]
    if kinds is None:
        return table
    rows = design.backend.rows()
    w, codes = rows.weights(), build.domains.codes(rows)
    pos = w > 0
    totals = np.bincount(codes[pos], weights=w[pos], minlength=len(build.labels))
    for kind in ("dont_know", "not_applicable", "refused", "not_asked", "system"):
        shares = []
        for item in spec.item_names:
            if item not in kinds.columns:
                shares.append(np.full(len(build.labels), np.nan))
                continue
            hit = (kinds[item].astype("object") == kind).to_numpy() & pos
            got = np.bincount(codes[hit], weights=w[hit], minlength=len(build.labels))
            with np.errstate(divide="ignore", invalid="ignore"):
                shares.append(got / totals)
        table[f"share_{kind}"] = np.column_stack(shares).ravel()
    return table


def _label(est: Estimate, spec: Spec, level: str, rules: ReliabilityRules) -> pd.DataFrame:
    table = est.to_frame().drop(columns="value").rename(columns={"variable": "name"})
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
    table["flag"], table["flag_reason"] = flag_rows(table, rules, share=np.asarray(share),
                                                    level=est.level)
    return table
