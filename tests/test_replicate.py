"""Replicate designs made by ``sipas.replicate``: BRR, Fay, JK1, JKn, bootstrap.

References are closed forms for a total (with ``t_hi`` the weighted PSU totals):

* BRR with full orthogonal balance: ``v = sum_h (t_h1 - t_h2)^2`` (Wolter, *Introduction to
  Variance Estimation*, 2nd ed., sec. 3.3), the same for Fay's method, whose factors
  ``2 - rho``/``rho`` shrink each deviation by ``1 - rho`` and whose scale
  ``1/(R (1 - rho)^2)`` undoes it;
* delete-one jackknife (JK1, JKn) of a total: exactly the Taylor variance without fpc,
  ``sum_h n_h/(n_h - 1) sum_i (t_hi - tbar_h)^2``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sipas


def paired_frame(n_strata: int, seed: int = 1) -> pd.DataFrame:
    """``n_strata`` strata of exactly 2 PSUs, 1 to 3 rows per PSU."""
    rng = np.random.default_rng(seed)
    rows = []
    for h in range(n_strata):
        for j in range(2):
            for _ in range(rng.integers(1, 4)):
                rows.append({"h": f"s{h}", "psu": f"s{h}p{j}", "w": rng.uniform(1, 4),
                             "y": rng.normal(5, 2), "x": rng.uniform(1, 2)})
    return pd.DataFrame(rows)


def stratified_frame(seed: int = 2) -> pd.DataFrame:
    """Strata with 2, 3 and 5 PSUs, 2 to 4 rows per PSU."""
    rng = np.random.default_rng(seed)
    rows = []
    for h, n_h in enumerate([2, 3, 5]):
        for j in range(n_h):
            for _ in range(rng.integers(2, 5)):
                rows.append({"h": h, "psu": f"{h}-{j}", "w": rng.uniform(1, 4),
                             "y": rng.normal(5, 2)})
    return pd.DataFrame(rows)


def psu_totals(frame: pd.DataFrame) -> pd.DataFrame:
    return (frame.assign(t=frame.w * frame.y).groupby("psu", sort=True)
            .agg(h=("h", "first"), t=("t", "sum")).reset_index())


def taylor_no_fpc(frame: pd.DataFrame) -> float:
    out = 0.0
    for _, g in psu_totals(frame).groupby("h"):
        n_h = len(g)
        out += n_h / (n_h - 1) * float(((g.t - g.t.mean()) ** 2).sum())
    return out


def var_of(est: sipas.Estimate) -> float:
    return float(est.to_frame()["se"].iloc[0]) ** 2


# ---------------------------------------------------------------------- BRR and Fay


@pytest.mark.parametrize("n_strata", [1, 3, 4, 7])
def test_brr_total_variance_is_sum_of_squared_pair_differences(n_strata):
    frame = paired_frame(n_strata)
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    rep = sipas.replicate(d, "brr")
    t = psu_totals(frame)
    want = float(sum((g.t.iloc[0] - g.t.iloc[1]) ** 2 for _, g in t.groupby("h")))
    assert var_of(sipas.total(rep, "y")) == pytest.approx(want, rel=1e-12)
    r = rep.n_replicates  # documented: Sylvester order, the smallest power of two > H
    assert r > n_strata >= r // 2
    assert r & (r - 1) == 0
    assert rep.scale == pytest.approx(1 / rep.n_replicates, rel=1e-15)


@pytest.mark.parametrize("rho", [0.3, 0.5])
def test_fay_total_variance_equals_brr_and_scale_is_documented(rho):
    frame = paired_frame(5)
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    fay = sipas.replicate(d, "fay", fay_rho=rho)
    brr = sipas.replicate(d, "brr")
    assert fay.n_replicates == brr.n_replicates
    assert fay.scale == pytest.approx(1 / (fay.n_replicates * (1 - rho) ** 2), rel=1e-15)
    assert var_of(sipas.total(fay, "y")) == pytest.approx(var_of(sipas.total(brr, "y")),
                                                          rel=1e-12)


def test_brr_full_sample_estimates_unchanged():
    frame = paired_frame(3)
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    rep = sipas.replicate(d, "brr")
    for f in (sipas.mean, sipas.total):
        assert f(rep, "y").to_frame()["estimate"].iloc[0] == pytest.approx(
            f(d, "y").to_frame()["estimate"].iloc[0], rel=1e-14)


def test_brr_needs_two_psus_per_stratum():
    d = sipas.Design(stratified_frame(), ids="psu", strata="h", weights="w")
    with pytest.raises(sipas.DesignError, match=r"2 PSUs per stratum.*'1', '2'"):
        sipas.replicate(d, "brr")


# ---------------------------------------------------------------------- jackknives


def test_jk1_total_equals_taylor_without_fpc():
    frame = stratified_frame().assign(h=0)
    d = sipas.Design(frame, ids="psu", weights="w")
    rep = sipas.replicate(d, "jk1")
    assert rep.n_replicates == frame.psu.nunique()
    assert var_of(sipas.total(rep, "y")) == pytest.approx(taylor_no_fpc(frame), rel=1e-12)
    assert var_of(sipas.total(d, "y")) == pytest.approx(taylor_no_fpc(frame), rel=1e-12)


def test_jk1_with_fpc_equals_taylor_with_fpc():
    """R ``as.svrepdesign``: JK1 scale (1 - n/N)(n - 1)/n, so a total still matches Taylor."""
    frame = stratified_frame().assign(h=0, N=40)
    d = sipas.Design(frame, ids="psu", weights="w", fpc="N")
    rep = sipas.replicate(d, "jk1")
    n = frame.psu.nunique()
    assert var_of(sipas.total(rep, "y")) == pytest.approx(taylor_no_fpc(frame) * (1 - n / 40),
                                                          rel=1e-12)


def test_jk1_refuses_stratified_designs():
    d = sipas.Design(stratified_frame(), ids="psu", strata="h", weights="w")
    with pytest.raises(sipas.DesignError, match="jkn"):
        sipas.replicate(d, "jk1")


def test_jkn_total_equals_taylor_without_fpc():
    frame = stratified_frame()
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    rep = sipas.replicate(d, "jkn")
    assert rep.n_replicates == frame.psu.nunique()
    assert var_of(sipas.total(rep, "y")) == pytest.approx(taylor_no_fpc(frame), rel=1e-12)


def test_jkn_ratio_close_to_taylor():
    """For a non-linear statistic the jackknife is only close to Taylor (same order)."""
    frame = stratified_frame()
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    rep = sipas.replicate(d, "jkn")
    jk, tay = var_of(sipas.mean(rep, "y")), var_of(sipas.mean(d, "y"))
    assert 0.5 < jk / tay < 2


def test_jkn_domain_total_equals_taylor():
    """A domain total is a total of y * 1{domain}: JKn and Taylor agree exactly."""
    frame = stratified_frame().assign(g=lambda f: np.arange(len(f)) % 2)
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    rep = sipas.replicate(d, "jkn")
    got = sipas.total(rep, "y", by="g").to_frame()["se"].to_numpy()
    want = sipas.total(d, "y", by="g").to_frame()["se"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


# ---------------------------------------------------------------------- bootstrap


def test_bootstrap_reproducible_with_the_same_seed():
    d = sipas.Design(stratified_frame(), ids="psu", strata="h", weights="w")
    a = sipas.mean(sipas.replicate(d, "bootstrap", replicates=30, rng=7), "y").to_frame()
    b = sipas.mean(sipas.replicate(d, "bootstrap", replicates=30, rng=7), "y").to_frame()
    c = sipas.mean(sipas.replicate(d, "bootstrap", replicates=30, rng=8), "y").to_frame()
    g = sipas.mean(sipas.replicate(d, "bootstrap", replicates=30,
                                   rng=np.random.default_rng(7)), "y").to_frame()
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, g)
    assert a["se"].iloc[0] != c["se"].iloc[0]
    assert a["estimate"].iloc[0] == c["estimate"].iloc[0]


def test_bootstrap_se_close_to_taylor_on_a_large_sample():
    """Rao-Wu rescaled bootstrap is consistent for smooth statistics: with 20 strata of 15
    PSUs and 400 replicates its SE is within 15% of the linearization SE."""
    rng = np.random.default_rng(11)
    n_strata, n_psu, m = 20, 15, 6
    h = np.repeat(np.arange(n_strata), n_psu * m)
    psu = np.repeat(np.arange(n_strata * n_psu), m)
    effect = rng.normal(0, 1, n_strata * n_psu)[psu]
    frame = pd.DataFrame({"h": h, "psu": psu, "w": rng.uniform(1, 3, len(h)),
                          "y": 10 + 0.1 * h + effect + rng.normal(0, 2, len(h))})
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    rep = sipas.replicate(d, "bootstrap", replicates=400, rng=3)
    assert rep.scale == pytest.approx(1 / 399)
    for f in (sipas.mean, sipas.total):
        boot, tay = np.sqrt(var_of(f(rep, "y"))), np.sqrt(var_of(f(d, "y")))
        assert abs(boot / tay - 1) < 0.15


def test_bootstrap_total_variance_is_unbiased_for_taylor_with_few_psus():
    """Rao-Wu with n_h - 1 draws and factors n_h/(n_h - 1) x count: for a total, the
    bootstrap expectation of the variance is exactly sum_h n_h/(n_h-1) sum_i (t_hi - tbar_h)^2
    (Rao & Wu 1988). With 2-5 PSUs per stratum the rescaling matters (without it the
    variance would shrink by up to ((n_h - 1)/n_h)^2 = 1/4); 4000 replicates give about 3%
    Monte Carlo error on the SE."""
    frame = stratified_frame()
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    rep = sipas.replicate(d, "bootstrap", replicates=4000, rng=12)
    ratio = np.sqrt(var_of(sipas.total(rep, "y")) / taylor_no_fpc(frame))
    assert abs(ratio - 1) < 0.1


def test_bootstrap_needs_two_replicates():
    d = sipas.Design(stratified_frame(), ids="psu", strata="h", weights="w")
    with pytest.raises(sipas.DesignError, match="replicates"):
        sipas.replicate(d, "bootstrap", replicates=1)


# ---------------------------------------------------------------------- arguments


def test_unknown_replicate_method_lists_the_choices():
    d = sipas.Design(stratified_frame(), ids="psu", strata="h", weights="w")
    with pytest.raises(sipas.DesignError, match=r"'jkn'.*'jk2'"):
        sipas.replicate(d, "jk2")


def test_replicate_needs_a_design():
    with pytest.raises(sipas.DesignError, match="Design"):
        sipas.replicate(stratified_frame(), "jkn")


def test_supplied_replicate_weights_match_created_ones():
    """The same JK1 replicates given as columns (R ``svrepdesign``) give the same SE."""
    frame = stratified_frame().assign(h=0)
    d = sipas.Design(frame, ids="psu", weights="w")
    made = sipas.replicate(d, "jk1")
    repw = made.replicate_weights()
    cols = [f"r{i}" for i in range(repw.shape[1])]
    supplied = sipas.ReplicateDesign(pd.concat([frame, pd.DataFrame(repw, columns=cols)],
                                               axis=1), weights="w", repweights=cols,
                                     method="jk1")
    assert supplied.scale == pytest.approx(made.scale)
    assert var_of(sipas.mean(supplied, "y")) == pytest.approx(var_of(sipas.mean(made, "y")),
                                                              rel=1e-12)
    assert supplied.df == made.df == frame.psu.nunique() - 1


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"repweights": ["r0"]}, "at least two"),
    ({"repweights": "zz\\d+"}, "matches no column"),
    ({"repweights": ["r0", "r1"], "method": "fay"}, "fay_rho"),
    ({"repweights": ["r0", "r1"], "method": "jkn"}, "rscales"),
    ({"repweights": ["r0", "r1"], "rscales": [1.0]}, "rscales"),
    ({"repweights": ["r0", "r1"], "scale": -1.0}, "scale"),
    ({"repweights": ["r0", "bad"]}, "'bad'"),
])
def test_replicate_design_bad_arguments(kwargs, match):
    frame = pd.DataFrame({"w": [1.0, 2, 3], "r0": [0.0, 3, 3], "r1": [1.5, 0, 4.5],
                          "bad": [1.0, -1, 1], "y": [1.0, 2, 3]})
    with pytest.raises(sipas.DesignError, match=match):
        sipas.ReplicateDesign(frame, weights="w", **kwargs)


def test_replicates_is_only_for_the_bootstrap():
    import pandas as pd

    df = pd.DataFrame({"h": [1, 1, 2, 2], "psu": [1, 2, 3, 4], "w": 1.0})
    d = sipas.Design(df, ids="psu", strata="h", weights="w")
    with pytest.raises(sipas.DesignError, match="replicates"):
        sipas.replicate(d, "jkn", replicates=10)


def test_replicate_cov_of_two_sets_needs_their_centre_only_for_mse():
    """Found by mypy: ``cov(reps1, full1, reps2)`` without ``full2`` failed with a numpy
    TypeError under ``mse``; the centre is only needed there."""
    from sipas.engine.variance import ReplicateEngine

    reps1 = np.array([[1.0], [2.0], [3.0], [4.0]])
    reps2 = np.array([[2.0], [2.0], [5.0], [3.0]])
    full = np.array([2.5])
    eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
    expected = 0.75 * np.sum((reps1 - reps1.mean()) * (reps2 - reps2.mean()))
    assert eng.cov(reps1, full, reps2)[0, 0] == pytest.approx(expected, abs=1e-12)
    mse = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=True)
    with pytest.raises(sipas.errors.EstimationError, match="full-sample estimates"):
        mse.cov(reps1, full, reps2)


def test_raked_replicate_domain_df_never_exceeds_psus_minus_strata():
    """Issue 15 point 6. R's ``degf`` of a replicate design is the rank of the replicate
    weights minus one; after raking every row has its own replicate weights, so the rank of
    a district's rows grew to 25-36 (4 communes). sipas caps it at the district's PSUs minus
    its strata (closed form: 4 - 1 = 3, the Taylor df) when the PSUs are known."""
    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    raked = sipas.rake(sipas.replicate(d, "jkn"), sd.spec.margins)
    taylor = sipas.mean(sipas.rake(d, sd.spec.margins), "p03", by="district").to_frame()
    rep = sipas.mean(raked, "p03", by="district").to_frame()
    assert rep["df"].tolist() == taylor["df"].tolist() == [3.0] * 10
    assert raked.df == d.df == 30


def test_replicate_domain_df_is_r_rank_when_it_is_below_the_cap():
    """Unweighted JKn: the rank of a district's replicate factors minus one is R's
    ``degf(subset(rep, district == k))`` (4 communes: 3), and within the cap."""
    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    rep = sipas.replicate(d, "jkn")
    in_d1 = (sd.frame["district"] == 1).to_numpy()
    factors = rep.replicate_weights()[in_d1 & (rep.weight_array > 0)]
    assert rep.domain_df(in_d1) == np.linalg.matrix_rank(factors) - 1 == 3
