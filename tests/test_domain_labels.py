"""Names of domain values: from the spec ([domains.labels], vi and en) or the .sav value labels.

References: the labels written in the demo spec and stored in the demo .sav file; hand-made
tables for joint raking cells.
"""

from __future__ import annotations

import shutil

import openpyxl
import pandas as pd
import pytest

import sipas
from sipas.datasets import demo_path
from sipas.pipeline import load_pipeline, run
from sipas.report.build import write_all
from sipas.report.tables import TableContext, publication_table
from sipas.spec import parse_spec

PIPELINE = """
[pipeline]
name = "labels"
[input]
data = "demo.sav"
spec = "demo"
[[weighting.steps]]
method = "rake"
margins = ["sex", "age_group"]
[indices]
by = ["urban", "district"]
[report]
lang = "vi"
formats = ["xlsx"]
"""


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labels")
    shutil.copy(demo_path(), folder / "demo.sav")
    (folder / "labels.toml").write_text(PIPELINE, encoding="utf-8")
    result = run(load_pipeline(folder / "labels.toml"))
    books = {}
    for lang in ("vi", "en"):
        out = folder / lang
        out.mkdir()
        write_all(result, out, lang)
        books[lang] = openpyxl.load_workbook(out / "sipas-report.xlsx")
    return books


def _column(ws, header: str) -> list:
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    i = rows[0].index(header)
    return [r[i] for r in rows[1:] if r[i] is not None]


def test_domain_values_are_named_in_the_language_of_the_report(workbooks):
    vi = _column(workbooks["vi"]["index_by_urban"], "Khu vực")
    en = _column(workbooks["en"]["index_by_urban"], "urban")
    assert set(vi) == {"Thành thị", "Nông thôn"} and set(en) == {"Urban", "Rural"}
    # the district names come from the .sav value labels (the spec does not name them)
    districts = _column(workbooks["vi"]["index_by_district"], "Huyện/thành phố")
    assert "Hòa An" in districts and not any(isinstance(d, float) for d in districts)
    assert "1.0" not in map(str, districts)


def test_raking_cells_are_named(workbooks):
    cats = _column(workbooks["vi"]["weighting_margins"], "Nhóm")
    assert {"Nam", "Nữ", "18–29", "60+"} <= set(cats)


def test_joint_cells_read_as_names():
    table = pd.DataFrame({"step": [1, 1], "name": ["rake", "rake"],
                          "margin": ["sex x age_group"] * 2, "level": [(1.0, 2.0), (2.0, 1.0)],
                          "target": [10.0, 20.0], "before": [9.0, 21.0],
                          "achieved": [10.0, 20.0]})
    ctx = TableContext(lang="vi", domains={"sex": {1.0: "Nam", 2.0: "Nữ"},
                                           "age_group": {1.0: "18–24", 2.0: "25–34"}})
    shown = publication_table("weighting_margins", table, ctx).frame["Nhóm"].tolist()
    assert shown == ["Nam × 25–34", "Nữ × 18–24"]


BASE = {"survey": {"name": "x", "respondent_id": "id"},
        "scales": {"yn": {"codes": [1, 2], "satisfied": [1]}},
        "items": [{"name": "q1", "scale": "yn"}]}


def test_the_spec_reads_labels_in_both_languages():
    spec = parse_spec({**BASE, "domains": {"columns": ["commune"], "labels": {
        "commune": {"1": "Hòa An", "2": {"vi": "Nước Hai", "en": "Nuoc Hai"}}}}})
    assert spec.domain_labels["commune"] == {1: {"vi": "Hòa An", "en": "Hòa An"},
                                             2: {"vi": "Nước Hai", "en": "Nuoc Hai"}}
    with pytest.raises(sipas.SpecError, match="labels"):
        parse_spec({**BASE, "domains": {"labels": {"commune": {"1": 5}}}})


def test_labels_for_values_that_do_not_occur_are_an_error(tmp_path):
    spec = parse_spec({**BASE, "domains": {"labels": {"commune": {"1": "A", "7": "G"}}}})
    frame = pd.DataFrame({"id": ["a", "b"], "q1": [1, 2], "commune": [1, 2]})
    with pytest.raises(sipas.ReadError, match=r"names value\(s\) \[7\] that do not occur in "
                                              r"column 'commune' \(values present: \[1, 2\]\)"):
        sipas.io.validate_frame(frame, spec)
    with pytest.raises(sipas.ReadError, match="not in the data"):
        sipas.io.validate_frame(frame.drop(columns="commune"), spec)
