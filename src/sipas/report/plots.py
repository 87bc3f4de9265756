"""Charts of a run (matplotlib, Agg; PNG and SVG), with Vietnamese labels that render.

* :func:`factor_chart` -- factor indices and the overall index with their intervals;
* :func:`ranked_chart` -- domains (districts ...) ranked, with intervals (caterpillar plot);
* :func:`distribution_chart` -- the 5 answer levels of every item as diverging stacked bars
  (the distribution comes from :func:`item_distribution`, which calls
  :func:`sipas.proportion`);
* :func:`weights_chart` -- weights of the same respondents before and after weighting.

PAR INDEX charts are in :mod:`sipas.report.par_charts`, key drivers in
:mod:`sipas.report.driver_charts`, maps in :mod:`sipas.report.maps`; all share the footer
of this module: the caption (survey, year, source: :func:`caption_text`), the synthetic-data
notice and notes.

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

__all__ = ["SYNTHETIC_FOOTER", "caption_text", "distribution_chart", "factor_chart",
           "file_source", "item_distribution", "ranked_chart", "save_figure", "weights_chart"]

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
    "ranked_sets": ("Chỉ số hài lòng chung theo {} (KTC {lvl}%)\nHạng và tập tin cậy đồng "
                    "thời {lvl}% của thứ hạng",
                    "Overall satisfaction index by {} ({lvl}% CI)\nRank and simultaneous "
                    "{lvl}% confidence set of ranks"),
    "rank_label": ("{name} · hạng {r} ({lo}–{hi})", "{name} · rank {r} ({lo}–{hi})"),
    "overall_line": ("Toàn tỉnh", "All respondents"),
    "flagged": ("○ cảnh báo độ tin cậy (xem bảng)", "○ reliability flag (see tables)"),
    "hidden": ("Không hiển thị (đã ẩn): {}", "Not shown (suppressed): {}"),
    "no_interval": ("không có khoảng tin cậy: mỗi nhóm có quá ít đơn vị mẫu (bậc tự do 0)",
                    "no intervals: too few sampling units in each domain (0 df)"),
    "distribution": ("Phân bố câu trả lời theo câu hỏi (có trọng số)",
                     "Distribution of answers by item (weighted)"),
    "share_axis": ("Tỷ lệ người trả lời (%)", "Share of respondents (%)"),
    "weights": ("Trọng số của cùng {n} người trả lời, trước và sau gia quyền",
                "Weights of the same {n} respondents before and after weighting"),
    "before": ("Trước gia quyền", "Before weighting"),
    "after": ("Sau gia quyền", "After weighting"),
    "kish": ("deff Kish", "Kish deff"),
    "weight": ("Trọng số", "Weight"),
    "count": ("Số người trả lời", "Respondents"),
}


def _w(key: str, lang: str, *args: Any, **kw: Any) -> str:
    return WORDS[key][0 if lang == "vi" else 1].format(*args, **kw)


FOOTER_INCHES = 0.5
#: height of one line of the footer (7-point text), and characters of it per inch of width
LINE_INCHES, CHARS_PER_INCH = 0.15, 15
#: the words of a chart caption, in Vietnamese and English
CAPTION = {"vi": ("Khảo sát: {title}, {year}. Nguồn: {source}. Tính bằng sipas {version}.",
                  "năm {}", "năm: chưa ghi trong spec", "tệp {}"),
           "en": ("Survey: {title}, {year}. Source: {source}. Computed with sipas {version}.",
                  "{}", "year not given in the spec", "file {}")}


def caption_text(title: str, year: int | None, source: str, lang: str = "vi") -> str:
    """The caption every chart of a run carries: survey, year and source.

    Parameters
    ----------
    title : str
        The survey's title in ``lang``.
    year : int or None
        The survey's year (``[survey] year``); None says it was not given.
    source : str
        Who produced the data (``[survey] source``), or the data file's name.
    lang : {"vi", "en"}

    Returns
    -------
    str

    Examples
    --------
    >>> caption_text("SIPAS Cao Bằng", 2020, "Sở Nội vụ", "vi")[:45]
    'Khảo sát: SIPAS Cao Bằng, năm 2020. Nguồn: Sở'
    """
    from sipas._version import __version__

    words = CAPTION["en" if lang == "en" else "vi"]
    when = words[1].format(year) if year else words[2]
    return words[0].format(title=title, year=when, source=source, version=__version__)


def file_source(name: str, lang: str = "vi") -> str:
    """The source of a caption when the spec names none: the data file."""
    return CAPTION["en" if lang == "en" else "vi"][3].format(name)


def _finish(fig: Figure, synthetic: bool, caption: str = "", note: str = "") -> Figure:
    """Footer, from the bottom: the caption (survey, year, source; wrapped), then the
    synthetic-data notice (left) and notes (right); the figure grows by the footer so the
    plot keeps its size. Then the font for every text of the figure."""
    width, height = fig.get_size_inches()
    lines = textwrap.wrap(caption or _source(), int(width * CHARS_PER_INCH))
    notes = textwrap.wrap(note, int(width * CHARS_PER_INCH * 0.6)) if note else []
    rows = max(len(notes), 1 if synthetic else 0)
    footer = 0.1 + LINE_INCHES * (len(lines) + rows) + (0.05 if rows else 0)
    total = height - FOOTER_INCHES + footer + 0.1
    fig.set_figheight(total)
    fig.text(0.01, 0.06 / total, "\n".join(lines), ha="left", va="bottom", fontsize=7,
             color="#404040", linespacing=1.3, gid="caption")
    above = (0.1 + LINE_INCHES * len(lines) + 0.05) / total
    if synthetic:
        fig.text(0.01, above, SYNTHETIC_FOOTER, ha="left", va="bottom", fontsize=8,
                 color=ACCENT, fontweight="bold")
    if notes:
        fig.text(0.99, above, "\n".join(notes), ha="right", va="bottom", fontsize=7,
                 color=MUTED, linespacing=1.3)
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(rect=(0, (footer + 0.1) / total, 1, 1 - (footer + 0.1) / total))
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


def _yticks(ax: Any, y: Any, labels: Iterable[Any], width: int | None = 34) -> None:
    """Y tick labels wrapped to ``width`` (None: as given), each centred on its bar or point
    (a two-line label is centred as a block, not on the baseline of its first line)."""
    ax.set_yticks(y, [str(v) if width is None else _wrap(v, width) for v in labels])
    for tick in ax.get_yticklabels():
        tick.set_verticalalignment("center")


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
                 tree: bool = False, caption: str = "") -> Figure:
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
    caption : str
        Survey, year and source (:func:`caption_text`); default the sipas version only.

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
    _yticks(ax, y, rows["label"])
    ax.set_ylim(-0.6, y[-1] + 0.7)
    for tick, colour in zip(ax.get_yticklabels(), [*colours, ACCENT]):
        tick.set_color(colour)
    ax.set_xlabel(_w("index_pct" if pct else "index_scale", lang))
    ax.set_title(_w("tree" if tree else "factors", lang, lvl=f"{100 * level:g}"), loc="left",
                 fontsize=11)
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_axisbelow(True)
    note = _w("flagged", lang) if (rows["flag"] != "").any() else ""
    return _finish(fig, synthetic, caption, note)


def ranked_chart(table: pd.DataFrame, column: str, *, labels: Mapping[Any, str] | None = None,
                 title: str | None = None, reference: float | None = None, lang: str = "vi",
                 level: float = 0.95, synthetic: bool = False,
                 caption: str = "", ranks: pd.DataFrame | None = None) -> Figure:
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
    lang, level, synthetic
        Language, confidence level (title) and the SYNTHETIC DATA footer.
    caption : str
        Survey, year and source (:func:`caption_text`); default the sipas version only.
    ranks : DataFrame, optional
        :func:`sipas.rank_domains` of the same estimates (``column``, ``rank``, ``rank_low``,
        ``rank_high``): each domain's label then carries its rank and confidence set.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = table.reset_index(drop=True)
    names = [str((labels or {}).get(v, v)) for v in t[column]]
    with_sets = False  # the title speaks of rank sets only when some domain has one
    if ranks is not None and {"rank", "rank_low", "rank_high"} <= set(ranks.columns):
        sets = {row[0]: row[1:] for row in ranks[[column, "rank", "rank_low", "rank_high"]]
                .dropna().itertuples(index=False, name=None)}
        for i, v in enumerate(t[column]):
            if v in sets:
                r, lo, hi = (int(x) for x in sets[v])
                names[i] = _w("rank_label", lang, name=names[i], r=r, lo=lo, hi=hi)
                with_sets = True
    rows, pct = _interval_rows(t.assign(**{f"label_{lang}": names}), lang)
    hidden = rows[rows["estimate"].isna()]
    rows = rows.dropna(subset=["estimate"]).sort_values("estimate", kind="stable")
    fig = _figure(8.5, 1.4 + 0.38 * max(len(rows), 1))
    ax = fig.add_subplot()
    y = np.arange(len(rows), dtype=float)
    _points(ax, rows, y, MAIN)
    _yticks(ax, y, rows["label"])
    if reference is not None and np.isfinite(reference):
        ref = reference * (100 if pct else 1)
        ax.axvline(ref, color=ACCENT, linestyle="--", linewidth=1,
                   label=_w("overall_line", lang))
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_xlabel(_w("index_pct" if pct else "index_scale", lang))
    ax.set_title(_w("ranked_sets" if with_sets else "ranked", lang, title or column,
                    lvl=f"{100 * level:g}"), loc="left", fontsize=11)
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_axisbelow(True)
    notes = [_w("flagged", lang)] if (rows["flag"] != "").any() else []
    if len(hidden):
        notes.append(_w("hidden", lang, ", ".join(hidden["label"])))
    if len(rows) and rows["ci_low"].isna().all():
        notes.append(_w("no_interval", lang))
    ax.set_ylim(-0.7, max(len(rows), 1) - 0.3)
    return _finish(fig, synthetic, caption, "; ".join(notes))


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


def distribution_chart(dist: pd.DataFrame, *, lang: str = "vi", synthetic: bool = False,
                       caption: str = "") -> Figure:
    """Diverging stacked bars: lower answer levels left of zero, upper ones right, the
    middle level split across zero. The axis spans the bars (to the next 10%), not
    -100..100, so that no half of it is empty.

    Parameters
    ----------
    dist : DataFrame
        ``item, label, code, code_label, share`` as from :func:`item_distribution`; every
        item has the same codes (one answer scale).
    lang, synthetic
        Language and the SYNTHETIC DATA footer.
    caption : str
        Survey, year and source (:func:`caption_text`); default the sipas version only.

    Returns
    -------
    matplotlib.figure.Figure
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
    _yticks(ax, y, labels, 48)
    ax.tick_params(axis="y", labelsize=8)
    low, high = _span(float(neg.max()), float((wide.sum(axis=1) - neg).max()))
    step = 10 if low + high <= 140 else 20
    ticks = np.arange(-np.floor(low / step) * step, high + 1, step)
    ax.set_xticks(ticks, [f"{abs(v):g}" for v in ticks])
    ax.set_xlim(-low, high)
    ax.set_xlabel(_w("share_axis", lang))
    ax.set_title(_w("distribution", lang), loc="left", fontsize=11)
    ax.legend(ncols=k, loc="upper center", bbox_to_anchor=(0.5, -0.06 - 0.6 / len(wide)),
              frameon=False, fontsize=8)
    return _finish(fig, synthetic, caption)


