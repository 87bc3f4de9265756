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
from sipas.report.labels import STEPS, definition_text
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
    "design_taylor": ("Thiết kế mẫu: {stages}. Phương sai được ước lượng bằng phương pháp "
                      "tuyến tính hóa Taylor cho thiết kế nhiều giai đoạn{strata}{fpc}.",
                      "Sample design: {stages}. Variances are estimated by Taylor "
                      "linearization for a multistage design{strata}{fpc}."),
    "design_rep": ("Phương sai được ước lượng bằng {n} bộ trọng số lặp ({method}).",
                   "Variances are estimated with {n} replicate weights ({method})."),
    "strata": (", phân tầng theo {}", ", stratified by {}"),
    "fpc": (", có hiệu chỉnh tổng thể hữu hạn", ", with finite population corrections"),
    "stages": ("đơn vị mẫu các giai đoạn: {}", "sampling units by stage: {}"),
    "sample": ("Dữ liệu: {rows} bản ghi, {resp} người trả lời.",
               "Data: {rows} records, {resp} respondents."),
    "weighting": ("Gia quyền: {}.", "Weighting: {}."),
    "no_weighting": ("Gia quyền: trọng số thiết kế.", "Weighting: the design weights."),
    "index": ("Chỉ số: {}. Mỗi chỉ số (câu hỏi, chỉ số con, thành phần, chỉ số chung) là tổ "
              "hợp tuyến tính của các ước lượng tỷ số theo câu hỏi; sai số chuẩn của mọi chỉ "
              "số được tính bằng cùng một phép tuyến tính hóa.",
              "Indices: {}. Every index (item, sub-index, component, overall) is a linear "
              "combination of item ratio estimators; the standard error of every index comes "
              "from the same linearization."),
    "intervals": ("Khoảng tin cậy {level}%: câu hỏi theo phương pháp {item}; chỉ số trong "
                  "[0, 1] theo phương pháp logit, điểm trung bình theo phương pháp Wald; phân "
                  "vị t với bậc tự do của thiết kế tính trong từng nhóm: {df}.",
                  "{level}% confidence intervals: items by the {item} method; indices in "
                  "[0, 1] by the logit method, mean scores by the Wald method; t quantiles "
                  "with the design degrees of freedom counted within each domain: {df}."),
    "df_taylor": ("số PSU có người trả lời trong nhóm trừ số tầng của các PSU đó",
                  "PSUs with a respondent in the domain minus the strata of those PSUs"),
    "df_rep": ("hạng của ma trận trọng số lặp trong nhóm trừ 1",
               "the rank of the domain's replicate weights minus one"),
    "rules": ("Cảnh báo độ tin cậy khi: n < {min_n}, bậc tự do < {min_df:g}, cỡ mẫu hiệu dụng "
              "p(1−p)/SE² < {min_neff:g} (tỷ lệ), hoặc sai số chuẩn tương đối > {max_rse:.0%} "
              "(điểm trung bình).",
              "Reliability flags when: n < {min_n}, degrees of freedom < {min_df:g}, effective "
              "sample size p(1−p)/SE² < {min_neff:g} (shares), or relative standard error > "
              "{max_rse:.0%} (mean scores)."),
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
    spec, design, pipeline = result.data.spec, result.design, result.pipeline
    frame = result.data.frame
    status = next((s for s in pipeline.steps if s.get("method") == "nonresponse"), None)
    resp = int(frame[status["status"]].isin(status["respondent"]).sum()) if status \
        else len(frame)
    lines = [_t("sample", lang, rows=len(frame), resp=resp)]
    replicate = bool(design.replicated)
    if replicate:
        lines.append(_t("design_rep", lang, n=design.n_replicates,
                        method=getattr(design, "method", "")))
    else:
        ds = spec.design
        labels = result.data.meta.variable_labels if lang == "vi" else {}
        units = ", ".join(labels.get(c) or c for c in ds.ids)
        lines.append(_t("design_taylor", lang, stages=_t("stages", lang, units or "—"),
                        strata=_t("strata", lang, labels.get(ds.strata) or ds.strata)
                        if ds.strata else "", fpc=_t("fpc", lang) if ds.fpc else ""))
    i = 0 if lang == "vi" else 1
    steps = [STEPS.get(str(s.get("method")), (s.get("method"),) * 2)[i]
             for s in pipeline.steps]
    lines.append(_t("weighting", lang, " → ".join(steps)) if steps
                 else _t("no_weighting", lang))
    lines.append(_t("index", lang, definition_text(spec.index.measure, spec.index.aggregate,
                                                   lang)))
    lines.append(_t("intervals", lang, level=_pct(pipeline.indices.level),
                    item=pipeline.indices.ci,
                    df=_t("df_rep" if replicate else "df_taylor", lang)))
    rules = pipeline.rules
    lines.append(_t("rules", lang, min_n=rules.min_n, min_df=rules.min_df,
                    min_neff=rules.min_neff, max_rse=rules.max_rse))
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
