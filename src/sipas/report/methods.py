"""The methods text of a run, written from what was computed.

Every sentence is built from the objects of the run (the design, the estimates' interval
methods and df, the weighting steps, the pipeline's flag rules and comparison options), never
from defaults, so changing an option changes the text. Vietnamese and English.

Examples
--------
>>> text = intervals_text({"item": "logit", "index": "wald"}, 0.9, "design", 1)
>>> for part in text.split("; "):
...     print(part)
90%
items: logit interval (shares)
factor and overall indices: Wald t interval
t quantile with the design df
"""

from __future__ import annotations

from typing import Any

from sipas.report.labels import STEPS, definition_text

__all__ = ["INTERVALS", "intervals_text", "lonely_text", "method_rows"]

LONELY = {"fail": ("báo lỗi", "an error"), "remove": ("bỏ qua", "left out"),
          "certainty": ("coi là chọn chắc chắn", "taken as certainty units"),
          "adjust": ("độ lệch tính từ 0 (như R survey 4.1-1)",
                     "deviation from zero (as R survey 4.1-1)"),
          "average": ("lấy trung bình phương sai các tầng", "the average variance of strata")}
#: the corrected rules (``lonely_corrected``), where they differ from R 4.1-1
LONELY_CORRECTED = {"adjust": ("độ lệch tính từ trung bình chung (quy tắc đã sửa)",
                               "deviation from the grand mean (corrected rule)")}
#: ``lonely_domain``: the rule also acts on a stratum with one PSU in a domain
LONELY_DOMAIN = ("; áp dụng cả cho tầng chỉ có một PSU trong nhóm",
                 "; also for a stratum with one PSU within a domain")


def lonely_text(rule: str, corrected: bool, domain: bool, i: int) -> str:
    """The lonely-PSU rule in words (``i``: 0 Vietnamese, 1 English).

    Examples
    --------
    >>> lonely_text("adjust", False, False, 1)
    'deviation from zero (as R survey 4.1-1)'
    >>> for part in lonely_text("adjust", True, True, 1).split("; "):
    ...     print(part)
    deviation from the grand mean (corrected rule)
    also for a stratum with one PSU within a domain
    """
    words = (LONELY_CORRECTED if corrected and rule in LONELY_CORRECTED else LONELY)[rule][i]
    return words + (LONELY_DOMAIN[i] if domain and rule != "fail" else "")

#: the interval methods in words (vi, en)
INTERVALS = {
    "logit": ("khoảng logit", "logit interval"),
    "xlogit": ("khoảng logit", "logit interval"),
    "wald": ("khoảng Wald t", "Wald t interval"),
    "mean": ("khoảng Wald t", "Wald t interval"),
    "beta": ("khoảng Korn–Graubard", "Korn–Graubard interval"),
    "wilson": ("khoảng Wilson", "Wilson interval"),
    "asin": ("khoảng arcsin", "arcsine interval"),
    "likelihood": ("khoảng hợp lý", "likelihood interval"),
}
_DF = {
    "domain": ("phân vị t với bậc tự do tính trong từng nhóm (số PSU có người trả lời trong "
               "nhóm trừ số tầng của các PSU đó)",
               "t quantile with the df counted within each domain (PSUs with respondents in "
               "it minus their strata)"),
    "design": ("phân vị t với bậc tự do của thiết kế", "t quantile with the design df"),
    "given": ("phân vị t với bậc tự do do người dùng chọn", "t quantile with the df given"),
    "normal": ("phân vị chuẩn", "normal quantile"),
}


def intervals_text(methods: dict[str, str], level: float, df_rule: str, i: int) -> str:
    """The confidence-interval sentence (``i``: 0 Vietnamese, 1 English)."""
    item = INTERVALS.get(methods["item"], (methods["item"],) * 2)[i]
    index = INTERVALS.get(methods["index"], (methods["index"],) * 2)[i]
    lvl = f"{100 * level:g}%"
    if i == 0:
        return (f"{lvl}; câu hỏi: {item} (tỷ lệ); yếu tố và chỉ số chung: {index}; "
                f"{_DF[df_rule][0]}")
    return (f"{lvl}; items: {item} (shares); factor and overall indices: {index}; "
            f"{_DF[df_rule][1]}")


def _df_rule(estimate: Any, design_df: float) -> str:
    df = estimate.to_frame()["df"].astype(float)
    if (df == float("inf")).all():
        return "normal"
    if estimate.by:
        return "domain"
    return "design" if (df == design_df).all() else "given"


