"""Charts of a run (matplotlib, Agg; PNG and SVG), with Vietnamese labels that render.

* :func:`factor_chart` -- factor indices and the overall index with their intervals;
* :func:`ranked_chart` -- domains (districts ...) ranked, with intervals (caterpillar plot);
* :func:`distribution_chart` -- the 5 answer levels of every item as diverging stacked bars
  (the distribution comes from :func:`item_distribution`, which calls
  :func:`sipas.proportion`);
* :func:`weights_chart` -- weights before and after weighting;
* :func:`par_chart` -- PAR INDEX points by area (a tidy table province, area, points,
  max_points).

The font is chosen by :func:`sipas.report.fonts.choose_font` from all the text of each
chart: the first candidate (matplotlib's bundled "DejaVu Sans" first, so output is the same
on every machine) whose character map holds every character; otherwise the best one, with a
warning naming the missing characters. Figures are built on their own canvas (no pyplot,
no global state); SVG output uses a fixed hash salt and no date, so files are reproducible.
A synthetic survey's charts say so in their footer.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"district": [1, 2], "estimate": [0.7, 0.8], "ci_low": [0.6, 0.7],
...                   "ci_high": [0.8, 0.9], "flag": ["", ""]})
>>> fig = ranked_chart(t, "district", labels={1: "Bảo Lạc", 2: "Hà Quảng"}, synthetic=True)
>>> SYNTHETIC_FOOTER in [t.get_text() for t in fig.texts]
True
"""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.text import Text

from sipas.report.files import atomic_path
from sipas.report.fonts import choose_font
from sipas.report.tables import share_rows

__all__ = ["SYNTHETIC_FOOTER", "distribution_chart", "factor_chart", "item_distribution",
           "par_chart", "ranked_chart", "save_figure", "weights_chart"]

SYNTHETIC_FOOTER = "SYNTHETIC DATA / DỮ LIỆU GIẢ LẬP"
#: ColorBrewer RdBu (colour-blind safe), neutral in grey
LEVEL_COLOURS = ("#ca0020", "#f4a582", "#d9d9d9", "#92c5de", "#0571b0")
MAIN, ACCENT, MUTED = "#0571b0", "#ca0020", "#7f7f7f"
WORDS = {
    "index_pct": ("Chỉ số (%)", "Index (%)"),
    "index_scale": ("Điểm trung bình", "Mean score"),
    "factors": ("Chỉ số hài lòng theo yếu tố (KTC {lvl}%)",
                "Satisfaction indices by factor ({lvl}% CI)"),
    "tree": ("Cây chỉ số: chỉ số chung, thành phần, chỉ số con (KTC {lvl}%)",
             "Index tree: overall, components, sub-indices ({lvl}% CI)"),
    "ranked": ("Chỉ số hài lòng chung theo {} (KTC {lvl}%)",
               "Overall satisfaction index by {} ({lvl}% CI)"),
    "overall_line": ("Toàn tỉnh", "All respondents"),
    "flagged": ("○ cảnh báo độ tin cậy (xem bảng)", "○ reliability flag (see tables)"),
    "hidden": ("Không hiển thị (đã ẩn): {}", "Not shown (suppressed): {}"),
    "distribution": ("Phân bố câu trả lời theo câu hỏi (có trọng số)",
                     "Distribution of answers by item (weighted)"),
    "share_axis": ("Tỷ lệ người trả lời (%)", "Share of respondents (%)"),
    "weights": ("Phân bố trọng số trước và sau gia quyền", "Weights before and after weighting"),
    "weight": ("Trọng số", "Weight"),
    "count": ("Số người trả lời", "Respondents"),
    "par": ("Điểm PAR INDEX theo lĩnh vực", "PAR INDEX points by area"),
    "points": ("Điểm", "Points"),
    "max": ("Điểm tối đa", "Maximum"),
}


def _w(key: str, lang: str, *args: Any, **kw: Any) -> str:
    return WORDS[key][0 if lang == "vi" else 1].format(*args, **kw)


FOOTER_INCHES = 0.5


