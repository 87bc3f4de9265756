"""The Word report of a run: the survey-results report a provincial office writes.

Sections: a summary (the overall index and its interval), the index tables (the index tree,
or the factors, and the indices by each domain), the charts the run drew, and the methods
text, written from the run itself (design, weighting steps, index definition, interval
method and degrees of freedom, reliability rules), in Vietnamese or English. Reports on
synthetic data carry the synthetic-data banner at the top and in the page header.

Examples
--------
>>> methods_lines(None, "en")[:1]
[]
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sipas.report.excel import reproducible_zip
from sipas.report.labels import definition_text
from sipas.report.methods import method_rows
from sipas.report.tables import PubTable

__all__ = ["REPORT", "methods_lines", "write_word"]

REPORT = "sipas-report.docx"
#: key -> (Vietnamese, English)
TEXT: dict[str, tuple[str, str]] = {
    "banner": ("DỮ LIỆU GIẢ LẬP: báo cáo minh họa, không phải kết quả khảo sát thật.",
               "SYNTHETIC DATA: a demonstration report, not real survey results."),
    "summary": ("1. Tóm tắt kết quả", "1. Summary of results"),
    "tables": ("2. Các bảng chỉ số", "2. Index tables"),
    "charts": ("3. Biểu đồ", "3. Charts"),
    "methods": ("4. Phương pháp", "4. Methods"),
    "headline": ("{label}: {value} (khoảng tin cậy {level}%: {low}–{high}), {n} người trả lời.",
                 "{label}: {value} ({level}% confidence interval {low}–{high}), {n} "
                 "respondents."),
    "sample": ("Dữ liệu: {rows} bản ghi, {resp} người trả lời.",
               "Data: {rows} records, {resp} respondents."),
    "index": ("Chỉ số: {}. Mỗi chỉ số (câu hỏi, chỉ số con, thành phần, chỉ số chung) là tổ "
              "hợp tuyến tính của các ước lượng tỷ số theo câu hỏi; sai số chuẩn của mọi chỉ "
              "số được tính bằng cùng một phép tuyến tính hóa.",
              "Indices: {}. Every index (item, sub-index, component, overall) is a linear "
              "combination of item ratio estimators; the standard error of every index comes "
              "from the same linearization."),
}


def _t(key: str, lang: str, *args: Any, **kw: Any) -> str:
    return TEXT[key][0 if lang == "vi" else 1].format(*args, **kw)


def methods_lines(result: Any, lang: str) -> list[str]:
    """The methods text of a run, one paragraph per line, from what the run did.

    Parameters
    ----------
    result : sipas.pipeline.RunResult or None
        The run (None gives no lines).
    lang : {"vi", "en"}

    Returns
    -------
    list of str
    """
    if result is None:
        return []
    spec, pipeline = result.data.spec, result.pipeline
    frame = result.data.frame
    status = next((s for s in pipeline.steps if s.get("method") == "nonresponse"), None)
    resp = int(frame[status["status"]].isin(status["respondent"]).sum()) if status \
        else len(frame)
    lines = [_t("sample", lang, rows=len(frame), resp=resp),
             _t("index", lang, definition_text(spec.index.measure, spec.index.aggregate,
                                               lang))]
    # one methods text for the workbook notes and the report: written from the run
    lines += [f"{label[0 if lang == 'vi' else 1]}: {text}"
              for label, text in method_rows(result, 0 if lang == "vi" else 1)]
    return lines


def write_word(path: str | Path, *, title: str, lang: str, tables: Sequence[PubTable],
               charts: Sequence[Path], methods: Sequence[str], headline: str | None = None,
               synthetic: bool = False, notice: str = "") -> Path:
    """Write the Word report.

    Parameters
    ----------
    path : str or Path
        The ``.docx`` file.
    title : str
        The report title (the survey title in ``lang``).
    lang : {"vi", "en"}
    tables : sequence of PubTable
        Tables in report order (their titles become captions).
    charts : sequence of Path
        PNG files, in order.
    methods : sequence of str
        Paragraphs of the methods section (:func:`methods_lines`).
    headline : str, optional
        The summary sentence.
    synthetic : bool
        Put the synthetic-data banner at the top and in the page header.
    notice : str
        Further notice text under the banner.

    Returns
    -------
    Path
    """
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    doc = Document()
    if synthetic:
        header = doc.sections[0].header.paragraphs[0]
        header.text = _t("banner", lang)
        header.alignment = WD_ALIGN_PARAGRAPH.CENTER
        banner = doc.add_paragraph()
        run = banner.add_run(_t("banner", lang))
        run.bold, run.font.size = True, Pt(13)
        run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
        if notice:
            doc.add_paragraph(notice)
    doc.add_heading(title, level=0)
    doc.add_heading(_t("summary", lang), level=1)
    if headline:
        doc.add_paragraph(headline)
    doc.add_heading(_t("tables", lang), level=1)
    for table in tables:
        doc.add_heading(table.title, level=2)
        _add_table(doc, table.display())
    if charts:
        doc.add_heading(_t("charts", lang), level=1)
        for chart in charts:
            doc.add_picture(str(chart), width=Cm(16))
    doc.add_heading(_t("methods", lang), level=1)
    for line in methods:
        doc.add_paragraph(line)
    doc.core_properties.title = title
    buffer = io.BytesIO()
    doc.save(buffer)
    # the same run gives the same bytes (no timestamps), like the workbook
    Path(path).write_bytes(reproducible_zip(buffer.getvalue()))
    return Path(path)


def headline_text(overall: pd.DataFrame, names: Mapping[str, Mapping[str, str]], lang: str,
                  level: float, percent: bool) -> str | None:
    """The summary sentence: the overall index, its interval and n."""
    if not len(overall):
        return None
    row = overall.iloc[0]

    def fmt(v: float) -> str:
        text = f"{100 * v:.1f}%" if percent else f"{v:.2f}"
        return text.replace(".", ",") if lang == "vi" else text

    label = names.get(row["name"], {}).get(lang, row.get(f"label_{lang}", row["name"]))
    return _t("headline", lang, label=label, value=fmt(row["estimate"]),
              level=_pct(level), low=fmt(row["ci_low"]), high=fmt(row["ci_high"]),
              n=int(row["n"]))


def _pct(level: float) -> str:
    return f"{100 * level:g}"


def _add_table(doc: Any, frame: pd.DataFrame) -> None:
    table = doc.add_table(rows=1, cols=len(frame.columns))
    table.style = "Light Grid Accent 1"
    for cell, name in zip(table.rows[0].cells, frame.columns):
        cell.text = str(name)
    for values in frame.itertuples(index=False):
        cells = table.add_row().cells
        for cell, v in zip(cells, values):
            cell.text = "" if v is None or (isinstance(v, float) and v != v) else str(v)
