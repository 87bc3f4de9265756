"""Cells of a data file that must mean what they say.

One rule for text tokens: only an empty cell is a missing answer. ``NA``, ``NULL``, ``nan``,
``#N/A``, ``-`` and ``.`` are all text, so in a numeric column they are errors naming the
cells (:mod:`sipas.io` lists them), never silently missing. Rows with fewer fields than the
header, spreadsheet error cells (``#N/A``, ``#VALUE!``...) and formulas without a cached value
are errors naming the cells. Headers and text values are made Unicode NFC without
surrounding spaces, with a warning naming what changed or was merged.

Examples
--------
>>> import pandas as pd
>>> import warnings
>>> frame = pd.DataFrame({" district ": ["Hà Nội", "Ha\u0300 Nội ", "Huế"]})
>>> with warnings.catch_warnings(record=True) as seen:
...     warnings.simplefilter("always")
...     clean = normalise_text(frame, "survey.csv")
>>> list(clean.columns), clean[" district ".strip()].nunique()
(['district'], 2)
"""

from __future__ import annotations

import csv
import unicodedata
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from sipas.errors import ReadError

__all__ = ["check_short_rows", "check_spreadsheet_cells", "clean_name", "normalise_text"]

_LISTED = 10


def check_short_rows(path: Path, n_fields: int) -> None:
    """Refuse CSV rows with fewer fields than the header (pandas would pad them with
    missing answers). Blank lines are skipped, as the reader does."""
    short: list[tuple[int, int]] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for row in reader:
            if row and len(row) < n_fields:
                short.append((reader.line_num, len(row)))
    if short:
        shown = "; ".join(f"line {line}: {k} fields" for line, k in short[:_LISTED])
        raise ReadError(f"{str(path)!r}: {len(short)} row(s) have fewer fields than the "
                        f"{n_fields} of the header ({shown}). A missing answer is an empty "
                        "field between commas: complete the rows.")


def check_spreadsheet_cells(path: Path, sheet: str | int) -> None:
    """Refuse error cells (``#N/A``, ``#VALUE!``...) and formulas Excel never calculated (no
    cached value: the file was written by a program, not saved by Excel)."""
    from openpyxl import load_workbook

    def sheet_of(book: Any) -> Any:
        return book[sheet] if isinstance(sheet, str) else book.worksheets[sheet]

    formulas = load_workbook(path, read_only=True, data_only=False)
    values = load_workbook(path, read_only=True, data_only=True)
    try:
        bad: list[str] = []
        for raw, shown in zip(sheet_of(formulas).iter_rows(), sheet_of(values).iter_rows()):
            for f, v in zip(raw, shown):
                if v.data_type == "e":
                    bad.append(f"{v.coordinate}={v.value}")
                elif f.data_type == "f" and v.value is None:
                    bad.append(f"{f.coordinate}: formula {str(f.value)[:40]!r} not calculated")
    finally:
        formulas.close()
        values.close()
    if bad:
        raise ReadError(f"{str(path)!r}: {len(bad)} cell(s) hold a spreadsheet error or a "
                        f"formula without a value ({'; '.join(bad[:_LISTED])}). Fix them, or "
                        "open the file in Excel, recalculate and save it; an empty cell is a "
                        "missing answer.")


def normalise_text(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Headers and text cells in Unicode NFC without surrounding spaces; a warning names
    the headers changed and the values merged (two spellings of one domain)."""
    names = [clean_name(c) if isinstance(c, str) else c for c in frame.columns]
    changed = [f"{c!r}->{n!r}" for c, n in zip(frame.columns, names) if c != n]
    dup = sorted((n for n, k in Counter(names).items() if k > 1), key=str)
    if dup:
        raise ReadError(f"{where}: column names {dup} appear twice once written in Unicode NFC "
                        "without surrounding spaces. Rename the duplicated columns.")
    out = frame.set_axis(names, axis=1) if changed else frame
    merged: list[str] = []
    text_columns = [c for c, kind in out.dtypes.items()
                    if pd.api.types.is_object_dtype(kind) or pd.api.types.is_string_dtype(kind)]
    for col in text_columns:
        values = out[col]
        text = values.map(lambda v: _clean(v) if isinstance(v, str) else v)
        moved = values.ne(text) & values.notna()
        if moved.any():
            out = out.assign(**{col: text}) if isinstance(col, str) else out
            pairs = dict(zip(values[moved], text[moved]))
            merged += [f"{col}: {a!r}->{b!r}" for a, b in list(pairs.items())[:3]]
    if changed or merged:
        warnings.warn(f"{where}: written in Unicode NFC without surrounding spaces: "
                      f"{'; '.join((changed + merged)[:_LISTED])}. Values differing only so "
                      "are one domain.", UserWarning, stacklevel=3)
    return out


def clean_name(name: str) -> str:
    """A column name as sipas matches it: Unicode NFC, without surrounding spaces (unless
    nothing else is left).

    >>> clean_name(" Ha\u0300 Nội ") == "Hà Nội", clean_name(" ")
    (True, ' ')
    """
    text = unicodedata.normalize("NFC", name)
    return text.strip() or text


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()