def _finish(fig: Figure, synthetic: bool, source: str = "", note: str = "") -> Figure:
    """Footer (synthetic notice, source, notes), then the font for every text of the figure."""
    height = fig.get_figheight()
    base = 0.08 / height
    if synthetic:
        fig.text(0.01, base, SYNTHETIC_FOOTER, ha="left", va="bottom", fontsize=8,
                 color=ACCENT, fontweight="bold")
    if source:
        fig.text(0.99, base, source, ha="right", va="bottom", fontsize=7, color=MUTED)
    if note:
        fig.text(0.99, base + 0.2 / height, note, ha="right", va="bottom", fontsize=7,
                 color=MUTED)
    texts = [t.get_text() for t in fig.findobj(Text)]
    font = choose_font(texts)
    family = [font.name] if font.name == "DejaVu Sans" else [font.name, "DejaVu Sans"]
    for ax in fig.axes:
        ax.tick_params(axis="both", which="both", labelfontfamily=family)
    for text in fig.findobj(Text):
        text.set_fontfamily(family)
    return fig


def _figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas, with room for the footer at the bottom."""
    height = max(height, 3.0)
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    bottom = FOOTER_INCHES / height
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):  # always: layout="constrained"
        engine.set(rect=(0, bottom, 1, 1 - bottom))
    FigureCanvasAgg(fig)
    return fig


def _wrap(text: Any, width: int = 42) -> str:
    return textwrap.fill(unicodedata.normalize("NFC", str(text)), width)


def _source() -> str:
    from sipas._version import __version__

    return f"sipas {__version__}"


# ---------------------------------------------------------------------- charts

def _interval_rows(table: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, bool]:
    """Estimate and CI on the display scale (percent for shares), with labels and flags."""
    t = table.reset_index(drop=True)
    shares = share_rows(t)
    scale = 100.0 if shares.all() else 1.0
    label = t.get(f"label_{lang}", t.get("name", pd.Series(range(len(t)))))
    out = pd.DataFrame({"label": label.astype(str),
                        "estimate": t["estimate"].astype(float) * scale,
                        "ci_low": t["ci_low"].astype(float) * scale,
                        "ci_high": t["ci_high"].astype(float) * scale,
                        "flag": t.get("flag", pd.Series([""] * len(t))).fillna("").astype(str)})
    return out, bool(shares.all())


def _points(ax: Any, rows: pd.DataFrame, y: np.ndarray, colour: str) -> None:
    err = np.vstack([rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]])
    ax.errorbar(rows["estimate"], y, xerr=np.nan_to_num(err), fmt="none", ecolor=colour,
                elinewidth=1.6, capsize=3)
    flagged = rows["flag"].to_numpy() != ""
    ax.scatter(rows["estimate"][~flagged], y[~flagged], color=colour, zorder=3, s=36)
    ax.scatter(rows["estimate"][flagged], y[flagged], facecolor="white", edgecolor=colour,
               zorder=3, s=36, linewidths=1.5)


def factor_chart(overall: pd.DataFrame, factors: pd.DataFrame, *, lang: str = "vi",
                 decimals: int = 1, level: float = 0.95, synthetic: bool = False,
                 tree: bool = False) -> Figure:
    """Factor indices and the overall index, each with its interval.

    Parameters
    ----------
    overall, factors : DataFrame
        ``index_overall`` and ``index_factors`` of a run (estimate, ci_low, ci_high,
        label_vi, label_en, flag, definition).
    lang : {"vi", "en"}
    decimals : int
        Decimals of the value printed beside each point.
    synthetic : bool
        Print the SYNTHETIC DATA footer.
    tree : bool
        ``factors`` are the nodes of an index tree (the title says so).

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows, pct = _interval_rows(pd.concat([overall, factors], ignore_index=True), lang)
    rows = rows.iloc[::-1].reset_index(drop=True)   # overall on top
    fig = _figure(8.5, 1.2 + 0.55 * len(rows))
    ax = fig.add_subplot()
    y = np.arange(len(rows), dtype=float)
    y[-1] += 0.4
    colours = [MAIN] * (len(rows) - 1)
    _points(ax, rows.iloc[:-1], y[:-1], MAIN)
    _points(ax, rows.iloc[-1:], y[-1:], ACCENT)
    for yi, est in zip(y, rows["estimate"]):
        ax.annotate(f"{est:.{decimals if pct else decimals + 1}f}", (est, yi),
                    xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8)
    ax.set_yticks(y, [_wrap(v, 34) for v in rows["label"]])
    ax.set_ylim(-0.6, y[-1] + 0.7)
    for tick, colour in zip(ax.get_yticklabels(), [*colours, ACCENT]):
        tick.set_color(colour)
    ax.set_xlabel(_w("index_pct" if pct else "index_scale", lang))
    ax.set_title(_w("tree" if tree else "factors", lang, lvl=f"{100 * level:g}"), loc="left",
                 fontsize=11)
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_axisbelow(True)
    note = _w("flagged", lang) if (rows["flag"] != "").any() else ""
    return _finish(fig, synthetic, _source(), note)


