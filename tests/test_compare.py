"""Comparisons and ranks. References: closed forms for differences; multipletests."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

import sipas
from sipas.compare import compare_domains, compare_waves, rank_domains


@pytest.fixture(scope="module")
def est():
    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    return sipas.mean(d, "p03", by="district")


def test_reference_differences_use_the_covariance(est):
    out = compare_domains(est, reference="1.0", adjust="none")
    v = est.vcov().to_numpy()
    e = est.table["estimate"].to_numpy()
    row = out.iloc[0]  # district 2 - district 1
    assert row["difference"] == pytest.approx(e[1] - e[0], rel=1e-12)
    assert row["se"] == pytest.approx(np.sqrt(v[1, 1] + v[0, 0] - 2 * v[0, 1]), rel=1e-12)


def test_adjustment_is_statsmodels_holm(est):
    raw = compare_domains(est, pairs=True, adjust="none")
    holm = compare_domains(est, pairs=True, adjust="holm")
    assert len(raw) == 45
    np.testing.assert_allclose(holm["p_adjusted"], multipletests(raw["p_value"], method="holm")[1])
    assert (holm["p_adjusted"] >= raw["p_value"] - 1e-15).all()


def test_waves_are_independent_samples(est):
    out = compare_waves(est, est)
    assert np.allclose(out["difference"], 0)
    np.testing.assert_allclose(out["se"], np.sqrt(2) * est.table["se"], rtol=1e-12)


def test_ranks_seeded_and_sensible(est):
    a = rank_domains(est, n_sim=2000, rng=3)
    b = rank_domains(est, n_sim=2000, rng=3)
    assert a.equals(b)
    assert ((a["rank_low"] <= a["rank"]) & (a["rank"] <= a["rank_high"])).all()
    marginal = rank_domains(est, n_sim=2000, rng=3, simultaneous=False)
    # simultaneous sets contain the marginal ones
    assert ((a["rank_low"] <= marginal["rank_low"])
            & (marginal["rank_high"] <= a["rank_high"])).all()


def test_top_k_follows_the_rank_sets(est):
    p = len(est.to_frame())
    for k in (1, 2, p // 2):
        out = rank_domains(est, n_sim=2000, rng=3, top=k)
        assert (out["in_top"] == (out["rank_high"] <= k)).all()
        assert (out["in_bottom"] == (out["rank_low"] > p - k)).all()
    everyone = rank_domains(est, n_sim=2000, rng=3, top=p)
    assert everyone["in_top"].all() and everyone["in_bottom"].all()
    with pytest.raises(sipas.EstimationError, match="top"):
        rank_domains(est, top=0)


def test_errors(est):
    with pytest.raises(sipas.EstimationError, match="reference"):
        compare_domains(est, reference="district=99")
    single = sipas.mean(sipas.Design.from_spec(sipas.datasets.load_demo()), "p03")
    with pytest.raises(sipas.EstimationError, match="by= domains"):
        compare_domains(single)


def test_reference_by_code_or_label(est):
    a = compare_domains(est, reference="district=1", adjust="none")
    b = compare_domains(est, reference="1.0", adjust="none")
    assert a.equals(b) and len(a) == 9


def test_tied_domains_share_the_best_rank(est):
    table = est.to_frame()
    table.loc[1, "estimate"] = table.loc[0, "estimate"]
    tied = sipas.Estimate(table, est.statistic, est.level, est.ci, est.by, est.basis)
    ranks = rank_domains(tied, n_sim=1000, rng=1)
    assert ranks.loc[0, "rank"] == ranks.loc[1, "rank"]


# ---------------------------------------------------------------------- verdicts agree

@pytest.mark.parametrize("adjust", ["holm", "fdr_bh", "bonferroni", "none"])
@pytest.mark.parametrize("pairs", [True, False])
def test_significant_exactly_when_the_interval_excludes_zero(est, adjust, pairs):
    out = compare_domains(est, pairs=pairs, adjust=adjust)
    excludes = (out["ci_low"] > 0) | (out["ci_high"] < 0)
    assert (excludes == out["significant"]).all()
    if adjust == "none":
        assert out["significant"].any() and not out["significant"].all()


def test_bonferroni_intervals_are_the_closed_form(est):
    from scipy import stats

    out = compare_domains(est, pairs=True, adjust="bonferroni")
    m = len(out)
    q = stats.t.isf(0.05 / (2 * m), out["df"])
    np.testing.assert_allclose(out["ci_high"], out["difference"] + q * out["se"], rtol=1e-12)
    np.testing.assert_allclose(out["ci_level"], 1 - 0.05 / m)
    q0 = stats.t.isf(0.025, out["df"])
    np.testing.assert_allclose(out["ci_low_unadjusted"], out["difference"] - q0 * out["se"],
                               rtol=1e-12)


def test_contrast_df_is_satterthwaite_over_the_strata(est):
    """Districts are strata of 4 communes (3 df each) and their variances lie in their own
    stratum, so the Satterthwaite df of sum_j c_j theta_j is, by hand,
    (sum c_j^2 v_j)^2 / sum (c_j^2 v_j)^2 / 3: between 3 and 6 for a pair, close to 3
    against the mean (the district's own variance dominates), never the 30 of the design."""
    v = est.table["se"].to_numpy() ** 2
    assert (est.table["df"] == 3).all()

    def hand(c):
        return (c**2 @ v) ** 2 / ((c**2 * v) ** 2 / 3).sum()

    from sipas.compare import compare_domains as cd

    j, k = np.triu_indices(10, 1)
    pair_coefs = [np.eye(10)[a] - np.eye(10)[b] for a, b in zip(j, k)]
    satt = est.basis.effective_df(np.column_stack(pair_coefs))
    np.testing.assert_allclose(satt, [hand(c) for c in pair_coefs], rtol=1e-10)
    assert (satt > 3).all() and (satt <= 6).all()
    vs_coefs = np.column_stack([np.eye(10)[a] - 0.1 for a in range(10)])
    np.testing.assert_allclose(est.basis.effective_df(vs_coefs),
                               [hand(vs_coefs[:, a]) for a in range(10)], rtol=1e-10)
    # published df: capped by the largest own df of the domains involved (3 here)
    assert (cd(est, pairs=True)["df"] == 3).all() and (cd(est)["df"] == 3).all()


def test_an_empty_domain_spoils_nothing():
    sd = sipas.datasets.load_demo()
    frame = sd.frame.copy()
    frame["p03x"] = frame["p03"].where(frame["district"] != 4)  # nobody answers in 4
    d = sipas.Design.from_spec(sd, frame).subset(frame["response"] == 1)
    with_gap = sipas.mean(d, "p03x", by="district")
    out = compare_domains(with_gap, adjust="holm")
    assert out.loc[3, "note"] == "no data" and np.isnan(out.loc[3, "difference"])
    assert not out.loc[3, "significant"]
    ok = out.drop(index=3)
    assert ok["difference"].notna().all() and (ok["note"] == "").all()
    # each domain against the mean of the other nine, as if district 4 were not there
    e = with_gap.table["estimate"].to_numpy()
    keep = np.arange(10) != 3
    assert ok["difference"].iloc[0] == pytest.approx(e[0] - e[keep].mean(), rel=1e-12)
    pairs = compare_domains(with_gap, pairs=True)
    assert (pairs.loc[pairs["comparison"].str.contains("4.0"), "note"] != "").all()
    ranks = rank_domains(with_gap, rng=1)
    assert ranks["rank"].isna().tolist() == [False] * 3 + [True] + [False] * 6
    assert str(ranks["rank"].dtype) == "Int64" and ranks["rank"].max() == 9
    assert ranks.loc[3, "note"] == "no data"


def test_waves_use_welch_satterthwaite_df(est):
    out = compare_waves(est, est)
    v = est.table["se"].to_numpy() ** 2
    d = est.table["df"].to_numpy()
    np.testing.assert_allclose(out["df"], (2 * v) ** 2 / (2 * v**2 / d), rtol=1e-12)


# ---------------------------------------------------------------------- rank sets

def test_rank_sets_two_units_closed_form():
    from sipas.engine.ranks import rank_sets

    # two units: c is the 95% quantile of |N(0, 1)| = 1.96
    apart = rank_sets(np.array([3.0, 0.0]), np.eye(2) / 2, n_sim=200_000, rng=1)
    assert apart.critical[0] == pytest.approx(1.959964, abs=0.02)
    assert apart.low.tolist() == [1, 2] and apart.high.tolist() == [1, 2]
    close = rank_sets(np.array([1.0, 0.0]), np.eye(2) / 2, n_sim=20_000, rng=1)
    assert close.low.tolist() == [1, 1] and close.high.tolist() == [2, 2]


def test_rank_sets_marginal_critical_value_is_the_bivariate_normal_quantile():
    from scipy import optimize, stats

    from sipas.engine.ranks import rank_sets

    # three independent units of variance 1/2: (e_j - e_k)/se_jk are N(0, 1) with
    # correlation 1/2 for the two pairs of a unit; c solves P(|Z1| < c, |Z2| < c) = 0.95
    mvn = stats.multivariate_normal(mean=[0, 0], cov=[[1, 0.5], [0.5, 1]])

    def coverage(c):
        return (mvn.cdf([c, c]) - mvn.cdf([-c, c]) - mvn.cdf([c, -c]) + mvn.cdf([-c, -c])
                - 0.95)

    c = optimize.brentq(coverage, 1.5, 3.5)
    sets = rank_sets(np.array([2.0, 1.0, 0.0]), np.eye(3) / 2, simultaneous=False,
                     n_sim=400_000, rng=2)
    np.testing.assert_allclose(sets.critical, c, atol=0.02)
    # by hand: unit 0 vs 1 differs by 1 < c, vs 2 by 2 < c... all sets are wide
    assert sets.low.tolist() == [1, 1, 1] and sets.high.tolist() == [3, 3, 3]


def test_rank_sets_fixed_case_by_hand():
    from sipas.engine.ranks import rank_sets

    # se of every difference is 1; with any c in (1.5, 3) the sets are these
    est = np.array([10.0, 6.0, 5.0, 0.0])
    sets = rank_sets(est, np.eye(4) / 2, n_sim=20_000, rng=3)
    assert 1.5 < sets.critical[0] < 3
    assert sets.low.tolist() == [1, 2, 2, 4] and sets.high.tolist() == [1, 3, 3, 4]
