"""Words of the report in Vietnamese and English: column headers, table titles, flags.

Flag codes (``n<30``, ``df<8`` ...) stay language-neutral in the tables; :func:`flag_notes`
explains each one in the report's language and :func:`translate_flag` translates the few
words in them.

Examples
--------
>>> translate_flag("suppressed (n<10); df<8", "vi")
'đã ẩn (n<10); df<8'
"""

from __future__ import annotations

import re
from typing import Any

from sipas.indices.reliability import ReliabilityRules
from sipas.spec import SHARE_MEANING
from sipas.spec.missing import KIND_LABELS, kind_label, kind_parts

__all__ = ["COLUMNS", "HEADER_OVERRIDES", "TITLES", "column_entry", "flag_notes",
           "translate_flag"]

#: column -> (Vietnamese header, English header, kind); "est" follows the row (% or scale)
COLUMNS: dict[str, tuple[str, str, str]] = {
    "level": ("Cấp", "Level", "text"),
    "index_level": ("Cấp chỉ số", "Index level", "text"),
    "parent": ("Thuộc chỉ số", "Part of", "text"),
    "depth": ("Tầng trong cây chỉ số", "Depth in the index tree", "integer"),
    "members": ("Gồm", "Made of", "text"),
    "name": ("Mã", "Code", "text"),
    "label": ("Nội dung", "Indicator", "text"),
    "meaning": ("Ý nghĩa", "Meaning", "text"),
    "estimate": ("Ước lượng", "Estimate", "est"),
    "ci_low": ("Cận dưới KTC {lvl}%", "{lvl}% CI lower", "est"),
    "ci_high": ("Cận trên KTC {lvl}%", "{lvl}% CI upper", "est"),
    "ci": ("Khoảng tin cậy {lvl}%", "{lvl}% CI", "text"),
    "se": ("Sai số chuẩn", "Standard error", "est"),
    "df": ("Bậc tự do", "Degrees of freedom", "integer"),
    "deff": ("Hiệu ứng thiết kế (deff)", "Design effect (deff)", "ratio"),
    "n": ("Số người trả lời (n)", "Respondents (n)", "integer"),
    "n_missing": ("Số câu trả lời thiếu", "Missing answers", "integer"),
    "flag": ("Cảnh báo độ tin cậy", "Reliability flag", "text"),
    "flag_reason": ("Lý do cảnh báo", "Reason for the flag", "text"),
    "comparison": ("So sánh", "Comparison", "text"),
    "variable": ("Chỉ số", "Index", "text"),
    "value": ("Mã trả lời", "Answer code", "text"),
    "difference": ("Chênh lệch", "Difference", "est"),
    "t": ("Thống kê t", "t statistic", "ratio"),
    "p_value": ("Giá trị p", "p-value", "pvalue"),
    "p_adjusted": ("Giá trị p hiệu chỉnh", "Adjusted p-value", "pvalue"),
    "significant": ("Khác biệt có ý nghĩa", "Significant", "bool"),
    "rank": ("Thứ hạng", "Rank", "integer"),
    "rank_low": ("Thứ hạng (tập tin cậy đồng thời): từ",
                 "Rank (simultaneous confidence set): from", "integer"),
    "rank_high": ("Thứ hạng (tập tin cậy đồng thời): đến",
                  "Rank (simultaneous confidence set): to", "integer"),
    "in_top": ("Chắc chắn thuộc nhóm đầu (1/3)", "Surely in the top third", "bool"),
    "in_bottom": ("Chắc chắn thuộc nhóm cuối (1/3)", "Surely in the bottom third", "bool"),
    "ci_level": ("Mức tin cậy của KTC hiệu chỉnh", "Level of the adjusted CI", "percent"),
    "ci_low_unadjusted": ("KTC chưa hiệu chỉnh: cận dưới", "Unadjusted CI: lower", "est"),
    "ci_high_unadjusted": ("KTC chưa hiệu chỉnh: cận trên", "Unadjusted CI: upper", "est"),
    "items": ("Số câu hỏi", "Items", "integer"),
    "alpha": ("Cronbach alpha", "Cronbach's alpha", "coef"),
    "omega": ("McDonald omega", "McDonald's omega", "coef"),
    "published": ("Số đã công bố", "Published", "pub"),
    "computed": ("Số tính lại", "Computed", "pub"),
    "decimals": ("Số chữ số thập phân đã công bố", "Published decimals", "integer"),
    "difference_in_se": ("Chênh lệch (số lần sai số chuẩn)", "Difference in SEs", "ratio"),
    "status": ("Kết luận", "Status", "text"),
    "step": ("Bước", "Step", "integer"),
    "options": ("Tùy chọn", "Options", "text"),
    "sum": ("Tổng trọng số", "Sum of weights", "number"),
    "mean": ("Trung bình", "Mean", "number"),
    "cv": ("Hệ số biến thiên", "Coefficient of variation", "coef"),
    "kish_deff": ("Deff do gia quyền (Kish)", "Kish design effect", "ratio"),
    "ess": ("Cỡ mẫu hiệu dụng", "Effective sample size", "number"),
    "max_min_ratio": ("Tỷ số lớn nhất/nhỏ nhất", "Max/min ratio", "ratio"),
    "margin": ("Biên", "Margin", "text"),
    "category": ("Nhóm", "Category", "text"),
    "target": ("Mục tiêu", "Target", "number"),
    "before": ("Trước", "Before", "number"),
    "achieved": ("Đạt được", "Achieved", "number"),
    "province": ("Tỉnh", "Province", "text"),
    "area": ("Lĩnh vực", "Area", "text"),
    "points": ("Điểm", "Points", "pub"),
    "max_points": ("Điểm tối đa", "Maximum points", "pub"),
    "criterion": ("Tiêu chí", "Criterion", "text"),
    "code": ("Mã tiêu chí", "Criterion code", "text"),
    "source": ("Nguồn", "Source", "text"),
    "index": ("Chỉ số nguồn", "Source index", "text"),
    "index_value": ("Giá trị chỉ số", "Index value", "est"),
    "appraisal": ("Điểm thẩm định", "Appraisal points", "pub"),
    "survey": ("Điểm điều tra xã hội học", "Survey points", "pub"),
    "total": ("Tổng điểm", "Total points", "pub"),
    "group": ("Nhóm", "Group", "text"),
    "lost": ("Điểm bị mất", "Points lost", "pub"),
    "gain": ("Điểm tăng thêm", "Points gained", "pub"),
    "sim_se": ("Sai số chuẩn (mô phỏng)", "Standard error (simulated)", "pub"),
    "officials_survey": ("Điểm khảo sát công chức", "Officials survey points", "pub"),
    "citizen_survey": ("Điểm khảo sát người dân", "Citizen survey points", "pub"),
    "appraisal_points": ("Điểm thẩm định", "Appraisal points", "pub"),
    "survey_points": ("Điểm điều tra xã hội học", "Survey points", "pub"),
    "points_before": ("Điểm hiện tại", "Points now", "pub"),
    "points_after": ("Điểm sau cải thiện", "Points after", "pub"),
    "rank_before": ("Thứ hạng hiện tại", "Rank now", "integer"),
    "rank_after": ("Thứ hạng sau cải thiện", "Rank after", "integer"),
    "factor": ("Yếu tố", "Factor", "text"),
    "method": ("Phương pháp", "Method", "text"),
    "min": ("Nhỏ nhất", "Minimum", "number"),
    "p05": ("Phân vị 5%", "5th percentile", "number"),
    "p25": ("Phân vị 25%", "25th percentile", "number"),
    "median": ("Trung vị", "Median", "number"),
    "p75": ("Phân vị 75%", "75th percentile", "number"),
    "p95": ("Phân vị 95%", "95th percentile", "number"),
    "max": ("Lớn nhất", "Maximum", "number"),
    "summary": ("Tóm tắt", "Summary", "text"),
    "indicator": ("Chỉ tiêu", "Indicator", "text"),
    "domain": ("Phạm vi", "Domain", "text"),
    "year": ("Năm", "Year", "integer"),
    "unit": ("Đơn vị", "Unit", "text"),
    "definition": ("Định nghĩa", "Definition", "text"),
    "family": ("Nhóm định nghĩa", "Definition family", "text"),
    "figures": ("Số chỉ tiêu", "Figures", "integer"),
    "reproduced": ("Tái lập được", "Reproduced", "integer"),
    "within_sampling_error": ("Trong phạm vi sai số chọn mẫu", "Within sampling error",
                              "integer"),
    "not_consistent": ("Không nhất quán", "Not consistent", "integer"),
    "check": ("Kiểm tra", "Check", "text"),
    "expected": ("Giá trị kỳ vọng", "Expected", "pub"),
    "tolerance": ("Dung sai làm tròn", "Rounding tolerance", "pub"),
    "consistent": ("Nhất quán", "Consistent", "bool"),
    "note": ("Ghi chú", "Note", "text"),
    "direct": ("Ước lượng trực tiếp", "Direct estimate", "est"),
    "direct_se": ("Sai số chuẩn của ước lượng trực tiếp", "Direct estimate: standard error",
                  "est"),
    "direct_ci_low": ("Ước lượng trực tiếp: cận dưới KTC {lvl}%",
                      "Direct estimate: {lvl}% CI lower", "est"),
    "direct_ci_high": ("Ước lượng trực tiếp: cận trên KTC {lvl}%",
                       "Direct estimate: {lvl}% CI upper", "est"),
    "smoothed_se": ("Sai số chuẩn đã làm trơn (hàm phương sai)",
                    "Smoothed standard error (variance function)", "est"),
    "gamma": ("Tỷ trọng của ước lượng trực tiếp (γ)", "Weight of the direct estimate (γ)",
              "percent"),
    "model_share": ("Tỷ trọng của mô hình (1 − γ)", "Weight of the model (1 − γ)", "percent"),
    "synthetic": ("Ước lượng tổng hợp từ mô hình (x'β)", "Synthetic estimate (x'β)", "est"),
    "benchmarked": ("Ước lượng mô hình đã cân chỉnh theo toàn tỉnh",
                    "Model estimate benchmarked to the province", "est"),
    "term": ("Biến giải thích", "Term", "text"),
    "z": ("Thống kê z", "z statistic", "ratio"),
}
#: per table family, headers that differ from COLUMNS (the model's estimate and its root MSE)
HEADER_OVERRIDES: dict[str, dict[str, tuple[str, str]]] = {
    "small_area_by_": {
        "estimate": ("Ước lượng mô hình (EBLUP)", "Model estimate (EBLUP)"),
        "se": ("Căn bậc hai MSE của ước lượng mô hình", "Root MSE of the model estimate"),
        "ci_low": ("Ước lượng mô hình: cận dưới KTC {lvl}%", "Model estimate: {lvl}% CI lower"),
        "ci_high": ("Ước lượng mô hình: cận trên KTC {lvl}%",
                    "Model estimate: {lvl}% CI upper"),
    },
    "small_area_model": {"estimate": ("Hệ số", "Coefficient"),
                         "se": ("Sai số chuẩn", "Standard error")},
}


