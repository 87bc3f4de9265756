"""Names of the values of domain columns: ``[domains.labels.<column>]`` in the spec.

A domain column holds codes (district 6, urban 1); reports show names ("Hòa An", "Thành
thị"). The names come from the spec, in Vietnamese and English, or else from the value labels
of the ``.sav`` file. In the spec, keys are the codes as text::

    [domains.labels.district]
    1 = "Thành phố Cao Bằng"
    6 = { vi = "Hòa An", en = "Hoa An" }

Codes that look like numbers are read as numbers, so they match numeric data columns.

Examples
--------
>>> labels = parse_domain_labels({"district": {"6": {"vi": "Hòa An", "en": "Hoa An"}}})
>>> domain_label(labels, "district", 6.0, "en"), domain_label(labels, "district", 7, "vi")
('Hoa An', 7)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from sipas._validate import plain
from sipas.errors import ReadError
from sipas.spec.margins import _parse_code as _code

__all__ = ["DomainLabels", "check_domain_labels", "domain_label", "parse_domain_labels"]

#: column -> code -> language -> label
DomainLabels = Mapping[str, Mapping[Any, Mapping[str, str]]]


def parse_domain_labels(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[Any, dict]]:
    """The spec's ``[domains.labels]`` table, codes as numbers and every label in vi and en.

    A label given as one string is used for both languages; a ``{vi, en}`` table missing one
    language falls back to the other.

    Examples
    --------
    >>> parse_domain_labels({"urban": {"1": "Thành thị"}})
    {'urban': {1: {'vi': 'Thành thị', 'en': 'Thành thị'}}}
    """
    out: dict[str, dict[Any, dict]] = {}
    for column, values in raw.items():
        out[column] = {}
        for key, label in values.items():
            if isinstance(label, str):
                pair = {"vi": label, "en": label}
            else:
                vi, en = label.get("vi"), label.get("en")
                pair = {"vi": vi or en or "", "en": en or vi or ""}
            out[column][_code(str(key))] = pair
    return out


def domain_label(labels: DomainLabels, column: str, value: Any, lang: str) -> Any:
    """The name of ``value`` of ``column`` in ``lang``; the value itself if it has none.

    Examples
    --------
    >>> domain_label({"sex": {1: {"vi": "Nam", "en": "Male"}}}, "sex", "1.0", "vi")
    'Nam'
    """
    names = labels.get(column, {})
    for candidate in (value, plain(value), _code(str(value))):
        try:
            if candidate in names:
                return names[candidate].get(lang) or next(iter(names[candidate].values()))
        except TypeError:  # unhashable values have no label
            return value
    return value


def check_domain_labels(frame: pd.DataFrame, labels: DomainLabels, where: str) -> None:
    """Every labelled column exists and every labelled value occurs in it.

    Raises
    ------
    ReadError
        Names the column and the values that do not occur, with the values that do.

    Examples
    --------
    >>> frame = pd.DataFrame({"urban": [1, 2, 1]})
    >>> try:
    ...     check_domain_labels(frame, {"urban": {1: {}, 3: {}}}, "demo.sav")
    ... except ReadError as exc:
    ...     print(str(exc)[:76])
    demo.sav: [domains.labels.urban] names value(s) [3] that do not occur in col
    """
    for column, names in labels.items():
        if column not in frame.columns:
            raise ReadError(f"{where}: [domains.labels.{column}] labels a column that is not in "
                            f"the data. Remove the table or correct the column name.")
        present = {plain(v) for v in pd.unique(frame[column].dropna())}
        as_text = {str(v) for v in present}
        absent = [plain(c) for c in names if plain(c) not in present and str(c) not in as_text]
        if absent:
            shown = sorted(present, key=str)[:20]
            raise ReadError(
                f"{where}: [domains.labels.{column}] names value(s) {absent} that do not occur "
                f"in column {column!r} (values present: {shown}). Remove those labels or "
                "correct the codes.")
