"""Charts of key drivers and multiple-response questions.

* :func:`ipa_chart` -- the importance-performance matrix: each driver at (performance,
  importance) with intervals on both axes and the quadrant cuts;
* :func:`options_chart` -- the options of a multiple-response question, most ticked first,
  with intervals and rank sets.

Examples
--------
>>> import pandas as pd
>>> m = pd.DataFrame({"driver": ["a", "b"], "label": ["A", "B"], "importance": [0.6, 0.4],
...                   "importance_ci_low": [0.5, 0.3], "importance_ci_high": [0.7, 0.5],
...                   "performance": [0.7, 0.8], "performance_ci_low": [0.6, 0.7],
...                   "performance_ci_high": [0.8, 0.9], "importance_cut": 0.5,
...                   "performance_cut": 0.75})
>>> len(ipa_chart(m, lang="en").axes)
1
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sipas.report.plots import ACCENT, MAIN, MUTED, _figure, _finish, _wrap, _yticks

__all__ = ["ipa_chart", "options_chart"]

WORDS = {
    "ipa": ("Ma trận tầm quan trọng - kết quả (KTC {lvl}%)",
            "Importance-performance matrix ({lvl}% CI)"),
    "importance": ("Tầm quan trọng (% của R²)", "Importance (% of R²)"),
    "performance": ("Chỉ số của yếu tố (%)", "Factor index (%)"),
    "concentrate here": ("Cần tập trung cải thiện", "Concentrate here"),
    "keep up the good work": ("Duy trì", "Keep up the good work"),
    "low priority": ("Ưu tiên thấp", "Low priority"),
    "possible overkill": ("Có thể thừa nguồn lực", "Possible overkill"),
    "options": ("{} (KTC {lvl}%; [hạng thấp, cao])", "{} ({lvl}% CI; [rank low, high])"),
    "respondents": ("Tỷ lệ người trả lời chọn (%)", "Share of respondents who ticked (%)"),
}


def _w(key: str, lang: str, *args: Any, **kw: Any) -> str:
    return WORDS[key][0 if lang == "vi" else 1].format(*args, **kw)


def ipa_chart(matrix: pd.DataFrame, *, lang: str = "vi", level: float = 0.95,
              synthetic: bool = False,
                 caption: str = "") -> Figure:
    """The importance-performance matrix of :meth:`sipas.drivers.DriverResult.matrix`.

    Parameters
    ----------
    matrix : DataFrame
        ``driver, label, importance, performance`` with their ``_ci_low``/``_ci_high`` and
        the cuts ``importance_cut``, ``performance_cut``.
    lang : {"vi", "en"}
    level : float
        Confidence level (title).
    synthetic : bool
        Print the SYNTHETIC DATA footer.
    caption : str
        Survey, year and source (:func:`sipas.report.plots.caption_text`); default the sipas
        version only.

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = matrix.reset_index(drop=True)
    fig = _figure(8.0, 6.0)
    ax = fig.add_subplot()
    x, y = 100 * m["performance"].to_numpy(float), 100 * m["importance"].to_numpy(float)
    xerr = 100 * np.vstack([m["performance"] - m["performance_ci_low"],
                            m["performance_ci_high"] - m["performance"]])
    yerr = 100 * np.vstack([m["importance"] - m["importance_ci_low"],
                            m["importance_ci_high"] - m["importance"]])
    ax.errorbar(x, y, xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr), fmt="o",
                color=MAIN, ecolor=MAIN, elinewidth=1.2, capsize=3, markersize=6)
    cx, cy = 100 * float(m["performance_cut"].iloc[0]), 100 * float(m["importance_cut"].iloc[0])
    ax.axvline(cx, color=MUTED, linestyle="--", linewidth=1)
    ax.axhline(cy, color=MUTED, linestyle="--", linewidth=1)
    for xi, yi, lab in zip(x, y, m["label"]):
        ax.annotate(_wrap(lab, 24), (xi, yi), xytext=(5, 5), textcoords="offset points",
                    fontsize=8)
    for key, (hx, hy, ha, va) in {
            "concentrate here": (0.01, 0.99, "left", "top"),
            "keep up the good work": (0.99, 0.99, "right", "top"),
            "low priority": (0.01, 0.01, "left", "bottom"),
            "possible overkill": (0.99, 0.01, "right", "bottom")}.items():
        ax.text(hx, hy, _w(key, lang), transform=ax.transAxes, ha=ha, va=va, fontsize=9,
                color=ACCENT if key == "concentrate here" else MUTED, fontweight="bold")
    ax.set_xlabel(_w("performance", lang))
    ax.set_ylabel(_w("importance", lang))
    ax.set_title(_w("ipa", lang, lvl=f"{100 * level:g}"), loc="left", fontsize=11)
    ax.grid(color="#eeeeee")
    ax.set_axisbelow(True)
    return _finish(fig, synthetic, caption)


def options_chart(table: pd.DataFrame, *, title: str = "", lang: str = "vi",
                  level: float = 0.95, synthetic: bool = False,
                 caption: str = "") -> Figure:
    """Options of a multiple-response question (rows of ``measure == "respondents"`` of
    :meth:`sipas.multiple.MultipleResponse.to_frame`, one domain), most ticked on top, each
    with its interval and, after its label, its confidence set of ranks.

    Parameters
    ----------
    table : DataFrame
        ``measure, label, estimate, ci_low, ci_high, rank_low, rank_high``.
    title, lang, level, synthetic
        The question set's name, language, confidence level and the SYNTHETIC DATA footer.
    caption : str
        Survey, year and source (:func:`sipas.report.plots.caption_text`); default the sipas
        version only.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = table[table["measure"] == "respondents"].sort_values("estimate").reset_index(drop=True)
    fig = _figure(8.5, 1.2 + 0.5 * len(t))
    ax = fig.add_subplot()
    yy = np.arange(len(t), dtype=float)
    est = 100 * t["estimate"].to_numpy(float)
    err = 100 * np.vstack([t["estimate"] - t["ci_low"], t["ci_high"] - t["estimate"]])
    ax.barh(yy, est, color=MAIN, alpha=0.8)
    ax.errorbar(est, yy, xerr=np.nan_to_num(err), fmt="none", ecolor="black", capsize=3)
    labels = [f"{_wrap(lab, 34)}  [{lo}, {hi}]"
              for lab, lo, hi in zip(t["label"], t["rank_low"], t["rank_high"])]
    _yticks(ax, yy, labels, None)   # wrapped above, with the rank set after the label
    ax.set_xlabel(_w("respondents", lang))
    ax.set_title(_w("options", lang, title, lvl=f"{100 * level:g}"), loc="left", fontsize=11)
    ax.grid(axis="x", color="#eeeeee")
    ax.set_axisbelow(True)
    return _finish(fig, synthetic, caption)
