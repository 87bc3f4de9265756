"""Charts a statistician would sign (issue 17 item 8), checked on the figures of demo runs.

Every chart a run of the two demo pipelines draws is kept before it is saved (``save_figure``
is replaced by a recorder), and each is checked: a caption with the survey, its year and the
source; two-line tick labels centred on their bars; the weights histogram of the same
respondents before and after weighting; the PAR charts with the interval of every total and
the confidence set of every rank; an answer-distribution axis that is not half empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from sipas.design.design import Design
from sipas.pipeline import demo_pipeline_path, load_pipeline, run, write
from sipas.report import build, par_charts, plots

RUNS = {"demo": "vi", "demo2026": "en"}


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """(results, figures): figures[(demo, chart name)] for every chart of both demo runs."""
    figures, results = {}, {}
    current = {}

    def keep(fig, stem, formats=("png", "svg"), dpi=150):
        figures[(current["name"], Path(stem).name)] = fig
        return []

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots, "save_figure", keep)
        for name, lang in RUNS.items():
            current["name"] = name
            results[name] = run(load_pipeline(demo_pipeline_path(name)))
            write(results[name], tmp_path_factory.mktemp(name) / "out", lang=lang)
    return results, figures


def texts(fig):
    return [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]


def test_every_chart_has_a_caption_with_survey_year_and_source(drawn):
    results, figures = drawn
    assert {c for d, c in figures if d == "demo"} >= {
        "factors", "ranked_district", "items_distribution", "weights", "drivers_matrix",
        "multiple_needs", "par_provinces", "par_areas", "par_ranks"}
    assert {c for d, c in figures if d == "demo2026"} >= {"factors", "tree", "weights",
                                                         "ranked_commune"}
    for (name, chart), fig in figures.items():
        lang, spec = RUNS[name], results[name].data.spec
        captions = [t for t in fig.texts if t.get_gid() == "caption"]
        assert len(captions) == 1, (name, chart)
        text = " ".join(captions[0].get_text().split())
        assert text == " ".join(build.caption(results[name], lang).split())
        assert spec.title[lang] in text and str(spec.year) in text, (name, chart)
        assert ("Nguồn: " if lang == "vi" else "Source: ") in text
        assert plots.SYNTHETIC_FOOTER in texts(fig)


def test_a_caption_without_a_year_says_so():
    assert "year not given in the spec" in plots.caption_text("S", None, "file s.sav", "en")
    assert "năm 2026. Nguồn: tệp s.sav." in plots.caption_text(
        "S", 2026, plots.file_source("s.sav", "vi"), "vi")


def test_two_line_labels_are_centred_on_their_bars(drawn):
    _, figures = drawn
    multi = 0
    for key, fig in figures.items():
        for ax in fig.axes:
            for tick in ax.get_yticklabels():
                if "\n" in tick.get_text():
                    multi += 1
                    assert tick.get_verticalalignment() == "center", key
    assert multi > 5   # the demos have long item and sub-index labels


def test_weights_histogram_compares_the_same_respondents(drawn):
    results, figures = drawn
    res = results["demo"]
    before = Design.from_spec(res.data).weight_array
    after = res.design.weight_array
    same = (before > 0) & (after > 0)
    ax = figures[("demo", "weights")].axes[0]
    assert f"cùng {int(same.sum())} người trả lời" in ax.get_title(loc="left")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for text, w in zip(legend, (before[same], after[same])):
        assert f"{len(w) * np.sum(w**2) / np.sum(w) ** 2:.2f}" in text


def test_par_charts_show_total_intervals_and_rank_sets(drawn):
    results, figures = drawn
    totals = results["demo"].tables["par_totals"].set_index("province")
    ints = par_charts.par_intervals(totals.reset_index())
    # the stacked bars carry the interval of every total
    ax = figures[("demo", "par_provinces")].axes[0]
    whiskers = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in whiskers) == len(totals)
    # the province's own chart says its total, interval, rank and rank set
    cb = totals.loc["Cao Bằng"]
    title = figures[("demo", "par_areas")].axes[0].get_title(loc="left")
    assert f"{cb['total']:.2f}" in title and f"{ints.loc['Cao Bằng', 'low']:.2f}" in title
    assert f"{int(cb['rank_low'])}–{int(cb['rank_high'])}" in title
    # the ranking chart: one interval per province in each panel, ranks sets as computed
    left, right = figures[("demo", "par_ranks")].axes
    assert len(left.lines) == len(right.lines) == len(totals)
    spans = sorted(tuple(line.get_xdata()) for line in right.lines)
    assert spans == sorted(zip(totals["rank_low"].astype(float),
                               totals["rank_high"].astype(float)))
    lo, hi = left.get_xlim()
    assert lo > 0.5 * totals["total"].min()    # no empty axis from 0


def test_ranked_charts_carry_the_rank_sets(drawn):
    results, figures = drawn
    for demo, by in (("demo", "district"), ("demo2026", "commune")):
        ax = figures[(demo, f"ranked_{by}")].axes[0]
        ranks = results[demo].tables[f"ranks_{by}"].dropna(subset=["rank"])
        labels = " ".join(t.get_text() for t in ax.get_yticklabels())
        for r in ranks.itertuples():
            assert f"({int(r.rank_low)}–{int(r.rank_high)})" in labels.replace("\n", " ")
        word = "hạng" if RUNS[demo] == "vi" else "Rank"
        # a title speaks of rank sets only when some domain has one: the 2026 demo's
        # communes are single PSUs (0 df), so no interval and no rank set, said in a note
        assert (word in ax.get_title(loc="left")) == (len(ranks) > 0), demo
        if not len(ranks):
            note = "không có khoảng" if RUNS[demo] == "vi" else "no intervals"
            assert any(note in t for t in texts(figures[(demo, f"ranked_{by}")]))


def test_the_answer_distribution_axis_spans_the_bars(drawn):
    _, figures = drawn
    ax = figures[("demo", "items_distribution")].axes[0]
    lo, hi = ax.get_xlim()
    ends = [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]
    assert lo > -60 and min(a for a, _ in ends) >= lo and max(b for _, b in ends) <= hi
    assert all(float(t.get_text()) % 10 == 0 for t in ax.get_xticklabels())
    assert "0" in [t.get_text() for t in ax.get_xticklabels()]