def method_rows(result: Any, i: int) -> list[tuple[tuple[str, str], str]]:
    """Rows (label (vi, en), text) describing the methods of a pipeline run.

    Parameters
    ----------
    result : RunResult
        The run: its design, pipeline options and results.
    i : int
        0 for Vietnamese, 1 for English.

    Returns
    -------
    list of ((str, str), str)
    """
    spec, pipe, design = result.data.spec, result.pipeline, result.design
    ds = spec.design
    if design.replicated:
        variance = (f"trọng số lặp ({design.method})", f"replicate weights ({design.method})")
    else:
        lonely = lonely_text(ds.lonely_psu, bool(getattr(design, "lonely_corrected", False)),
                             bool(getattr(design, "lonely_domain", False)), i)
        variance = (f"tuyến tính hóa Taylor, thiết kế phân tầng nhiều giai đoạn (tầng: "
                    f"{ds.strata}; đơn vị mẫu: {', '.join(ds.ids)}; hiệu chỉnh tổng thể hữu "
                    f"hạn: {', '.join(ds.fpc) or 'không'}; tầng chỉ có một PSU: {lonely})",
                    f"Taylor linearization, stratified multistage design (strata: "
                    f"{ds.strata}; sampling units: {', '.join(ds.ids)}; finite population "
                    f"corrections: {', '.join(ds.fpc) or 'none'}; strata with one PSU: "
                    f"{lonely})")
    index = result.results["index"]
    by = [result.results[k] for k in result.results if k.startswith("index_by_")]
    shown = by[0] if by else index
    # items get the pipeline's method, except mean items (Wald), as satisfaction_index does
    methods = {"item": pipe.indices.ci if spec.index.measure != "mean" else "wald",
               "index": shown.overall_estimate.ci}
    rule = _df_rule(shown.overall_estimate, float(design.df))
    rows = [
        (("Phương pháp ước lượng", "Estimation method"),
         ("ước lượng theo thiết kế mẫu; phương sai: ", "design-based; variance: ")[i]
         + variance[i]),
        (("Bậc tự do thiết kế", "Design degrees of freedom"),
         f"{design.df} " + ("(số PSU - số tầng)", "(PSUs - strata)")[i]),
        (("Gia quyền", "Weighting"),
         " → ".join(STEPS.get(h.name, (h.name, h.name))[i] for h in design.history) or "-"),
        (("Định nghĩa chỉ số", "Index definition"),
         f"{definition_text(spec.index.measure, spec.index.aggregate, ('vi', 'en')[i])} "
         f"({index.definition})"),
        (("Khoảng tin cậy", "Confidence intervals"),
         intervals_text(methods, float(shown.overall_estimate.level), rule, i)),
        (("Cảnh báo độ tin cậy", "Reliability flags"), _flags_text(pipe.rules, i)),
    ]
    cmp = pipe.compare
    if pipe.indices.by:
        adjust = cmp.get("adjust", "holm")
        rows.append((("So sánh giữa các nhóm", "Comparisons between domains"),
                     _compare_text(adjust, i)))
    if cmp.get("rank_by"):
        rows.append((("Xếp hạng", "Ranks"), (
            "tập tin cậy đồng thời 95% cho thứ hạng của mọi nhóm (Mogstad, Romano, Shaikh & "
            "Wilhelm 2024), từ mọi hiệu số cặp với ma trận hiệp phương sai đầy đủ",
            "simultaneous 95% confidence sets for the ranks of all domains (Mogstad, Romano, "
            "Shaikh & Wilhelm 2024), from all pairwise differences with the full covariance")[i]))
    if pipe.published:
        rows.append((("Đối chiếu số đã công bố", "Published figures"), (
            "'tái lập được' khi số tính lại làm tròn bằng số đã công bố ở độ chính xác đã công "
            "bố; 'trong phạm vi sai số chọn mẫu' khi số công bố nằm trong khoảng tin cậy; "
            "định nghĩa được đánh giá trên cả bảng",
            "'reproduced' when the computed value rounds to the published one at its "
            "published precision; 'within sampling error' when the published value lies in "
            "the interval; definitions are judged on the whole table")[i]))
    if "small_area" in result.results:
        rows.append((("Ước lượng khu vực nhỏ", "Small-area estimates"),
                     _small_area_text(result.results["small_area"], i)))
    return rows