def column_entry(col: Any) -> tuple[str, str, str] | None:
    """(Vietnamese header, English header, kind) of a column; ``share_<kind>`` of any
    missing kind, combined kinds too (``share_dont_know_or_not_applicable``: "Không biết /
    Không áp dụng"); None for a column sipas does not name.

    Examples
    --------
    >>> column_entry("share_dont_know_or_not_applicable")[1]
    "Don't know / Not applicable"
    """
    if col in COLUMNS:
        return COLUMNS[col]
    kind = str(col).removeprefix("share_")
    if kind != str(col) and all(k in KIND_LABELS for k in kind_parts(kind)):
        return kind_label(kind, "vi"), kind_label(kind, "en"), "percent"
    return None


#: per table family, columns whose kind differs from COLUMNS (coefficients, not shares)
KIND_OVERRIDES: dict[str, dict[str, str]] = {
    "reliability": {"se": "coef", "ci_low": "coef", "ci_high": "coef"},
    "reproduction": {"ci_low": "pub", "ci_high": "pub", "difference": "pub", "value": "pub",
                     "se": "pub"},
    "weighting": {"min": "number", "max": "number", "median": "number"},
    "par_": {"se": "pub", "ci_low": "pub", "ci_high": "pub"},
    "small_area_model": {"estimate": "coef", "se": "coef"},
}
DROP = {"figure"}
DROP_INDEX = {"cv", "deff_replace", "definition", "kind", "share_system"}
ORDER = ("level", "index_level", "name", "label", "meaning", "estimate", "ci_low", "ci_high",
         "ci", "se",
         "df", "deff", "n", "n_missing")
