"""PAR scheme files: areas -> criteria -> sub-criteria, maxima, sources and conversion rules.

A scheme (TOML) describes how a composite administrative-reform index is scored::

    [scheme]
    name = "example"
    total = 100
    groups = [{ name = "A", min = 90 }, { name = "B", min = 80 }, { name = "C", min = 70 },
              { name = "D", min = 0 }]

    [[areas]]
    code = "A5"
    label = { vi = "...", en = "..." }
    max = 20

      [[areas.criteria]]
      code = "A5.1"
      max = 20

        [[areas.criteria.subcriteria]]
        code = "A5.1.1"
        max = 4
        source = "citizen_survey"        # appraisal | officials_survey | citizen_survey
        index = "factor:access"          # factor:<name> | item:<name> | overall
        rule = "linear"                  # points = max x value (value in [0, 1])

Survey values are proportions in [0, 1]; a 1-5 mean is converted first with
``transform = "pct_of_max"`` (value / scale_max) or ``"pct_of_range"``. ``rule = "bands"``
with ``bands = [[0.9, 1.0], [0.8, 0.75], [0.0, 0.0]]`` gives the fraction of the maximum for
the first threshold the value reaches. Maxima must add up: sub-criteria to their criterion,
criteria to their area, areas to the total.

Examples
--------
>>> s = load_scheme("example")
>>> s.total, [a.code for a in s.areas]
(100.0, ['A1', 'A2', 'A3'])
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sipas.errors import SpecError

__all__ = ["Area", "Criterion", "Scheme", "SubCriterion", "load_scheme", "parse_scheme"]

Source = Literal["appraisal", "officials_survey", "citizen_survey"]
SOURCES = ("appraisal", "officials_survey", "citizen_survey")
TOL = 1e-9
SCHEME_KEYS = {"name", "title", "total", "status", "groups"}
AREA_KEYS = {"code", "label", "max", "note", "criteria"}
CRITERION_KEYS = {"code", "label", "max", "note", "subcriteria"}
SUB_KEYS = {"code", "label", "max", "source", "index", "rule", "bands", "transform",
            "scale_max", "scale_min"}


@dataclass(frozen=True)
class SubCriterion:
    """A scored sub-criterion: its maximum, where its value comes from and how it converts.

    Attributes
    ----------
    code : str
        Unique code (``A1.2.1``).
    label : mapping
        Language -> label.
    max : float
        Maximum points.
    source : {"appraisal", "officials_survey", "citizen_survey"}
        Where the points or the value come from.
    index : str or None
        For survey sources: ``factor:<name>``, ``item:<name>`` or ``overall``.
    rule : {"linear", "bands"}
        ``linear``: ``max * value``; ``bands``: ``max * fraction`` of the first band whose
        threshold the value reaches.
    bands : tuple of (threshold, fraction)
        Highest threshold first.
    transform : {"none", "pct_of_max", "pct_of_range"}
        How a value on the answer scale becomes a proportion first.
    scale_max, scale_min : float
        The answer scale of ``transform``.
    area, criterion : str
        Codes of the parents.

    Examples
    --------
    >>> sub = SubCriterion("X.1", {}, 10.0, "citizen_survey", "factor:access")
    >>> sub.convert(0.8)
    8.0
    """

    code: str
    label: Mapping[str, str]
    max: float
    source: Source
    index: str | None = None
    rule: str = "linear"
    bands: tuple[tuple[float, float], ...] = ()
    transform: str = "none"
    scale_max: float = 5.0
    scale_min: float = 1.0
    area: str = ""
    criterion: str = ""

    def convert(self, value: float) -> float:
        """Points for a survey value (after ``transform``), never above the maximum.

        Parameters
        ----------
        value : float
            The index value on its own scale (a proportion, or the answer scale when the
            sub-criterion transforms it).

        Returns
        -------
        float
            ``max * v`` (linear) or ``max * fraction`` of the first band reached, with ``v``
            the transformed value; NaN for a NaN value. Callers cap at ``max``.

        Examples
        --------
        >>> sub = SubCriterion("X.1", {}, 10.0, "citizen_survey", "factor:access",
        ...                    transform="pct_of_max", scale_max=5.0)
        >>> sub.convert(4.0)  # 10 * 4/5
        8.0
        >>> band = SubCriterion("X.2", {}, 10.0, "citizen_survey", "overall", rule="bands",
        ...                     bands=((0.9, 1.0), (0.8, 0.75), (0.0, 0.0)))
        >>> band.convert(0.85), band.convert(0.5)
        (7.5, 0.0)
        """
        v = self.transformed(value)
        if math.isnan(v):
            return math.nan
        v = min(max(v, 0.0), 1.0)  # as convert_array: points stay within [0, max]
        if self.rule == "linear":
            return self.max * v
        for threshold, fraction in self.bands:
            if v >= threshold:
                return self.max * fraction
        return 0.0

    def convert_array(self, values: np.ndarray) -> np.ndarray:
        """:meth:`convert` for an array of (untransformed) values.

        Parameters
        ----------
        values : numpy.ndarray
            Index values on their own scale.

        Returns
        -------
        numpy.ndarray
            Points; transformed values are clipped to [0, 1] first, so points stay in
            ``[0, max]``.

        Examples
        --------
        >>> import numpy as np
        >>> band = SubCriterion("X.2", {}, 10.0, "citizen_survey", "overall", rule="bands",
        ...                     bands=((0.9, 1.0), (0.8, 0.75), (0.0, 0.0)))
        >>> band.convert_array(np.array([0.95, 0.85, 0.5])).tolist()
        [10.0, 7.5, 0.0]
        """
        v = np.clip(self.transformed(np.asarray(values, dtype="float64")), 0.0, 1.0)
        if self.rule == "linear":
            return self.max * v
        out = np.zeros_like(v)
        done = np.zeros(v.shape, dtype=bool)
        for threshold, fraction in self.bands:
            hit = ~done & (v >= threshold)
            out[hit] = self.max * fraction
            done |= hit
        return out

    def transformed(self, value: float) -> float:
        """The value as a proportion: ``value / scale_max`` (``pct_of_max``),
        ``(value - scale_min) / (scale_max - scale_min)`` (``pct_of_range``) or unchanged.

        Parameters
        ----------
        value : float or numpy.ndarray
            Index value(s) on their own scale.

        Returns
        -------
        float or numpy.ndarray
            The transformed value(s) (not clipped).

        Examples
        --------
        >>> sub = SubCriterion("X.1", {}, 10.0, "citizen_survey", "factor:access",
        ...                    transform="pct_of_max", scale_max=5.0)
        >>> sub.transformed(3.74)
        0.748
        """
        if self.transform == "pct_of_max":
            return value / self.scale_max
        if self.transform == "pct_of_range":
            return (value - self.scale_min) / (self.scale_max - self.scale_min)
        return value

    def slope(self) -> float:
        """d points / d value for linear rules (used for standard errors).

        Returns
        -------
        float
            ``max / scale`` with ``scale`` the divisor of the transform (1 without one);
            NaN for ``bands`` (points are a step function of the value, so the delta-method
            SE is undefined).

        Examples
        --------
        >>> sub = SubCriterion("X.1", {}, 10.0, "citizen_survey", "factor:access",
        ...                    transform="pct_of_max", scale_max=5.0)
        >>> sub.slope()
        2.0
        """
        if self.rule != "linear":
            return math.nan
        scale = {"pct_of_max": self.scale_max,
                 "pct_of_range": self.scale_max - self.scale_min}.get(self.transform, 1.0)
        return self.max / scale


@dataclass(frozen=True)
class Criterion:
    """A criterion: a group of sub-criteria whose maxima add up to its own.

    Attributes
    ----------
    code : str
        Code (``A1.2``).
    label : mapping
        Language -> label.
    max : float
        Maximum points (the sum of the sub-criteria's).
    subcriteria : tuple of SubCriterion
        In scheme order.

    Examples
    --------
    >>> crit = load_scheme("example").areas[0].criteria[1]
    >>> crit.code, crit.max, [s.code for s in crit.subcriteria]
    ('A1.2', 15.0, ['A1.2.1', 'A1.2.2'])
    """

    code: str
    label: Mapping[str, str]
    max: float
    subcriteria: tuple[SubCriterion, ...]


@dataclass(frozen=True)
class Area:
    """An area (lĩnh vực): a group of criteria whose maxima add up to its own.

    Attributes
    ----------
    code : str
        Code (``A1``).
    label : mapping
        Language -> label.
    max : float
        Maximum points (the sum of the criteria's).
    criteria : tuple of Criterion
        In scheme order.
    note : str
        Free text from the scheme file.

    Examples
    --------
    >>> area = load_scheme("example").areas[0]
    >>> area.code, area.max, [c.code for c in area.criteria]
    ('A1', 40.0, ['A1.1', 'A1.2'])
    """

    code: str
    label: Mapping[str, str]
    max: float
    criteria: tuple[Criterion, ...]
    note: str = ""


@dataclass(frozen=True)
class Scheme:
    """A validated PAR scheme.

    Attributes
    ----------
    name : str
        Scheme name.
    title : mapping
        Language -> title.
    total : float
        Maximum total points (the sum of the areas' maxima).
    areas : tuple of Area
        In scheme order.
    groups : tuple of (name, minimum)
        Ranking groups, highest minimum first.
    status : str
        Free text (``example``, ``official``...).
    source : str or None
        The file it was read from.

    Examples
    --------
    >>> s = load_scheme("example")
    >>> s.total, len(s.subcriteria), s.groups[0]
    (100.0, 9, ('A', 90.0))
    """

    name: str
    title: Mapping[str, str]
    total: float
    areas: tuple[Area, ...]
    groups: tuple[tuple[str, float], ...]
    status: str = ""
    source: str | None = None

    @property
    def subcriteria(self) -> tuple[SubCriterion, ...]:
        """Every sub-criterion, area by area and criterion by criterion.

        Examples
        --------
        >>> s = load_scheme("example")
        >>> [sub.code for sub in s.subcriteria][:3]
        ['A1.1.1', 'A1.2.1', 'A1.2.2']
        """
        return tuple(s for a in self.areas for c in a.criteria for s in c.subcriteria)

    def max_by_source(self) -> dict[str, float]:
        """Maximum points from each source.

        Returns
        -------
        dict
            ``appraisal``, ``officials_survey`` and ``citizen_survey`` -> the sum of the
            maxima of their sub-criteria (0 for a source the scheme does not use).

        Examples
        --------
        >>> s = load_scheme("example")
        >>> s.max_by_source()
        {'appraisal': 55.0, 'officials_survey': 0.0, 'citizen_survey': 45.0}
        """
        out = dict.fromkeys(SOURCES, 0.0)
        for s in self.subcriteria:
            out[s.source] += s.max
        return out

    def group(self, total: float) -> str:
        """Group of a total score (first group whose minimum it reaches).

        Parameters
        ----------
        total : float
            Total points.

        Returns
        -------
        str
            The group's name; ``""`` for NaN or a total below every minimum.

        Examples
        --------
        >>> s = load_scheme("example")
        >>> s.group(85.0), s.group(50.0)
        ('B', 'D')
        """
        if math.isnan(total):
            return ""
        for name, minimum in self.groups:
            if total >= minimum - TOL:
                return name
        return ""


def load_scheme(path_or_name: str | Path) -> Scheme:
    """Read a scheme file, or a bundled scheme by name (``example``, ``province-2022``).

    Parameters
    ----------
    path_or_name : str or Path
        A ``.toml`` file (UTF-8), or the name of a bundled scheme.

    Returns
    -------
    Scheme

    Raises
    ------
    SpecError
        The file does not exist (and no bundled scheme has that name), is not UTF-8 or
        not valid TOML, or breaks a rule (see :func:`parse_scheme`).

    Examples
    --------
    >>> s = load_scheme("province-2022")
    >>> s.max_by_source()["appraisal"]
    68.0
    """
    path = Path(path_or_name)
    if not path.suffix and not path.exists():
        bundled = resources.files("sipas.par") / "schemes" / f"{path_or_name}.toml"
        if not bundled.is_file():
            raise SpecError(f"PAR scheme {str(path_or_name)!r} is neither a file nor a bundled "
                            "scheme ('example', 'province-2022').")
        path = Path(str(bundled))
    if not path.is_file():
        raise SpecError(f"PAR scheme file {str(path)!r} does not exist.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SpecError(f"PAR scheme {str(path)!r} must be UTF-8 text; got byte "
                        f"{exc.object[exc.start:exc.start + 1]!r}. Save it as UTF-8.") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"PAR scheme {str(path)!r} is not valid TOML: {exc}. Check quotes, "
                        "brackets and '=' on that line.") from None
    return parse_scheme(data, source=str(path))


def parse_scheme(data: Mapping[str, Any], source: str | None = None) -> Scheme:
    """Validate a scheme given as a mapping (see the module docstring).

    Parameters
    ----------
    data : mapping
        ``{"scheme": {...}, "areas": [...]}`` as parsed TOML.
    source : str, optional
        Where it came from (named in messages).

    Returns
    -------
    Scheme

    Raises
    ------
    SpecError
        An unknown key; no ``[scheme]`` name; no areas, criteria or sub-criteria; maxima
        that do not add up (sub-criteria to criterion, criteria to area, areas to total);
        a duplicate sub-criterion code; an unknown source, rule or transform; a survey
        sub-criterion without a valid ``index``; bad bands, groups or scale bounds.

    Examples
    --------
    >>> sub = {"code": "A1.1.1", "max": 10, "source": "citizen_survey", "index": "overall"}
    >>> s = parse_scheme({"scheme": {"name": "tiny", "total": 10},
    ...                   "areas": [{"code": "A1", "max": 10, "criteria": [
    ...                       {"code": "A1.1", "max": 10, "subcriteria": [sub]}]}]})
    >>> s.total, s.subcriteria[0].index
    (10.0, 'overall')
    """
    where = f"PAR scheme {source!r}" if source else "PAR scheme"
    if not isinstance(data, Mapping):
        raise SpecError(f"{where} must be a table of keys; got {type(data).__name__}.")
    _check_keys(data, {"scheme", "areas"}, where)
    head = data.get("scheme")
    if not isinstance(head, dict) or "name" not in head:
        raise SpecError(f"{where}: a [scheme] table with name = \"...\" is required.")
    _check_keys(head, SCHEME_KEYS, f"{where} [scheme]")
    total = _number(head, "total", where)
    groups = _groups(head.get("groups", []), f"{where} [scheme]")
    areas = tuple(_area(a, where) for a in _tables(data, "areas", where, "[[areas]]"))
    if not areas:
        raise SpecError(f"{where}: no [[areas]]; a scheme needs at least one area.")
    codes = [s.code for a in areas for c in a.criteria for s in c.subcriteria]
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise SpecError(f"{where}: sub-criterion code(s) {dup} are used twice.")
    _check_sum(total, [a.max for a in areas], f"{where}: the areas' maxima", "the total")
    return Scheme(name=str(head["name"]), title=_labels(head.get("title")), total=total,
                  areas=areas, groups=groups, status=str(head.get("status", "")),
                  source=source)


def _number(table: Mapping[str, Any], key: str, where: str) -> float:
    value = table.get(key)
    if not _is_number(value) or value < 0:
        raise SpecError(f"{where}: {key} must be a non-negative number; got {value!r}.")
    return float(value)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _check_keys(raw: Mapping[str, Any], allowed: set[str], here: str) -> None:
    unknown = sorted(map(str, set(raw) - allowed))
    if unknown:
        raise SpecError(f"{here}: unknown key(s) {unknown}; allowed {sorted(allowed)}. Check "
                        "the spelling (keys are case-sensitive).")


def _tables(raw: Mapping[str, Any], key: str, here: str, name: str) -> list[Mapping[str, Any]]:
    """An array of tables (``[[areas]]``): anything else names the key and what it got."""
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise SpecError(f"{here}: {key} must be an array of tables ({name}); got {value!r}.")
    return value


def _groups(raw: Any, where: str) -> tuple[tuple[str, float], ...]:
    """``groups = [{ name = "A", min = 90 }, ...]`` from the highest minimum down."""
    if not isinstance(raw, list):
        raise SpecError(f"{where}: groups must be a list such as [{{ name = \"A\", min = 90 }}, "
                        f"...]; got {raw!r}.")
    groups = []
    for i, g in enumerate(raw, start=1):
        if not (isinstance(g, Mapping) and set(g) == {"name", "min"}
                and isinstance(g["name"], str) and _is_number(g["min"])):
            raise SpecError(f"{where}: group #{i} must be {{ name = \"A\", min = 90 }} (a name "
                            f"and a number); got {g!r}.")
        groups.append((g["name"], float(g["min"])))
    if any(b[1] > a[1] for a, b in itertools.pairwise(groups)):
        raise SpecError(f"{where}: groups must be listed from the highest minimum down; got "
                        f"{[m for _, m in groups]}.")
    return tuple(groups)


def _labels(value: Any, here: str = "PAR scheme") -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {"vi": value, "en": value}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise SpecError(f"{here}: label must be a string or {{ vi = \"...\", en = \"...\" }}; "
                        f"got {value!r}.")
    return dict(value)


def _check_sum(expected: float, parts: list[float], what: str, whole: str) -> None:
    got = sum(parts)
    if abs(got - expected) > 1e-6 * max(1.0, expected):
        raise SpecError(f"{what} add up to {got:g}, not {expected:g} ({whole}). Fix the "
                        "maxima so that the parts sum to the whole.")


def _area(raw: Mapping[str, Any], where: str) -> Area:
    code = str(raw.get("code", ""))
    here = f"{where} area {code!r}"
    _check_keys(raw, AREA_KEYS, here)
    crits = tuple(_criterion(c, here, code)
                  for c in _tables(raw, "criteria", here, "[[areas.criteria]]"))
    if not crits:
        raise SpecError(f"{here}: no [[areas.criteria]].")
    area_max = _number(raw, "max", here)
    _check_sum(area_max, [c.max for c in crits], f"{here}: the criteria maxima",
               f"area max {area_max:g}")
    return Area(code, _labels(raw.get("label"), here), area_max, crits,
                str(raw.get("note", "")))


def _criterion(raw: Mapping[str, Any], where: str, area: str) -> Criterion:
    code = str(raw.get("code", ""))
    here = f"{where} criterion {code!r}"
    _check_keys(raw, CRITERION_KEYS, here)
    subs = tuple(_sub(s, here, area, code) for s in
                 _tables(raw, "subcriteria", here, "[[areas.criteria.subcriteria]]"))
    if not subs:
        raise SpecError(f"{here}: no [[areas.criteria.subcriteria]].")
    cmax = _number(raw, "max", here)
    _check_sum(cmax, [s.max for s in subs], f"{here}: the sub-criteria maxima",
               f"criterion max {cmax:g}")
    return Criterion(code, _labels(raw.get("label"), here), cmax, subs)


def _sub(raw: Mapping[str, Any], where: str, area: str, crit: str) -> SubCriterion:
    code = str(raw.get("code", ""))
    here = f"{where} sub-criterion {code!r}"
    _check_keys(raw, SUB_KEYS, here)
    source = raw.get("source")
    if source not in SOURCES:
        raise SpecError(f"{here}: source must be one of {list(SOURCES)}; got {source!r}.")
    index = raw.get("index")
    if source != "appraisal" and not _valid_index(index):
        raise SpecError(f"{here}: a survey sub-criterion needs index = \"factor:<name>\", "
                        f"\"item:<name>\" or \"overall\"; got {index!r}.")
    rule = raw.get("rule", "linear")
    if rule not in ("linear", "bands"):
        raise SpecError(f"{here}: rule must be 'linear' or 'bands'; got {rule!r}.")
    bands = _bands(raw.get("bands", []), here)
    if rule == "bands" and (not bands or any(not 0 <= f <= 1 for _, f in bands)):
        raise SpecError(f"{here}: rule = 'bands' needs bands = [[threshold, fraction], ...] "
                        "with fractions in [0, 1], highest threshold first.")
    transform = raw.get("transform", "none")
    if transform not in ("none", "pct_of_max", "pct_of_range"):
        raise SpecError(f"{here}: transform must be none, pct_of_max or pct_of_range.")
    scale_min, scale_max = raw.get("scale_min", 1), raw.get("scale_max", 5)
    if not (_is_number(scale_min) and _is_number(scale_max) and scale_min < scale_max):
        raise SpecError(f"{here}: scale_min and scale_max must be two numbers with scale_min < "
                        f"scale_max; got {(scale_min, scale_max)!r}.")
    return SubCriterion(code=code, label=_labels(raw.get("label"), here),
                        max=_number(raw, "max", here), source=source, index=index,
                        rule=rule, bands=bands, transform=transform,
                        scale_max=float(scale_max), scale_min=float(scale_min), area=area,
                        criterion=crit)


def _bands(value: Any, here: str) -> tuple[tuple[float, float], ...]:
    """``[[threshold, fraction], ...]`` with thresholds from the highest down."""
    if not (isinstance(value, list) and all(
            isinstance(b, list) and len(b) == 2 and all(_is_number(x) for x in b)
            for b in value)):
        raise SpecError(f"{here}: bands must be [[threshold, fraction], ...] (pairs of numbers, "
                        f"highest threshold first); got {value!r}.")
    bands = tuple((float(t), float(f)) for t, f in value)
    if any(b[0] >= a[0] for a, b in itertools.pairwise(bands)):
        raise SpecError(f"{here}: bands must be listed from the highest threshold down (the "
                        "first threshold a value reaches gives its points); got thresholds "
                        f"{[t for t, _ in bands]}.")
    return bands


def _valid_index(index: Any) -> bool:
    if index == "overall":
        return True
    return isinstance(index, str) and index.split(":", 1)[0] in ("factor", "item") \
        and len(index.split(":", 1)) == 2 and bool(index.split(":", 1)[1])
