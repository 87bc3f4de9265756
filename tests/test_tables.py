"""Two-way tables, tests and nonlinear contrasts: identities and closed forms.

Independent references: closed forms of weighted chi-square sums (equal weights give chi^2
and F exactly); sipas.proportion / sipas.total / sipas.contrast on the same design (a row
share is the proportion of the column variable in the row's domain); the Dask back end
against the in-memory one; R's oracle for the numbers themselves is tests/test_tables_oracle.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sipas
from sipas.tables.quadform import chisqsum_sf, fsum_sf, saddle, zeroin
from sipas.tables.ranktest import rank_scores
from tables_cases import cases, design_for

COLS = ["estimate", "se", "ci_low", "ci_high", "df", "deff"]


@pytest.fixture(scope="module")
def demo():
    sd = sipas.datasets.load_demo()
    return sd, sipas.Design.from_spec(sd)


def test_quadform_equal_weights_are_chi2_and_f():
    """sum of k chi^2_1 with weight a is a chi^2_k scaled by a: exact integration, and the
    Satterthwaite approximation, give it exactly; with denominator df, F."""
    assert chisqsum_sf(7.0, [2.0] * 3, "integration") == pytest.approx(
        stats.chi2.sf(3.5, 3), rel=1e-8)
    assert chisqsum_sf(7.0, [2.0] * 3, "satterthwaite") == pytest.approx(
        stats.chi2.sf(3.5, 3), rel=1e-12)
    assert fsum_sf(9.0, [1.5, 1.5], 40.0, "integration") == pytest.approx(
        stats.f.sf(9.0 / 3.0, 2, 40), rel=1e-7)
    assert fsum_sf(9.0, [1.5, 1.5], math.inf, "integration") == pytest.approx(
        stats.chi2.sf(6.0, 2), rel=1e-8)


def test_saddlepoint_is_close_to_exact_in_the_tail():
    lam = [2.5, 1.0, 0.4]
    exact = chisqsum_sf(20.0, lam, "integration")
    assert saddle(20.0, lam) == pytest.approx(exact, rel=0.1)
    assert chisqsum_sf(20.0, lam, "saddlepoint") == saddle(20.0, lam)
    # near the mean the saddlepoint is unreliable: NaN, and the Satterthwaite value is used
    assert math.isnan(saddle(3.9, lam))
    assert chisqsum_sf(3.9, lam) == chisqsum_sf(3.9, lam, "satterthwaite")


def test_zeroin_stops_within_tolerance():
    root = zeroin(lambda x: math.cos(x) - x, 0.0, 1.0, 1.0, math.cos(1) - 1, 1e-8)
    assert abs(root - 0.7390851332151607) < 1e-8


def test_lincom_agrees_with_saddlepoint_on_oracle_designs():
    """The exact tail and R's saddlepoint approximate the same probability."""
    for case in cases("chisq"):
        if case["method"] != "saddlepoint" or case["table"]["row"] != "api_band":
            continue
        design = design_for(case)
        exact = sipas.chisq_test(design, "api_band", "stype", statistic="lincom")
        approx = sipas.chisq_test(design, "api_band", "stype", statistic="saddlepoint")
        assert exact.p_value == pytest.approx(approx.p_value, rel=0.05), case["id"]
        assert exact.statistic == approx.statistic


def test_row_and_column_shares_are_proportions_by_domain(demo):
    sd, d = demo
    tab = sipas.crosstab(d, "urban", "p01")
    row = tab.row.to_frame()
    prop = sipas.proportion(d, "p01", by="urban").to_frame()
    np.testing.assert_allclose(row[COLS].to_numpy(float), prop[COLS].to_numpy(float),
                               rtol=1e-12)
    assert row["urban"].tolist() == prop["urban"].tolist()
    filled = d.with_columns({"p01f": sd.frame["p01"].fillna(-1)})
    col = tab.column.to_frame().sort_values(["p01", "urban"])
    prop = sipas.proportion(filled.subset(sd.frame["p01"].notna()), "urban",
                            by="p01f").to_frame()
    prop = prop[prop["p01f"] != -1]
    np.testing.assert_allclose(col["estimate"], prop["estimate"], rtol=1e-12)
    np.testing.assert_allclose(col["se"], prop["se"], rtol=1e-12)


