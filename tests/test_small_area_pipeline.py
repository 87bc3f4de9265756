"""The ``[small_area]`` section: a test pipeline on the demo survey (SYNTHETIC data) with a
covariates table beside it, its tables, the workbook sheets in one language, the
direct-vs-model chart and its place in the Word report; bad sections."""

from __future__ import annotations

import re
import shutil

import docx
import numpy as np
import openpyxl
import pandas as pd
import pytest

from sipas.datasets import load_demo
from sipas.errors import SipasError, SpecError
from sipas.pipeline import (
    demo_pipeline_path,
    load_pipeline,
    pipeline_inputs,
    run,
    validate,
    write,
)
from sipas.report.disclosure import protect_tables

PIPELINE = """
[input]
data = "demo.sav"
spec = "demo"

[[weighting.steps]]
method = "nonresponse"
status = "response"
respondent = [1]
nonrespondent = [2, 3]
classes = ["district"]

[indices]
by = []

[small_area]
{section}

[report]
formats = ["csv", "xlsx", "png", "docx"]
"""
SECTION = """variable = "overall"
by = "district"
covariates = "district_covariates.csv"
x = ["urban"]
mse = "bootstrap"
replicates = 100
seed = 3
smooth = "deff"
benchmark = true
population = "population"
"""
#: English words a Vietnamese small-area sheet must not show
ENGLISH = ["Direct estimate", "Model estimate", "Estimate", "Standard error", "Term",
           "intercept", "random effect variance", "share", "Weight of the", "Coefficient",
           "Respondents"]
VIETNAMESE = ["Ước lượng trực tiếp", "Ước lượng mô hình", "hệ số chặn", "Tỷ trọng", "Hệ số"]


