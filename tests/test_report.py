"""Report layer: publication tables, disclosure control, workbook, charts, fonts.

Reference values are hand-computed from small hand-made tables (percentages, rounding,
which cells a suppression rule must hide); the workbook is read back with openpyxl and its
XML; glyph coverage is checked against the font file's character map with
``matplotlib.ft2font``; the answer distribution is recomputed with numpy from the design
weights (weighted counts), independently of ``sipas.proportion``.
"""

from __future__ import annotations

import shutil
import warnings
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest
from matplotlib import ft2font
from matplotlib.image import imread

import sipas
from sipas.datasets import demo_path, load_demo
from sipas.indices.reliability import ReliabilityRules
from sipas.pipeline import load_pipeline, run
from sipas.report import par_charts, plots
from sipas.report.build import write_all
from sipas.report.disclosure import (
    DisclosureError,
    check_not_microdata,
    protect_tables,
    suppress,
)
from sipas.report.excel import sheet_names, write_workbook
from sipas.report.fonts import choose_font, missing_glyphs
from sipas.report.tables import PubTable, TableContext, flag_notes, publication_table

FORMULA = "=cmd|' /C calc'!A0"
SMALL_PIPELINE = """
[pipeline]
name = "small"
[input]
data = "demo.sav"
spec = "demo"
[[weighting.steps]]
method = "nonresponse"
status = "response"
respondent = [1]
nonrespondent = [2, 3]
classes = ["district"]
[[weighting.steps]]
method = "rake"
margins = ["sex", "age_group", "ethnicity", "district"]
[indices]
by = ["urban"]
[report]
lang = "vi"
decimals = 1
formats = ["xlsx", "png", "svg"]
min_cell = 10
"""


def index_table(estimates, n, *, domain="district", definition="item measure=top_box; x",
                name="overall", flag=""):
    """A hand-made index table: one row per domain code 1..k."""
    k = len(estimates)
    est = np.asarray(estimates, dtype=float)
    return pd.DataFrame({domain: np.arange(1, k + 1, dtype=float), "name": name,
                         "label_vi": "Chỉ số hài lòng chung",
                         "label_en": "Overall satisfaction index", "estimate": est,
                         "se": 0.01, "ci_low": est - 0.05, "ci_high": est + 0.05, "df": 30.0,
                         "deff": 1.2, "n": n, "n_missing": 0, "flag": flag,
                         "definition": definition})


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    shutil.copy(demo_path(), folder / "demo.sav")
    (folder / "small.toml").write_text(SMALL_PIPELINE, encoding="utf-8")
    return run(load_pipeline(folder / "small.toml"))