def test_cells_and_totals_are_proportion_and_total_of_the_cell(demo):
    sd, d = demo
    f = sd.frame
    both = f["urban"].notna() & f["p01"].notna()
    code = np.where(both, f["urban"] * 10 + f["p01"], np.nan)
    coded = d.with_columns({"cell": code, "is11": np.where(both, code == 11, np.nan)})
    tab = sipas.crosstab(d, "urban", "p01")
    cell = tab.cell.to_frame()
    prop = sipas.proportion(coded, "cell").to_frame()
    np.testing.assert_allclose(cell[COLS].to_numpy(float), prop[COLS].to_numpy(float),
                               rtol=1e-12)
    total = sipas.total(coded, "is11").to_frame()
    first = tab.total.to_frame().iloc[0]
    assert first["estimate"] == pytest.approx(total["estimate"][0], rel=1e-12)
    assert first["se"] == pytest.approx(total["se"][0], rel=1e-12)
    counts = pd.crosstab(f["urban"], f["p01"]).to_numpy().ravel()
    assert cell["n"].tolist() == counts.tolist()
    assert cell["estimate"].sum() == pytest.approx(1.0)


def test_crosstab_by_domain_equals_crosstab_of_the_subset(demo):
    sd, d = demo
    by = sipas.crosstab(d, "urban", "p01", by="district").cell.to_frame()
    one = sipas.crosstab(d.subset(sd.frame["district"] == 3), "urban", "p01").cell.to_frame()
    part = by[by["district"] == 3]
    np.testing.assert_allclose(part["estimate"], one["estimate"], rtol=1e-12)
    np.testing.assert_allclose(part["se"], one["se"], rtol=1e-12)
    assert tuple(sipas.crosstab(d, "urban", "p01", by="district").by) == ("district",)


def test_crosstab_on_raked_and_replicate_designs():
    """Calibration and replicates enter through the estimators: equal to proportion."""
    for key in ("clus1_rake", "strat_JKn"):
        case = next(c for c in cases("chisq") if c["design_key"] == key)
        design = design_for(case)
        row = sipas.crosstab(design, "stype", "sch_wide").row.to_frame()
        prop = sipas.proportion(design, "sch_wide", by="stype").to_frame()
        np.testing.assert_allclose(row[COLS].to_numpy(float), prop[COLS].to_numpy(float),
                                   rtol=1e-11)


def test_crosstab_is_read_only_and_concatenates(demo):
    _, d = demo
    tab = sipas.crosstab(d, "urban", "p01")
    with pytest.raises(AttributeError):
        tab.cell = None
    frame = tab.to_frame()
    assert list(frame.columns[:3]) == ["urban", "p01", "variable"]
    assert len(frame) == 16
    assert "row shares" in tab.summary("row")
    # every part is an Estimate with keys, so contrasts work on it
    diff = sipas.contrast(tab.row, {(1, 1, "row"): 1, (2, 1, "row"): -1})
    assert np.isfinite(diff.to_frame()["se"][0])


def test_dask_design_gives_the_in_memory_table():
    dd = pytest.importorskip("dask.dataframe")
    sd = sipas.datasets.load_demo()
    frame = sd.frame[sd.frame.response == 1].reset_index(drop=True)
    args = {"ids": "commune", "strata": "district", "weights": "w_design", "nest": True}
    mem = sipas.Design(frame, **args)
    dsk = sipas.Design(dd.from_pandas(frame, npartitions=4), **args)
    a = sipas.crosstab(mem, "urban", "p01", by="sex").to_frame()
    b = sipas.crosstab(dsk, "urban", "p01", by="sex").to_frame()
    np.testing.assert_allclose(b[[*COLS, "n"]].to_numpy(float),
                               a[[*COLS, "n"]].to_numpy(float), rtol=1e-12, equal_nan=True)
    for statistic in ("F", "Wald"):
        assert sipas.chisq_test(dsk, "urban", "p01", statistic=statistic).p_value == \
            pytest.approx(sipas.chisq_test(mem, "urban", "p01", statistic=statistic).p_value,
                          rel=1e-10)
    a, b = sipas.ttest(mem, "p03", "urban"), sipas.ttest(dsk, "p03", "urban")
    assert (b.statistic, b.p_value) == pytest.approx((a.statistic, a.p_value), rel=1e-10)
    with pytest.raises(sipas.EstimationError, match="rank test"):
        sipas.rank_test(dsk, "p03", "urban")


