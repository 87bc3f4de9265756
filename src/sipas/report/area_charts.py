"""The direct-vs-model chart of small-area estimates.

Each area on its own line, sorted by the model estimate: the direct estimate with its design
interval (grey square) above the Fay–Herriot EBLUP with its root-MSE interval (blue dot), so
a reader sees where the model pulled an imprecise direct estimate towards the regression
and how much narrower the interval became. The caption names the survey and the source.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"district": [1, 2], "meaning": "share", "direct": [0.6, 0.8],
...                   "direct_ci_low": [0.4, 0.7], "direct_ci_high": [0.8, 0.9],
...                   "estimate": [0.65, 0.78], "ci_low": [0.55, 0.7],
...                   "ci_high": [0.75, 0.86]})
>>> fig = area_chart(t, "district", lang="en", survey="Demo 2020")
>>> any("Demo 2020" in x.get_text() for x in fig.texts)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sipas.report.plots import MAIN, MUTED, _figure, _finish, _source, _wrap

__all__ = ["area_chart"]

WORDS = {
    "title": ("{} theo {}: ước lượng trực tiếp và ước lượng mô hình (KTC {lvl}%)",
              "{} by {}: direct and model estimates ({lvl}% CI)"),
    "direct": ("Ước lượng trực tiếp (KTC theo thiết kế mẫu)",
               "Direct estimate (design-based CI)"),
    "model": ("Ước lượng mô hình Fay–Herriot (KTC theo căn MSE)",
              "Fay–Herriot model estimate (root-MSE CI)"),
    "pct": ("Ước lượng (%)", "Estimate (%)"),
    "scale": ("Điểm trung bình", "Mean score"),
    "source": ("Nguồn: {}; {}", "Source: {}; {}"),
    "sorted": ("Các khu vực xếp theo ước lượng mô hình", "Areas sorted by the model estimate"),
    "hidden": ("Không hiển thị (đã ẩn): {}", "Not shown (suppressed): {}"),
}


def _w(key: str, lang: str, *args: Any, **kw: Any) -> str:
    return WORDS[key][0 if lang == "vi" else 1].format(*args, **kw)


def area_chart(table: pd.DataFrame, by: str, *, labels: Mapping[Any, str] | None = None,
               title: str | None = None, name: str | None = None, survey: str = "",
               lang: str = "vi", level: float = 0.95, synthetic: bool = False,
               caption: str = "") -> Figure:
    """Direct estimates against Fay–Herriot estimates, area by area.

    Parameters
    ----------
    table : DataFrame
        ``small_area_by_<by>`` of a run: ``by``, ``direct``, ``direct_ci_low``,
        ``direct_ci_high``, ``estimate``, ``ci_low``, ``ci_high`` and ``meaning`` (``"mean"``
        keeps the answer scale; anything else is shown in percent). Rows without a model
        estimate (suppressed) are listed under the chart.
    by : str
        The area column.
    labels : mapping, optional
        Area code -> name.
    title : str, optional
        Name of the area variable in the title (default ``by``).
    name : str, optional
        Name of the index or share in the title.
    survey : str
        The survey (its title and year, the data file) for the caption.
    caption : str
        A whole caption (survey, year, source) that replaces the one made from ``survey``:
        the pipeline gives every chart the same one.
    lang : {"vi", "en"}
    level : float
        Confidence level (title).
    synthetic : bool
        Print the SYNTHETIC DATA footer.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = table.reset_index(drop=True)
    pct = str(t["meaning"].iloc[0]) != "mean" if "meaning" in t.columns and len(t) else True
    scale = 100.0 if pct else 1.0
    names = [str((labels or {}).get(v, v)) for v in t[by]]
    hidden = [n for n, e in zip(names, t["estimate"]) if pd.isna(e)]
    keep = t["estimate"].notna().to_numpy()
    t, names = t[keep], [n for n, k in zip(names, keep) if k]
    order = np.argsort(t["estimate"].to_numpy(dtype=float), kind="stable")
    t, names = t.iloc[order], [names[i] for i in order]
    fig = _figure(8.5, 1.6 + 0.5 * max(len(t), 1))
    ax = fig.add_subplot()
    y = np.arange(len(t), dtype=float)
    for cols, shift, colour, marker, face, key in (
            (("direct", "direct_ci_low", "direct_ci_high"), 0.17, MUTED, "s", "white",
             "direct"),
            (("estimate", "ci_low", "ci_high"), -0.17, MAIN, "o", MAIN, "model")):
        est, low, high = (scale * t[c].to_numpy(dtype=float) for c in cols)
        err = np.vstack([est - low, high - est])
        ax.errorbar(est, y + shift, xerr=np.nan_to_num(err), fmt=marker, color=colour,
                    markerfacecolor=face, ecolor=colour, elinewidth=1.5, capsize=3,
                    markersize=6, label=_w(key, lang))
    ax.set_yticks(y, [_wrap(v, 30) for v in names])
    ax.set_ylim(-0.7, max(len(t), 1) - 0.3)
    ax.set_xlabel(_w("pct" if pct else "scale", lang))
    ax.set_title(_wrap(_w("title", lang, name or "", title or by, lvl=f"{100 * level:g}")
                       .strip(), 80), loc="left", fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / max(len(t), 1)),
              ncols=2, frameon=False, fontsize=8)
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_axisbelow(True)
    notes = [_w("sorted", lang)]
    if hidden:
        notes.append(_w("hidden", lang, ", ".join(hidden)))
    source = caption or (_w("source", lang, survey, _source()) if survey else _source())
    return _finish(fig, synthetic, source, "; ".join(notes))
