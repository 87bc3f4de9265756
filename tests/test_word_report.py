"""The demo's outputs: the Word report, the tree in the workbook, one language per workbook.

``sipas demo --out DIR`` writes the Cao Bằng 2020 outputs into DIR and the 2026 survey's
into DIR/demo2026; both have the Vietnamese workbook and the ``.docx`` report.
"""

from __future__ import annotations

import re

import docx
import openpyxl
import pytest

from sipas.cli import main
from sipas.errors import SipasWarning
from sipas.pipeline import demo_pipeline_path, load_pipeline, run, write

#: words sipas itself writes in English (headers, levels, statuses, notes)
ENGLISH = ["index_level", "percent", "percent_of_max", "reproduced", "no data", "TOTAL",
           "Overall", "Factor", "Component", "Estimate", "Standard error", "Sheet",
           "nonresponse", "rake", "final", "Reliability flag", "Respondents", "Index tree",
           "Satisfaction indices", "design weights", "Taylor linearization"]
#: the same in Vietnamese, and Vietnamese words of the data files' value labels (an English
#: workbook names domain values from the spec, never from the Vietnamese .sav labels)
VIETNAMESE = ["Cấp chỉ số", "Chung", "Yếu tố", "Chỉ số thành phần", "Ước lượng",
              "Sai số chuẩn", "Trang", "điều chỉnh không trả lời", "trọng số cuối cùng",
              "Cảnh báo độ tin cậy", "Số người trả lời", "Cây chỉ số", "tuyến tính hóa",
              "không có dữ liệu", "toàn bộ mẫu", "TỔNG", "Thành phố", "Phường", "Xã",
              "Nữ", "Thành thị", "Nông thôn", "Trực tiếp", "Trực tuyến",
              "dân tộc", "Đất đai", "Cấp xã", "Hoàn thành"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    return out


def cells(path, skip_notice=True):
    """Every text cell of a workbook (row 2, the synthetic-data notice, left out)."""
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and not (skip_notice and c.row == 2):
                    yield ws.title, c.value


def hits(path, words):
    found = set()
    for sheet, text in cells(path):
        for w in words:
            if re.search(rf"(?<![\w_]){re.escape(w)}(?![\w_])", text):
                found.add((sheet, w, text[:60]))
    return sorted(found)


def test_demo_writes_both_surveys_with_workbook_and_word_report(demo):
    for folder in (demo, demo / "demo2026"):
        assert (folder / "sipas-report.xlsx").is_file()
        assert (folder / "sipas-report.docx").is_file()


@pytest.mark.parametrize(("sub", "n_tables", "first"), [
    ("", 5, "Chỉ số hài lòng chung"),
    ("demo2026", 5, "Chỉ số hài lòng chung"),
])
def test_word_report_holds_tables_pictures_methods_and_banner(demo, sub, n_tables, first):
    folder = demo / sub
    d = docx.Document(str(folder / "sipas-report.docx"))
    assert len(d.tables) == n_tables
    assert d.tables[0].rows[0].cells[0].text == "Mã"
    assert d.tables[0].rows[1].cells[1].text.startswith(first)
    pngs = sorted((folder / "charts").glob("*.png"))
    assert len(d.inline_shapes) == len(pngs) > 0
    text = "\n".join(p.text for p in d.paragraphs)
    assert text.startswith("DỮ LIỆU GIẢ LẬP")
    assert "DỮ LIỆU GIẢ LẬP" in d.sections[0].header.paragraphs[0].text
    for heading in ("1. Tóm tắt kết quả", "2. Các bảng chỉ số", "3. Biểu đồ", "4. Phương pháp"):
        assert heading in text
    # the methods text says what was computed
    assert "tuyến tính hóa Taylor" in text and "khoảng logit" in text
    assert "bậc tự do tính trong từng nhóm" in text and "chuẩn NCHS 2017" in text
    assert "người trả lời" in text


def test_tree_in_the_2026_workbook(demo):
    wb = openpyxl.load_workbook(demo / "demo2026" / "sipas-report.xlsx")
    ws = wb["index_nodes"]
    headers = [c.value for c in ws[3]]
    assert {"Mã", "Thuộc chỉ số", "Tầng trong cây chỉ số", "Gồm"} <= set(headers)
    names = [r[headers.index("Mã")] for r in ws.iter_rows(min_row=4, values_only=True)]
    assert len(names) == 16 and names[-1] == "sipas"
    assert (demo / "demo2026" / "charts" / "tree.png").is_file()
    by = wb["index_by_commune"]
    levels = {r[1] for r in by.iter_rows(min_row=4, values_only=True)}
    assert levels == {"Chung", "Chỉ số thành phần", "Yếu tố"}


@pytest.mark.parametrize("sub", ["", "demo2026"])
def test_vietnamese_workbook_has_no_english_words(demo, sub):
    assert hits(demo / sub / "sipas-report.xlsx", ENGLISH) == []


@pytest.fixture(scope="module")
def runs():
    return {name: run(load_pipeline(demo_pipeline_path(name)))
            for name in ("demo", "demo2026")}


@pytest.mark.parametrize("name", ["demo", "demo2026"])
def test_english_workbook_has_no_vietnamese_words(runs, name, tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SipasWarning)   # the demo specs name every value
        write(runs[name], tmp_path / "en", lang="en")
    assert hits(tmp_path / "en" / "sipas-report.xlsx", VIETNAMESE) == []
    d = docx.Document(str(tmp_path / "en" / "sipas-report.docx"))
    text = "\n".join(p.text for p in d.paragraphs)
    assert "4. Methods" in text and "Taylor linearization" in text
    assert not any(w in text for w in VIETNAMESE)


def test_an_english_report_shows_codes_where_only_the_file_names_values(runs):
    """The .sav names channels in Vietnamese only: an English report shows the codes and
    says how to name them; the Vietnamese report keeps the file's names."""
    import dataclasses

    from sipas.report.build import context

    result = runs["demo2026"]
    spec = dataclasses.replace(result.data.spec, domain_labels={
        c: v for c, v in result.data.spec.domain_labels.items() if c != "channel"})
    bare = dataclasses.replace(result, data=dataclasses.replace(result.data, spec=spec))
    with pytest.warns(SipasWarning, match=r"column 'channel' .* shown as codes \(channel 1\)"
                      r".*\[domains.labels.channel\]"):
        en = context(bare, "en")
    assert en.domains["channel"] == {1.0: "channel 1", 2.0: "channel 2"}
    assert en.domains["commune"][102] == "Ward 02"
    assert context(bare, "vi").domains["channel"] == {1.0: "Trực tiếp", 2.0: "Trực tuyến"}


def test_weights_chart_compares_the_same_respondents():
    import numpy as np

    from sipas.report import plots

    before = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    after = np.array([1.5, 0.0, 3.5, 0.0, 6.0])   # rows 2 and 4 did not respond
    ax = plots.weights_chart(before, after).axes[0]
    filled = sum(p.get_height() for p in ax.patches if p.get_fill())
    assert filled == 3
