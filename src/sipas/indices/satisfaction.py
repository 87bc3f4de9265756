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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sipas._readonly import CopiedFrames
from sipas._validate import check_choice, check_df, check_level, message
from sipas.backends.base import needs_memory
from sipas.design.protocol import SurveyDesign
from sipas.errors import DesignError, SpecError
from sipas.estimation.estimate import Estimate
from sipas.estimation.estimators import check_design
from sipas.indices.build import IndexBuild, IndexCI, interval_method
from sipas.indices.reliability import ReliabilityRules, flag_rows
from sipas.indices.scores import ItemRecipe, RespondentRecipe, ScoreRecipe
from sipas.indices.tree import TreePlan, column_name, extra_columns, plan_tree
from sipas.spec import SHARE_MEANING, IndexTree, Spec

__all__ = ["IndexResult", "satisfaction_index"]


@dataclass(frozen=True, eq=False, repr=False)
class IndexResult(CopiedFrames):
    """Item, factor and overall indices of a survey, with the definition used.

    Attributes
    ----------
    items, factors, overall : DataFrame
        Tidy tables: domain columns, ``name``, ``label_vi``, ``label_en``, ``estimate``,
        ``se``, ``ci_low``, ``ci_high``, ``df``, ``deff``, ``n``, ``n_missing``, ``flag``
        (reliability), plus for items the share of each missing kind and ``meaning``.
    definition : str
        The index definition used (measure, aggregation, overall rule).
    factor_estimate : Estimate or None
        The estimate behind ``factors`` (None when the spec has no factors).
    overall_estimate : Estimate
        The estimate behind ``overall`` (covariances for comparisons and PAR points).
    by : tuple of str
        Domain columns of the tables.
    nodes : DataFrame
        Every node of the index tree (:attr:`sipas.spec.Spec.tree`) by domain, children
        before parents, with ``parent`` (empty for the top), ``depth`` (0 for the overall
        index) and ``members``
        (its items or children). For a spec of factors: the factors and the overall index.

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
    factor_estimate: Estimate | None
    overall_estimate: Estimate
    by: tuple[str, ...]
    nodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the tables are copies of what was given, and read as copies
    _frames = frozenset({"items", "factors", "overall", "nodes"})

    def to_frame(self) -> pd.DataFrame:
        """All tables stacked, with an ``index_level`` column (item / factor / node / overall).

        Returns
        -------
        pandas.DataFrame
            The rows of ``items``, ``factors``, the tree's inner nodes (``node``: neither a
            node of items nor the overall index) and ``overall`` (columns absent from a table
            are NaN), plus ``index_level``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> t = sipas.satisfaction_index(d, sd.spec).to_frame()
        >>> t["index_level"].value_counts().to_dict()
        {'item': 31, 'factor': 5, 'overall': 1}
        """
        known = {*self.factors.get("name", ()), *self.overall.get("name", ())}
        inner = self.nodes[~self.nodes["name"].isin(known)] if len(self.nodes) else self.nodes
        tables = (("item", self.items), ("factor", self.factors), ("node", inner),
                  ("overall", self.overall))
        parts = [t.assign(index_level=lv) for lv, t in tables if len(t)]
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
        each item (``share_<kind>``; a code the spec gives several kinds has one column of
        its own, e.g. ``share_dont_know_or_not_applicable``, and is in no other).
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
    ``factor_weights``) or is the overall item. Both are the two-level index tree of the
    spec (:attr:`sipas.spec.Spec.tree`); a spec with ``[[nodes]]`` has a tree of any depth,
    whose nodes of items are the ``factors``, whose top is ``overall``, and all of whose
    nodes are in ``nodes`` (:mod:`sipas.indices.tree`). All share one reduction of the data
    and one variance engine. R equivalent: ``svyby(~I(q %in% satisfied), ~by, design,
    svyciprop)`` per item and ``svycontrast`` of the item ratios for every other index.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> res = sipas.satisfaction_index(d, sd.spec)
    >>> list(res.factors["name"])
    ['access', 'procedures', 'officials', 'results', 'feedback']
    >>> t = sipas.datasets.load_demo2026()
    >>> d26 = sipas.Design.from_spec(t).subset(t.frame["response"] == 1)
    >>> res26 = sipas.satisfaction_index(d26, t.spec)
    >>> res26.nodes[["name", "parent", "depth"]].tail(3).values.tolist()
    [['dv_nhu_cau', 'dich_vu', 2], ['dich_vu', 'sipas', 1], ['sipas', '', 0]]
    """
    check_design(design)
    rules = rules or ReliabilityRules()
    definition = spec.index
    item_method, f_ci = _interval_methods(ci, item_ci, index_ci, definition.measure)
    if missing_kinds is not None:
        needs_memory(design.backend, "missing_kinds (per-row data of a pandas frame)")
    tree, extra = spec.tree, extra_columns(spec)
    recipe = ScoreRecipe(tuple(spec.item_names), definition.measure, None, (), None, spec,
                         extra)
    build = IndexBuild(design, recipe, by, check_level(level), check_df(df))
    item_rows = ItemRecipe(recipe)
    item_fit = build.fit(item_rows, recipe.binary)
    names = list(spec.item_names)
    columns = [*names, *(column_name(it, m) for it, m in extra)]
    item_est = build.combine(item_fit, item_rows, np.eye(len(columns))[:, :len(names)], names,
                             item_method)
    items = _item_table(item_est, spec, design, build, missing_kinds, rules)
    binary = [it for it in names if len(spec.scale_of(it).codes) == 2]
    plan = plan_tree(tree, columns, definition.measure, definition.aggregate, binary)
    if definition.aggregate == "items":
        rows: ItemRecipe | RespondentRecipe = item_rows
        fit = item_fit
    else:
        rows = RespondentRecipe(recipe, plan.groups, plan.group_weights)
        fit = build.fit(rows, False)

    def estimate(nodes: list[str]) -> Estimate:
        use_wald = plan.uses_mean[[plan.names.index(n) for n in nodes]]
        method = "wald" if use_wald.any() else f_ci
        return build.combine(fit, rows, plan.columns(nodes), nodes, method)

    top = tree.roots[-1] if tree.roots else None
    factor_names = [n for n in tree.order if tree.node(n).items and n != top]
    factor_est = estimate(factor_names) if factor_names else None
    overall_est = estimate([top]) if top else None
    text = definition.describe() if not spec.nodes else (
        f"item measure={definition.measure}; tree aggregate={definition.aggregate}; "
        f"overall={top}")
    factors = _label(factor_est, spec, rules, plan) if factor_est else pd.DataFrame()
    overall = _label(overall_est, spec, rules, plan) if overall_est else pd.DataFrame()
    mids = [n for n in tree.order if n not in factor_names and n != top]
    parts = [factors, overall, *(_label(estimate(group), spec, rules, plan)
                                 for group in _by_method(mids, plan) if group)]
    nodes = _node_table(tree, parts)
    for table in (items, factors, overall, nodes):
        if len(table):
            table["definition"] = _definitions(table, text, plan, definition.measure)
    if overall_est is None:  # the spec's parser requires one top node
        raise SpecError("the index tree has no top node.")
    return IndexResult(items=items, factors=factors, overall=overall, definition=text,
                       factor_estimate=factor_est, overall_estimate=overall_est,
                       by=tuple(build.labels.columns), nodes=nodes)


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


