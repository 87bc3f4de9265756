"""The questionnaire spec as Python objects: scales, items, factors, design, index, margins.

:func:`sipas.spec.load_spec` builds a :class:`Spec` from a TOML file (``sipas.spec.parse``
reads and checks it); the classes here only hold the validated values and answer
questions about them (the scale of an item, its missing codes, a margin by name).

Examples
--------
>>> import sipas
>>> spec = sipas.load_spec("demo")
>>> spec.item("q01").scale, spec.scale_of("q01").satisfied
('satisfaction', (4, 5))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sipas._validate import message
from sipas.errors import SpecError
from sipas.spec.missing import MISSING_KINDS, MissingKind, kinds_by_code
from sipas.spec.questionsets import QuestionSet
from sipas.spec.tree import IndexNode, IndexTree, factor_tree

__all__ = [
    "MISSING_KINDS",
    "SHARE_MEANING",
    "Aggregate",
    "DesignSpec",
    "Factor",
    "IndexDefinition",
    "Item",
    "ItemKind",
    "LonelyPSU",
    "Margin",
    "Measure",
    "MissingKind",
    "OverallRule",
    "QuestionSet",
    "Scale",
    "Spec",
]

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
    rescale : {"pct_of_range", "pct_of_max"} or None
        Under ``[index] measure = "mean"``: each item's mean is mapped to 0-1 first
        (``(x - min)/(max - min)`` or ``x/max``), so items on different scales can be
        combined; the factor is then in [0, 1]. None: the items' means as they are (they
        must share one scale).

    Examples
    --------
    >>> import sipas
    >>> sipas.load_spec("demo").factor("access").items
    ('q01', 'q02', 'q03', 'q04')
    """

    name: str
    label: Mapping[str, str]
    items: tuple[str, ...]
    rescale: str | None = None


@dataclass(frozen=True)
class DesignSpec:
    """Design columns, as :class:`sipas.Design` takes them.

    Attributes
    ----------
    ids, strata, weights, probs, fpc, nest, lonely_psu, lonely_domain, lonely_corrected
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
    lonely_domain: bool = False
    lonely_corrected: bool = False


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
    question_sets : tuple
        :class:`QuestionSet` entries (multiple-response questions), in spec order.
    missing : mapping
        Survey-wide missing codes by kind.
    overall_item : str or None
        The separately asked overall question.
    design : DesignSpec
        Design columns.
    domains : tuple of str
        Domain columns reported by default.
    domain_labels : mapping
        Column -> code -> {"vi": name, "en": name}: names of domain values
        (``[domains.labels.<column>]``, :mod:`sipas.spec.domains`).
    index : IndexDefinition
        The published index definition.
    weighting : tuple of mapping
        Weighting steps (``[[weighting.steps]]``).
    synthetic : bool
        The data are synthetic (reports say so).
    year : int or None
        The year of the survey (``[survey] year``; chart captions name it).
    data_source : mapping
        Language -> who produced the data (``[survey] source``; chart captions name it).
    language : str
        Language of the data file's own labels (``[survey] language``, ``"vi"``): its value
        labels are shown only in reports in that language.
    nodes : tuple of IndexNode
        The ``[[nodes]]`` of an index tree (empty for a spec of factors; see :attr:`tree`).
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
    domain_labels: Mapping[str, Mapping[Any, Mapping[str, str]]] = field(default_factory=dict)
    index: IndexDefinition = field(default_factory=IndexDefinition)
    margins: tuple[Margin, ...] = ()
    weighting: tuple[Mapping[str, Any], ...] = ()
    question_sets: tuple[QuestionSet, ...] = ()
    synthetic: bool = False
    source: str | None = None
    sha256: str | None = None
    nodes: tuple[IndexNode, ...] = ()
    year: int | None = None
    data_source: Mapping[str, str] = field(default_factory=dict)
    language: str = "vi"

    @property
    def tree(self) -> IndexTree:
        """The index tree: the ``[[nodes]]``, or factors under ``overall`` for a spec of factors.

        Examples
        --------
        >>> import sipas
        >>> t = sipas.load_spec("demo").tree
        >>> t.roots, t.node("access").items
        (('overall',), ('q01', 'q02', 'q03', 'q04'))
        """
        if self.nodes:
            return IndexTree(self.nodes)
        return factor_tree([(f.name, f.label, f.items, f.rescale) for f in self.factors],
                           self.index.overall, self.overall_item, self.index.factor_weights)

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

    def missing_kinds(self, item: str) -> dict[int | float, str]:
        """Missing code of ``item`` -> its kind; a code declared under several kinds has
        their combined kind (:mod:`sipas.spec.missing`).

        Examples
        --------
        >>> import sipas
        >>> sipas.load_spec("demo").missing_kinds("q01")[9]
        'not_applicable'
        """
        return kinds_by_code(self.missing_codes(item))

    @property
    def missing_kind_names(self) -> tuple[str, ...]:
        """Every kind an answer can have: the four kinds, then the combined kinds of codes
        declared under several (in spec order).

        Examples
        --------
        >>> import sipas
        >>> sipas.load_spec("demo").missing_kind_names
        ('dont_know', 'not_applicable', 'refused', 'not_asked')
        """
        combined = [k for it in self.items for k in self.missing_kinds(it.name).values()
                    if k not in MISSING_KINDS]
        return (*MISSING_KINDS, *dict.fromkeys(combined))

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

    def question_set(self, name: str) -> QuestionSet:
        """The question set (multiple-response question) called ``name``.

        Raises
        ------
        SpecError
            No question set has that name (the message lists them).

        Examples
        --------
        >>> import sipas
        >>> sipas.load_spec("demo").question_set("needs").options[:2]
        ('e1', 'e2')
        """
        for q in self.question_sets:
            if q.name == name:
                return q
        raise SpecError(message("question set", f"one of {[q.name for q in self.question_sets]}",
                                name))
