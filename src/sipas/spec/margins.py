"""Population margins of a spec (``[[margins]]``): inline targets or a CSV file beside the spec.

Examples
--------
>>> import sipas
>>> m = sipas.load_spec("demo").margin("age_group")
>>> m.variables, m.source.endswith(".csv")
(('age_group',), True)
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sipas._validate import did_you_mean, message
from sipas.schema import FLOAT, NAME, Doc, Either, Key, ListOf, Table, TableOf, resolve_path
from sipas.spec.model import Margin

__all__ = ["MARGIN", "margin"]

#: the keys of one ``[[margins]]`` entry
MARGIN = Table({
    "name": NAME,
    "variables": Key(Either(NAME, ListOf(NAME), what="a list of column names"), required=True,
                     hint="Name the column(s) of the margin."),
    "targets": TableOf(FLOAT, what='a table such as {"1" = 4821, "2" = 5012}'),
    "file": NAME,
})


def margin(doc: Doc, index: int, raw: Mapping[str, Any], base: Path, *,
           root: Path | None = None, allow_absolute: bool = False) -> Margin:
    """The margin of ``[[margins]]`` entry ``index`` (validated against :data:`MARGIN`).

    Parameters
    ----------
    doc : Doc
        The spec (named in messages).
    index : int
        Position of the entry in ``[[margins]]``.
    raw : mapping
        The entry, checked against :data:`MARGIN`.
    base : Path
        Folder that a relative ``file`` starts at (the spec's).
    root : Path, optional
        Folder the file must stay in (default ``base``), unless ``allow_absolute``.
    allow_absolute : bool
        Accept an absolute ``file``, or one outside ``root``
        (``[pipeline] allow_absolute_paths``).

    Returns
    -------
    Margin

    Raises
    ------
    SpecError
        No variables; both or neither of ``targets`` and ``file``; a target key that does not
        give one code per variable; a cell twice; a target that is not a positive finite
        number; a margin file that is missing, not UTF-8, without the variables and
        ``population`` columns, or with a bad row (the message gives its line).

    Examples
    --------
    >>> m = margin(Doc("spec"), 0, {"variables": ["sex"], "targets": {"1": 48, "2": 52}},
    ...            Path.cwd())
    >>> m.name, m.targets
    ('sex', {(1,): 48.0, (2,): 52.0})
    """
    path = ("margins", index)
    variables = (raw["variables"],) if isinstance(raw["variables"], str) \
        else tuple(raw["variables"])
    if not variables:
        raise doc.fail(path, message("variables", "at least one column name", [],
                                     "Name the column(s) of the margin."))
    name = raw.get("name", "*".join(variables))
    where = doc.where(path)
    if ("targets" in raw) == ("file" in raw):
        raise doc.fail(path, "give exactly one of targets = {...} (inline) or file = "
                             "\"margins.csv\" (columns: the variables and 'population').")
    if "targets" in raw:
        targets = _inline_targets(doc, path, raw["targets"], variables)
        source = "inline"
    else:
        # one path rule: relative to the spec file that names it, inside root (an absolute
        # path such as /etc/passwd is never opened, so its content is never shown)
        file = resolve_path(doc, path, raw["file"], base=base, root=root,
                            allow_absolute=allow_absolute, what="margin file",
                            folder="the spec's folder" if root is None else "its job's folder",
                            escape="load the spec with root= a folder holding both (a "
                                   "pipeline passes its own), or set [pipeline] "
                                   "allow_absolute_paths = true")
        targets = _csv_targets(doc, where, file, variables)
        source = str(file)
    bad = {k: v for k, v in targets.items() if not 0 < v < math.inf}
    if bad:
        raise doc.fail(path, message("population targets", "positive finite numbers", bad))
    return Margin(name=name, variables=variables, targets=targets, source=source)


def _parse_code(text: str) -> Any:
    """Codes are written as TOML keys or CSV cells (text); keep numbers numeric."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _inline_targets(doc: Doc, path: tuple[str | int, ...], raw: Mapping[str, float],
                    variables: tuple[str, ...]) -> dict[tuple, float]:
    if not raw:
        raise doc.fail(path, message("targets", 'a table such as {"1" = 4821, "2" = 5012}', raw))
    out: dict[tuple, float] = {}
    for key, value in raw.items():
        parts = tuple(_parse_code(p) for p in str(key).split(","))
        if len(parts) != len(variables) or "" in parts:
            raise doc.fail(path, f"target key {key!r} must name one code per variable "
                                 f"{list(variables)}, separated by commas (e.g. \"1,2\").")
        if parts in out:
            raise doc.fail(path, f"targets name cell {parts} twice. Each cell appears once.")
        out[parts] = float(value)
    return out


def _csv_targets(doc: Doc, where: str, path: Path,
                 variables: tuple[str, ...]) -> dict[tuple, float]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise doc.error(f"{where}: margin file {str(path)!r} must be UTF-8 text; got byte "
                        f"{exc.object[exc.start:exc.start + 1]!r}. Save it as UTF-8.") from None
    header = [h.strip() for h in rows[0]] if rows else []
    need = [*variables, "population"]
    lacks = [c for c in need if c not in header]
    if lacks:  # the header's cells are not shown: the file may not be a margin file at all
        raise doc.error(f"{where}: margin file {str(path)!r}: the header must name the "
                        f"columns {need}; it lacks {lacks} (its first line has "
                        f"{len(header)} cell(s)).{did_you_mean(lacks, header)}")
    if len(rows) < 2:
        raise doc.error(f"{where}: margin file {str(path)!r} has no data rows.")
    out: dict[tuple, float] = {}
    for lineno, cells in enumerate(rows[1:], start=2):
        here = f"{where}: margin file {str(path)!r} line {lineno}"
        key, value = _margin_row(doc, here, cells, header, variables)
        if key in out:
            raise doc.error(f"{here}: cell {key} appears twice. Each cell of the margin "
                            "appears once.")
        out[key] = value
    return out


def _margin_row(doc: Doc, here: str, cells: list[str], header: list[str],
                variables: tuple[str, ...]) -> tuple[tuple, float]:
    if len(cells) != len(header):
        raise doc.error(f"{here}: " + message("the row", f"{len(header)} cells like the header",
                                              cells))
    row = dict(zip(header, cells))
    key = tuple(_parse_code(row[v]) for v in variables)
    if "" in key:
        raise doc.error(f"{here}: " + message("every code", "non-empty", cells))
    text = row["population"].strip()
    try:
        value = float(text)
    except ValueError:
        raise doc.error(f"{here}: " + message("population", "a number", text,
                                              "Write plain numbers such as 40103 (no "
                                              "thousands separators).")) from None
    return key, value