def _definitions(table: pd.DataFrame, text: str, plan: TreePlan, measure: str) -> list[str]:
    """The definition of every row: under ``measure = "mean"`` an index whose items were
    rescaled to 0-1 says so (reports then show it as a percentage, not a scale mean)."""
    on_scale = dict(zip(plan.names, plan.uses_mean.tolist()))
    rescaled = text.replace("measure=mean;", "measure=mean rescaled to 0-1;")
    return [text if measure != "mean" or on_scale.get(n, True) else rescaled
            for n in table["name"]]


def _by_method(nodes: list[str], plan: TreePlan) -> tuple[list[str], list[str]]:
    """Nodes in [0, 1] and nodes on the answer scale (they get different intervals)."""
    mean = {n for n in nodes if plan.uses_mean[plan.names.index(n)]}
    return [n for n in nodes if n not in mean], [n for n in nodes if n in mean]


def _node_table(tree: IndexTree, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Every node of the tree by domain, in tree order (children first), with its place."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    rank = {n: i for i, n in enumerate(tree.order)}
    by = list(table.columns[:list(table.columns).index("name")])
    table = table.sort_values([*by, "name"], key=lambda c: c.map(rank) if c.name == "name"
                              else c, kind="stable").reset_index(drop=True)
    pos = list(table.columns).index("label_en") + 1
    table.insert(pos, "parent", [tree.parent(n) or "" for n in table["name"]])
    table.insert(pos + 1, "depth", [tree.depth(n) for n in table["name"]])
    table.insert(pos + 2, "members", [", ".join(tree.node(n).members) for n in table["name"]])
    return table


def _item_table(est: Estimate, spec: Spec, design: SurveyDesign, build: IndexBuild,
                kinds: pd.DataFrame | None, rules: ReliabilityRules) -> pd.DataFrame:
    table = _label(est, spec, rules)
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
    for kind in (*spec.missing_kind_names, "system"):   # combined kinds too
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


def _label(est: Estimate, spec: Spec, rules: ReliabilityRules,
           plan: TreePlan | None = None) -> pd.DataFrame:
    """An estimate as a table with labels and reliability flags (items without ``plan``)."""
    table = est.to_frame().drop(columns="value").rename(columns={"variable": "name"})
    if plan is None:
        lab = {it.name: it.label for it in spec.items}
        share = np.array([spec.index.measure != "mean" or len(spec.scale_of(n).codes) == 2
                          for n in table["name"]])
    else:
        lab = {n.name: n.label for n in spec.tree.nodes}
        share = ~plan.uses_mean[[plan.names.index(n) for n in table["name"]]]
    pos = est.by and list(est.by)
    idx = len(pos) if pos else 0
    table.insert(idx + 1, "label_vi", [lab.get(n, {}).get("vi", n) for n in table["name"]])
    table.insert(idx + 2, "label_en", [lab.get(n, {}).get("en", n) for n in table["name"]])
    table["flag"], table["flag_reason"] = flag_rows(table, rules, share=share,
                                                    level=est.level)
    return table