def _span(left: float, right: float) -> tuple[float, float]:
    """The axis on each side of zero: the longest bar, up to the next 10 (at least 10)."""
    def up(v: float) -> float:
        return float(min(100, max(10, 10 * np.ceil(v / 10 - 1e-9))))

    return up(left), up(right)


def _level_colours(k: int) -> list[str]:
    if k == len(LEVEL_COLOURS):
        return list(LEVEL_COLOURS)
    cmap = matplotlib.colormaps["RdBu"]
    return [matplotlib.colors.to_hex(cmap(x)) for x in np.linspace(0.1, 0.9, k)]


def weights_chart(before: np.ndarray, after: np.ndarray, *, labels: tuple[str, str] = ("", ""),
                  lang: str = "vi", synthetic: bool = False, caption: str = "") -> Figure:
    """Histograms of the weights of the same respondents before and after weighting.

    Parameters
    ----------
    before, after : array
        Weights of the base design and of the final design, row for row. Only rows with a
        positive weight in both are drawn, so non-respondents (base weight, final weight 0)
        do not make the "before" histogram taller than the "after" one; the title says how
        many, and each legend entry gives the Kish design effect ``n Σw² / (Σw)²`` of the
        weights drawn (the same respondents before and after).
    labels : (str, str)
        Legend names of the two histograms (default "before" and "after" in ``lang``).
    lang, synthetic
        Language and the SYNTHETIC DATA footer.
    caption : str
        Survey, year and source (:func:`caption_text`); default the sipas version only.

    Returns
    -------
    matplotlib.figure.Figure
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
    names = [labels[i] or _w(("before", "after")[i], lang) for i in (0, 1)]
    kish = [len(w) * float(np.sum(w**2)) / float(np.sum(w)) ** 2 if len(w) else np.nan
            for w in (b, a)]
    ax.hist(b, bins=bins,  # type: ignore[arg-type]
            color=MUTED, alpha=0.45, label=f"{names[0]} ({_w('kish', lang)} {kish[0]:.2f})")
    ax.hist(a, bins=bins,  # type: ignore[arg-type]
            histtype="step", color=MAIN, linewidth=1.8,
            label=f"{names[1]} ({_w('kish', lang)} {kish[1]:.2f})")
    ax.set_xlabel(_w("weight", lang))
    ax.set_ylabel(_w("count", lang))
    ax.set_xlim(0, float(bins[-1]) * 1.02)
    ax.set_title(_w("weights", lang, n=len(b)), loc="left", fontsize=11)
    ax.legend(frameon=False, fontsize=8)
    return _finish(fig, synthetic, caption)


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
