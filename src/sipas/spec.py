"""Questionnaire spec: what a survey asks, how answers are coded, how it is designed.

A spec is a TOML file. Nothing about a survey is hard-coded in sipas: item names and labels
(Vietnamese and English), answer scales and the codes that count as satisfied, missing codes
by kind, the items of each factor, the design and domain columns, population margins and the
index definition the survey publishes all come from here. The bundled demo spec
(``sipas.load_spec("demo")``) is the worked example; ``docs/spec.md`` documents every key.

Examples
--------
>>> import sipas
>>> spec = sipas.load_spec("demo")
>>> [f.name for f in spec.factors]
['access', 'procedures', 'officials', 'results', 'feedback']
>>> spec.scale_of("q01").satisfied
(4, 5)
"""

from __future__ import annotations

import csv
import hashlib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from sipas._validate import message
from sipas.errors import SpecError

__all__ = [
    "DesignSpec",
    "Factor",
    "IndexDefinition",
    "Item",
    "Margin",
    "MissingKind",
    "Scale",
    "Spec",
    "load_spec",
    "parse_spec",
]

MissingKind = Literal["dont_know", "not_applicable", "refused", "not_asked"]
MISSING_KINDS: tuple[str, ...] = get_args(MissingKind)
ItemKind = Literal["satisfaction", "perception", "expectation", "other"]
Measure = Literal["top_box", "mean", "pct_of_max", "pct_of_range"]
Aggregate = Literal["items", "respondents"]
OverallRule = Literal["mean_of_factors", "weighted_factors", "item"]
LonelyPSU = Literal["fail", "remove", "certainty", "adjust", "average"]

#: the wording each kind of item gets in reports (share of answers in the top-box codes)
SHARE_MEANING: dict[str, dict[str, str]] = {
    "satisfaction": {"en": "share satisfied", "vi": "tỷ lệ hài lòng"},
    "perception": {"en": "share agreeing", "vi": "tỷ lệ đồng ý"},
    "expectation": {"en": "share wanting improvement", "vi": "tỷ lệ mong muốn cải thiện"},
    "other": {"en": "share in the top codes", "vi": "tỷ lệ thuộc nhóm mã cao"},
}


@dataclass(frozen=True)
class Scale:
    """An answer scale: its valid codes, labels and the codes that count as satisfied.

    Attributes
    ----------
    name : str
        The scale's key in ``[scales]``.
    codes : tuple of int or float
        Valid answer codes, in order.
    satisfied : tuple of int or float
        The codes that count as satisfied (top box).
    labels : mapping
        Language (``vi``, ``en``) -> one label per code.

    Examples
    --------
    >>> import sipas
    >>> scale = sipas.load_spec("demo").scale_of("q01")
    >>> scale.name, scale.codes, scale.satisfied
    ('satisfaction', (1, 2, 3, 4, 5), (4, 5))
    """

    name: str
    codes: tuple[int | float, ...]
    satisfied: tuple[int | float, ...]
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def min(self) -> float:
        """Smallest valid code (the bottom of the scale for ``pct_of_range``).

        Examples
        --------
        >>> import sipas
        >>> sipas.load_spec("demo").scale_of("q01").min
        1
        """
        return min(self.codes)

    @property
    def max(self) -> float:
        """Largest valid code (the denominator of ``pct_of_max``).

        Examples
        --------
        >>> import sipas
        >>> sipas.load_spec("demo").scale_of("q01").max
        5
        """
        return max(self.codes)

    def label(self, code: int | float, lang: str = "en") -> str:
        """Label of ``code`` in ``lang`` (falls back to the code itself).

        Parameters
        ----------
        code : int or float
            An answer code (``4`` and ``4.0`` are the same code).
        lang : str
            Language of the label (``en`` or ``vi``); a language without labels falls back
            to Vietnamese.

        Returns
        -------
        str
            The label, or ``str(code)`` for a code that is not on the scale or has no label.

        Examples
        --------
        >>> import sipas
        >>> scale = sipas.load_spec("demo").scale_of("q01")
        >>> scale.label(4), scale.label(4.0, "vi"), scale.label(7)
        ('Satisfied', 'Hài lòng', '7')
        """
        labels = self.labels.get(lang) or self.labels.get("vi") or ()
        try:
            return labels[self.codes.index(code)]
        except (ValueError, IndexError):
            return str(code)