TITLES: dict[str, tuple[str, str]] = {
    "index_overall": ("Chỉ số hài lòng chung", "Overall satisfaction index"),
    "index_factors": ("Chỉ số hài lòng theo yếu tố", "Satisfaction indices by factor"),
    "index_items": ("Chỉ số theo câu hỏi", "Indices by item"),
    "index_nodes": ("Cây chỉ số: chỉ số chung, thành phần và chỉ số con",
                    "Index tree: overall index, components and sub-indices"),
    "index_by_": ("Chỉ số hài lòng theo {}", "Satisfaction indices by {}"),
    "items_by_": ("Chỉ số câu hỏi theo {}", "Item indices by {}"),
    "compare_waves": ("So sánh với kỳ khảo sát trước", "Change since the previous wave"),
    "compare_": ("So sánh giữa các nhóm: {}", "Comparisons between domains: {}"),
    "ranks_": ("Xếp hạng theo {}", "Ranking by {}"),
    "reliability": ("Độ tin cậy thang đo", "Scale reliability"),
    "reproduction_candidates": ("Các định nghĩa đã thử", "Definitions tried"),
    "reproduction_definitions": ("Định nghĩa: đánh giá trên cả bảng",
                                 "Definitions judged on the whole table"),
    "published_consistency": ("Tính nhất quán của số liệu đã công bố",
                              "Consistency of the published figures"),
    "reproduction": ("Đối chiếu với số liệu đã công bố", "Computed vs published figures"),
    "weighting_steps": ("Các bước gia quyền", "Weighting steps"),
    "weighting_margins": ("Biên tổng thể: mục tiêu và kết quả", "Margins: targets and achieved"),
    "par_totals": ("PAR INDEX: tổng điểm và xếp hạng", "PAR INDEX: totals and ranks"),
    "par_areas": ("PAR INDEX: điểm theo lĩnh vực", "PAR INDEX: points by area"),
    "par_points": ("PAR INDEX: điểm theo tiêu chí", "PAR INDEX: points by criterion"),
    "par_rank_probabilities": ("PAR INDEX: xác suất của từng thứ hạng",
                               "PAR INDEX: probability of each rank"),
    "par_shortfall": ("PAR INDEX: điểm bị mất theo tiêu chí", "PAR INDEX: points lost"),
    "par_what_if": ("PAR INDEX: kịch bản cải thiện", "PAR INDEX: what-if scenarios"),
    "par_": ("PAR INDEX: {}", "PAR INDEX: {}"),
    "small_area_model": ("Ước lượng khu vực nhỏ: hệ số của mô hình Fay–Herriot",
                         "Small-area estimates: coefficients of the Fay–Herriot model"),
    "small_area_by_": ("Ước lượng khu vực nhỏ (mô hình Fay–Herriot) theo {}",
                       "Small-area estimates (Fay–Herriot model) by {}"),
}
WORDS = {"overall": ("Chung", "Overall"), "factor": ("Yếu tố", "Factor"),
         "item": ("Câu hỏi", "Item"), "node": ("Chỉ số thành phần", "Component"),
         True: ("Có", "Yes"), False: ("Không", "No"),
         "mean of domains": ("trung bình các nhóm", "mean of domains"),
         "current - previous": ("kỳ này - kỳ trước", "current - previous")}
