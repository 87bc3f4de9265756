"""The Excel workbook: one sheet per publication table and a ``notes`` sheet.

Every sheet has its title in row 1, the data notice in row 2 and the header in row 3, frozen
below the header, with an autofilter and column widths that fit Vietnamese labels (long
labels wrap). Numbers keep their value and get a number format (``0.0%`` for shares with
one decimal), so the analyst can compute with them. Text that a spreadsheet would run as a
formula (``=``, ``+``, ``-``, ``@``) is stored as a text cell with a quote prefix, never as a
formula. The file is written atomically and is byte-for-byte reproducible (no timestamps).

Examples
--------
>>> import tempfile, pathlib, pandas as pd
>>> from sipas.report.tables import TableContext, publication_table
>>> t = pd.DataFrame({"name": ["=1+1"], "estimate": [0.5], "n": [40],
...                   "definition": ["item measure=top_box"]})
>>> path = pathlib.Path(tempfile.mkdtemp()) / "r.xlsx"
>>> _ = write_workbook([publication_table("index_overall", t, TableContext())], path)
>>> import openpyxl
>>> ws = openpyxl.load_workbook(path)["index_overall"]
>>> ws["A4"].value, ws["A4"].data_type, ws["B4"].number_format
('=1+1', 's', '0.0%')
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from sipas.report.disclosure import check_not_microdata
from sipas.report.files import FORMULA_START, atomic_path
from sipas.report.tables import PubTable, number_format

__all__ = ["reproducible_zip", "sheet_names", "write_workbook"]

HEADER_ROW = 3
MAX_WIDTH = 60
HEADER_FILL = PatternFill("solid", fgColor="DDE5F0")
NOTICE_FONT = Font(bold=True, color="C00000")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def sheet_names(names: Iterable[str]) -> list[str]:
    """Valid, unique Excel sheet names (at most 31 characters, no ``[]:*?/\\`` nor control
    characters, not ``History``; compared without case, as Excel does).

    >>> sheet_names(["items_by_a_very_long_domain_column_name", "items_by_a_very_long_domain_"
    ...              "column_name_2", "a/b"])
    ['items_by_a_very_long_domain_col', 'items_by_a_very_long_domain_c~2', 'a_b']
    """
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        text = unicodedata.normalize("NFC", str(name))
        base = re.sub(r"[\[\]:*?/\\\x00-\x1f\x7f]", "_", text).strip("'") or "sheet"
        if base.casefold() == "history":  # reserved by Excel
            base = "history_"
        candidate, k = base[:31], 1
        while candidate.lower() in seen:
            k += 1
            suffix = f"~{k}"
            candidate = base[:31 - len(suffix)] + suffix
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def write_workbook(tables: Sequence[PubTable], path: str | Path, *,
                   notes: Sequence[tuple[str, str]] = (), notice: str = "",
                   notes_header: tuple[str, str] = ("Mục", "Nội dung")) -> Path:
    """Write publication tables to an ``.xlsx`` workbook, atomically.

    Parameters
    ----------
    tables : list of PubTable
        One sheet each, named after the table (see :func:`sheet_names`).
    path : path
        The workbook to write (replaced atomically).
    notes : list of (str, str)
        Rows of the ``notes`` sheet (method, definition, provenance, flag meanings ...).
    notice : str
        Shown in row 2 of every sheet (e.g. the SYNTHETIC DATA notice).
    notes_header : (str, str)
        Headers of the notes sheet.

    Returns
    -------
    Path

    Raises
    ------
    DisclosureError
        If a table is respondent-level.
    """
    for table in tables:
        check_not_microdata(table.frame, table.name)
    wb = Workbook()
    if wb.active is not None:  # a new workbook has one empty sheet
        wb.remove(wb.active)
    wb.properties.creator = "sipas"
    names = sheet_names(["notes", *(t.name for t in tables)])
    if notes:
        _notes_sheet(wb.create_sheet(names[0]), notes, notice, notes_header)
    for name, table in zip(names[1:], tables):
        _table_sheet(wb.create_sheet(name), table, notice)
    buffer = io.BytesIO()
    wb.save(buffer)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(reproducible_zip(buffer.getvalue()))
    return path


def _table_sheet(ws: Worksheet, table: PubTable, notice: str) -> None:
    ws["A1"] = _text(table.title)
    ws["A1"].font = Font(bold=True, size=13)
    if notice:
        _put_text(ws.cell(row=2, column=1), notice)
        ws["A2"].font = NOTICE_FONT
    shown = table.display()
    for j, header in enumerate(table.frame.columns, start=1):
        cell = ws.cell(row=HEADER_ROW, column=j)
        _put_text(cell, str(header))
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.border = Border(bottom=Side(style="thin"))
    kinds = table.kinds.to_numpy()
    for i, row in enumerate(table.frame.itertuples(index=False)):
        for j, value in enumerate(row):
            _put(ws.cell(row=HEADER_ROW + 1 + i, column=j + 1), value, kinds[i, j],
                 table.decimals)
    _widths(ws, [str(h) for h in table.frame.columns], shown)
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1).coordinate
    if len(table.frame.columns):
        last = get_column_letter(len(table.frame.columns))
        ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + max(len(table.frame), 1)}"


def _notes_sheet(ws: Worksheet, notes: Sequence[tuple[str, str]], notice: str,
                 header: tuple[str, str]) -> None:
    ws["A1"] = "sipas"
    ws["A1"].font = Font(bold=True, size=13)
    if notice:
        _put_text(ws["A2"], notice)
        ws["A2"].font = NOTICE_FONT
    for j, text in enumerate(header, start=1):
        cell = ws.cell(row=HEADER_ROW, column=j)
        _put_text(cell, text)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    for i, (key, value) in enumerate(notes, start=HEADER_ROW + 1):
        _put_text(ws.cell(row=i, column=1), str(key))
        _put_text(ws.cell(row=i, column=2), str(value))
        ws.cell(row=i, column=2).alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(row=i, column=1).alignment = Alignment(vertical="top")
    ws.column_dimensions["A"].width = min(max((_len(k) for k, _ in notes), default=10) + 2, 40)
    ws.column_dimensions["B"].width = 100
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1).coordinate


def _put(cell: Any, value: Any, kind: str, decimals: int) -> None:
    """One cell: numbers with their format, text as text (never a formula), blanks empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        _put_text(cell, value)
        return
    if isinstance(value, float) and math.isinf(value):
        _put_text(cell, "∞" if value > 0 else "-∞")
        return
    if isinstance(value, (bool, int, float)):
        cell.value = value
        if not isinstance(value, bool):
            cell.number_format = number_format(kind, decimals)
        return
    _put_text(cell, str(value))


