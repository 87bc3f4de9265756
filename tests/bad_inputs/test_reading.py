"""Bad inputs to read_survey: corrupt, truncated, mis-encoded, mis-shaped and mis-typed files.

Every file is written at run time in the test's temporary folder (pyreadstat, pandas,
pyarrow, openpyxl) and then damaged; see ``bad_inputs/catalogue.py`` for the checks.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import sipas
from bad_inputs.catalogue import Case, check, params
from sipas.errors import ReadError
from sipas.spec import parse_spec

SPEC = {
    "survey": {"name": "t", "respondent_id": "id"},
    "scales": {"s5": {"min": 1, "max": 5, "satisfied": [4, 5]}},
    "missing": {"dont_know": [8], "not_applicable": [9]},
    "items": [{"name": "q1", "scale": "s5"}, {"name": "q2", "scale": "s5"}],
    "factors": [{"name": "f", "items": ["q1", "q2"]}],
    "design": {"strata": "stratum", "weights": "w"},
}
FRAME = pd.DataFrame({"id": [101, 102, 103, 104], "stratum": [1, 1, 2, 2],
                      "w": [10.0, 10.0, 20.5, 20.5], "q1": [5.0, 4.0, 8.0, 2.0],
                      "q2": [1.0, 9.0, 3.0, 4.0]})
HEADER = "id,stratum,w,q1,q2\n"
WIDE = 100_000


def read(path: Path, spec: bool = True, **kwargs):
    return sipas.read_survey(path, parse_spec(SPEC) if spec else None, **kwargs)


def text(tmp: Path, name: str, content: str, encoding: str = "utf-8") -> Path:
    return raw(tmp, name, content.encode(encoding))


def raw(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def xlsx(tmp: Path, name: str, frame: pd.DataFrame) -> Path:
    frame.to_excel(tmp / name, index=False)
    return tmp / name


def _nested(tmp: Path) -> Path:
    path = tmp / "nested.parquet"
    FRAME.assign(s=[{"a": i} for i in range(len(FRAME))]).to_parquet(path)
    return path


def whole(tmp: Path, fmt: str, frame: pd.DataFrame = FRAME) -> Path:
    """A valid file of the format, written by the library users export with."""
    path = tmp / f"whole.{fmt}"
    if fmt == "sav":
        pyreadstat.write_sav(frame, str(path))
    elif fmt == "dta":
        pyreadstat.write_dta(frame, str(path))
    elif fmt == "xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_parquet(path)
    return path


def cut(tmp: Path, fmt: str) -> Path:
    """The first third of a valid file: a transfer that stopped half-way."""
    data = whole(tmp, fmt).read_bytes()
    path = tmp / f"cut.{fmt}"
    path.write_bytes(data[: len(data) // 3])
    return path


def read_cut(fmt: str):
    return lambda tmp: read(cut(tmp, fmt), spec=False)


def frame_with(**columns) -> pd.DataFrame:
    return FRAME.assign(**columns)


def wide_csv(tmp: Path, with_spec_columns: bool) -> Path:
    """One data row and 100,000 columns (plus the spec's columns when asked)."""
    names = [f"c{i}" for i in range(WIDE)]
    values = ["1"] * WIDE
    if with_spec_columns:
        names = ["id", "stratum", "w", "q1", "q2", *names]
        values = ["101", "1", "10", "4", "5", *values]
    path = tmp / "wide.csv"
    path.write_text(",".join(names) + "\n" + ",".join(values) + "\n", encoding="utf-8")
    return path


def wide_works(tmp: Path) -> str:
    start = time.monotonic()
    sd = read(wide_csv(tmp, with_spec_columns=True))
    assert sd.frame.shape == (1, WIDE + 5)
    assert sd.frame["q1"].tolist() == [4.0]
    assert sd.frame.iloc[0, 5:].eq(1).all() and sd.frame["c0"].dtype == np.int8
    assert time.monotonic() - start < 30, "reading 100,000 columns took more than 30 s"
    return f"read: 1 row x {WIDE + 5:,} columns, in well under 30 s"


def wide_without_spec_columns(tmp: Path):
    start = time.monotonic()
    try:
        read(wide_csv(tmp, with_spec_columns=False))
    finally:
        assert time.monotonic() - start < 30, "refusing 100,000 columns took more than 30 s"


def cp1258(text_: str) -> bytes:
    """Vietnamese text as a Windows-1258 file stores it (decomposed tone marks)."""
    import unicodedata

    return unicodedata.normalize("NFD", text_).encode("cp1258")


def user_missing_unknown(tmp: Path):
    path = tmp / "um.sav"
    pyreadstat.write_sav(frame_with(q1=[5.0, 4.0, 6.0, 2.0]), str(path),
                         missing_ranges={"q1": [6]})
    return read(path)


def xlsx_cells(kind: str):
    """A workbook whose q1 cell of row 2 is an error value or an uncalculated formula."""
    def build(tmp: Path):
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(list(FRAME.columns))
        for row in FRAME.itertuples(index=False):
            ws.append(list(row))
        if kind == "error":
            ws["D2"] = "#N/A"
            ws["D2"].data_type = "e"
        else:
            ws["D2"] = "=1+4"
        wb.save(tmp / "cells.xlsx")
        return read(tmp / "cells.xlsx")
    return build


def data_on_second_sheet(tmp: Path):
    with pd.ExcelWriter(tmp / "two.xlsx") as writer:
        pd.DataFrame().to_excel(writer, sheet_name="Notes", index=False)
        FRAME.to_excel(writer, sheet_name="Data", index=False)
    return read(tmp / "two.xlsx")


def nfc_domains(tmp: Path) -> str:
    """District names that differ only by NFD/NFC and a trailing space are one domain."""
    frame = FRAME.assign(district=["Hà Nội", "Ha\u0300 Nội ", "Huế", "Huế"])
    path = tmp / "d.csv"
    frame.to_csv(path, index=False)
    with pytest.warns(UserWarning, match="NFC"):
        sd = read(path)
    assert sd.frame["district"].nunique() == 2
    return "one domain per name: NFC, spaces stripped, with a warning listing the merge"


AREA = "reading"
CASES = [
    Case(AREA, "csv_na_token", "an item cell \"NA\" in a CSV (one rule: only empty is missing)",
         lambda tmp: read(text(tmp, "na.csv", HEADER + "101,1,10,NA,1\n102,1,10,4,9\n")),
         ReadError, ("item column 'q1' must hold numeric codes", "'NA'")),
    Case(AREA, "csv_dash_token", "an item cell \"-\" in a CSV",
         lambda tmp: read(text(tmp, "dash.csv", HEADER + "101,1,10,-,1\n102,1,10,4,9\n")),
         ReadError, ("item column 'q1' must hold numeric codes", "'-'")),
    Case(AREA, "csv_short_row", "a CSV row with fewer fields than the header",
         lambda tmp: read(text(tmp, "short.csv", HEADER + "101,1,10,5\n102,1,10,4,9\n")),
         ReadError, ("fewer fields than the 5 of the header", "line 2: 4 fields")),
    Case(AREA, "xlsx_error_cell", "an Excel #N/A error cell in an item",
         xlsx_cells("error"), ReadError, ("D2=#N/A", "spreadsheet error")),
    Case(AREA, "xlsx_uncached_formula", "an Excel formula never calculated (no cached value)",
         xlsx_cells("formula"), ReadError, ("D2: formula '=1+4' not calculated",)),
    Case(AREA, "xlsx_data_on_sheet_2", "the data on the second sheet, the first one empty",
         data_on_second_sheet, ReadError, ("sheet 0 holds no data rows", "['Notes', 'Data']",
                                           "[input] sheet")),
    Case(AREA, "nfc_domain_values", "domain values differing by NFD/NFC or a trailing space",
         nfc_domains, None),
    Case(AREA, "truncated_sav", "SPSS .sav file cut to a third of its size", read_cut("sav"),
         ReadError, ("cut.sav", "truncated", "export it again")),
    Case(AREA, "truncated_dta", "Stata .dta file cut to a third", read_cut("dta"), ReadError,
         ("cut.dta", "truncated", "export it again")),
    Case(AREA, "truncated_xlsx", "Excel .xlsx workbook cut to a third", read_cut("xlsx"),
         ReadError, ("cut.xlsx", "Excel", "may be corrupt", "save as .xlsx")),
    Case(AREA, "truncated_parquet", "Parquet file cut to a third", read_cut("parquet"),
         ReadError, ("cut.parquet", "truncated", "write it again")),
    Case(AREA, "csv_named_xlsx", "a CSV file renamed to .xlsx",
         lambda tmp: read(text(tmp, "fake.xlsx", HEADER + "101,1,10,5,1\n")), ReadError,
         ("fake.xlsx", "Excel", "save as .xlsx")),
    Case(AREA, "csv_cp1258", "CSV saved in Windows-1258 (Vietnamese ANSI), not UTF-8",
         lambda tmp: read(raw(tmp, "cp.csv", b"id,tinh\n1," + cp1258("Cà Mau") + b"\n"),
                          spec=False), ReadError,
         ("cp.csv", "not UTF-8", "line 2", "CSV UTF-8", "iconv -f CP1258")),
    Case(AREA, "csv_latin1", "CSV saved in Latin-1",
         lambda tmp: read(text(tmp, "lat.csv", "id,city\n1,Zürich\n", "latin-1"), spec=False),
         ReadError, ("lat.csv", "not UTF-8", "line 2")),
    Case(AREA, "csv_cut_in_character", "UTF-8 CSV that ends in the middle of a character",
         lambda tmp: read(raw(tmp, "t.csv", "id,tinh\n1,Hà Nội\n".encode()[:-3]), spec=False),
         ReadError,
         ("t.csv", "middle of a UTF-8 character", "truncated")),
    Case(AREA, "duplicate_columns_csv", "two columns called q1 in a CSV",
         lambda tmp: read(text(tmp, "d.csv", "id,q1,q1\n1,4,5\n"), spec=False), ReadError,
         ("d.csv", "column names must be unique; got ['q1']", "Rename")),
    Case(AREA, "duplicate_columns_xlsx", "two columns called q1 in a workbook",
         lambda tmp: read(xlsx(tmp, "d.xlsx", pd.DataFrame([[1, 4, 5]],
                                                           columns=["id", "q1", "q1"])),
                          spec=False), ReadError, ("d.xlsx", "unique; got ['q1']")),
    Case(AREA, "empty_csv", "empty CSV (0 bytes)", lambda tmp: read(text(tmp, "e.csv", "")),
         ReadError, ("e.csv", "is empty", "Export the data again")),
    Case(AREA, "empty_sav", "empty .sav (0 bytes)", lambda tmp: read(text(tmp, "e.sav", "")),
         ReadError, ("e.sav", "Cannot read", "export it again")),
    Case(AREA, "header_only_csv", "CSV with a header and no rows",
         lambda tmp: read(text(tmp, "h.csv", HEADER)), ReadError,
         ("h.csv", "no data rows (0 respondents)")),
    Case(AREA, "header_only_parquet", "Parquet file with columns and no rows",
         lambda tmp: read(whole(tmp, "parquet", FRAME.iloc[:0])), ReadError,
         ("whole.parquet", "no data rows")),
    Case(AREA, "wide_100k_columns", "CSV with 100,000 columns besides the spec's", wide_works,
         None, seconds=90),
    Case(AREA, "wide_100k_columns_no_id", "CSV with 100,000 columns and none of the spec's",
         wide_without_spec_columns, ReadError,
         ("respondent id column(s) ['id']", "'c0'", "and 99985 more", "Rename the columns"),
         seconds=90),
    Case(AREA, "decimal_comma_weight", "weight written with a decimal comma (\"1,5\")",
         lambda tmp: read(text(tmp, "c.csv", HEADER + '101,1,"1,5",5,1\n')), ReadError,
         ("design column 'w'", "data row 1 (id '101'): '1,5'", "decimal comma",
          "decimal point")),
    Case(AREA, "decimal_comma_item", "answer code written as \"4,5\"",
         lambda tmp: read(text(tmp, "c.csv", HEADER + '101,1,10,"4,5",1\n')), ReadError,
         ("item column 'q1'", "'4,5'", "never guesses the decimal separator")),
    Case(AREA, "vietnamese_text_in_item", "answer labels (\"Hài lòng\") instead of codes",
         lambda tmp: read(text(tmp, "v.csv", HEADER + "101,1,10,Hài lòng,1\n102,1,10,4,2\n")),
         ReadError, ("item column 'q1'", "'Hài lòng'", "Recode text answers to their numeric "
                     "codes")),
    Case(AREA, "dates_in_item_xlsx", "Excel turned the codes of q1 into dates",
         lambda tmp: read(whole(tmp, "xlsx", frame_with(
             q1=pd.to_datetime(["2020-01-01"] * 4)))), ReadError,
         ("item column 'q1'", "datetime64", "Export the codes")),
    Case(AREA, "dates_in_item_csv", "dates as text where answer codes belong",
         lambda tmp: read(text(tmp, "d.csv", HEADER + "101,1,10,2020-01-15,1\n")), ReadError,
         ("item column 'q1'", "'2020-01-15'", "These are dates, not codes")),
    Case(AREA, "booleans_in_item", "True/False in an item column (Parquet)",
         lambda tmp: read(whole(tmp, "parquet", frame_with(q1=[True, False, True, True]))),
         ReadError, ("item column 'q1'", "bool", "Export the codes")),
    Case(AREA, "text_in_weight", "a word in the weight column of a workbook",
         lambda tmp: read(whole(tmp, "xlsx", frame_with(w=["10", "10", "x", "20"]))),
         ReadError, ("design column 'w'", "data row 3 (id 103): 'x'",
                     "A design column holds numbers")),
    Case(AREA, "unsupported_extension", "an old Excel .xls file",
         lambda tmp: read(text(tmp, "data.xls", "x")), ReadError,
         ("data.xls", "the extension must be one of", "got '.xls'", "Export the data")),
    Case(AREA, "missing_file", "a file that does not exist",
         lambda tmp: read(tmp / "nope.sav"), ReadError,
         ("nope.sav", "does not exist", "Check the path")),
    Case(AREA, "directory", "a folder instead of a file",
         lambda tmp: read(tmp), ReadError, ("path must be a file", "It is a folder")),
    Case(AREA, "semicolon_csv", "CSV separated by semicolons (European Excel)",
         lambda tmp: read(text(tmp, "s.csv", HEADER.replace(",", ";") + "101;1;10,5;5;1\n")),
         ReadError, ("s.csv", "the delimiter must be a comma; got ';'", "CSV UTF-8")),
    Case(AREA, "more_fields_than_header", "every data line ends with a delimiter",
         lambda tmp: read(text(tmp, "t.csv", HEADER + "101,1,10,5,1,\n102,1,10,4,2,\n")),
         ReadError, ("t.csv", "line 2 has 6 fields but the header has 5",
                     "a delimiter at the end of each data line", "shifted")),
    Case(AREA, "unclosed_quote", "a quote that is never closed",
         lambda tmp: read(text(tmp, "q.csv", HEADER + '101,1,10,"5,1\n102,1,10,4,2\n')),
         ReadError, ("q.csv", "Cannot parse", "quoting")),
    Case(AREA, "code_outside_scale", "answer 6 on a 1-5 scale",
         lambda tmp: read(whole(tmp, "parquet", frame_with(q1=[5.0, 6.0, 8.0, 2.0]))),
         ReadError, ("1 answer(s) are neither a valid code nor a declared missing code",
                     "data row 2 (id 102): q1=6", "[missing]")),
    Case(AREA, "duplicate_ids", "two respondents with the same id",
         lambda tmp: read(whole(tmp, "parquet", frame_with(id=[101, 101, 103, 104]))),
         ReadError, ("respondent id column 'id'", "101 in data rows [1, 2]",
                     "Each respondent must appear once")),
    Case(AREA, "missing_item_column", "an item of the spec is not in the file",
         lambda tmp: read(whole(tmp, "parquet", FRAME.drop(columns="q2"))), ReadError,
         ("item column(s) ['q2']", "named by spec 't'", "Rename the columns or fix the spec")),
    Case(AREA, "missing_sheet", "a sheet name that is not in the workbook",
         lambda tmp: read(whole(tmp, "xlsx"), sheet="Daten"), ReadError,
         ("whole.xlsx", "sheet must be a sheet of the workbook; got 'Daten'")),
    Case(AREA, "user_missing_unknown_to_spec", "SPSS declares 6 missing; the spec does not",
         user_missing_unknown, ReadError,
         ("item 'q1'", "declares code 6 as user-missing", "no missing kind",
          "dont_know = [6]")),
    Case(AREA, "parquet_nested_column", "a Parquet column of structs (one dict per cell)",
         lambda tmp: read(_nested(tmp), spec=False), ReadError,
         ("nested.parquet", "column(s) ['s (struct)'] hold nested values",
          "one value per cell", "Flatten them")),
    Case(AREA, "spec_column_other_case", "the file has Q 2 where the spec names q2",
         lambda tmp: read(whole(tmp, "parquet", FRAME.rename(columns={"q2": "Q 2"}))),
         ReadError, ("item column(s) ['q2']", "Did you mean 'Q 2' (for 'q2')?")),
    Case(AREA, "not_a_path", "a number instead of a path",
         lambda tmp: sipas.read_survey(42), ReadError,
         ("path must be a file path (str or Path); got 'int'",)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case, tmp_path):
    check(case, tmp_path)