#: column -> {value sipas writes: (Vietnamese, English)}, for the values of result tables
VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "status": {"reproduced": ("tái lập được", "reproduced"),
               "within sampling error": ("trong phạm vi sai số chọn mẫu",
                                         "within sampling error"),
               "not consistent": ("không nhất quán", "not consistent"),
               "no data": ("không có dữ liệu", "no data")},
    "note": {"no data": ("không có dữ liệu", "no data"),
             "not estimable": ("không ước lượng được", "not estimable")},
    "unit": {"percent": ("phần trăm", "percent"),
             "percent_of_max": ("phần trăm điểm tối đa", "percent of maximum"),
             "mean": ("điểm trung bình", "mean")},
    "domain": {"all": ("toàn bộ mẫu", "all")},
    "code": {"TOTAL": ("TỔNG", "TOTAL")},
    "term": {"(intercept)": ("(hệ số chặn)", "(intercept)"),
             "random effect variance": ("phương sai của hiệu ứng khu vực (A)",
                                        "random effect variance (A)")},
}
#: weighting step -> (Vietnamese, English)
STEPS: dict[str, tuple[str, str]] = {
    "base": ("trọng số thiết kế", "design weights"),
    "nonresponse": ("điều chỉnh không trả lời", "non-response adjustment"),
    "poststratify": ("hậu phân tầng", "post-stratification"),
    "rake": ("cân chỉnh theo biên tổng thể (raking)", "raking to population margins"),
    "calibrate": ("hiệu chỉnh theo tổng thể (GREG)", "calibration (GREG)"),
    "trim": ("cắt trọng số cực trị", "weight trimming"),
    "final": ("trọng số cuối cùng", "final weights"),
}
#: item measure and aggregation, worded for notes and the methods text
MEASURE_TEXT: dict[str, tuple[str, str]] = {
    "top_box": ("tỷ lệ câu trả lời ở các mức hài lòng", "share of answers in the satisfied "
                "codes"),
    "mean": ("điểm trung bình trên thang trả lời", "mean score on the answer scale"),
    "pct_of_max": ("điểm trung bình chia cho điểm tối đa", "mean score divided by the maximum"),
    "pct_of_range": ("điểm trung bình quy đổi về 0-100%", "mean score rescaled to 0-100%"),
}
AGGREGATE_TEXT: dict[str, tuple[str, str]] = {
    "items": ("mỗi chỉ số là trung bình có trọng số của các chỉ số câu hỏi hoặc chỉ số con "
              "của nó", "each index is the weighted mean of its items' or children's indices"),
    "respondents": ("điểm của mỗi người trả lời được tính trước, rồi lấy trung bình có trọng "
                    "số", "each respondent's score is computed first, then averaged"),
}