def _put_text(cell: Any, text: str) -> None:
    cell.value = _text(text)
    cell.data_type = "s"
    if cell.value.startswith(FORMULA_START):
        cell.quotePrefix = True


def _text(text: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", unicodedata.normalize("NFC", text))


def _len(text: str) -> int:
    return len(unicodedata.normalize("NFC", str(text)))


def _widths(ws: Worksheet, headers: list[str], shown: Any) -> None:
    """Fit each column to its longest value (the header wraps), at most MAX_WIDTH."""
    for j, header in enumerate(headers, start=1):
        values = [str(v) for v in shown.iloc[:, j - 1]] if len(shown) else []
        longest = max((_len(v) for v in values), default=0)
        word = max((_len(w) for w in header.split()), default=0)
        width = min(max(longest * 1.1, word * 1.1, 8) + 2, MAX_WIDTH)
        ws.column_dimensions[get_column_letter(j)].width = round(width, 1)
        if longest * 1.1 + 2 > MAX_WIDTH:
            for row in ws.iter_rows(min_row=HEADER_ROW + 1, min_col=j, max_col=j):
                row[0].alignment = Alignment(wrap_text=True, vertical="top")


def reproducible_zip(data: bytes) -> bytes:
    """The same Office file (workbook, Word report) with fixed zip timestamps and no
    creation/modification dates."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            content = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>", b"",
                                 content)
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            zout.writestr(entry, content)
    return out.getvalue()