def _small_area_text(area: Any, i: int) -> str:
    """The Fay–Herriot model of the run in words."""
    how = area.describe()
    mse = (("bootstrap tham số (González-Manteiga và cộng sự 2008), "
            f"{how['replicates']} lần lặp", "parametric bootstrap (González-Manteiga et "
            f"al. 2008), {how['replicates']} replicates")[i]
           if how["mse"] == "bootstrap" else
           ("công thức Prasad–Rao", "Prasad–Rao formula")[i] if how["method"] == "REML" else
           ("công thức Datta–Lahiri", "Datta–Lahiri formula")[i])
    parts = [(f"mô hình Fay–Herriot cấp khu vực (Rao & Molina 2015, chương 6) cho "
              f"{area.variable} theo {area.by}, {how['areas']} khu vực; phương sai của hiệu "
              f"ứng khu vực ước lượng bằng {how['method']}; MSE: {mse}",
              f"area-level Fay–Herriot model (Rao & Molina 2015, ch. 6) for {area.variable} "
              f"by {area.by}, {how['areas']} areas; random-effect variance by "
              f"{how['method']}; MSE: {mse}")[i]]
    if how["smooth"]:
        parts.append({"deff": ("phương sai trực tiếp làm trơn bằng hệ số thiết kế gộp: deff "
                               "p(1-p)/n", "direct variances smoothed with a pooled design "
                               "effect: deff p(1-p)/n"),
                      "loglinear": ("phương sai trực tiếp làm trơn bằng hàm log-tuyến tính "
                                    "log se² = a + b log n", "direct variances smoothed by "
                                    "log se² = a + b log n")}[how["smooth"]][i])
    if how["transform"] == "arcsin":
        parts.append(("ước lượng trên thang arcsin rồi biến đổi ngược có hiệu chỉnh chệch",
                      "fitted on the arcsine scale and back-transformed with a bias "
                      "correction")[i])
    if how["benchmarked"]:
        parts.append(("cân chỉnh theo ước lượng trực tiếp toàn tỉnh (trọng số dân số)",
                      "benchmarked to the direct estimate of the whole (population "
                      "weights)")[i])
    if how["variance"] == 0:
        parts.append(("phương sai hiệu ứng khu vực ước lượng bằng 0: mọi khu vực nhận ước "
                      "lượng tổng hợp", "random-effect variance estimated at 0: every area "
                      "gets the synthetic estimate")[i])
    return "; ".join(parts)


def _flags_text(rules: Any, i: int) -> str:
    if rules.name == "rse":
        return (f"quy tắc sai số chuẩn tương đối: ẩn khi dưới {rules.min_n:g} người trả lời "
                f"hoặc RSE trên {100 * rules.max_rse:g}%; xem xét khi RSE trên "
                f"{100 * rules.review_rse:g}% hoặc bậc tự do dưới {rules.min_df:g}",
                f"relative standard error rule: suppress below {rules.min_n:g} respondents "
                f"or RSE above {100 * rules.max_rse:g}%; review above "
                f"{100 * rules.review_rse:g}% RSE or below {rules.min_df:g} df")[i]
    name = ("chuẩn NCHS 2017 cho tỷ lệ", "NCHS 2017 standards for proportions")[i]
    if rules.name == "custom":
        name += (" (ngưỡng đã điều chỉnh)", " (thresholds changed)")[i]
    return (f"{name}: ẩn khi cỡ mẫu hiệu dụng dưới {rules.min_neff:g}, độ rộng khoảng "
            f"Korn–Graubard từ {rules.max_width:g} hoặc độ rộng tương đối trên "
            f"{100 * rules.max_rel_width:g}%; xem xét khi bậc tự do dưới {rules.min_df:g}; "
            f"điểm trung bình: ẩn khi RSE trên {100 * rules.max_rse:g}%",
            f"{name}: suppress below an effective sample size of {rules.min_neff:g}, a "
            f"Korn–Graubard width of {rules.max_width:g} or more, or a relative width above "
            f"{100 * rules.max_rel_width:g}%; review below {rules.min_df:g} df; means: "
            f"suppress above {100 * rules.max_rse:g}% RSE")[i]


def _compare_text(adjust: str, i: int) -> str:
    words = {"holm": ("Holm", "Holm"), "fdr_bh": ("Benjamini–Hochberg", "Benjamini–Hochberg"),
             "bonferroni": ("Bonferroni", "Bonferroni"), "none": ("không hiệu chỉnh",
                                                                  "no adjustment")}[adjust]
    return (f"kiểm định t hai phía, hiệu chỉnh bội: {words[0]}; khoảng tin cậy ở mức tương "
            "ứng với hiệu chỉnh (khác biệt có ý nghĩa đúng khi khoảng không chứa 0); bậc tự "
            "do tính trên các nhóm được so sánh",
            f"two-sided t tests, multiplicity adjustment: {words[1]}; intervals at the level "
            "that matches the adjustment (significant exactly when the interval excludes 0); "
            "df counted on the domains compared")[i]