def _folder(tmp_path, section=SECTION):
    folder = tmp_path / "survey"
    folder.mkdir(parents=True)
    shutil.copy(demo_pipeline_path().parent / "demo.sav", folder / "demo.sav")
    frame = load_demo().frame
    urban = frame.groupby("district")["urban"].apply(lambda u: float((u == 1).mean()))
    population = pd.read_csv(demo_pipeline_path().parent / "demo_margins_district.csv")
    cov = urban.rename("urban").reset_index().astype({"district": int}).merge(population)
    cov.to_csv(folder / "district_covariates.csv", index=False)
    (folder / "p.toml").write_text(PIPELINE.format(section=section), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    base = tmp_path_factory.mktemp("sa")
    folder = _folder(base)
    result = run(load_pipeline(folder / "p.toml"))
    out = write(result, base / "out")
    return result, out, folder


def test_the_section_adds_the_area_table_and_the_model(written):
    result, _, folder = written
    t = result.tables["small_area_by_district"]
    assert len(t) == 10 and t["estimate"].between(0, 1).all()
    assert {"direct", "direct_ci_low", "smoothed_se", "gamma", "benchmarked"} <= set(t.columns)
    model = result.tables["small_area_model"]
    assert model["term"].tolist() == ["(intercept)", "urban", "random effect variance"]
    fit = result.results["small_area"].fit
    assert (fit.mse_method, fit.replicates, fit.smoothing["method"]) == ("bootstrap", 100,
                                                                         "deff")
    # benchmarked to the overall index of the same run, weighted by the populations
    pop = pd.read_csv(folder / "district_covariates.csv").set_index("district")["population"]
    w = pop.reindex(t["district"].astype(int)).to_numpy()
    whole = float(result.tables["index_overall"]["estimate"].iloc[0])
    assert np.sum(w * t["benchmarked"]) / w.sum() == pytest.approx(whole)
    assert result.timings["small_area"] < 10


def test_workbook_sheet_chart_and_word_report(written):
    _, out, _ = written
    wb = openpyxl.load_workbook(out / "sipas-report.xlsx")
    ws = wb["small_area_by_district"]
    headers = [c.value for c in ws[3]]
    assert {"Ước lượng trực tiếp", "Ước lượng mô hình (EBLUP)", "Tỷ trọng của mô hình (1 − γ)",
            "Số người trả lời (n)"} <= set(headers)
    text = [str(c.value) for name in ("small_area_by_district", "small_area_model")
            for row in wb[name].iter_rows(min_row=3) for c in row if c.value is not None]
    found = [w for w in ENGLISH for cell in text
             if re.search(rf"(?<![\w_]){re.escape(w)}(?![\w_])", cell)]
    assert found == []
    assert "(hệ số chặn)" in text
    chart = out / "charts" / "small_area_district.png"
    assert chart.is_file()
    d = docx.Document(str(out / "sipas-report.docx"))
    assert len(d.inline_shapes) == len(list((out / "charts").glob("*.png")))
    paragraphs = "\n".join(p.text for p in d.paragraphs)
    assert "Ước lượng khu vực nhỏ (mô hình Fay–Herriot)" in paragraphs
    assert "bootstrap tham số" in paragraphs


def test_english_workbook_has_no_vietnamese_words(written, tmp_path):
    result, _, _ = written
    out = write(result, tmp_path / "en", lang="en")
    wb = openpyxl.load_workbook(out / "sipas-report.xlsx")
    cells = [str(c.value) for name in ("small_area_by_district", "small_area_model")
             for row in wb[name].iter_rows(min_row=3) for c in row if c.value is not None]
    assert not [w for w in VIETNAMESE for c in cells if w in c]
    assert "Model estimate (EBLUP)" in cells


def test_a_small_area_below_min_cell_loses_every_statistic(written):
    result, _, _ = written
    t = result.tables["small_area_by_district"]
    cut = int(t["n"].sort_values().iloc[1])  # the smallest area (at least) falls below it
    out = protect_tables({"small_area_by_district": t}, min_cell=cut,
                         domains=["district"])["small_area_by_district"]
    hidden = out["flag"] == "suppress"
    assert hidden.sum() >= 2  # complementary suppression: never exactly one
    for col in ("direct", "direct_se", "direct_ci_low", "estimate", "se", "synthetic",
                "benchmarked", "smoothed_se"):
        assert out.loc[hidden, col].isna().all(), col


def test_a_share_with_prasad_rao_and_validate(tmp_path):
    section = ('variable = "p01"\nby = "district"\ncovariates = "district_covariates.csv"\n'
               'x = ["urban"]\n')
    folder = _folder(tmp_path, section)
    p = load_pipeline(folder / "p.toml")
    assert p.small_area["covariates"].name == "district_covariates.csv"
    assert folder / "district_covariates.csv" in [x.resolve() for x in pipeline_inputs(p)]
    assert validate(p)[-1] == "small-area covariates (10 areas)"
    result = run(p)
    t = result.tables["small_area_by_district"]
    assert (t["variable"] == "p01").all() and (t["value"] == 1).all()
    assert result.results["small_area"].fit.mse_method == "prasad-rao"
    assert "benchmarked" not in t.columns


@pytest.mark.parametrize(("section", "match"), [
    ('variable = "overall"\nby = "district"\n', "required key 'covariates'"),
    ('variable = "overall"\nby = "district"\ncovariates = "none.csv"\n',
     "does not exist"),
    ('variable = "overall"\nby = "district"\ncovariates = "district_covariates.csv"\n'
     "benchmark = true\n", "needs population"),
    ('variable = "overall"\nby = "district"\ncovariates = "district_covariates.csv"\n'
     'mse = "jackknife"\n', "mse"),
    ('variable = "overall"\nby = "district"\ncovariates = "district_covariates.csv"\n'
     "replicates = 1\n", "replicates must be 2 or more"),
    ('variable = "overall"\nby = "district"\ncovariates = "district_covariates.csv"\n'
     'smoth = "deff"\n', "smooth"),
])
def test_bad_sections_are_refused_when_loaded(tmp_path, section, match):
    folder = _folder(tmp_path, section)
    with pytest.raises(SpecError, match=match):
        load_pipeline(folder / "p.toml")


def test_bad_columns_are_refused_when_run(tmp_path):
    folder = _folder(tmp_path, 'variable = "overall"\nby = "commune_x"\n'
                               'covariates = "district_covariates.csv"\n')
    with pytest.raises(SpecError, match="commune_x"):
        validate(load_pipeline(folder / "p.toml"))
    folder = _folder(tmp_path / "b", 'variable = "nothing"\nby = "district"\n'
                                     'covariates = "district_covariates.csv"\n')
    with pytest.raises(SipasError, match="neither an index"):
        run(load_pipeline(folder / "p.toml"))