@dataclass(frozen=True)
class Item:
    """One question: its column, labels, scale, kind and item-specific missing codes.

    Attributes
    ----------
    name : str
        Column name in the data.
    label : mapping
        Language -> question text.
    scale : str
        Name of its answer scale.
    kind : {"satisfaction", "perception", "expectation", "other"}
        What a share in the top codes means in reports.
    missing : mapping
        Missing-code kind -> codes, overriding the survey's ``[missing]`` for this item.

    Examples
    --------
    >>> import sipas
    >>> item = sipas.load_spec("demo").item("q01")
    >>> item.scale, item.kind, item.label["en"]
    ('satisfaction', 'satisfaction', 'Enough seats in the one-stop waiting area')
    """

    name: str
    label: Mapping[str, str]
    scale: str
    kind: ItemKind = "satisfaction"
    missing: Mapping[str, tuple[int | float, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Factor:
    """A factor (yếu tố): a named group of items whose indices are combined.

    Attributes
    ----------
    name : str
        Factor name (``factor:<name>`` in PAR schemes).
    label : mapping
        Language -> label.
    items : tuple of str
        Its items, in order.

    Examples
    --------
    >>> import sipas
    >>> sipas.load_spec("demo").factor("access").items
    ('q01', 'q02', 'q03', 'q04')
    """

    name: str
    label: Mapping[str, str]
    items: tuple[str, ...]


@dataclass(frozen=True)
class DesignSpec:
    """Design columns, as :class:`sipas.Design` takes them.

    Attributes
    ----------
    ids, strata, weights, probs, fpc, nest, lonely_psu
        As the arguments of :class:`sipas.Design` (``ids`` and ``fpc`` as tuples).

    Examples
    --------
    >>> import sipas
    >>> ds = sipas.load_spec("demo").design
    >>> ds.ids, ds.strata, ds.fpc
    (('commune', 'resp_id'), 'district', ('N_communes', 'N_users'))
    """

    ids: tuple[str, ...] = ()
    strata: str | None = None
    weights: str | None = None
    probs: str | None = None
    fpc: tuple[str, ...] = ()
    nest: bool = False
    lonely_psu: LonelyPSU = "fail"


@dataclass(frozen=True)
class IndexDefinition:
    """Which index the survey publishes (design.md section 5).

    Attributes
    ----------
    measure : {"top_box", "mean", "pct_of_max", "pct_of_range"}
        Item index (see :func:`sipas.factor_index`).
    aggregate : {"items", "respondents"}
        How a factor combines its items.
    overall : {"mean_of_factors", "weighted_factors", "item"}
        How the overall index is made.
    factor_weights : mapping
        Factor -> weight, for ``weighted_factors``.

    Examples
    --------
    >>> IndexDefinition(measure="pct_of_max").aggregate
    'items'
    """

    measure: Measure = "top_box"
    aggregate: Aggregate = "items"
    overall: OverallRule = "mean_of_factors"
    factor_weights: Mapping[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        """One line naming the definition, for result tables and report notes.

        Returns
        -------
        str
            ``item measure=...; factor aggregate=...; overall=...`` (with the factor
            weights for ``weighted_factors``).

        Examples
        --------
        >>> IndexDefinition().describe()
        'item measure=top_box; factor aggregate=items; overall=mean_of_factors'
        """
        text = f"item measure={self.measure}; factor aggregate={self.aggregate}; "
        text += f"overall={self.overall}"
        if self.overall == "weighted_factors":
            text += " " + ", ".join(f"{k}:{v:g}" for k, v in self.factor_weights.items())
        return text


@dataclass(frozen=True)
class Margin:
    """Population totals for one margin: one variable, or the joint cells of several.

    Attributes
    ----------
    name : str
        The margin's name (used by weighting plans).
    variables : tuple of str
        Its column(s).
    targets : mapping
        Cell (a tuple of codes, one per variable) -> population total.
    source : str
        ``inline`` or the CSV file the targets came from.

    Examples
    --------
    >>> import sipas
    >>> m = sipas.load_spec("demo").margin("sex")
    >>> m.variables, m.targets
    (('sex',), {(1,): 36831.0, (2,): 40103.0})
    """

    name: str
    variables: tuple[str, ...]
    targets: Mapping[tuple[Any, ...], float]
    source: str = "inline"


@dataclass(frozen=True)
class Spec:
    """A validated questionnaire spec. Build it with :func:`load_spec` or :func:`parse_spec`.

    Attributes
    ----------
    name, respondent_id : str
        Survey name and the respondent id column.
    title : mapping
        Language -> title.
    scales : mapping
        Name -> :class:`Scale`.
    items, factors, margins : tuple
        :class:`Item`, :class:`Factor` and :class:`Margin` entries, in spec order.
    missing : mapping
        Survey-wide missing codes by kind.
    overall_item : str or None
        The separately asked overall question.
    design : DesignSpec
        Design columns.
    domains : tuple of str
        Domain columns reported by default.
    index : IndexDefinition
        The published index definition.
    weighting : tuple of mapping
        Weighting steps (``[[weighting.steps]]``).
    synthetic : bool
        The data are synthetic (reports say so).
    source, sha256 : str or None
        File the spec was read from and its SHA-256.

    Examples
    --------
    >>> import sipas
    >>> spec = sipas.load_spec("demo")
    >>> spec.name, len(spec.items), spec.overall_item
    ('demo', 31, 'q23')
    """

    name: str
    respondent_id: str
    title: Mapping[str, str]
    scales: Mapping[str, Scale]
    items: tuple[Item, ...]
    factors: tuple[Factor, ...]
    missing: Mapping[str, tuple[int | float, ...]]
    overall_item: str | None = None
    design: DesignSpec = field(default_factory=DesignSpec)
    domains: tuple[str, ...] = ()
    index: IndexDefinition = field(default_factory=IndexDefinition)
    margins: tuple[Margin, ...] = ()
    weighting: tuple[Mapping[str, Any], ...] = ()
    synthetic: bool = False
    source: str | None = None
    sha256: str | None = None

    def item(self, name: str) -> Item:
        """The item called ``name``.

        Parameters
        ----------
        name : str
            Item name.

        Returns
        -------
        Item

        Raises
        ------
        SpecError
            No item has that name.

        Examples
        --------
        >>> import sipas
        >>> sipas.load_spec("demo").item("q23").label["en"]
        'Overall satisfaction with public administrative services'
        """
        for it in self.items:
            if it.name == name:
                return it
        raise SpecError(message("item", f"one of the items of spec {self.name!r}", name))

    @property
    def item_names(self) -> tuple[str, ...]:
        """Names of all items, in spec order.

        Examples
        --------
        >>> import sipas
        >>> sipas.load_spec("demo").item_names[:3]
        ('q01', 'q02', 'q03')
        """
        return tuple(it.name for it in self.items)

    def factor(self, name: str) -> Factor:
        """The factor called ``name``.

        Parameters
        ----------
        name : str
            Factor name.

        Returns
        -------
        Factor

        Raises
        ------
        SpecError
            No factor has that name.

        Examples
        --------
        >>> import sipas
        >>> sipas.load_spec("demo").factor("results").items
        ('q15', 'q16', 'q17', 'q18')
        """
        for f in self.factors:
            if f.name == name:
                return f
        raise SpecError(message("factor", f"one of the factors of spec {self.name!r}", name))

    def scale_of(self, item: str) -> Scale:
        """The answer scale of ``item``.

        Parameters
        ----------
        item : str
            Item name.

        Returns
        -------
        Scale

        Raises
        ------
        SpecError
            No item has that name.

        Examples
        --------
        >>> import sipas
        >>> sipas.load_spec("demo").scale_of("p01").codes
        (1, 2)
        """
        return self.scales[self.item(item).scale]

    def missing_codes(self, item: str) -> dict[str, tuple[int | float, ...]]:
        """Missing codes of ``item`` by kind (item-specific codes override the survey's).

        Parameters
        ----------
        item : str
            Item name.

        Returns
        -------
        dict
            Kind (``dont_know``, ``not_applicable``, ``refused``, ``not_asked``) -> codes;
            kinds without codes are left out.

        Raises
        ------
        SpecError
            No item has that name.

        Examples
        --------
        >>> import sipas
        >>> sipas.load_spec("demo").missing_codes("q01")["dont_know"]
        (8,)
        """
        codes = dict(self.missing)
        codes.update(self.item(item).missing)
        return {k: v for k, v in codes.items() if v}

    def margin(self, name: str) -> Margin:
        """The population margin called ``name``.

        Parameters
        ----------
        name : str
            Margin name.

        Returns
        -------
        Margin

        Raises
        ------
        SpecError
            No margin has that name (the message lists them).

        Examples
        --------
        >>> import sipas
        >>> sum(sipas.load_spec("demo").margin("district").targets.values())
        76934.0
        """
        for m in self.margins:
            if m.name == name:
                return m
        raise SpecError(message("margin", f"one of {[m.name for m in self.margins]}", name))


# --------------------------------------------------------------------------- loading

def load_spec(path_or_name: str | Path) -> Spec:
    """Read and validate a questionnaire spec.

    Parameters
    ----------
    path_or_name : str or Path
        A ``.toml`` file, or the name of a spec bundled with sipas (``"demo"``).

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        The file is missing, is not valid TOML, or breaks a rule (the message names the key).

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
    if path.is_dir():
        raise SpecError(message("spec", "a .toml file", str(path), "It is a folder."))
    if not path.is_file():
        raise SpecError(f"Spec file {str(path)!r} does not exist (relative paths start at "
                        f"{str(Path.cwd())!r}). Check the path.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"Spec file {str(path)!r} cannot be read ({exc.strerror}).") from exc
    try:
        text = raw.decode("utf-8-sig")  # Notepad and Excel add a BOM
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(f"Spec file {str(path)!r} must be UTF-8 text; got byte "
                        f"{raw[exc.start:exc.start + 1]!r} at line {line}. Save it as UTF-8 "
                        "(Vietnamese labels are garbled otherwise).") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"Spec file {str(path)!r} is not valid TOML: {exc}. Check quotes, "
                        "brackets and '=' on that line.") from None
    return parse_spec(data, source=path, sha256=hashlib.sha256(raw).hexdigest())


def parse_spec(data: Mapping[str, Any], source: str | Path | None = None,
               sha256: str | None = None) -> Spec:
    """Validate a spec given as a (TOML-like) mapping. See :func:`load_spec`.

    Relative margin files are resolved against the folder of ``source`` (the current
    folder without it).

    Parameters
    ----------
    data : mapping
        The spec as parsed TOML: ``survey``, ``scales``, ``items`` and the optional
        ``missing``, ``factors``, ``overall``, ``design``, ``domains``, ``index``,
        ``margins``, ``weighting`` tables (``docs/spec.md``).
    source : str or Path, optional
        Where the spec came from (named in messages; base folder of margin files).
    sha256 : str, optional
        Hash of the file, kept for provenance.

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        An unknown key, a missing required key, a wrong type, or a broken rule (duplicate
        names, a factor naming an unknown item, missing codes that are valid codes, margins
        whose file is missing, ...). The message names the section and key.

    Examples
    --------
    >>> s = parse_spec({"survey": {"name": "x", "respondent_id": "id"},
    ...                 "scales": {"yn": {"codes": [1, 2], "satisfied": [1]}},
    ...                 "items": [{"name": "q1", "scale": "yn"}]})
    >>> s.scale_of("q1").codes
    (1, 2)
    """
    where = f"spec {str(source)!r}" if source else "spec"
    if not isinstance(data, Mapping):
        raise SpecError(message(where, "a table of keys", type(data).__name__))
    _check_keys(data, {"survey", "scales", "missing", "items", "factors", "overall", "design",
                       "domains", "index", "margins", "weighting"}, where)
    survey = _survey(_table(data, "survey", where, required=True), f"{where} [survey]")
    missing = _missing_table(_table(data, "missing", where), f"{where} [missing]")
    scales = {k: _scale(k, v, f"{where} [scales.{k}]")
              for k, v in _table(data, "scales", where, required=True).items()}
    items = _items(data, scales, missing, where)
    if survey["respondent_id"] in {it.name for it in items}:
        raise SpecError(f"{where} [survey]: " + message(
            "respondent_id", "a column that is not an item", survey["respondent_id"]))
    factors = _factors(data, items, where)
    overall_item = _overall(data, items, factors, where)
    index = _index(_table(data, "index", where), [f.name for f in factors], overall_item,
                   f"{where} [index]", explicit="overall" in _table(data, "index", where))
    domains_t = _table(data, "domains", where)
    _check_keys(domains_t, {"columns"}, f"{where} [domains]")
    base = Path(source).parent if source else Path.cwd()
    margins = tuple(_margin(raw, base, f"{where} [[margins]] #{i + 1}")
                    for i, raw in enumerate(_array(data, "margins", where)))
    _check_unique([m.name for m in margins], "margin name", where)
    weighting = _table(data, "weighting", where)
    _check_keys(weighting, {"steps"}, f"{where} [weighting]")
    return Spec(
        **survey, scales=scales, items=items, factors=factors, missing=missing,
        overall_item=overall_item,
        design=_design(_table(data, "design", where), f"{where} [design]"),
        domains=tuple(_str_list(domains_t, "columns", f"{where} [domains]")), index=index,
        margins=margins, weighting=tuple(_array(weighting, "steps", f"{where} [weighting]")),
        source=str(source) if source else None, sha256=sha256,
    )


# --------------------------------------------------------------------------- sections

def _survey(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The [survey] table: name, respondent id column, title, synthetic flag."""
    _check_keys(raw, {"name", "respondent_id", "title", "synthetic", "language"}, where)
    synthetic = raw.get("synthetic", False)
    if not isinstance(synthetic, bool):
        raise SpecError(f"{where}: " + message("synthetic", "true or false", synthetic))
    if "language" in raw:
        _string(raw, "language", where)
    return {"name": _string(raw, "name", where), "respondent_id": _string(raw, "respondent_id",
                                                                           where),
            "title": _labels(raw.get("title"), where), "synthetic": synthetic}


def _items(data: Mapping[str, Any], scales: Mapping[str, Scale],
           missing: Mapping[str, tuple], where: str) -> tuple[Item, ...]:
    """The [[items]]: unique names; missing codes never valid codes or of two kinds."""
    items = tuple(_item(raw, scales, f"{where} [[items]] #{i + 1}")
                  for i, raw in enumerate(_array(data, "items", where, required=True)))
    _check_unique([it.name for it in items], "item name", where)
    for it in items:
        merged = {k: v for k, v in {**missing, **it.missing}.items() if v}
        _check_no_overlap(it, scales[it.scale], merged, where)
        _check_kinds_disjoint(it, merged, where)
    return items


def _factors(data: Mapping[str, Any], items: tuple[Item, ...], where: str) -> tuple[Factor, ...]:
    """The [[factors]]: known items, unique names, each item in at most one factor."""
    item_names = {it.name for it in items}
    factors = tuple(_factor(raw, item_names, f"{where} [[factors]] #{i + 1}")
                    for i, raw in enumerate(_array(data, "factors", where)))
    _check_unique([f.name for f in factors], "factor name", where)
    seen: dict[str, str] = {}
    for f in factors:
        for it in f.items:
            if it in seen:
                raise SpecError(f"{where}: item {it!r} is in two factors ({seen[it]!r} and "
                                f"{f.name!r}). An item belongs to at most one factor: remove it "
                                "from one of them.")
            seen[it] = f.name
    return factors


def _overall(data: Mapping[str, Any], items: tuple[Item, ...], factors: tuple[Factor, ...],
             where: str) -> str | None:
    """The [overall] item: a separately asked question, not part of any factor."""
    where = f"{where} [overall]"
    overall = _table(data, "overall", where)
    _check_keys(overall, {"item"}, where)
    if "item" not in overall:
        return None
    name = _string(overall, "item", where)
    if name not in {it.name for it in items}:
        raise SpecError(f"{where}: " + message("item", "one of the [[items]]", name,
                                               "Add it to [[items]] or remove [overall]."))
    for f in factors:
        if name in f.items:
            raise SpecError(f"{where}: " + message(
                "item", "a question asked apart from the factors", name,
                f"It is also in factor {f.name!r}: remove it from the factor."))
    return name


# --------------------------------------------------------------------------- pieces

def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(map(str, set(table) - allowed))
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}. Allowed keys: {sorted(allowed)}. "
                        "Check the spelling (keys are case-sensitive).")


def _table(data: Mapping[str, Any], key: str, where: str,
           required: bool = False) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise SpecError(f"{where}: the [{key}] table is missing. See docs/spec.md.")
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"{where}: " + message(f"[{key}]", "a table", value))
    return value