def definition_text(measure: str, aggregate: str, lang: str) -> str:
    """The index definition in words, in ``lang``.

    Examples
    --------
    >>> definition_text("mean", "items", "en")[:30]
    'mean score on the answer scale'
    """
    i = 0 if lang == "vi" else 1
    return f"{MEASURE_TEXT[measure][i]}; {AGGREGATE_TEXT[aggregate][i]}"


MEANINGS = {"mean": ("điểm trung bình", "mean score"),
            "pct_of_max": ("điểm trung bình / điểm tối đa", "mean score / maximum"),
            "pct_of_range": ("điểm trung bình quy đổi 0-100%", "mean score rescaled to 0-100%")}
MEANINGS.update({v["en"]: (v["vi"], v["en"]) for v in SHARE_MEANING.values()})
MEANINGS["share"] = ("tỷ lệ", "share")


def translate_flag(flag: Any, lang: str) -> str:
    """Flag codes stay language-neutral; the few words in them are translated."""
    if not isinstance(flag, str) or not flag:
        return ""
    if lang != "vi":
        return flag
    words = {"no data": "không có dữ liệu", "suppressed": "đã ẩn", "complementary": "bổ sung",
             "small cell": "ô nhỏ", "review": "cần xem xét", "suppress": "ẩn"}
    return re.sub("|".join(words), lambda m: words[m.group(0)], flag)


