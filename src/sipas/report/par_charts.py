"""Charts of the PAR INDEX, each with the uncertainty of its totals and ranks.

* :func:`par_chart` -- points by area: one province's areas against their maxima, with its
  total, interval, rank and set of ranks; or every province's stacked areas with the
  interval of its total;
* :func:`par_ranks_chart` -- the ranking: a rank is only as sure as the totals it compares,
  so every province's total points with its interval (left) stand beside its rank with the
  simultaneous confidence set of ranks (right; :func:`sipas.engine.ranks.rank_sets`),
  provinces in the order of their rank, the survey's province in colour.

Intervals of totals come from :func:`par_intervals`: the delta-method interval of
``par_totals``, or ``total -+ z sim_se`` where a banded points rule has no delta-method SE.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"province": ["X", "Y"], "total": [80.0, 78.0], "ci_low": [78.0, 76.5],
...                   "ci_high": [82.0, 79.5], "rank": [1, 2], "rank_low": [1, 1],
...                   "rank_high": [2, 2]})
>>> [len(ax.lines) > 0 for ax in par_ranks_chart(t, highlight="X").axes]
[True, True]
"""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sipas.report.plots import ACCENT, MAIN, _figure, _finish, _wrap, _yticks

__all__ = ["par_chart", "par_intervals", "par_ranks_chart"]