def test_ttest_is_the_contrast_of_domain_means(demo):
    sd, d = demo
    d = d.subset(sd.frame["response"] == 1)
    r = sipas.ttest(d, "p03", "urban", level=0.9)
    diff = sipas.contrast(sipas.mean(d, "p03", by="urban"), [-1, 1]).to_frame()
    assert r.estimate == pytest.approx(diff["estimate"][0], rel=1e-12)
    assert r.se == pytest.approx(diff["se"][0], rel=1e-12)
    assert r.df == d.df - 1
    q = stats.t.ppf(0.95, r.df)
    assert (r.ci_low, r.ci_high) == pytest.approx((r.estimate - q * r.se,
                                                   r.estimate + q * r.se))
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs(r.statistic), r.df))
    assert list(r.to_frame().columns) == ["test", "estimate", "se", "ci_low", "ci_high",
                                          "statistic", "df_num", "df", "p_value"]
    with pytest.raises(AttributeError):
        r.p_value = 0.5
    assert "p-value" in r.summary()


def test_rank_scores_without_weights_are_mid_ranks():
    y = np.array([3.0, 1.0, 2.0, 2.0, np.nan, 5.0])
    s = rank_scores(y, np.ones(6), "wilcoxon")
    assert np.isnan(s[4])
    np.testing.assert_allclose(s[[1, 2, 3, 0, 5]] * 5, stats.rankdata([1, 2, 2, 3, 5]) - 0.5)
    med = rank_scores(y, np.ones(6), "median")
    assert med[[1, 5]].tolist() == [0.0, 1.0]


def test_rank_test_two_groups_equals_kruskal_wallis_score(demo):
    sd, d = demo
    d = d.subset(sd.frame["response"] == 1)
    a = sipas.rank_test(d, "p03", "urban", test="wilcoxon")
    b = sipas.rank_test(d, "p03", "urban", test="KruskalWallis")
    assert (a.statistic, a.p_value) == (b.statistic, b.p_value)
    many = sipas.rank_test(d, "p03", "district")
    assert many.reference == "F" and many.df_num == 9


def test_nonlinear_gradients_agree(demo):
    _, d = demo
    by = sipas.mean(d, "p03", by="urban")
    ops = {"a": (2.0, "p03"), "b": (1.0, "p03")}
    text = sipas.nonlinear_contrast(by, "log(a / b)", operands=ops)
    given = sipas.nonlinear_contrast(by, lambda a, b: np.log(a / b), operands=ops,
                                     gradient=lambda a, b: [1 / a, -1 / b])
    vector = sipas.nonlinear_contrast(by, lambda t: np.log(t[1] / t[0]))
    for other in (given, vector):
        assert other.to_frame()["se"][0] == pytest.approx(text.to_frame()["se"][0],
                                                          rel=1e-12)
    assert "complex-step" in text.notes["variance"]
    # abs is not analytic: the complex step disagrees with central differences
    absolute = sipas.nonlinear_contrast(by, "abs(b - a)", operands=ops)
    assert "central" in absolute.notes["variance"]
    lin = sipas.contrast(by, [1, -1]).to_frame()
    assert absolute.to_frame()["se"][0] == pytest.approx(lin["se"][0], rel=1e-7)


