"""Reading a PAR scheme file: the keys it may hold, and the rules between them.

The keys and their types are the schema below (checked by :mod:`sipas.schema`, which words
every unknown, missing or mistyped key the same way); the functions after it check what a
schema cannot: maxima that add up, unique codes, survey sub-criteria with an index, bands
and groups in order.

Examples
--------
>>> s = load_scheme("example")
>>> s.total, [a.code for a in s.areas]
(100.0, ['A1', 'A2', 'A3'])
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from sipas._validate import message
from sipas.errors import SpecError
from sipas.par.scheme.model import SOURCES, Area, Criterion, Scheme, SubCriterion
from sipas.schema import (
    FLOAT,
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

__all__ = ["SCHEME", "load_scheme", "parse_scheme"]

LABEL = Either(STR, TableOf(STR), what='a string or { vi = "...", en = "..." }')
BANDS = "[[threshold, fraction], ...] (pairs of numbers, highest threshold first)"
SUBCRITERION = Table({
    "code": Key(STR, default=""), "label": LABEL, "max": Key(FLOAT, required=True),
    "source": Key(Choice(*SOURCES), required=True), "index": STR,
    "rule": Key(Choice("linear", "bands"), default="linear"),
    "bands": Key(ListOf(ListOf(FLOAT), what=BANDS), default=[]),
    "transform": Key(Choice("none", "pct_of_max", "pct_of_range"), default="none"),
    "scale_max": Key(FLOAT, default=5.0), "scale_min": Key(FLOAT, default=1.0),
})
CRITERION = Table({"code": Key(STR, default=""), "label": LABEL, "max": Key(FLOAT, required=True),
                   "note": Key(STR, default=""),
                   "subcriteria": Key(ListOf(SUBCRITERION), required=True)})
AREA = Table({"code": Key(STR, default=""), "label": LABEL, "max": Key(FLOAT, required=True),
              "note": Key(STR, default=""), "criteria": Key(ListOf(CRITERION), required=True)})
#: every key a scheme file may hold (docs/par.md documents them)
SCHEME = Table({
    "scheme": Key(Table({
        "name": Key(STR, required=True), "title": LABEL, "total": Key(FLOAT, required=True),
        "status": Key(STR, default=""),
        "groups": Key(ListOf(Table({"name": Key(STR, required=True),
                                    "min": Key(FLOAT, required=True)})), default=[]),
    }), required=True),
    "areas": Key(ListOf(AREA), required=True),
})


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
    data, _ = read_toml(path, "PAR scheme")
    return parse_scheme(data, source=str(path))


def parse_scheme(data: Mapping[str, Any], source: str | None = None) -> Scheme:
    """Validate a scheme given as a mapping (see :mod:`sipas.par.scheme`).

    Parameters
    ----------
    data : mapping
        ``{"scheme": {...}, "areas": [...]}`` as parsed TOML.
    source : str, optional
        Where it came from (named in messages; ``PAR scheme`` without it).

    Returns
    -------
    Scheme

    Raises
    ------
    SpecError
        An unknown key (with the allowed key it most resembles), a missing required key or a
        wrong type; no areas, criteria or sub-criteria; maxima that do not add up
        (sub-criteria to criterion, criteria to area, areas to total); a duplicate
        sub-criterion code; a survey sub-criterion without a valid ``index``; bad bands,
        groups or scale bounds. The message names the file and the entry.

    Examples
    --------
    >>> sub = {"code": "A1.1.1", "max": 10, "source": "citizen_survey", "index": "overall"}
    >>> s = parse_scheme({"scheme": {"name": "tiny", "total": 10},
    ...                   "areas": [{"code": "A1", "max": 10, "criteria": [
    ...                       {"code": "A1.1", "max": 10, "subcriteria": [sub]}]}]})
    >>> s.total, s.subcriteria[0].index
    (10.0, 'overall')
    """
    doc = Doc(source or "PAR scheme", data)
    scheme = validate(SCHEME, doc)
    head = scheme["scheme"]
    total = _number(doc, ("scheme",), head, "total")
    groups = _groups(doc, head["groups"])
    if not scheme["areas"]:
        raise doc.fail(("areas",), "no entries; a scheme needs at least one area.")
    areas = tuple(_area(doc, i, raw) for i, raw in enumerate(scheme["areas"]))
    codes = [s.code for a in areas for c in a.criteria for s in c.subcriteria]
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise doc.fail((), f"sub-criterion code(s) {dup} are used twice.")
    _check_sum(doc, ("scheme",), total, [a.max for a in areas], "the areas' maxima",
               "the total")
    return Scheme(name=head["name"], title=_labels(head.get("title")), total=total,
                  areas=areas, groups=groups, status=head["status"], source=source)


def _number(doc: Doc, path: KeyPath, table: Mapping[str, Any], key: str) -> float:
    value = table[key]
    if not math.isfinite(value) or value < 0:
        raise doc.fail(path, message(key, "a non-negative number", value))
    return float(value)


def _groups(doc: Doc, raw: list[dict[str, Any]]) -> tuple[tuple[str, float], ...]:
    """``groups = [{ name = "A", min = 90 }, ...]`` from the highest minimum down."""
    groups = tuple((g["name"], _number(doc, ("scheme", "groups", i), g, "min"))
                   for i, g in enumerate(raw))
    if any(b[1] > a[1] for a, b in itertools.pairwise(groups)):
        raise doc.fail(("scheme",), message("groups", "listed from the highest minimum down",
                                            [m for _, m in groups]))
    return groups


def _labels(value: str | Mapping[str, str] | None) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {"vi": value, "en": value}
    return dict(value)


def _check_sum(doc: Doc, path: KeyPath, expected: float, parts: list[float], what: str,
               whole: str) -> None:
    got = sum(parts)
    if abs(got - expected) > 1e-6 * max(1.0, expected):
        raise doc.fail(path, f"{what} add up to {got:g}, not {expected:g} ({whole}). Fix the "
                             "maxima so that the parts sum to the whole.")


def _area(doc: Doc, i: int, raw: Mapping[str, Any]) -> Area:
    path = ("areas", i)
    if not raw["criteria"]:
        raise doc.fail(path, "no [[areas.criteria]].")
    crits = tuple(_criterion(doc, (*path, "criteria", j), c, raw["code"])
                  for j, c in enumerate(raw["criteria"]))
    area_max = _number(doc, path, raw, "max")
    _check_sum(doc, path, area_max, [c.max for c in crits], "the criteria maxima",
               f"area max {area_max:g}")
    return Area(raw["code"], _labels(raw.get("label")), area_max, crits, raw["note"])


def _criterion(doc: Doc, path: KeyPath, raw: Mapping[str, Any], area: str) -> Criterion:
    if not raw["subcriteria"]:
        raise doc.fail(path, "no [[areas.criteria.subcriteria]].")
    subs = tuple(_sub(doc, (*path, "subcriteria", k), s, area, raw["code"])
                 for k, s in enumerate(raw["subcriteria"]))
    cmax = _number(doc, path, raw, "max")
    _check_sum(doc, path, cmax, [s.max for s in subs], "the sub-criteria maxima",
               f"criterion max {cmax:g}")
    return Criterion(raw["code"], _labels(raw.get("label")), cmax, subs)


def _sub(doc: Doc, path: KeyPath, raw: Mapping[str, Any], area: str, crit: str) -> SubCriterion:
    index = raw.get("index")
    if raw["source"] != "appraisal" and not _valid_index(index):
        raise doc.fail(path, message("index", "\"factor:<name>\", \"item:<name>\" or \"overall\"",
                                     index, "A survey sub-criterion names the index its value "
                                            "comes from, e.g. index = \"factor:access\"."))
    bands = _bands(doc, path, raw["bands"])
    if raw["rule"] == "bands" and (not bands or any(not 0 <= f <= 1 for _, f in bands)):
        raise doc.fail(path, "rule = 'bands' needs bands = [[threshold, fraction], ...] with "
                             "fractions in [0, 1], highest threshold first.")
    scale_min, scale_max = raw["scale_min"], raw["scale_max"]
    if not (math.isfinite(scale_min) and math.isfinite(scale_max) and scale_min < scale_max):
        raise doc.fail(path, message("scale_min and scale_max",
                                     "two numbers with scale_min < scale_max",
                                     (scale_min, scale_max)))
    return SubCriterion(code=raw["code"], label=_labels(raw.get("label")),
                        max=_number(doc, path, raw, "max"), source=raw["source"], index=index,
                        rule=raw["rule"], bands=bands, transform=raw["transform"],
                        scale_max=float(scale_max), scale_min=float(scale_min), area=area,
                        criterion=crit)


def _bands(doc: Doc, path: KeyPath, value: list[list[float]]) -> tuple[tuple[float, float], ...]:
    """``[[threshold, fraction], ...]`` with thresholds from the highest down."""
    if not all(len(b) == 2 and all(math.isfinite(x) for x in b) for b in value):
        raise doc.fail(path, message("bands", BANDS, value))
    bands = tuple((float(t), float(f)) for t, f in value)
    if any(b[0] >= a[0] for a, b in itertools.pairwise(bands)):
        raise doc.fail(path, message("bands", "listed from the highest threshold down", value,
                                     "The first threshold a value reaches gives its points; "
                                     f"got thresholds {[t for t, _ in bands]}."))
    return bands


def _valid_index(index: Any) -> bool:
    if index == "overall":
        return True
    kind, _, name = index.partition(":") if isinstance(index, str) else ("", "", "")
    return kind in ("factor", "item") and bool(name)
