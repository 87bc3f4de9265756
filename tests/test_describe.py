"""Codebook and distributions (sipas.describe) and the ``sipas describe`` command.

Counts are checked against the raw demo file read with pyreadstat (independent of sipas.io)
and against small CSV fixtures written in the tests.
"""

from __future__ import annotations

import pandas as pd
import pyreadstat
import pytest

import sipas
from sipas.cli import main
from sipas.datasets import demo_path, load_demo
from sipas.describe import codebook, distributions
from sipas.spec import parse_spec

SPEC = parse_spec({
    "survey": {"name": "t", "respondent_id": "id"},
    "scales": {"s3": {"codes": [1, 2, 3], "satisfied": [3],
                      "labels": {"vi": ["Kém", "Trung bình", "Tốt"], "en": ["Poor", "Fair",
                                                                           "Good"]}}},
    "missing": {"dont_know": [8]},
    "items": [{"name": "q1", "scale": "s3", "label": {"vi": "Câu một", "en": "Item one"}}],
})
CSV = "id,q1,zone\n1,1,A\n2,3,B\n3,8,A\n4,,B\n5,3,A\n"


@pytest.fixture(scope="module")
def demo():
    return load_demo()


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text(CSV, encoding="utf-8")
    return sipas.read_survey(path, SPEC)


def test_codebook_of_the_demo(demo):
    book = codebook(demo)
    assert list(book.columns) == ["variable", "label", "role", "dtype", "n_valid", "n_missing",
                                  "missing_by_kind", "min", "max", "n_distinct", "value_labels"]
    assert book["variable"].tolist() == list(demo.frame.columns)
    raw, _ = pyreadstat.read_sav(str(demo_path()), user_missing=True)
    row = book.set_index("variable").loc["q08"]
    assert row["label"] == "Phí, lệ phí phải nộp đúng quy định"
    assert row["role"] == "item (satisfaction, scale satisfaction)"
    assert row["n_valid"] == int(raw["q08"].isin([1, 2, 3, 4, 5]).sum())
    assert row["n_valid"] + row["n_missing"] == 800
    assert row["missing_by_kind"] == (f"not_applicable={int((raw['q08'] == 9).sum())}, "
                                      f"system={int(raw['q08'].isna().sum())}")
    assert (row["min"], row["max"], row["n_distinct"]) == (1, 5, 5)
    assert "9=Không áp dụng" in row["value_labels"]
    assert book.set_index("variable").loc["resp_id", "role"] == "respondent id"
    assert book.set_index("variable").loc["district", "label"] == "Huyện/thành phố"


def test_codebook_labels_in_english(demo):
    book = codebook(demo, lang="en").set_index("variable")
    assert book.loc["q01", "label"] == "Enough seats in the one-stop waiting area"
    assert book.loc["district", "label"] == "Huyện/thành phố"  # file labels have no English


def test_codebook_uses_spec_scale_labels_without_file_labels(small):
    book = codebook(small, lang="en").set_index("variable")
    assert book.loc["q1", "value_labels"] == "1=Poor; 2=Fair; 3=Good"
    assert book.loc["q1", "label"] == "Item one"
    assert book.loc["q1", "missing_by_kind"] == "dont_know=1, system=1"
    assert pd.isna(book.loc["zone", "min"])
    assert book.loc["zone", "n_distinct"] == 2


def test_codebook_splits_file_user_missing_from_empty_cells(tmp_path):
    frame = pd.DataFrame({"id": [1.0, 2, 3, 4], "sex": [1.0, 9, None, 2]})
    pyreadstat.write_sav(frame, str(tmp_path / "s.sav"), missing_ranges={"sex": [9]})
    book = codebook(sipas.read_survey(tmp_path / "s.sav")).set_index("variable")
    assert book.loc["sex", "missing_by_kind"] == "user_missing=1, system=1"
    assert book.loc["sex", "n_missing"] == 2


def test_distributions_count_codes_and_missing_kinds(small):
    table = distributions(small, lang="en")
    assert table["code"].tolist() == [1, 3, "dont_know", "system"]
    assert table["label"].tolist() == ["Poor", "Good", "(missing: Don't know)",
                                       "(missing: Blank)"]
    assert table["count"].tolist() == [1, 2, 1, 1]
    assert table["percent"].sum() == pytest.approx(100)


def test_distributions_of_the_demo_add_up(demo):
    table = distributions(demo, ["q19", "sex"])
    for col in ("q19", "sex"):
        assert table.loc[table.variable == col, "count"].sum() == 800
    raw, _ = pyreadstat.read_sav(str(demo_path()))
    got = table[(table.variable == "sex") & (table.code == 2)]
    assert got["count"].item() == int((raw["sex"] == 2).sum())
    assert got["label"].item() == "Nữ"


def test_distributions_of_an_unknown_column(small):
    with pytest.raises(sipas.ReadError, match=r"\['nope'\] not found"):
        distributions(small, "nope")
    assert distributions(small, "zone")["count"].tolist() == [3, 2]


def test_cli_describe_prints_the_codebook(capsys, tmp_path):
    out = tmp_path / "book.csv"
    code = main(["describe", str(demo_path()), "--spec", "demo", "--lang", "en",
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert printed.startswith("demo.sav: 800 rows, 44 columns")
    for name in ("resp_id", "q01", "q22", "w_design", "Enough seats in the one-stop"):
        assert name in printed
    written = pd.read_csv(out, encoding="utf-8-sig")
    assert written["variable"].tolist()[:2] == ["resp_id", "district"]


def test_cli_describe_of_a_missing_file_fails_in_one_line(capsys, tmp_path):
    code = main(["describe", str(tmp_path / "nope.sav"), "--spec", "demo"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("sipas: error:")
    assert "nope.sav" in err
    assert "Traceback" not in err


def test_cli_describe_with_a_bad_spec(capsys, tmp_path):
    (tmp_path / "s.toml").write_text("[survey\n", encoding="utf-8")
    assert main(["describe", str(demo_path()), "--spec", str(tmp_path / "s.toml")]) == 2
    err = capsys.readouterr().err
    assert "s.toml" in err
    assert "not valid TOML" in err
    assert err.count("\n") == 1