def ranked_chart(table: pd.DataFrame, column: str, *, labels: Mapping[Any, str] | None = None,
                 title: str | None = None, reference: float | None = None, lang: str = "vi",
                 level: float = 0.95, synthetic: bool = False) -> Figure:
    """Domains ranked by their index, with intervals (a caterpillar plot).

    Parameters
    ----------
    table : DataFrame
        One row per domain: ``column``, estimate, ci_low, ci_high, flag (e.g. the overall
        rows of ``index_by_district``). Rows without an estimate (suppressed) are listed
        under the chart instead.
    column : str
        The domain column.
    labels : mapping, optional
        Domain code -> label.
    title : str, optional
        Name of the domain variable in the title.
    reference : float, optional
        The index over all respondents (dashed line), as a proportion or mean.
    """
    t = table.reset_index(drop=True)
    names = [str((labels or {}).get(v, v)) for v in t[column]]
    rows, pct = _interval_rows(t.assign(**{f"label_{lang}": names}), lang)
    hidden = rows[rows["estimate"].isna()]
    rows = rows.dropna(subset=["estimate"]).sort_values("estimate", kind="stable")
    fig = _figure(8.5, 1.4 + 0.38 * max(len(rows), 1))
    ax = fig.add_subplot()
    y = np.arange(len(rows), dtype=float)
    _points(ax, rows, y, MAIN)
    ax.set_yticks(y, [_wrap(v, 34) for v in rows["label"]])
    if reference is not None and np.isfinite(reference):
        ref = reference * (100 if pct else 1)
        ax.axvline(ref, color=ACCENT, linestyle="--", linewidth=1,
                   label=_w("overall_line", lang))
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_xlabel(_w("index_pct" if pct else "index_scale", lang))
    ax.set_title(_w("ranked", lang, title or column, lvl=f"{100 * level:g}"), loc="left",
                 fontsize=11)
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_axisbelow(True)
    notes = [_w("flagged", lang)] if (rows["flag"] != "").any() else []
    if len(hidden):
        notes.append(_w("hidden", lang, ", ".join(hidden["label"])))
    ax.set_ylim(-0.7, max(len(rows), 1) - 0.3)
    return _finish(fig, synthetic, _source(), "; ".join(notes))


def item_distribution(design: Any, spec: Any, items: Sequence[str] | None = None,
                      lang: str = "vi") -> pd.DataFrame:
    """Weighted distribution of the valid answers of each item (for the diverging bars).

    Uses :func:`sipas.proportion` (one row per answer code); codes outside the item's scale
    (missing codes) are not answers and are left out, as in the indices.

    Returns
    -------
    DataFrame
        ``item, label, code, code_label, share`` (shares of one item sum to 1).
    """
    from sipas.estimation.estimators import proportion

    if items is None:
        items = [i for f in spec.factors for i in f.items]
        if spec.overall_item:
            items.append(spec.overall_item)
    rows = []
    for item in items:
        scale = spec.scale_of(item)
        est = proportion(design, item).to_frame()
        codes = [float(v) for v in est["value"]]
        share = dict(zip(codes, est["estimate"].astype(float)))
        total = sum(share.get(float(c), 0.0) for c in scale.codes)
        label = spec.item(item).label
        for code in scale.codes:
            rows.append({"item": item, "label": label.get(lang) or label.get("vi", item),
                         "code": code, "code_label": scale.label(code, lang),
                         "share": share.get(float(code), 0.0) / total if total else np.nan})
    return pd.DataFrame(rows)


