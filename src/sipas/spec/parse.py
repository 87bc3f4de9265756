"""Reading a questionnaire spec: the keys a spec file may hold, and the rules between them.

The keys and their types are the schema below (checked by :mod:`sipas.schema`, which words
every unknown, missing or mistyped key the same way); the functions after it check what a
schema cannot: codes consistent with their scale, names that are unique and refer to each
other, an index definition that has what it needs. Margins are read by
:mod:`sipas.spec.margins`.

Examples
--------
>>> spec = load_spec("demo")
>>> spec.respondent_id, spec.design.strata
('resp_id', 'district')
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, get_args

from sipas._validate import message, plain
from sipas.errors import SpecError
from sipas.schema import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    NAME,
    STR,
    Choice,
    Doc,
    Either,
    Key,
    KeyPath,
    ListOf,
    Table,
    TableOf,
    read_toml,
    validate,
)
from sipas.spec.domains import parse_domain_labels
from sipas.spec.margins import MARGIN, margin
from sipas.spec.model import (
    MISSING_KINDS,
    Aggregate,
    DesignSpec,
    Factor,
    IndexDefinition,
    Item,
    ItemKind,
    LonelyPSU,
    Measure,
    OverallRule,
    Scale,
    Spec,
)
from sipas.spec.questionsets import QUESTION_SET, question_set
from sipas.spec.tree import IndexNode, IndexTree, factor_tree

__all__ = ["SPEC", "load_spec", "parse_spec"]

CODES = Either(FLOAT, ListOf(FLOAT), what="a list of numeric codes",
               hint="Codes are numbers such as [8, 9].")
LABEL = Either(STR, TableOf(STR), what='a string or {vi = "...", en = "..."}')
COLUMN = Either(NAME, what="a column name")
COLUMNS = Either(NAME, ListOf(NAME), what="a list of column names")
MISSING = Table(dict.fromkeys(MISSING_KINDS, CODES))
SCALE = Table({
    "min": INT, "max": INT, "codes": CODES,
    "satisfied": Key(CODES, required=True,
                     hint="List the codes that count as satisfied (top box), e.g. [4, 5] on a "
                          "1-5 scale."),
    "labels": TableOf(ListOf(STR)),
})
ITEM = Table({
    "name": Key(NAME, required=True), "label": LABEL, "scale": Key(NAME, required=True),
    "kind": Key(Choice(*get_args(ItemKind)), default="satisfaction"),
    "missing": Key(MISSING, default={}),
})
#: the maps that put an item's mean on 0-1 (``rescale`` of a factor or node)
RESCALE = Choice("pct_of_range", "pct_of_max")
FACTOR = Table({"name": Key(NAME, required=True), "label": LABEL,
                "items": Key(Either(NAME, ListOf(NAME), what="a list of item names"),
                             required=True), "rescale": RESCALE})
NODE = Table({"name": Key(NAME, required=True), "label": LABEL,
              "items": Either(NAME, ListOf(NAME), what="a list of item names"),
              "children": Either(NAME, ListOf(NAME), what="a list of node names"),
              "weights": ListOf(FLOAT, what="a list of weights, one per item or child"),
              "measure": Choice(*get_args(Measure)), "rescale": RESCALE, "part": STR})
DESIGN = Table({
    "ids": Key(COLUMNS, default=[]), "strata": COLUMN, "weights": COLUMN, "probs": COLUMN,
    "fpc": Key(COLUMNS, default=[]), "nest": Key(BOOL, default=False),
    "lonely_psu": Key(Choice(*get_args(LonelyPSU)), default="fail"),
    "lonely_domain": Key(BOOL, default=False), "lonely_corrected": Key(BOOL, default=False),
})
INDEX = Table({
    "measure": Key(Choice(*get_args(Measure)), default="top_box"),
    "aggregate": Key(Choice(*get_args(Aggregate)), default="items"),
    "overall": Key(Choice(*get_args(OverallRule)), default="mean_of_factors"),
    "factor_weights": Key(TableOf(FLOAT, what="a table {factor = weight}"), default={}),
})
#: every key a spec file may hold (docs/spec.md documents them)
SPEC = Table({
    "survey": Key(Table({"name": Key(NAME, required=True),
                         "respondent_id": Key(NAME, required=True), "title": LABEL,
                         "synthetic": Key(BOOL, default=False),
                         "language": Key(NAME, default="vi"), "year": INT,
                         "source": LABEL}),
                  required=True),
    "scales": Key(TableOf(SCALE, what="a table of answer scales ([scales.<name>])"),
                  required=True),
    "missing": Key(MISSING, default={}),
    "items": Key(ListOf(ITEM), required=True),
    "factors": Key(ListOf(FACTOR), default=[]),
    "nodes": Key(ListOf(NODE), default=[]),
    "overall": Key(Table({"item": NAME}), default={}),
    "design": Key(DESIGN, default={}),
    "domains": Key(Table({"columns": Key(COLUMNS, default=[]),
                          "labels": Key(TableOf(TableOf(LABEL), what="a table of "
                                                "[domains.labels.<column>] tables"), default={})}),
                   default={}),
    "index": Key(INDEX, default={}),
    "margins": Key(ListOf(MARGIN), default=[]),
    "question_sets": Key(ListOf(QUESTION_SET), default=[]),
    # the steps are checked where they are applied (sipas.weighting.plan)
    "weighting": Key(Table({"steps": Key(ListOf(TableOf(ANY)), default=[])}), default={}),
})


def load_spec(path_or_name: str | Path, *, root: str | Path | None = None,
              allow_absolute_paths: bool = False) -> Spec:
    """Read and validate a questionnaire spec.

    Parameters
    ----------
    path_or_name : str or Path
        A ``.toml`` file, or the name of a spec bundled with sipas (``"demo"``).
    root : str or Path, optional
        The folder margin files must stay in (they are relative to the spec file): by
        default the spec's folder; a pipeline passes its own folder, so a spec in
        ``job/spec/`` may name ``../margins/age.csv``.
    allow_absolute_paths : bool
        Accept margin files named by an absolute path or outside ``root``.

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        The file is missing, is not valid TOML, or breaks a rule (the message names the file,
        the table and the key).

    Examples
    --------
    >>> load_spec("demo").respondent_id
    'resp_id'
    """
    path = Path(path_or_name)
    if not path.suffix and not path.exists():
        bundled = resources.files("sipas.datasets") / "specs" / f"{path_or_name}.toml"
        if not bundled.is_file():
            names = sorted(p.name.removesuffix(".toml")
                           for p in (resources.files("sipas.datasets") / "specs").iterdir()
                           if p.name.endswith(".toml"))
            raise SpecError(message("spec", f"a .toml file or a bundled spec name {names}",
                                    str(path_or_name)))
        path = Path(str(bundled))
        root = path.parents[1]  # the bundled specs name the bundled data beside them
    data, raw = read_toml(path, "spec")
    return parse_spec(data, source=path, sha256=hashlib.sha256(raw).hexdigest(), root=root,
                      allow_absolute_paths=allow_absolute_paths)


def parse_spec(data: Mapping[str, Any], source: str | Path | None = None,
               sha256: str | None = None, *, root: str | Path | None = None,
               allow_absolute_paths: bool = False) -> Spec:
    """Validate a spec given as a (TOML-like) mapping. See :func:`load_spec`.

    Margin files follow the one path rule (:func:`sipas.schema.resolve_path`): relative to
    the folder of ``source`` (the current folder without it), inside ``root`` (default: that
    folder), never absolute, unless ``allow_absolute_paths``.

    Parameters
    ----------
    data : mapping
        The spec as parsed TOML: ``survey``, ``scales``, ``items`` and the optional
        ``missing``, ``factors``, ``overall``, ``design``, ``domains``, ``index``,
        ``margins``, ``question_sets``, ``weighting`` tables (``docs/spec.md``).
    source : str or Path, optional
        Where the spec came from (named in messages; base folder of margin files).
    sha256 : str, optional
        Hash of the file, kept for provenance.
    root : str or Path, optional
        The folder margin files must stay in (see :func:`load_spec`).
    allow_absolute_paths : bool
        Accept margin files anywhere.

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        An unknown key (with the allowed key it most resembles), a missing required key, a
        wrong type, or a broken rule (duplicate names, a factor naming an unknown item,
        missing codes that are valid codes, margins whose file is missing, ...). The message
        names the file (``spec`` without ``source``), the table and the key.

    Examples
    --------
    >>> s = parse_spec({"survey": {"name": "x", "respondent_id": "id"},
    ...                 "scales": {"yn": {"codes": [1, 2], "satisfied": [1]}},
    ...                 "items": [{"name": "q1", "scale": "yn"}]})
    >>> s.scale_of("q1").codes
    (1, 2)
    >>> try:
    ...     parse_spec({"survey": {"name": "x", "respondent_id": "id", "titel": "X"}})
    ... except SpecError as exc:
    ...     print(exc)
    spec: [survey]: key 'titel' is not allowed; did you mean 'title'?
    """
    doc = Doc(str(source) if source else "spec", data)
    spec = validate(SPEC, doc)
    missing = _missing(doc, ("missing",), spec["missing"])
    scales = {name: _scale(doc, name, raw) for name, raw in spec["scales"].items()}
    items = _items(doc, spec["items"], scales, missing)
    survey = spec["survey"]
    if survey["respondent_id"] in {it.name for it in items}:
        raise doc.fail(("survey",), message("respondent_id", "a column that is not an item",
                                            survey["respondent_id"]))
    measure = spec["index"]["measure"]
    factors = _factors(doc, spec["factors"], items, measure)
    nodes = _nodes(doc, spec["nodes"], items, factors, data.get("index") or {}, measure)
    overall_item = _overall(doc, spec["overall"], items, factors)
    index = _index(doc, spec["index"], [f.name for f in factors], overall_item,
                   explicit="overall" in (data.get("index") or {}))
    _check_scales(doc, scales, items, factors, nodes, index, overall_item)
    base = Path(source).parent if source else Path.cwd()
    bundled = Path(str(resources.files("sipas.datasets") / "specs"))
    if root is None and base.resolve() == bundled.resolve():
        root = bundled.parent  # the bundled specs name the bundled data beside them
    margins = tuple(margin(doc, i, raw, base, root=Path(root) if root is not None else None,
                           allow_absolute=allow_absolute_paths)
                    for i, raw in enumerate(spec["margins"]))
    _check_unique(doc, ("margins",), [m.name for m in margins], "margin name")
    sets = tuple(question_set(doc, i, raw) for i, raw in enumerate(spec["question_sets"]))
    _check_unique(doc, ("question_sets",), [q.name for q in sets], "question set name")
    design = spec["design"]
    return Spec(
        name=survey["name"], respondent_id=survey["respondent_id"],
        title=_labels(survey.get("title")), synthetic=survey["synthetic"], scales=scales,
        items=items, factors=factors, missing=missing, overall_item=overall_item,
        design=DesignSpec(ids=tuple(_names(design["ids"])), strata=design.get("strata"),
                          weights=design.get("weights"), probs=design.get("probs"),
                          fpc=tuple(_names(design["fpc"])), nest=design["nest"],
                          lonely_psu=design["lonely_psu"],
                          lonely_domain=design["lonely_domain"],
                          lonely_corrected=design["lonely_corrected"]),
        domains=tuple(_names(spec["domains"]["columns"])), index=index, margins=margins,
        domain_labels=parse_domain_labels(spec["domains"]["labels"]),
        weighting=tuple(spec["weighting"]["steps"]), question_sets=sets,
        source=str(source) if source else None, sha256=sha256, nodes=nodes,
        year=_year(doc, survey.get("year")), data_source=_labels(survey.get("source")),
        language=survey["language"],
    )


# --------------------------------------------------------------------------- sections

def _items(doc: Doc, raw: list[dict[str, Any]], scales: Mapping[str, Scale],
           missing: Mapping[str, tuple]) -> tuple[Item, ...]:
    """The [[items]]: unique names; missing codes never valid codes or of two kinds."""
    if not raw:
        raise doc.fail((), "no [[items]] entries. A spec needs at least one.")
    items = []
    for i, entry in enumerate(raw):
        path = ("items", i)
        if entry["scale"] not in scales:
            raise doc.fail(path, f"scale {entry['scale']!r} is not defined. Defined scales: "
                                 f"{sorted(scales)}. Add [scales.{entry['scale']}].")
        item = Item(name=entry["name"], label=_labels(entry.get("label")), scale=entry["scale"],
                    kind=entry["kind"], missing=_missing(doc, (*path, "missing"),
                                                         entry["missing"]))
        merged = {k: v for k, v in {**missing, **item.missing}.items() if v}
        _check_no_overlap(doc, path, scales[item.scale], merged)
        _check_kinds_disjoint(doc, path, missing, item.missing)
        items.append(item)
    _check_unique(doc, ("items",), [it.name for it in items], "item name")
    return tuple(items)


def _factors(doc: Doc, raw: list[dict[str, Any]], items: tuple[Item, ...],
             measure: str) -> tuple[Factor, ...]:
    """The [[factors]]: known items, unique names, each item in at most one factor."""
    item_names = {it.name for it in items}
    factors = []
    for i, entry in enumerate(raw):
        path = ("factors", i)
        names = _names(entry["items"])
        if not names:
            raise doc.fail(path, "a factor needs at least one item.")
        unknown = [it for it in names if it not in item_names]
        if unknown:
            raise doc.fail(path, f"unknown item(s) {unknown}. Every item of a factor must be "
                                 "defined in [[items]].")
        _check_unique(doc, path, names, "item")
        factors.append(Factor(name=entry["name"], label=_labels(entry.get("label")),
                              items=tuple(names),
                              rescale=_rescale(doc, path, entry.get("rescale"), measure)))
    _check_unique(doc, ("factors",), [f.name for f in factors], "factor name")
    seen: dict[str, str] = {}
    for f in factors:
        for it in f.items:
            if it in seen:
                raise doc.fail(("factors",), f"item {it!r} is in two factors ({seen[it]!r} and "
                                             f"{f.name!r}). An item belongs to at most one "
                                             "factor: remove it from one of them.")
            seen[it] = f.name
    return tuple(factors)


def _nodes(doc: Doc, raw: list[dict[str, Any]], items: tuple[Item, ...],
           factors: tuple[Factor, ...], index: Mapping[str, Any],
           measure: str) -> tuple[IndexNode, ...]:
    """The [[nodes]] of an index tree: known items, one tree, no cycle, no empty node."""
    if not raw:
        return ()
    if factors or {"overall", "factor_weights"} & set(index):
        raise doc.fail(("nodes",), "[[nodes]] define the whole index tree; remove [[factors]] "
                                   "and [index] overall / factor_weights (a factor is a node "
                                   "with items).")
    item_names = {it.name for it in items}
    nodes = []
    for i, entry in enumerate(raw):
        if "rescale" in entry and ("measure" in entry or "children" in entry):
            raise doc.fail(("nodes", i), "rescale applies to the items of a node under "
                                         "measure = 'mean'; give it without measure and "
                                         "children.")
        own = _rescale(doc, ("nodes", i), entry.get("rescale"), measure)
        node = IndexNode(entry["name"], items=tuple(_names(entry.get("items", []))),
                         children=tuple(_names(entry.get("children", []))),
                         weights=tuple(float(w) for w in entry.get("weights", [])),
                         measure=own or entry.get("measure"),
                         label=_labels(entry.get("label")), part=entry.get("part"))
        unknown = [it for it in node.items if it not in item_names]
        if unknown:
            raise doc.fail(("nodes", i), f"node {node.name!r} names unknown item(s) {unknown}. "
                                         "Every item of a node must be defined in [[items]].")
        if node.name in item_names:
            raise doc.fail(("nodes", i), f"node {node.name!r} has the name of an item; give "
                                         "the node a name of its own.")
        nodes.append(node)
    try:
        tree = IndexTree(tuple(nodes))
    except SpecError as exc:
        raise doc.fail(("nodes",), str(exc)) from None
    if len(tree.roots) != 1:
        raise doc.fail(("nodes",), f"the nodes form {len(tree.roots)} trees with tops "
                                   f"{list(tree.roots) or '(none)'}; exactly one node (the "
                                   "overall index) must be no node's child.")
    return tuple(nodes)


def _rescale(doc: Doc, path: KeyPath, rescale: str | None, measure: str) -> str | None:
    """``rescale`` of a factor or node: only under ``measure = "mean"``."""
    if rescale is not None and measure != "mean":
        raise doc.fail(path, f"rescale = {rescale!r} maps item means to 0-1 under [index] "
                             f"measure = 'mean'; under measure = {measure!r} every item index "
                             "is in [0, 1] already. Remove rescale.")
    return rescale


def _check_scales(doc: Doc, scales: Mapping[str, Scale], items: tuple[Item, ...],
                  factors: tuple[Factor, ...], nodes: tuple[IndexNode, ...],
                  index: IndexDefinition, overall_item: str | None) -> None:
    """Every index combines values on one scale: a node of means may not average a 1-5
    item with a 1-10 one or with a yes/no share (1.829 = mean(2.929, 0.729) means nothing),
    nor a parent a 1-5 factor with a 0-1 one, unless the items are rescaled to 0-1."""
    scale_of = {it.name: scales[it.scale] for it in items}
    if nodes:
        tree, where = IndexTree(nodes), {n.name: ("nodes", i) for i, n in enumerate(nodes)}
    else:
        tree = factor_tree([(f.name, f.label, f.items, f.rescale) for f in factors],
                           index.overall, overall_item, index.factor_weights)
        where = {f.name: ("factors", i) for i, f in enumerate(factors)}
    what = "factor" if not nodes else "node"
    unit: dict[str, str] = {}
    for name in tree.order:
        node = tree.node(name)
        path = where.get(name, ("index",))
        called = f"{what} {name!r}" if path != ("index",) else \
            f"the overall index ({index.overall})"
        if node.items:
            on: dict[str, dict[str, list[str]]] = {}  # unit -> scale -> items
            for it in node.items:
                sc = scale_of[it]
                share = len(sc.codes) == 2 or (node.measure or index.measure) != "mean"
                key = "0-1" if share else f"{plain(sc.min)}-{plain(sc.max)}"
                on.setdefault(key, {}).setdefault(sc.name, []).append(it)
            unit[name] = next(iter(on))
            if len(on) > 1:
                listed = "; ".join(
                    f"{', '.join(its)} on scale {sc!r} "
                    f"({'a yes/no share, ' if len(scales[sc].codes) == 2 else ''}{key})"
                    for key, by_scale in on.items() for sc, its in by_scale.items())
                raise doc.fail(path, f"{called} averages the means of items on different "
                                     f"scales: {listed}; their mean is on no scale. Add "
                                     f"rescale = \"pct_of_range\" to the {what} (each item "
                                     "mapped to 0-1 by (x - min)/(max - min)), or use "
                                     "[index] measure = \"pct_of_range\".")
        else:
            kids = {c: unit[c] for c, w in zip(node.children, tree.weights_of(name)) if w > 0}
            unit[name] = next(iter(kids.values()), "0-1")
            if len(set(kids.values())) > 1:
                listed = ", ".join(f"{c!r} on {u}" for c, u in kids.items())
                raise doc.fail(path, f"{called} combines indices on different scales: "
                                     f"{listed}. Rescale every {what} of item means to 0-1 "
                                     "(rescale = \"pct_of_range\"), or use [index] measure = "
                                     "\"pct_of_range\".")


def _overall(doc: Doc, raw: Mapping[str, Any], items: tuple[Item, ...],
             factors: tuple[Factor, ...]) -> str | None:
    """The [overall] item: a separately asked question, not part of any factor."""
    name = raw.get("item")
    if name is None:
        return None
    if name not in {it.name for it in items}:
        raise doc.fail(("overall",), message("item", "one of the [[items]]", name,
                                             "Add it to [[items]] or remove [overall]."))
    for f in factors:
        if name in f.items:
            raise doc.fail(("overall",), message(
                "item", "a question asked apart from the factors", name,
                f"It is also in factor {f.name!r}: remove it from the factor."))
    return name


def _index(doc: Doc, raw: Mapping[str, Any], factors: list[str], overall_item: str | None,
           explicit: bool) -> IndexDefinition:
    overall = raw["overall"]
    weights = _factor_weights(doc, raw["factor_weights"], overall, factors)
    if overall == "item" and overall_item is None:
        raise doc.fail(("index",), "overall = 'item' needs [overall] item = \"...\" (the "
                                   "separately asked overall question).")
    if explicit and overall in ("mean_of_factors", "weighted_factors") and not factors:
        raise doc.fail(("index",), f"overall = {overall!r} needs at least one [[factors]] "
                                   "entry.")
    return IndexDefinition(measure=raw["measure"], aggregate=raw["aggregate"], overall=overall,
                           factor_weights=weights)


def _factor_weights(doc: Doc, weights: Mapping[str, float], overall: str,
                    factors: list[str]) -> dict[str, float]:
    if overall != "weighted_factors":
        if weights:
            raise doc.fail(("index",), "factor_weights are used only with overall = "
                                       f"'weighted_factors'; got overall = {overall!r}. Set "
                                       "overall = 'weighted_factors' or remove factor_weights.")
        return {}
    if set(weights) != set(factors):
        raise doc.fail(("index",), message(
            "factor_weights", f"one weight for each factor {factors}", weights,
            "overall = 'weighted_factors' needs [index.factor_weights] with a weight per "
            "factor."))
    if any(not 0 <= v < math.inf for v in weights.values()) or sum(weights.values()) <= 0:
        raise doc.fail(("index",), message("factor_weights",
                                           "non-negative numbers with a positive sum", weights))
    return {k: float(v) for k, v in weights.items()}


def _scale(doc: Doc, name: str, raw: Mapping[str, Any]) -> Scale:
    path = ("scales", name)
    if "codes" in raw:
        if "min" in raw or "max" in raw:
            raise doc.fail(path, "give either codes = [...] or min/max, not both.")
        codes = _codes(doc, path, "codes", raw["codes"])
    else:
        lo, hi = raw.get("min"), raw.get("max")
        if lo is None or hi is None or lo >= hi:
            raise doc.fail(path, message("min/max", "two integers with min < max", (lo, hi),
                                         "Or list the codes = [...]."))
        codes = tuple(range(lo, hi + 1))
    if len(codes) < 2:
        raise doc.fail(path, message("codes", "at least two valid codes", codes))
    satisfied = _codes(doc, path, "satisfied", raw["satisfied"])
    if not satisfied:
        raise doc.fail(path, message("satisfied", "at least one code", [],
                                     "List the codes that count as satisfied (top box), e.g. "
                                     "[4, 5] on a 1-5 scale."))
    outside = [c for c in satisfied if c not in codes]
    if outside:
        raise doc.fail(path, f"satisfied code(s) {outside} are outside the scale {list(codes)}."
                             " A satisfied code must be one of the valid codes.")
    labels: dict[str, tuple[str, ...]] = {}
    for lang, lab in raw.get("labels", {}).items():
        if len(lab) != len(codes):
            raise doc.fail(path, message(f"labels.{lang}",
                                         f"a list of {len(codes)} strings (one per code)", lab))
        labels[lang] = tuple(lab)
    return Scale(name=name, codes=codes, satisfied=satisfied, labels=labels)


# --------------------------------------------------------------------------- pieces

def _missing(doc: Doc, path: KeyPath,
             table: Mapping[str, Any]) -> dict[str, tuple[int | float, ...]]:
    """Kind -> codes. A code listed under several kinds of one table carries them all
    (``9 = "Không biết / Không áp dụng"``): its answers get the combined kind."""
    return {k: _codes(doc, path, k, v) for k, v in table.items()}


def _year(doc: Doc, year: int | None) -> int | None:
    if year is not None and not 1900 <= year <= 2100:
        raise doc.fail(("survey",), message("year", "the survey's year, e.g. 2026", year))
    return year


def _check_no_overlap(doc: Doc, path: KeyPath, scale: Scale,
                      missing: Mapping[str, tuple]) -> None:
    for kind, codes in missing.items():
        both = [c for c in codes if c in scale.codes]
        if both:
            raise doc.fail(path, f"code(s) {both} are both valid answers of scale "
                                 f"{scale.name!r} {list(scale.codes)} and missing codes of "
                                 f"kind {kind!r}. Use codes outside the scale for missing "
                                 "answers (e.g. 8, 9).")


def _check_kinds_disjoint(doc: Doc, path: KeyPath, survey: Mapping[str, tuple],
                          item: Mapping[str, tuple]) -> None:
    """An item's own missing codes must not give a survey-wide code a second kind (a code
    of several kinds is declared so in one table, where the reader sees it)."""
    for kind, codes in item.items():
        for c in codes:
            other = [k for k, v in survey.items() if c in v and k not in item]
            if other:
                raise doc.fail(path, f"code {c!r} is a missing code of two kinds, "
                                     f"{other[0]!r} and {kind!r} (one from [missing], one from "
                                     f"the item). Give it one kind: e.g. {other[0]} = [] in the "
                                     "item's missing table overrides the survey-wide codes of "
                                     "that kind; or, if the code means either, list it under "
                                     "both kinds in one table.")


def _check_unique(doc: Doc, path: KeyPath, names: list[str], what: str) -> None:
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise doc.fail(path, f"{what}(s) {dup} defined more than once. Names must be unique.")


def _codes(doc: Doc, path: KeyPath, key: str, value: Any) -> tuple[int | float, ...]:
    """Codes as a tuple (one code may be written without brackets); finite, no repeats."""
    codes = value if isinstance(value, list) else [value]
    if not all(math.isfinite(c) for c in codes):
        raise doc.fail(path, message(key, "a list of numeric codes", value,
                                     "Codes are numbers such as [8, 9]."))
    if len(set(codes)) != len(codes):
        raise doc.fail(path, message(key, "a list without repeated codes", value))
    return tuple(codes)


def _names(value: str | list[str]) -> list[str]:
    """One name may be written without brackets."""
    return [value] if isinstance(value, str) else list(value)


def _labels(value: str | Mapping[str, str] | None) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {"vi": value, "en": value}
    return dict(value)