def flag_notes(rules: ReliabilityRules, min_cell: int, lang: str) -> list[tuple[str, str]]:
    """(flag, meaning) pairs explaining every verdict and reason a table can carry."""
    vi = lang == "vi"
    share_rules = rules.name != "rse"
    notes = [(translate_flag("review", lang),
              "công bố sau khi chuyên gia thống kê xem xét (kèm chú thích)" if vi else
              "publish only after review by a statistician, with a footnote"),
             (translate_flag("suppress", lang),
              "không công bố giá trị này" if vi else "do not publish the value")]
    if share_rules:
        notes += [
            (f"n_eff<{rules.min_neff:g}",
             f"tỷ lệ: cỡ mẫu hiệu dụng p(1-p)/SE² dưới {rules.min_neff:g} (chuẩn NCHS 2017)"
             if vi else f"share: effective sample size p(1-p)/SE² below {rules.min_neff:g} "
             "(NCHS 2017 standard)"),
            (f"width>={rules.max_width:g}",
             f"tỷ lệ: độ rộng khoảng tin cậy Korn–Graubard từ {rules.max_width:g} trở lên"
             if vi else f"share: Korn–Graubard interval at least {rules.max_width:g} wide"),
            (f"rel_width>{rules.max_rel_width:g}",
             f"tỷ lệ: độ rộng khoảng tin cậy trên {100 * rules.max_rel_width:g}% của tỷ lệ"
             if vi else f"share: interval width above {100 * rules.max_rel_width:g}% of the "
             "share"),
            (f"complement_rel_width>{rules.max_rel_width:g}",
             f"tỷ lệ: độ rộng khoảng tin cậy trên {100 * rules.max_rel_width:g}% của phần bù "
             "1 - p" if vi else f"share: interval width above "
             f"{100 * rules.max_rel_width:g}% of the complement 1 - p"),
            ("p=0 or 1", "tỷ lệ bằng 0% hoặc 100%" if vi else "a share of 0% or 100%")]
    notes += [
        (f"n<{rules.min_n:g}",
         f"dưới {rules.min_n:g} người trả lời" if vi else
         f"fewer than {rules.min_n:g} respondents"),
        (f"rse>{rules.max_rse:g}",
         f"sai số chuẩn tương đối trên {100 * rules.max_rse:g}%" if vi else
         f"relative standard error above {100 * rules.max_rse:g}%"),
        (f"rse>{rules.review_rse:g}",
         f"sai số chuẩn tương đối trên {100 * rules.review_rse:g}%" if vi else
         f"relative standard error above {100 * rules.review_rse:g}%"),
        (f"df<{rules.min_df:g}",
         f"bậc tự do thiết kế dưới {rules.min_df:g} (quá ít đơn vị mẫu cấp 1)" if vi else
         f"fewer than {rules.min_df:g} design degrees of freedom (too few PSUs)")]
    notes += [
            (translate_flag("no data", lang),
             "không có người trả lời trong nhóm" if vi else "no respondent in the domain"),
            (translate_flag(f"suppressed (n<{min_cell})", lang),
             f"ẩn để bảo mật: dưới {min_cell} người trả lời" if vi else
             f"suppressed for confidentiality: fewer than {min_cell} respondents"),
            (translate_flag("suppressed (complementary)", lang),
             "ẩn bổ sung để không suy ra được ô đã ẩn từ tổng" if vi else
             "suppressed so that a suppressed cell cannot be derived from the total"),
            (translate_flag(f"small cell (n<{min_cell})", lang),
             f"dưới {min_cell} người trả lời (chỉ cảnh báo, không ẩn)" if vi else
             f"fewer than {min_cell} respondents (flagged, not suppressed)")]
    return notes