WORDS = {
    "par": ("Điểm PAR INDEX theo lĩnh vực", "PAR INDEX points by area"),
    "total_ci": ("Khoảng tin cậy {lvl}% của tổng điểm", "{lvl}% CI of the total"),
    "total_line": ("Tổng điểm {t:.2f} (KTC {lvl}%: {lo:.2f}–{hi:.2f})",
                   "Total {t:.2f} points ({lvl}% CI {lo:.2f}–{hi:.2f})"),
    "rank_line": ("\nHạng {r}/{n} (tập tin cậy {lvl}% của thứ hạng: {lo}–{hi})",
                  "\nRank {r} of {n} ({lvl}% confidence set of ranks {lo}–{hi})"),
    "simulated": ("Khoảng tin cậy của tổng điểm: ± z × sai số chuẩn mô phỏng (quy tắc điểm "
                  "theo khoảng không có sai số chuẩn theo phương pháp delta)",
                  "Interval of the total: ± z × the simulated SE (a banded points rule has "
                  "no delta-method SE)"),
    "points": ("Điểm", "Points"),
    "max": ("Điểm tối đa", "Maximum"),
    "title": ("PAR INDEX: tổng điểm và thứ hạng (KTC {lvl}%; tập tin cậy đồng thời {lvl}% "
              "của thứ hạng)", "PAR INDEX: total points and ranks ({lvl}% CI; simultaneous "
              "{lvl}% confidence sets of ranks)"),
    "total": ("Tổng điểm", "Total points"),
    "rank": ("Thứ hạng (1 = cao nhất)", "Rank (1 = highest)"),
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return WORDS[key][0 if lang == "vi" else 1].format(**kw)


def par_chart(points: pd.DataFrame, *, highlight: str | None = None,
              totals: pd.DataFrame | None = None, level: float = 0.95, lang: str = "vi",
              synthetic: bool = False, caption: str = "") -> Figure:
    """PAR INDEX points by area, with the interval of each total.

    With one province: a bar of its points in each area against the area's maximum, and
    its total with its interval and its rank with its confidence set of ranks under the
    title. With several: one stacked bar per province (areas stacked), sorted by total,
    the interval of each total at the end of its bar, ``highlight`` (the survey's
    province) in colour.

    Parameters
    ----------
    points : DataFrame
        Tidy: ``province, area, points, max_points`` (rows of one province and area are
        added up, so criterion-level rows work too).
    highlight : str, optional
        Province to emphasise.
    totals : DataFrame, optional
        ``par_totals`` of a run (:func:`par_intervals` reads it): the intervals drawn.
    level : float
        Confidence level of the intervals (the legend says it).
    lang, synthetic
        Language and the SYNTHETIC DATA footer.
    caption : str
        Survey, year and source (:func:`caption_text`); default the sipas version only.

    Returns
    -------
    matplotlib.figure.Figure
    """
    need = {"province", "area", "points", "max_points"}
    if not need <= set(points.columns):
        from sipas.errors import ScoringError

        raise ScoringError(f"points must have columns {sorted(need)}; got "
                           f"{list(points.columns)!r}.")
    sums = points.groupby(["province", "area"], sort=False)[["points", "max_points"]].sum()
    sums = sums.reset_index()
    provinces = list(pd.unique(sums["province"]))
    ints = par_intervals(totals, level) if totals is not None else None
    if len(provinces) == 1:
        fig = _par_one(sums, provinces[0], lang, ints, level)
    else:
        fig = _par_many(sums, highlight, lang, ints, level)
    note = _t("simulated", lang) if ints is not None and ints["simulated"].any() else ""
    return _finish(fig, synthetic, caption, note)


def par_intervals(totals: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """The interval of each PAR total, and its rank and confidence set of ranks.

    The delta-method interval ``ci_low, ci_high`` of ``par_totals``; where a points rule
    has no delta-method SE (``rule = "bands"``), ``total -+ z sim_se`` from the simulation
    (``simulated`` is then True).

    Returns
    -------
    DataFrame
        Indexed by province: ``total, low, high, simulated, rank, rank_low, rank_high``.

    Examples
    --------
    >>> t = pd.DataFrame({"province": ["X"], "total": [80.0], "ci_low": [float("nan")],
    ...                   "ci_high": [float("nan")], "sim_se": [1.0], "rank": [1]})
    >>> row = par_intervals(t).loc["X"]
    >>> round(float(row["low"]), 2), bool(row["simulated"])
    (78.04, True)
    """
    from scipy.stats import norm

    t = totals.set_index("province")
    low = t.get("ci_low", pd.Series(np.nan, index=t.index)).astype(float)
    high = t.get("ci_high", pd.Series(np.nan, index=t.index)).astype(float)
    sim = t.get("sim_se", pd.Series(np.nan, index=t.index)).astype(float)
    z = float(norm.ppf(0.5 + level / 2))
    simulated = low.isna() & sim.notna()
    out = pd.DataFrame({"total": t["total"].astype(float),
                        "low": low.where(~simulated, t["total"] - z * sim),
                        "high": high.where(~simulated, t["total"] + z * sim),
                        "simulated": simulated})
    for col in ("rank", "rank_low", "rank_high"):
        out[col] = t[col] if col in t.columns else np.nan
    return out


def _par_one(sums: pd.DataFrame, province: str, lang: str, ints: pd.DataFrame | None,
             level: float) -> Figure:
    fig = _figure(8.5, 1.8 + 0.5 * len(sums))
    ax = fig.add_subplot()
    y = np.arange(len(sums))[::-1]
    ax.barh(y, sums["max_points"], color="#e5e5e5", label=_t("max", lang), height=0.7)
    ax.barh(y, sums["points"], color=MAIN, label=_t("points", lang), height=0.45)
    for yi, p, m in zip(y, sums["points"], sums["max_points"]):
        ax.text(m, yi, f" {p:.2f} / {m:g}", va="center", fontsize=8)
    _yticks(ax, y, sums["area"], 36)
    ax.set_xlim(0, sums["max_points"].max() * 1.18)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    title = f"{_t('par', lang)}: {province}"
    if ints is not None and province in ints.index:
        r = ints.loc[province].to_dict()
        title += "\n" + _t("total_line", lang, t=r["total"], lo=r["low"], hi=r["high"],
                           lvl=f"{100 * level:g}")
        if pd.notna(r["rank_low"]):
            title += _t("rank_line", lang, r=int(r["rank"]), n=len(ints),
                        lo=int(r["rank_low"]), hi=int(r["rank_high"]), lvl=f"{100 * level:g}")
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_xlabel(_t("points", lang))
    return fig


def _par_many(sums: pd.DataFrame, highlight: str | None, lang: str,
              ints: pd.DataFrame | None, level: float) -> Figure:
    areas = list(pd.unique(sums["area"]))
    wide = sums.pivot_table(index="province", columns="area", values="points", aggfunc="sum",
                            sort=False).reindex(columns=areas).fillna(0.0)
    wide = wide.loc[wide.sum(axis=1).sort_values(kind="stable").index]
    fig = _figure(9, 1.6 + 0.22 * len(wide))
    ax = fig.add_subplot()
    y = np.arange(len(wide))
    left = np.zeros(len(wide))
    cmap = matplotlib.colormaps["tab10"]
    for j, area in enumerate(areas):
        ax.barh(y, wide[area], left=left, color=cmap(j % 10), label=_wrap(area, 30),
                height=0.75)
        left = left + wide[area].to_numpy()
    if ints is not None:
        r = ints.reindex(wide.index)
        err = np.vstack([left - r["low"].to_numpy(), r["high"].to_numpy() - left])
        ax.errorbar(left, y, xerr=np.nan_to_num(np.clip(err, 0, None)), fmt="none",
                    ecolor="black", elinewidth=1, capsize=2,
                    label=_t("total_ci", lang, lvl=f"{100 * level:g}"))
    _yticks(ax, y, [str(p) for p in wide.index])
    ax.tick_params(axis="y", labelsize=7)
    for tick in ax.get_yticklabels():
        if tick.get_text() == highlight:
            tick.set_color(ACCENT)
            tick.set_fontweight("bold")
    ax.set_ylim(-0.6, len(wide) - 0.4)
    fig.legend(loc="outside upper center", ncols=min(len(areas) + 1, 4), frameon=False,
               fontsize=8)
    ax.set_title(_t("par", lang), loc="left", fontsize=11)
    ax.set_xlabel(_t("points", lang))
    return fig


def par_ranks_chart(totals: pd.DataFrame, *, highlight: str | None = None,
                    level: float = 0.95, lang: str = "vi", synthetic: bool = False,
                    caption: str = "") -> Figure:
    """Every province's total with its interval and its rank with its confidence set.

    Parameters
    ----------
    totals : DataFrame
        ``par_totals`` of a run: ``province, total, ci_low, ci_high`` (or ``sim_se``),
        ``rank`` and, from the simulation, ``rank_low, rank_high``.
    highlight : str, optional
        The survey's province, in colour.
    level : float
        Confidence level of the intervals and rank sets (the title says it).
    lang : {"vi", "en"}
    synthetic : bool
        Print the SYNTHETIC DATA footer.
    caption : str
        Survey, year and source (:func:`sipas.report.plots.caption_text`).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the provinces: totals (left), ranks (right).
    """
    ints = par_intervals(totals, level).sort_values(["rank", "total"],
                                                    ascending=[False, True], kind="stable")
    n = len(ints)
    fig = _figure(9.5, 1.6 + 0.22 * n)
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
    y = np.arange(n, dtype=float)
    colours = np.where(ints.index == highlight, ACCENT, MAIN)
    for yi, lo, hi, c in zip(y, ints["low"], ints["high"], colours):
        left.plot([lo, hi], [yi, yi], color=c, linewidth=1.4)
    left.scatter(ints["total"], y, color=colours, s=14, zorder=3)
    left.set_xlim(*_pad(np.nanmin(ints["low"]), np.nanmax(ints["high"])))
    rank_low = ints["rank_low"].fillna(ints["rank"]).to_numpy(dtype=float)
    rank_high = ints["rank_high"].fillna(ints["rank"]).to_numpy(dtype=float)
    for yi, lo, hi, c in zip(y, rank_low, rank_high, colours):
        right.plot([lo, hi], [yi, yi], color=c, linewidth=2.2, solid_capstyle="butt")
    right.scatter(ints["rank"], y, color="black", marker="|", s=40, zorder=3)
    right.set_xlim(0.5, n + 0.5)
    _yticks(left, y, [str(p) for p in ints.index])
    left.tick_params(axis="y", labelsize=7)
    for tick in left.get_yticklabels():
        if tick.get_text() == highlight:
            tick.set_color(ACCENT)
            tick.set_fontweight("bold")
    left.set_ylim(-0.6, n - 0.4)
    for ax, key in ((left, "total"), (right, "rank")):
        ax.set_xlabel(_t(key, lang))
        ax.grid(axis="x", color="#eeeeee")
        ax.set_axisbelow(True)
    fig.suptitle(_t("title", lang, lvl=f"{100 * level:g}"), x=0.01, ha="left", fontsize=11)
    note = _t("simulated", lang) if ints["simulated"].any() else ""
    return _finish(fig, synthetic, caption, note)


def _pad(low: float, high: float) -> tuple[float, float]:
    """Limits that hold every interval with 3% of room (the axis starts near the data, not
    at 0: totals of 60-95 points would leave most of a 0-100 axis empty)."""
    room = 0.03 * (high - low if high > low else 1.0)
    return low - room, high + room