def distribution_chart(dist: pd.DataFrame, *, lang: str = "vi",
                       synthetic: bool = False) -> Figure:
    """Diverging stacked bars: lower answer levels left of zero, upper ones right, the
    middle level split across zero.

    Parameters
    ----------
    dist : DataFrame
        ``item, label, code, code_label, share`` as from :func:`item_distribution`; every
        item has the same codes (one answer scale).
    """
    codes = list(pd.unique(dist["code"]))
    k = len(codes)
    wide = dist.pivot_table(index="item", columns="code", values="share", sort=False)
    wide = wide.reindex(columns=codes).fillna(0.0) * 100
    labels = dist.drop_duplicates("item").set_index("item")["label"].reindex(wide.index)
    names = dist.drop_duplicates("code").set_index("code")["code_label"]
    colours = _level_colours(k)
    neg = wide.iloc[:, : k // 2].sum(axis=1) + (wide.iloc[:, k // 2] / 2 if k % 2 else 0)
    fig = _figure(10, 1.6 + 0.42 * len(wide))
    ax = fig.add_subplot()
    y = np.arange(len(wide))[::-1]
    left = -neg.to_numpy()
    for j, code in enumerate(codes):
        width = wide[code].to_numpy()
        ax.barh(y, width, left=left, color=colours[j], edgecolor="white", linewidth=0.5,
                label=str(names[code]), height=0.75)
        left = left + width
    ax.axvline(0, color="#404040", linewidth=0.8)
    ax.set_yticks(y, [_wrap(v, 48) for v in labels])
    ax.tick_params(axis="y", labelsize=8)
    ticks = np.arange(-100, 101, 25)
    ax.set_xticks(ticks, [f"{abs(v)}" for v in ticks])
    ax.set_xlim(-100, 100)
    ax.set_xlabel(_w("share_axis", lang))
    ax.set_title(_w("distribution", lang), loc="left", fontsize=11)
    ax.legend(ncols=k, loc="upper center", bbox_to_anchor=(0.5, -0.06 - 0.6 / len(wide)),
              frameon=False, fontsize=8)
    return _finish(fig, synthetic, _source())


def _level_colours(k: int) -> list[str]:
    if k == len(LEVEL_COLOURS):
        return list(LEVEL_COLOURS)
    cmap = matplotlib.colormaps["RdBu"]
    return [matplotlib.colors.to_hex(cmap(x)) for x in np.linspace(0.1, 0.9, k)]


def weights_chart(before: np.ndarray, after: np.ndarray, *, labels: tuple[str, str] = ("", ""),
                  lang: str = "vi", synthetic: bool = False) -> Figure:
    """Histograms of the weights of the same respondents before and after weighting.

    Parameters
    ----------
    before, after : array
        Weights of the base design and of the final design, row for row. Only rows with a
        positive weight in both are drawn, so non-respondents (base weight, final weight 0)
        do not make the "before" histogram taller than the "after" one.
    labels : (str, str)
        Legend entries (e.g. with the Kish design effect of each).
    """
    b = np.asarray(before, dtype=float)
    a = np.asarray(after, dtype=float)
    if b.shape != a.shape:
        raise ValueError(f"before and after must hold the same rows; got {b.shape} and "
                         f"{a.shape}.")
    same = (b > 0) & (a > 0)
    b, a = b[same], a[same]
    bins = np.histogram_bin_edges(np.concatenate([b, a]), bins=40)
    fig = _figure(8.5, 4.5)
    ax = fig.add_subplot()
    # matplotlib's stubs want a list of edges; the array of edges is what hist works on
    ax.hist(b, bins=bins,  # type: ignore[arg-type]
            color=MUTED, alpha=0.45, label=labels[0] or "before")
    ax.hist(a, bins=bins,  # type: ignore[arg-type]
            histtype="step", color=MAIN, linewidth=1.8, label=labels[1] or "after")
    ax.set_xlabel(_w("weight", lang))
    ax.set_ylabel(_w("count", lang))
    ax.set_title(_w("weights", lang), loc="left", fontsize=11)
    ax.legend(frameon=False, fontsize=8)
    return _finish(fig, synthetic, _source())


def par_chart(points: pd.DataFrame, *, highlight: str | None = None, lang: str = "vi",
              synthetic: bool = False) -> Figure:
    """PAR INDEX points by area.

    With one province: a bar of its points in each area against the area's maximum. With
    several: one stacked bar per province (areas stacked), sorted by total, ``highlight``
    (the survey's province) in colour.

    Parameters
    ----------
    points : DataFrame
        Tidy: ``province, area, points, max_points`` (rows of one province and area are
        added up, so criterion-level rows work too).
    highlight : str, optional
        Province to emphasise.
    """
    need = {"province", "area", "points", "max_points"}
    if not need <= set(points.columns):
        from sipas.errors import ScoringError

        raise ScoringError(f"points must have columns {sorted(need)}; got "
                           f"{list(points.columns)!r}.")
    sums = points.groupby(["province", "area"], sort=False)[["points", "max_points"]].sum()
    sums = sums.reset_index()
    provinces = list(pd.unique(sums["province"]))
    if len(provinces) == 1:
        fig = _par_one(sums, provinces[0], lang)
    else:
        fig = _par_many(sums, highlight, lang)
    return _finish(fig, synthetic, _source())


def _par_one(sums: pd.DataFrame, province: str, lang: str) -> Figure:
    fig = _figure(8.5, 1.6 + 0.5 * len(sums))
    ax = fig.add_subplot()
    y = np.arange(len(sums))[::-1]
    ax.barh(y, sums["max_points"], color="#e5e5e5", label=_w("max", lang), height=0.7)
    ax.barh(y, sums["points"], color=MAIN, label=_w("points", lang), height=0.45)
    for yi, p, m in zip(y, sums["points"], sums["max_points"]):
        ax.text(m, yi, f" {p:.2f} / {m:g}", va="center", fontsize=8)
    ax.set_yticks(y, [_wrap(a, 36) for a in sums["area"]])
    ax.set_xlim(0, sums["max_points"].max() * 1.18)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_title(f"{_w('par', lang)}: {province}", loc="left", fontsize=11)
    ax.set_xlabel(_w("points", lang))
    return fig


def _par_many(sums: pd.DataFrame, highlight: str | None, lang: str) -> Figure:
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
    ax.set_yticks(y, [str(p) for p in wide.index])
    ax.tick_params(axis="y", labelsize=7)
    for tick in ax.get_yticklabels():
        if tick.get_text() == highlight:
            tick.set_color(ACCENT)
            tick.set_fontweight("bold")
    ax.set_ylim(-0.6, len(wide) - 0.4)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_title(_w("par", lang), loc="left", fontsize=11)
    ax.set_xlabel(_w("points", lang))
    return fig


# ---------------------------------------------------------------------- saving

def save_figure(fig: Figure, stem: str | Path, formats: Iterable[str] = ("png", "svg"),
                dpi: int = 150) -> list[Path]:
    """Write ``stem.png`` / ``stem.svg`` atomically and reproducibly (no dates, fixed salt).

    Returns
    -------
    list of Path
        The files written (formats other than png and svg are ignored).
    """
    from sipas._version import __version__

    written = []
    meta = {"png": {"Software": f"sipas {__version__}"},
            "svg": {"Date": None, "Creator": f"sipas {__version__}"}}
    for fmt in [f for f in ("png", "svg") if f in set(formats)]:
        path = Path(stem).with_suffix(f".{fmt}")
        with atomic_path(path) as tmp, matplotlib.rc_context({"svg.hashsalt": "sipas",
                                                              "svg.fonttype": "path"}):
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta[fmt], facecolor="white")
        written.append(path)
    return written