def test_nonlinear_several_values_and_chaining(demo):
    _, d = demo
    by = sipas.mean(d, "p03", by="urban")
    ops = {"a": (1.0, "p03"), "b": (2.0, "p03")}
    two = sipas.nonlinear_contrast(by, lambda a, b: [a / b, b / a], operands=ops,
                                   name=["a/b", "b/a"])
    assert two.to_frame()["variable"].tolist() == ["a/b", "b/a"]
    # var(log(a/b)) = var(log(b/a)); the difference of the two ratios is a linear contrast
    chained = sipas.contrast(two, [1, -1]).to_frame()
    direct = sipas.nonlinear_contrast(by, "a / b - b / a", operands=ops).to_frame()
    assert chained["se"][0] == pytest.approx(direct["se"][0], rel=1e-10)


def test_nonlinear_on_replicates_applies_the_function_to_every_replicate():
    case = next(c for c in cases("contrast") if c["design_key"] == "strat_JKn")
    design = design_for(case)
    by = sipas.mean(design, "api00", by="stype")
    ops = {"a": ("E", "api00"), "b": ("M", "api00")}
    rep = sipas.nonlinear_contrast(by, "a / b", operands=ops, variance="replicates")
    delta = sipas.nonlinear_contrast(by, "a / b", operands=ops)
    values = by.basis.values[:, 0] / by.basis.values[:, 2]
    engine = by.basis.engine
    manual = math.sqrt(engine.var(values[:, None], np.array([rep.to_frame()["estimate"][0]]))
                       [0])
    assert rep.to_frame()["se"][0] == pytest.approx(manual, rel=1e-12)
    assert rep.to_frame()["se"][0] == pytest.approx(delta.to_frame()["se"][0], rel=1e-2)
    assert rep.notes["variance"] == "replicates"


def _demo_frame():
    sd = sipas.datasets.load_demo()
    return sd.frame[sd.frame.response == 1].reset_index(drop=True)


@pytest.mark.parametrize("statistic", ["F", "Chisq", "Wald", "adjWald", "saddlepoint"])
def test_chisq_is_invariant_to_weight_scale_row_order_and_labels(statistic):
    """Multiplying every weight by a constant, shuffling the rows, or recoding the levels
    (order reversed, text labels) does not change a test of association."""
    frame = _demo_frame()
    args = {"ids": "commune", "strata": "district", "weights": "w_design", "nest": True}
    base = sipas.chisq_test(sipas.Design(frame, **args), "service", "p01",
                            statistic=statistic)
    scaled = frame.assign(w_design=frame["w_design"] * 37.5)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    relabelled = frame.assign(service=frame["service"].map(lambda v: f"s{9 - v:.0f}"),
                              p01=-frame["p01"])
    for other in (scaled, shuffled, relabelled):
        got = sipas.chisq_test(sipas.Design(other, **args), "service", "p01",
                               statistic=statistic)
        assert got.statistic == pytest.approx(base.statistic, rel=1e-10)
        assert got.p_value == pytest.approx(base.p_value, rel=1e-9)
        assert got.df == pytest.approx(base.df, rel=1e-10)


def test_chisq_of_a_transposed_table_is_the_same():
    frame = _demo_frame()
    d = sipas.Design(frame, ids="commune", strata="district", weights="w_design", nest=True)
    for statistic in ("F", "Wald", "lincom"):
        a = sipas.chisq_test(d, "service", "p01", statistic=statistic)
        b = sipas.chisq_test(d, "p01", "service", statistic=statistic)
        assert (a.statistic, a.p_value) == pytest.approx((b.statistic, b.p_value), rel=1e-10)


def test_kruskal_wallis_on_replicate_designs_where_r_fails():
    """R 4.1-1 stops on these (oracle ``skipped``); sipas computes the Wald F test from the
    replicate totals of the influence of the group differences, which for two groups is
    R's own two-group test (matched by the oracle)."""
    for key in ("strat_JKn", "clus1_JK1"):
        case = next(c for c in cases("ranktest") if c["design_key"] == key)
        design = design_for(case)
        r = sipas.rank_test(design, "api00", "stype", test="KruskalWallis")
        assert r.df_num == 2 and r.df == design.df - 2
        assert 0 < r.p_value < 1 and r.details["chisq"] == pytest.approx(2 * r.statistic)