def _array(data: Mapping[str, Any], key: str, where: str,
           required: bool = False) -> list[dict[str, Any]]:
    value = data.get(key)
    if value is None or (required and value == []):
        if required:
            raise SpecError(f"{where}: no [[{key}]] entries. A spec needs at least one.")
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SpecError(f"{where}: " + message(f"[[{key}]]", "an array of tables", value))
    return value


def _string(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{where}: " + message(key, "a non-empty string", value))
    return value


def _str_list(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError(f"{where}: " + message(key, "a list of column names", value))
    return value


def _codes(value: Any, key: str, where: str) -> tuple[int | float, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in value):
        raise SpecError(f"{where}: " + message(key, "a list of numeric codes", value,
                                               "Codes are numbers such as [8, 9]."))
    if len(set(value)) != len(value):
        raise SpecError(f"{where}: " + message(key, "a list without repeated codes", value))
    return tuple(value)


def _labels(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {"vi": value, "en": value}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SpecError(f"{where}: " + message("label", 'a string or {vi = "...", en = "..."}',
                                               value))
    return dict(value)


def _check_unique(names: list[str], what: str, where: str) -> None:
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(f"{where}: {what}(s) {dup} defined more than once. Names must be unique.")


def _missing_table(table: Any, where: str) -> dict[str, tuple[int | float, ...]]:
    if not isinstance(table, dict):
        raise SpecError(f"{where}: " + message("missing", "a table of codes by kind", table,
                                               "e.g. missing = { dont_know = [8] }."))
    unknown = sorted(map(str, set(table) - set(MISSING_KINDS)))
    if unknown:
        raise SpecError(f"{where}: unknown missing-code kind(s) {unknown}. "
                        f"Allowed kinds: {list(MISSING_KINDS)}.")
    out = {k: _codes(v, k, where) for k, v in table.items()}
    seen: dict[int | float, str] = {}
    for kind, codes in out.items():
        for c in codes:
            if c in seen:
                raise SpecError(f"{where}: code {c!r} is declared both as {seen[c]!r} and as "
                                f"{kind!r}. A missing code has exactly one kind.")
            seen[c] = kind
    return out


def _scale(name: str, raw: Any, where: str) -> Scale:
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: " + message("a scale", "a table", raw))
    _check_keys(raw, {"min", "max", "codes", "satisfied", "labels"}, where)
    if "codes" in raw:
        if "min" in raw or "max" in raw:
            raise SpecError(f"{where}: give either codes = [...] or min/max, not both.")
        codes = _codes(raw["codes"], "codes", where)
    else:
        lo, hi = raw.get("min"), raw.get("max")
        if not (type(lo) is int and type(hi) is int and lo < hi):
            raise SpecError(f"{where}: " + message("min/max", "two integers with min < max",
                                                   (lo, hi), "Or list the codes = [...]."))
        codes = tuple(range(lo, hi + 1))
    if len(codes) < 2:
        raise SpecError(f"{where}: " + message("codes", "at least two valid codes", codes))
    satisfied = _codes(raw.get("satisfied", []), "satisfied", where)
    if not satisfied:
        raise SpecError(f"{where}: satisfied = [...] is missing: list the codes that count as "
                        "satisfied (top box), e.g. [4, 5] on a 1-5 scale.")
    outside = [c for c in satisfied if c not in codes]
    if outside:
        raise SpecError(f"{where}: satisfied code(s) {outside} are outside the scale {list(codes)}."
                        " A satisfied code must be one of the valid codes.")
    return Scale(name=name, codes=codes, satisfied=satisfied,
                 labels=_scale_labels(raw.get("labels", {}), len(codes), where))


def _scale_labels(raw: Any, n: int, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: " + message("labels", "a table of label lists by language",
                                               raw, 'e.g. labels.vi = ["...", ...].'))
    labels: dict[str, tuple[str, ...]] = {}
    for lang, lab in raw.items():
        if not isinstance(lab, list) or len(lab) != n or not all(isinstance(s, str) for s in lab):
            raise SpecError(f"{where}: " + message(f"labels.{lang}",
                                                   f"a list of {n} strings (one per code)", lab))
        labels[lang] = tuple(lab)
    return labels


def _item(raw: dict[str, Any], scales: Mapping[str, Scale], where: str) -> Item:
    _check_keys(raw, {"name", "label", "scale", "kind", "missing"}, where)
    name = _string(raw, "name", where)
    where = f"{where} ({name})"
    scale = _string(raw, "scale", where)
    if scale not in scales:
        raise SpecError(f"{where}: scale {scale!r} is not defined. "
                        f"Defined scales: {sorted(scales)}. Add [scales.{scale}].")
    kind = raw.get("kind", "satisfaction")
    if kind not in get_args(ItemKind):
        raise SpecError(f"{where}: " + message("kind", f"one of {list(get_args(ItemKind))}", kind))
    missing = _missing_table(raw.get("missing", {}), f"{where} missing")
    return Item(name=name, label=_labels(raw.get("label"), where), scale=scale, kind=kind,
                missing=missing)


def _check_no_overlap(item: Item, scale: Scale, missing: Mapping[str, tuple], where: str) -> None:
    for kind, codes in missing.items():
        both = [c for c in codes if c in scale.codes]
        if both:
            raise SpecError(
                f"{where}: item {item.name!r}: code(s) {both} are both valid answers of scale "
                f"{scale.name!r} {list(scale.codes)} and missing codes of kind {kind!r}. "
                "Use codes outside the scale for missing answers (e.g. 8, 9).")


def _check_kinds_disjoint(item: Item, missing: Mapping[str, tuple], where: str) -> None:
    """An item's own missing codes must not give a survey-wide code a second kind."""
    seen: dict[int | float, str] = {}
    for kind, codes in missing.items():
        for c in codes:
            if c in seen:
                raise SpecError(
                    f"{where}: item {item.name!r}: code {c!r} is a missing code of two kinds, "
                    f"{seen[c]!r} and {kind!r} (one from [missing], one from the item). Give "
                    f"it one kind: e.g. {seen[c]} = [] in the item's missing table overrides "
                    "the survey-wide codes of that kind.")
            seen[c] = kind


def _factor(raw: dict[str, Any], item_names: set[str], where: str) -> Factor:
    _check_keys(raw, {"name", "label", "items"}, where)
    name = _string(raw, "name", where)
    items = _str_list(raw, "items", f"{where} ({name})")
    if not items:
        raise SpecError(f"{where} ({name}): a factor needs at least one item.")
    unknown = [it for it in items if it not in item_names]
    if unknown:
        raise SpecError(f"{where}: factor {name!r} names unknown item(s) {unknown}. "
                        "Every item of a factor must be defined in [[items]].")
    _check_unique(items, f"item of factor {name!r}", where)
    return Factor(name=name, label=_labels(raw.get("label"), where), items=tuple(items))


def _index(raw: dict[str, Any], factors: list[str], overall_item: str | None,
           where: str, explicit: bool = True) -> IndexDefinition:
    _check_keys(raw, {"measure", "aggregate", "overall", "factor_weights"}, where)
    d = IndexDefinition()
    measure = raw.get("measure", d.measure)
    aggregate = raw.get("aggregate", d.aggregate)
    overall = raw.get("overall", d.overall)
    for key, value, allowed in (("measure", measure, Measure), ("aggregate", aggregate, Aggregate),
                                ("overall", overall, OverallRule)):
        if value not in get_args(allowed):
            raise SpecError(f"{where}: " + message(key, f"one of {list(get_args(allowed))}", value))
    weights = _factor_weights(raw, overall, factors, where)
    if overall == "item" and overall_item is None:
        raise SpecError(f"{where}: overall = 'item' needs [overall] item = \"...\" "
                        "(the separately asked overall question).")
    if explicit and overall in ("mean_of_factors", "weighted_factors") and not factors:
        raise SpecError(f"{where}: overall = {overall!r} needs at least one [[factors]] entry.")
    return IndexDefinition(measure=measure, aggregate=aggregate, overall=overall,
                           factor_weights=weights)


def _factor_weights(raw: dict[str, Any], overall: str, factors: list[str],
                    where: str) -> dict[str, float]:
    weights = raw.get("factor_weights", {})
    if not isinstance(weights, dict):
        raise SpecError(f"{where}: " + message("factor_weights", "a table {factor = weight}",
                                               weights))
    if overall != "weighted_factors":
        if weights:
            raise SpecError(f"{where}: factor_weights are used only with overall = "
                            f"'weighted_factors'; got overall = {overall!r}. Set overall = "
                            "'weighted_factors' or remove factor_weights.")
        return {}
    if set(weights) != set(factors):
        raise SpecError(f"{where}: " + message(
            "factor_weights", f"one weight for each factor {factors}", weights,
            "overall = 'weighted_factors' needs [index.factor_weights] with a weight per "
            "factor."))
    bad = {k: v for k, v in weights.items()
           if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v < math.inf}
    if bad or sum(weights.values()) <= 0:
        raise SpecError(f"{where}: " + message("factor_weights",
                                               "non-negative numbers with a positive sum",
                                               weights))
    return {k: float(v) for k, v in weights.items()}


def _design(raw: dict[str, Any], where: str) -> DesignSpec:
    _check_keys(raw, {"ids", "strata", "weights", "probs", "fpc", "nest", "lonely_psu"}, where)
    for key in ("strata", "weights", "probs"):
        if raw.get(key) is not None and not (isinstance(raw[key], str) and raw[key]):
            raise SpecError(f"{where}: " + message(key, "a column name", raw[key]))
    lonely = raw.get("lonely_psu", "fail")
    if lonely not in get_args(LonelyPSU):
        raise SpecError(f"{where}: " + message("lonely_psu", f"one of {list(get_args(LonelyPSU))}",
                                               lonely))
    nest = raw.get("nest", False)
    if not isinstance(nest, bool):
        raise SpecError(f"{where}: " + message("nest", "true or false", nest))
    return DesignSpec(ids=tuple(_str_list(raw, "ids", where)), strata=raw.get("strata"),
                      weights=raw.get("weights"), probs=raw.get("probs"),
                      fpc=tuple(_str_list(raw, "fpc", where)), nest=nest, lonely_psu=lonely)


def _margin(raw: dict[str, Any], base: Path, where: str) -> Margin:
    _check_keys(raw, {"name", "variables", "targets", "file"}, where)
    variables = tuple(_str_list(raw, "variables", where))
    if not variables:
        raise SpecError(f"{where}: variables = [...] is missing: name the column(s) of the margin.")
    name = _string(raw, "name", where) if "name" in raw else "*".join(variables)
    where = f"{where} ({name})"
    if ("targets" in raw) == ("file" in raw):
        raise SpecError(f"{where}: give exactly one of targets = {{...}} (inline) or "
                        "file = \"margins.csv\" (columns: the variables and 'population').")
    if "targets" in raw:
        targets = _inline_targets(raw["targets"], variables, where)
        source = "inline"
    else:
        path = Path(_string(raw, "file", where))
        path = path if path.is_absolute() else base / path
        targets = _csv_targets(path, variables, where)
        source = str(path)
    bad = {k: v for k, v in targets.items() if not 0 < v < math.inf}
    if bad:
        raise SpecError(f"{where}: " + message("population targets", "positive finite numbers",
                                               bad))
    return Margin(name=name, variables=variables, targets=targets, source=source)


def _parse_code(text: str) -> Any:
    """Codes are written as TOML keys or CSV cells (text); keep numbers numeric."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _inline_targets(raw: Any, variables: tuple[str, ...], where: str) -> dict[tuple, float]:
    if not isinstance(raw, dict) or not raw:
        raise SpecError(f"{where}: " + message(
            "targets", 'a table such as {"1" = 4821, "2" = 5012}', raw))
    out: dict[tuple, float] = {}
    for key, value in raw.items():
        parts = tuple(_parse_code(p) for p in str(key).split(","))
        if len(parts) != len(variables) or "" in parts:
            raise SpecError(f"{where}: target key {key!r} must name one code per variable "
                            f"{list(variables)}, separated by commas (e.g. \"1,2\").")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SpecError(f"{where}: " + message(f"target {key!r}", "a number", value))
        if parts in out:
            raise SpecError(f"{where}: targets name cell {parts} twice. Each cell appears once.")
        out[parts] = float(value)
    return out


def _csv_targets(path: Path, variables: tuple[str, ...], where: str) -> dict[tuple, float]:
    if path.is_dir():
        raise SpecError(f"{where}: " + message("file", "a CSV file", str(path), "It is a folder."))
    if not path.is_file():
        raise SpecError(f"{where}: margin file {str(path)!r} does not exist. Paths are relative "
                        "to the spec file.")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise SpecError(f"{where}: margin file {str(path)!r} must be UTF-8 text; got byte "
                        f"{exc.object[exc.start:exc.start + 1]!r}. Save it as UTF-8.") from None
    header = [h.strip() for h in rows[0]] if rows else []
    need = [*variables, "population"]
    if any(c not in header for c in need):
        raise SpecError(f"{where}: margin file {str(path)!r}: " + message(
            "the header", f"the columns {need}", header))
    if len(rows) < 2:
        raise SpecError(f"{where}: margin file {str(path)!r} has no data rows.")
    out: dict[tuple, float] = {}
    for lineno, cells in enumerate(rows[1:], start=2):
        key, value = _margin_row(cells, header, variables, f"{where}: {str(path)!r} line {lineno}")
        if key in out:
            raise SpecError(f"{where}: {str(path)!r} line {lineno}: cell {key} appears twice. "
                            "Each cell of the margin appears once.")
        out[key] = value
    return out


def _margin_row(cells: list[str], header: list[str], variables: tuple[str, ...],
                where: str) -> tuple[tuple, float]:
    if len(cells) != len(header):
        raise SpecError(f"{where}: " + message("the row", f"{len(header)} cells like the header",
                                               cells))
    row = dict(zip(header, cells))
    key = tuple(_parse_code(row[v]) for v in variables)
    if "" in key:
        raise SpecError(f"{where}: " + message("every code", "non-empty", cells))
    text = row["population"].strip()
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{where}: " + message("population", "a number", text,
                                               "Write plain numbers such as 40103 (no "
                                               "thousands separators).")) from None
    return key, value