@pytest.fixture(scope="module")
def report(small_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return out, write_all(small_run, out, "vi")


# ---------------------------------------------------------------------- tables

@pytest.mark.parametrize(("decimals", "value", "shown"), [(1, 0.784, "78.4%"),
                                                          (2, 0.7845, "78.45%"),
                                                          (0, 0.78, "78%")])
def test_shares_become_percentages_with_the_pipeline_decimals(decimals, value, shown):
    pub = publication_table("index_overall", index_table([0.784493], [500]).drop(
        columns="district"), TableContext(decimals=decimals))
    assert pub.frame.iloc[0, 2] == value                      # rounded proportion
    assert pub.kinds.iloc[0, 2] == "percent"
    assert pub.display().iloc[0, 2] == shown


def test_mean_measure_stays_on_the_answer_scale():
    table = index_table([3.767444], [500], definition="item measure=mean; factor aggregate=items")
    pub = publication_table("index_by_district", table, TableContext(decimals=1))
    shown = pub.display()
    assert shown["Ước lượng"].tolist() == ["3.77"]
    assert pub.kinds["Ước lượng"].tolist() == ["scale"]
    items = pd.DataFrame({"name": ["q01", "p01"], "estimate": [3.74, 0.7], "n": [100, 100],
                          "meaning": ["mean", "share satisfied"]})
    shown = publication_table("index_items", items, TableContext(lang="en")).display()
    assert shown["Estimate"].tolist() == ["3.74", "70.0%"]
    assert shown["Meaning"].tolist() == ["mean score", "share satisfied"]


def test_interval_as_two_columns_or_as_text():
    table = index_table([0.7], [100])
    cols = publication_table("index_by_district", table, TableContext(lang="en"))
    assert {"95% CI lower", "95% CI upper"} <= set(cols.frame.columns)
    text = publication_table("index_by_district", table, TableContext(lang="en"), ci="text")
    assert text.display()["95% CI"].tolist() == ["65.0–75.0"]


def test_headers_labels_and_domains_follow_the_language():
    ctx = {"domains": {"district": {1.0: "Bảo Lạc", 2.0: "Hà Quảng"}},
           "domain_titles": {"district": "Huyện/thành phố"}}
    table = index_table([0.7, 0.8], [100, 100])
    vi = publication_table("index_by_district", table, TableContext(lang="vi", **ctx))
    en = publication_table("index_by_district", table, TableContext(lang="en", **ctx))
    assert list(vi.frame.columns[:4]) == ["Huyện/thành phố", "Mã", "Nội dung", "Ước lượng"]
    assert list(en.frame.columns[2:4]) == ["Indicator", "Estimate"]
    assert vi.frame["Huyện/thành phố"].tolist() == ["Bảo Lạc", "Hà Quảng"]
    assert vi.frame["Nội dung"].iloc[0] == "Chỉ số hài lòng chung"
    assert en.frame["Indicator"].iloc[0] == "Overall satisfaction index"
    assert vi.title == "Chỉ số hài lòng theo Huyện/thành phố"


def test_reliability_flags_are_shown_and_every_code_is_explained():
    rules = ReliabilityRules()
    table = index_table([0.7, 0.8], [20, 100], flag=["n<30; df<8", ""])
    pub = publication_table("index_by_district", table, TableContext(lang="en"))
    assert pub.frame["Reliability flag"].tolist() == ["n<30; df<8", ""]
    explained = dict(flag_notes(rules, 10, "en"))
    assert {"n<30", "df<8", "n_eff<30", "rse>0.3", "suppressed (n<10)"} <= set(explained)
    assert "fewer than 30 respondents" in explained["n<30"]
    vi = dict(flag_notes(rules, 10, "vi"))
    assert "đã ẩn (n<10)" in vi


# ---------------------------------------------------------------------- disclosure

def test_small_cells_are_suppressed_and_flagged():
    out = suppress(index_table([0.7, 0.8, 0.9], [50, 9, 10]), min_cell=10)
    assert out["estimate"].isna().tolist() == [False, True, False]
    assert out[["se", "ci_low", "ci_high", "deff"]].iloc[1].isna().all()
    assert out["flag_reason"].tolist() == ["", "suppressed (n<10)", ""]
    assert out["flag"].tolist() == ["", "suppress", ""]
    assert out["n"].tolist() == [50, 9, 10]                   # counts stay


def test_complementary_suppression_hides_the_next_smallest_cell():
    one = index_table([0.7, 0.8, 0.9, 0.6], [50, 4, 30, 12], name="overall")
    two = index_table([0.7, 0.8, 0.9, 0.6], [50, 4, 30, 7], name="access")
    out = suppress(pd.concat([one, two], ignore_index=True), domain="district",
                   keys=["name"])
    # set "overall": one primary (n=4) -> the next smallest (n=12) goes too
    assert out["flag_reason"][:4].tolist() == ["", "suppressed (n<10)", "",
                                               "suppressed (complementary)"]
    # set "access": two primaries already protect each other
    assert out["flag_reason"][4:].tolist() == ["", "suppressed (n<10)", "", "suppressed (n<10)"]
    assert out["estimate"].isna().tolist() == [False, True, False, True] * 2


def test_flag_mode_keeps_the_values():
    out = suppress(index_table([0.7, 0.8], [50, 3]), mode="flag", domain="district",
                   keys=["name"])
    assert out["estimate"].tolist() == [0.7, 0.8]
    assert out["flag_reason"].tolist() == ["", "small cell (n<10)"]
    assert out["flag"].tolist() == ["", "review"]


def test_suppression_reaches_ranks_and_comparisons():
    index = index_table([0.7, 0.8, 0.9], [50, 5, 40])
    ranks = pd.DataFrame({"district": [1.0, 2.0, 3.0], "estimate": [0.7, 0.8, 0.9],
                          "rank": [3, 2, 1]})
    compare = pd.DataFrame({"comparison": [f"{c} - mean of domains" for c in (1.0, 2.0, 3.0)],
                            "variable": "overall", "difference": [-0.1, 0.0, 0.1],
                            "p_value": [0.1, 0.9, 0.1]})
    out = protect_tables({"index_by_district": index, "ranks_district": ranks,
                          "compare_district": compare}, domains=["district"])
    # district 2 (n=5) primary, district 3 (n=40, next smallest) complementary
    assert out["index_by_district"]["estimate"].isna().tolist() == [False, True, True]
    assert out["ranks_district"]["estimate"].isna().tolist() == [False, True, True]
    assert out["ranks_district"]["rank"].isna().tolist() == [False, True, True]
    # "mean of domains" would give the hidden ones back: no difference is published
    assert out["compare_district"]["difference"].isna().all()
    assert out["compare_district"]["p_value"].notna().tolist() == [True, False, False]


@pytest.mark.parametrize("table", [
    pd.DataFrame({"resp_id": [1, 2], "q01": [4, 5]}),
    pd.DataFrame({"Respondent_ID": [1, 2], "estimate": [1.0, 0.0]}),
    pd.DataFrame({"district": [1, 1], "estimate": [1.0, 0.0], "n": [1, 1]}),
])
def test_respondent_level_tables_are_refused(table, tmp_path):
    with pytest.raises(DisclosureError, match="respondent"):
        check_not_microdata(table, "t")
    with pytest.raises(DisclosureError):
        protect_tables({"t": table})
    if "resp_id" in table.columns:
        with pytest.raises(DisclosureError):
            publication_table("t", table, TableContext())
        kinds = pd.DataFrame("text", index=table.index, columns=table.columns)
        with pytest.raises(DisclosureError):
            write_workbook([PubTable("t", "t", table, kinds)], tmp_path / "r.xlsx")
        assert not (tmp_path / "r.xlsx").exists()


def test_wide_item_columns_are_refused():
    wide = pd.DataFrame({"q01": [4, 5], "q02": [3, 4]})
    with pytest.raises(DisclosureError, match="items"):
        check_not_microdata(wide, "t", item_columns=["q01", "q02", "q03"])


# ---------------------------------------------------------------------- workbook

def test_formula_looking_text_is_stored_as_text(tmp_path):
    table = index_table([0.5], [40]).drop(columns="district")
    table["label_vi"] = FORMULA
    path = write_workbook([publication_table("index_overall", table, TableContext())],
                          tmp_path / "r.xlsx", notes=[("@note", "+1")])
    ws = openpyxl.load_workbook(path)["index_overall"]
    cell = ws["B4"]
    assert cell.value == FORMULA
    assert cell.data_type == "s"
    assert cell.quotePrefix
    with zipfile.ZipFile(path) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets"))
    assert "<f>" not in xml and "<f " not in xml              # no formula anywhere
    notes = openpyxl.load_workbook(path)["notes"]
    assert (notes["A4"].value, notes["A4"].data_type) == ("@note", "s")


def test_sheet_names_are_short_unique_and_valid():
    names = sheet_names(["items_by_" + "x" * 40, "items_by_" + "x" * 41, "a:b", "A:B", "notes"])
    assert all(len(n) <= 31 for n in names)
    assert len({n.lower() for n in names}) == len(names)
    assert not any(set(n) & set("[]:*?/\\") for n in names)


def test_workbook_is_byte_for_byte_reproducible(tmp_path):
    pub = publication_table("index_overall", index_table([0.5], [40]), TableContext())
    a = write_workbook([pub], tmp_path / "a.xlsx", notes=[("x", "y")]).read_bytes()
    b = write_workbook([pub], tmp_path / "b.xlsx", notes=[("x", "y")]).read_bytes()
    assert a == b


def test_workbook_of_a_run(report, small_run):
    out, paths = report
    path = out / "sipas-report.xlsx"
    assert path in paths
    wb = openpyxl.load_workbook(path)
    expected = {"notes", "index_overall", "index_factors", "index_items", "index_by_urban",
                "items_by_urban", "compare_urban", "reliability", "weighting_steps",
                "weighting_margins"}
    assert expected <= set(wb.sheetnames)
    ws = wb["index_factors"]
    assert ws.freeze_panes == "A4"
    headers = [c.value for c in ws[3]]
    col = headers.index("Ước lượng") + 1
    cell = ws.cell(row=4, column=col)
    assert cell.number_format == "0.0%"
    assert cell.value == round(float(small_run.tables["index_factors"]["estimate"][0]), 3)
    assert ws.column_dimensions["B"].width >= len("Công chức trực tiếp giải quyết công việc")
    notes = dict((r[0].value, r[1].value) for r in wb["notes"].iter_rows(min_row=4))
    assert small_run.data.meta.sha256 in notes.values()
    assert any("DỮ LIỆU GIẢ LẬP" in str(v) for v in notes.values())
    assert "item measure=top_box" in notes["Định nghĩa chỉ số"]
    assert "SYNTHETIC DATA" in wb["index_overall"]["A2"].value


# ---------------------------------------------------------------------- charts

def test_charts_exist_and_are_not_blank(report):
    out, paths = report
    names = {p.name for p in paths}
    for stem in ("factors", "ranked_urban", "items_distribution", "weights"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
        png = out / "charts" / f"{stem}.png"
        assert png.stat().st_size > 5_000
        pixels = imread(png)
        assert pixels[..., :3].std() > 0.05                     # not a blank canvas


def test_every_chart_says_synthetic_in_its_footer(report):
    out, _ = report
    for svg in (out / "charts").glob("*.svg"):
        assert "SYNTHETIC DATA / DỮ LIỆU GIẢ LẬP" in svg.read_text(encoding="utf-8"), svg.name
    t = index_table([0.7, 0.8], [100, 100])
    real = plots.ranked_chart(t, "district", synthetic=False)
    assert plots.SYNTHETIC_FOOTER not in [x.get_text() for x in real.texts]


def test_svg_output_is_deterministic(tmp_path):
    t = index_table([0.7, 0.8], [100, 100])
    labels = {1.0: "Bảo Lạc", 2.0: "Hà Quảng"}
    a = plots.save_figure(plots.ranked_chart(t, "district", labels=labels), tmp_path / "a")
    b = plots.save_figure(plots.ranked_chart(t, "district", labels=labels), tmp_path / "b")
    assert a[1].read_bytes() == b[1].read_bytes()
    assert a[0].read_bytes() == b[0].read_bytes()


def test_vietnamese_labels_have_glyphs_in_the_chosen_font():
    sd = load_demo()
    spec = sd.spec
    texts = [plots.SYNTHETIC_FOOTER, *(v for it in spec.items for v in it.label.values()),
             *(v for f in spec.factors for v in f.label.values()),
             *(v for s in spec.scales.values() for lab in s.labels.values() for v in lab),
             *(v for labels in sd.meta.value_labels.values() for v in labels.values())]
    font = choose_font(texts)
    assert font.name == "DejaVu Sans"
    assert font.missing == ()
    charmap = ft2font.FT2Font(font.path).get_charmap()
    for ch in "ĂăÂâĐđÊêÔôƠơƯưẮằẳẵặỀểễệỮữựỹ":
        assert ord(ch) in charmap, ch


def test_charts_use_the_chosen_font():
    t = index_table([0.7], [100])
    fig = plots.ranked_chart(t, "district", labels={1.0: "Trùng Khánh"}, synthetic=True)
    fig.canvas.draw()
    for text in fig.findobj(lambda a: hasattr(a, "get_fontfamily")):
        assert text.get_fontfamily()[0] == "DejaVu Sans"


def test_a_missing_glyph_falls_back_with_a_warning():
    with pytest.warns(UserWarning, match="lacks"):
        font = choose_font(["Bắc Kạn 漢字"])
    assert "漢" in font.missing
    assert missing_glyphs(font.path, ["Bắc Kạn"]) == ()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        choose_font(["Bắc Kạn"])                               # no warning when covered


def test_item_distribution_matches_weighted_counts(small_run):
    design, spec = small_run.design, small_run.data.spec
    dist = plots.item_distribution(design, spec, ["q01", "q08"])
    w = design.weight_array
    for item in ("q01", "q08"):
        y = design.frame[item].to_numpy(dtype=float)
        ok = (w > 0) & np.isin(y, [1, 2, 3, 4, 5])
        counts = np.array([w[ok & (y == c)].sum() for c in (1, 2, 3, 4, 5)])
        got = dist[dist["item"] == item]["share"].to_numpy()
        np.testing.assert_allclose(got, counts / counts.sum(), rtol=1e-12)
    assert dist["code_label"].iloc[0] == "Rất không hài lòng"


def test_par_chart_takes_a_tidy_table(tmp_path):
    one = pd.DataFrame({"province": "Cao Bằng", "area": ["A1", "A2", "A2"],
                        "points": [30.0, 10.0, 12.0], "max_points": [40.0, 15.0, 15.0]})
    many = pd.concat([one, one.assign(province="Bắc Kạn", points=one["points"] - 1)])
    for fig in (par_charts.par_chart(one, synthetic=True),
                par_charts.par_chart(many, highlight="Cao Bằng")):
        png = plots.save_figure(fig, tmp_path / "par", ["png"])[0]
        assert png.stat().st_size > 5_000
    with pytest.raises(sipas.SipasError, match="max_points"):
        par_charts.par_chart(one.drop(columns="max_points"))


# ---------------------------------------------------------------------- methods text

def test_the_methods_note_follows_the_options_of_the_run(small_run, tmp_path):
    from sipas.report.build import notes

    before = dict(notes(small_run, "en"))
    # the factor and overall indices of this run use the logit interval, with domain df
    assert "factor and overall indices: logit interval" in before["Confidence intervals"]
    assert "df counted within each domain" in before["Confidence intervals"]
    assert before["Reliability flags"].startswith("NCHS 2017 standards for proportions")
    assert "Holm" in before["Comparisons between domains"]
    shutil.copy(demo_path(), tmp_path / "demo.sav")
    changed = SMALL_PIPELINE.replace('[indices]\n', '[indices]\nci = "wald"\nlevel = 0.9\n')
    changed += '\n[reliability]\nrules = "rse"\n[compare]\nadjust = "bonferroni"\n'
    (tmp_path / "other.toml").write_text(changed, encoding="utf-8")
    after = dict(notes(run(load_pipeline(tmp_path / "other.toml")), "en"))
    assert after["Confidence intervals"].startswith("90%; items: Wald t interval")
    # [indices] ci sets the items' method; the indices keep the logit interval of the measure
    assert "factor and overall indices: logit interval" in after["Confidence intervals"]
    assert after["Reliability flags"].startswith("relative standard error rule")
    assert "Bonferroni" in after["Comparisons between domains"]
    vi = dict(notes(small_run, "vi"))
    assert "khoảng logit" in vi["Khoảng tin cậy"]
