"""Reading survey microdata (sipas.io.read_survey): every format, every refusal.

All fixtures are written at run time into tmp_path (pyreadstat, pandas, pyarrow, openpyxl);
the expected values are the frames the tests wrote, so the reference is independent of the
reader under test.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sipas
from conftest import examples
from sipas.io import read_survey, validate_frame
from sipas.spec import parse_spec

SPEC = {
    "survey": {"name": "t", "respondent_id": "id"},
    "scales": {"s5": {"min": 1, "max": 5, "satisfied": [4, 5]}},
    "missing": {"refused": [7], "dont_know": [8], "not_applicable": [9]},
    "items": [{"name": "q1", "scale": "s5", "label": {"vi": "Câu 1", "en": "Question 1"}},
              {"name": "q2", "scale": "s5"}],
    "factors": [{"name": "f", "items": ["q1", "q2"]}],
    "design": {"strata": "stratum", "weights": "w"},
    "domains": {"columns": ["sex"]},
}

#: six respondents: q1 has a refusal (7), "don't know" (8), "not applicable" (9), an empty cell
FRAME = pd.DataFrame({
    "id": [101.0, 102, 103, 104, 105, 106],
    "stratum": [1.0, 1, 1, 2, 2, 2],
    "w": [10.0, 10, 10, 20.5, 20.5, 20.5],
    "sex": [1.0, 2, 1, 2, 1, 2],
    "q1": [5.0, 8, 9, 4, np.nan, 7],
    "q2": [1.0, 2, 3, 4, 5, 9],
})
CSV_TEXT = ("id,stratum,w,sex,q1,q2\n101,1,10,1,5,1\n102,1,10,2,8,2\n103,1,10,1,9,3\n"
            "104,2,20.5,2,4,4\n105,2,20.5,1,,5\n106,2,20.5,2,7,9\n")


@pytest.fixture
def spec():
    return parse_spec(SPEC)


def write_csv(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def write_sav(path, frame=FRAME, missing=None, **kwargs):
    """A .sav as SPSS users get it: labels, and 8 (not 9) declared user-missing in q1."""
    pyreadstat.write_sav(
        frame, str(path),
        column_labels={"id": "Mã người trả lời", "q1": "Câu 1: hài lòng chung", "sex": "Giới tính"},
        variable_value_labels={"q1": {1: "Rất không hài lòng", 5: "Rất hài lòng",
                                      8: "Không biết", 9: "Không biết / Không áp dụng"},
                               "sex": {1: "Nam", 2: "Nữ"}},
        missing_ranges={"q1": [8]} if missing is None else missing, **kwargs)
    return path


def reason(path, spec=None, **kwargs):
    """The ReadError message of read_survey(path, spec)."""
    with pytest.raises(sipas.ReadError) as info:
        read_survey(path, spec, **kwargs)
    return str(info.value)


def fingerprint(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns


# --------------------------------------------------------------------------- formats

def test_sav_keeps_labels_and_applies_missing_codes_by_kind(tmp_path, spec):
    sd = read_survey(write_sav(tmp_path / "s.sav"), spec)
    assert sd.meta.format == "sav"
    assert sd.meta.variable_labels["q1"] == "Câu 1: hài lòng chung"
    assert sd.meta.value_labels["q1"][9] == "Không biết / Không áp dụng"
    assert sd.meta.value_labels["sex"] == {1: "Nam", 2: "Nữ"}
    assert sd.meta.file_missing == {"q1": (8.0,)}
    # 8 is declared in the file; 7 and 9 only through the spec (9 is a mere value label)
    assert sd.frame["q1"].isna().tolist() == [False, True, True, False, True, True]
    assert sd.frame["q2"].isna().tolist() == [False, False, False, False, False, True]
    assert sd.meta.missing_counts["q1"] == {"refused": 1, "dont_know": 1, "not_applicable": 1,
                                            "system": 1}
    assert sd.meta.missing_counts["q2"] == {"not_applicable": 1}
    assert sd.missing["q1"].tolist() == [np.nan, "dont_know", "not_applicable", np.nan,
                                         "system", "refused"]
    assert list(sd.missing["q1"].cat.categories) == ["dont_know", "not_applicable",
                                                     "refused", "not_asked", "system"]


def test_sav_without_spec_applies_only_the_files_missing_declarations(tmp_path):
    sd = read_survey(write_sav(tmp_path / "s.sav"))
    assert sd.spec is None
    assert sd.missing.empty
    assert sd.frame["q1"].isna().tolist() == [False, True, False, False, True, False]
    assert sd.frame["q1"].tolist()[2] == 9.0  # a value label only: kept without a spec
    assert sd.meta.missing_counts == {"q1": {"user_missing": 1}}


def test_sav_declared_missing_in_a_non_item_column_becomes_na(tmp_path, spec):
    frame = FRAME.assign(sex=[1.0, 2, 9, 2, 1, 2])
    sd = read_survey(write_sav(tmp_path / "s.sav", frame, missing={"q1": [8], "sex": [9]}), spec)
    assert sd.frame["sex"].isna().tolist() == [False, False, True, False, False, False]
    assert sd.meta.missing_counts["sex"] == {"user_missing": 1}


def test_sav_missing_range_is_honoured(tmp_path, spec):
    path = write_sav(tmp_path / "s.sav", missing={"q1": [{"lo": 7, "hi": 9}]})
    sd = read_survey(path, spec)
    assert sd.meta.file_missing == {"q1": ((7.0, 9.0),)}
    assert sd.meta.missing_counts["q1"]["refused"] == 1


def test_sav_user_missing_code_unknown_to_the_spec_is_refused(tmp_path, spec):
    path = write_sav(tmp_path / "s.sav", FRAME.assign(q2=[1.0, 2, 3, 4, 5, 6]),
                     missing={"q2": [6]})
    text = reason(path, spec)
    assert "s.sav" in text
    assert "item 'q2'" in text
    assert "code 6" in text
    assert "no missing kind" in text


def test_sav_user_missing_code_that_is_a_valid_answer_is_refused(tmp_path, spec):
    text = reason(write_sav(tmp_path / "s.sav", missing={"q2": [5]}), spec)
    assert "item 'q2'" in text
    assert "code 5" in text
    assert "valid answers of scale 's5'" in text
    text = reason(write_sav(tmp_path / "r.sav", missing={"q2": [{"lo": 4, "hi": 9}]}), spec)
    assert "the range 4-9" in text
    assert "[4, 5]" in text


def test_dta_keeps_labels(tmp_path, spec):
    path = tmp_path / "s.dta"
    pyreadstat.write_dta(FRAME, str(path), column_labels={"q1": "Câu 1"},
                         variable_value_labels={"sex": {1: "Nam", 2: "Nữ"}})
    sd = read_survey(path, spec)
    assert sd.meta.format == "dta"
    assert sd.meta.variable_labels["q1"] == "Câu 1"
    assert sd.meta.value_labels["sex"] == {1: "Nam", 2: "Nữ"}
    assert sd.meta.missing_counts["q1"] == {"refused": 1, "dont_know": 1, "not_applicable": 1,
                                            "system": 1}


def test_csv_with_and_without_bom_read_the_same(tmp_path, spec):
    plain = read_survey(write_csv(tmp_path / "a.csv", CSV_TEXT), spec)
    bom = read_survey(write_csv(tmp_path / "b.csv", "\ufeff" + CSV_TEXT), spec)
    pd.testing.assert_frame_equal(plain.frame, bom.frame)
    assert list(bom.frame.columns) == list(FRAME.columns)  # no '\ufeffid'
    assert bom.frame["id"].tolist() == ["101", "102", "103", "104", "105", "106"]
    assert plain.meta.missing_counts["q1"] == {"refused": 1, "dont_know": 1,
                                               "not_applicable": 1, "system": 1}


@pytest.mark.parametrize("encoding", ["cp1258", "latin-1"])
def test_non_utf8_csv_is_refused_naming_file_and_line(tmp_path, spec, encoding):
    text = "id,q1,q2,note\n1,4,5,ok\n2,3,1,Không đúng\n"
    if encoding == "latin-1":
        text = text.replace("Không đúng", "Très bien")
    path = write_csv(tmp_path / f"{encoding}.csv", text, encoding)
    message = reason(path, spec)
    assert f"{encoding}.csv" in message
    assert "not UTF-8" in message
    assert "line 3" in message
    assert "Ã" not in message  # never mojibake
    message = reason(path)  # without a spec too
    assert "line 3" in message


def test_xlsx_and_parquet_read_like_the_csv(tmp_path, spec):
    csv_frame = read_survey(write_csv(tmp_path / "a.csv", CSV_TEXT), spec).frame
    FRAME.to_excel(tmp_path / "a.xlsx", index=False, sheet_name="data")
    FRAME.to_parquet(tmp_path / "a.parquet")
    for name, kwargs in (("a.xlsx", {"sheet": "data"}), ("a.parquet", {})):
        sd = read_survey(tmp_path / name, spec, **kwargs)
        pd.testing.assert_frame_equal(sd.frame.drop(columns="id"),
                                      csv_frame.drop(columns="id"), check_dtype=False)
        assert sd.meta.missing_counts == read_survey(tmp_path / "a.csv", spec).meta.missing_counts


def test_xlsx_unknown_sheet(tmp_path, spec):
    FRAME.to_excel(tmp_path / "a.xlsx", index=False)
    assert "sheet must be a sheet of the workbook; got 'data'" in reason(tmp_path / "a.xlsx",
                                                                         spec, sheet="data")
    assert "got 3" in reason(tmp_path / "a.xlsx", spec, sheet=3)


def test_meta_records_provenance(tmp_path, spec):
    path = write_csv(tmp_path / "a.csv", CSV_TEXT)
    sd = read_survey(str(path), spec)
    assert sd.meta.source == str(path.resolve())
    assert sd.meta.sha256 == hashlib.sha256(CSV_TEXT.encode()).hexdigest()
    assert (sd.meta.n_rows, sd.meta.n_columns) == (6, 6)
    assert sd.spec is spec
    assert "6 rows x 6 columns" in repr(sd)
    assert "'a.csv'" in repr(sd)


def test_spec_may_be_a_path(tmp_path):
    (tmp_path / "s.toml").write_text(
        '[survey]\nname = "f"\nrespondent_id = "id"\n[scales.s]\nmin = 1\nmax = 5\n'
        'satisfied = [5]\n[missing]\nrefused = [7]\ndont_know = [8]\nnot_applicable = [9]\n'
        '[[items]]\nname = "q1"\nscale = "s"\n', encoding="utf-8")
    sd = read_survey(write_csv(tmp_path / "a.csv", CSV_TEXT), tmp_path / "s.toml")
    assert sd.spec.name == "f"
    with pytest.raises(sipas.SpecError, match="spec must be a Spec"):
        read_survey(tmp_path / "a.csv", 5)


@pytest.mark.parametrize("fmt", ["sav", "dta", "csv", "xlsx", "parquet"])
def test_input_file_is_never_modified(tmp_path, spec, fmt):
    path = tmp_path / f"in.{fmt}"
    {"sav": lambda: write_sav(path), "dta": lambda: pyreadstat.write_dta(FRAME, str(path)),
     "csv": lambda: write_csv(path, CSV_TEXT), "xlsx": lambda: FRAME.to_excel(path, index=False),
     "parquet": lambda: FRAME.to_parquet(path)}[fmt]()
    before = fingerprint(path)
    sd = read_survey(path, spec)
    sd.frame.loc[0, "q2"] = 3  # the frame is the reader's copy, not a view of the file
    assert fingerprint(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# --------------------------------------------------------------------------- content refusals

def test_code_neither_valid_nor_missing_lists_rows_and_total(tmp_path, spec):
    rows = "".join(f"{i},1,10,1,6,{1 if i % 2 else 0}\n" for i in range(1, 16))
    text = reason(write_csv(tmp_path / "bad.csv", "id,stratum,w,sex,q1,q2\n" + rows), spec)
    assert text.startswith("'")
    assert "bad.csv" in text
    assert "22 answer(s) are neither a valid code nor a declared missing code" in text
    assert "data row 1 (id '1'): q1=6" in text
    assert text.count("q1=6") + text.count("q2=0") == 10  # the first ten, not all 22
    assert "np." not in text  # plain numbers, not numpy reprs


def test_duplicate_respondent_ids(tmp_path, spec):
    text = reason(write_csv(tmp_path / "d.csv", CSV_TEXT.replace("103,", "101,")), spec)
    assert "respondent id column 'id'" in text
    assert "1 duplicated id(s)" in text
    assert "'101' in data rows [1, 3]" in text


def test_empty_respondent_id(tmp_path, spec):
    text = reason(write_csv(tmp_path / "d.csv", CSV_TEXT.replace("104,", ",")), spec)
    assert "is empty in 1 row(s) (data rows [4])" in text


@pytest.mark.parametrize(("drop", "role"), [("q2", "item"), ("w", "design"), ("sex", "domain"),
                                            ("id", "respondent id")])
def test_missing_spec_columns(tmp_path, spec, drop, role):
    path = tmp_path / "m.csv"
    FRAME.drop(columns=drop).to_csv(path, index=False)
    text = reason(path, spec)
    assert f"{role} column(s) ['{drop}']" in text
    assert "spec 't'" in text
    assert "m.csv" in text


def test_vietnamese_text_in_an_item_column(tmp_path, spec):
    text = reason(write_csv(tmp_path / "v.csv", CSV_TEXT.replace("103,1,10,1,9,3",
                                                                 "103,1,10,1,9,Hài lòng")), spec)
    assert "item column 'q2' must hold numeric codes; got 1 non-numeric value(s)" in text
    assert "data row 3 (id '103'): 'Hài lòng'" in text


def test_decimal_commas_are_refused_not_guessed(tmp_path, spec):
    text = reason(write_csv(tmp_path / "c.csv", CSV_TEXT.replace("101,1,10,1,5,1",
                                                                 '101,1,10,1,"4,0",1')), spec)
    assert "item column 'q1'" in text
    assert "'4,0'" in text
    assert "decimal comma" in text
    text = reason(write_csv(tmp_path / "w.csv", CSV_TEXT.replace("104,2,20.5",
                                                                 '104,2,"20,5"')), spec)
    assert "design column 'w'" in text
    assert "data row 4 (id '104'): '20,5'" in text


def test_leading_zeros_of_csv_ids_are_kept(tmp_path, spec):
    sd = read_survey(write_csv(tmp_path / "z.csv", CSV_TEXT.replace("\n10", "\n00")), spec)
    assert sd.frame["id"].tolist() == ["001", "002", "003", "004", "005", "006"]


def test_empty_and_header_only_files(tmp_path, spec):
    assert "is empty" in reason(write_csv(tmp_path / "e.csv", " \n"), spec)
    assert "no data rows" in reason(write_csv(tmp_path / "h.csv", "id,q1,q2\n"), spec)
    assert "no data rows" in reason(write_csv(tmp_path / "h2.csv", "id,q1,q2\n"))
    FRAME.iloc[:0].to_parquet(tmp_path / "h.parquet")
    assert "h.parquet" in reason(tmp_path / "h.parquet", spec)


def test_duplicate_column_names(tmp_path, spec):
    text = reason(write_csv(tmp_path / "d.csv", "id,q1,q1\n1,4,5\n"), spec)
    assert "column names must be unique; got ['q1']" in text
    pd.DataFrame([[1, 4, 5]], columns=["id", "q1", "q1"]).to_excel(tmp_path / "d.xlsx",
                                                                   index=False)
    assert "got ['q1']" in reason(tmp_path / "d.xlsx")
    pq.write_table(pa.table([[1], [4], [5]], names=["id", "q1", "q1"]), tmp_path / "d.parquet")
    assert "got ['q1']" in reason(tmp_path / "d.parquet")


def test_a_column_called_like_a_renamed_duplicate_is_fine(tmp_path):
    sd = read_survey(write_csv(tmp_path / "a.csv", "id,q1,q1.1\n1,4,5\n"))
    assert list(sd.frame.columns) == ["id", "q1", "q1.1"]


def test_empty_header_cells_are_not_duplicate_names(tmp_path):
    expected = ["id", "q1", "Unnamed: 2", "Unnamed: 3"]
    sd = read_survey(write_csv(tmp_path / "a.csv", "id,q1,,\n1,4,5,6\n"))
    assert list(sd.frame.columns) == expected
    pd.DataFrame([["id", "q1", None, None], [1, 4, 5, 6]]).to_excel(
        tmp_path / "a.xlsx", index=False, header=False)
    assert list(read_survey(tmp_path / "a.xlsx").frame.columns) == expected


def test_semicolon_csv_gets_a_delimiter_hint(tmp_path, spec):
    text = reason(write_csv(tmp_path / "s.csv", CSV_TEXT.replace(",", ";")), spec)
    assert "the delimiter must be a comma; got ';'" in text


@pytest.mark.parametrize("fmt", ["sav", "xlsx", "parquet", "dta"])
def test_truncated_files_give_read_error(tmp_path, fmt):
    whole = tmp_path / f"whole.{fmt}"
    {"sav": lambda: write_sav(whole), "xlsx": lambda: FRAME.to_excel(whole, index=False),
     "parquet": lambda: FRAME.to_parquet(whole),
     "dta": lambda: pyreadstat.write_dta(FRAME, str(whole))}[fmt]()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    with pytest.raises(sipas.ReadError) as info:
        read_survey(cut)
    assert f"cut.{fmt}" in str(info.value)
    assert "\n" not in str(info.value)
    assert type(info.value) is sipas.ReadError  # not a pyreadstat/openpyxl/pyarrow class
    garbage = tmp_path / f"garbage.{fmt}"
    garbage.write_bytes(b"this is not a data file at all\n" * 3)
    assert "garbage" in reason(garbage)


def test_paths_that_are_not_survey_files(tmp_path):
    assert "does not exist" in reason(tmp_path / "nope.sav")
    assert "must be a file" in reason(tmp_path)
    (tmp_path / "data.txt").write_text("id\n1\n")
    text = reason(tmp_path / "data.txt")
    assert "the extension must be one of" in text
    assert "got '.txt'" in text
    assert ".sav" in text
    assert "path must be a file path" in reason(42)


# --------------------------------------------------------------------------- validate_frame

def test_validate_frame_does_not_touch_its_input(spec):
    frame = FRAME.copy()
    cleaned, kinds, counts = validate_frame(frame, spec)
    pd.testing.assert_frame_equal(frame, FRAME)
    assert cleaned["q1"].isna().sum() == 4
    assert kinds["q1"].notna().sum() == 4
    assert counts["q2"] == {"not_applicable": 1}


answer = st.sampled_from([1.0, 2, 3, 4, 5, 7, 8, 9, np.nan])


@settings(max_examples=examples(60), deadline=None)
@given(answers=st.lists(answer, min_size=1, max_size=40))
def test_missing_counts_partition_the_answers(answers):
    spec = parse_spec(SPEC)
    n = len(answers)
    frame = pd.DataFrame({"id": range(n), "stratum": 1.0, "w": 1.0, "sex": 1.0,
                          "q1": answers, "q2": 3.0})
    cleaned, kinds, counts = validate_frame(frame, spec)
    expected = {"refused": answers.count(7), "dont_know": answers.count(8),
                "not_applicable": answers.count(9),
                "system": sum(1 for a in answers if a != a)}
    assert counts["q1"] == {k: v for k, v in expected.items() if v}
    assert int(cleaned["q1"].notna().sum()) + sum(counts["q1"].values()) == n
    assert cleaned["q1"].dropna().isin([1, 2, 3, 4, 5]).all()
    assert (kinds["q1"].isna() == cleaned["q1"].notna()).all()


def test_non_numeric_file_missing_value_is_refused_with_a_recode_hint(spec):
    with pytest.raises(sipas.ReadError, match=r"item 'q1'.*'a'.*Stata extended missing"):
        validate_frame(FRAME, spec, file_missing={"q1": ("a",)})
