"""Fay–Herriot: EBLUP and MSE against plain R written from Rao & Molina (2015), ch. 6.

The reference (tests/oracle/planning/planning_oracle.R) maximises the (restricted)
likelihood with optimize() on explicit matrices, an algorithm independent of sipas's Fisher
scoring; fh_zero is the degenerate case where the random-effect variance is estimated at 0.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sipas.errors import SipasError, SmallAreaError
from sipas.small_area import fay_herriot, smooth_variances

HERE = Path(__file__).parent / "oracle" / "planning"
REF = pd.read_csv(HERE / "fay_herriot.csv")
X = {"fh_sim": ["x1", "x2"], "fh_demo": ["urban"], "fh_zero": ["x1"]}


def _fit(data: str, method: str, **kw):
    d = pd.read_csv(HERE / f"{data}.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fay_herriot(d[["area", "estimate", "se"]], d[["area", *X[data]]], area="area",
                           method=method, **kw)


@pytest.mark.parametrize("data", sorted(X))
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_eblup_and_mse_match_r(data, method):
    ref = REF[(REF.data == data) & (REF.method == method)]
    fit = _fit(data, method).to_frame()
    np.testing.assert_allclose(fit["estimate"], ref["eblup"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(fit["mse"], ref["mse"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(fit["gamma"], ref["gamma"], atol=1e-6)


def test_zero_variance_gives_the_synthetic_estimate_and_warns():
    d = pd.read_csv(HERE / "fh_zero.csv")
    with pytest.warns(UserWarning, match="estimated at 0"):
        fit = fay_herriot(d[["area", "estimate", "se"]], d[["area", "x1"]], area="area")
    t = fit.to_frame()
    assert fit.zero_variance and (t["gamma"] == 0).all() and (t["model_share"] == 1).all()
    np.testing.assert_allclose(t["estimate"], t["synthetic"])
    assert (t["mse"] > 0).all()  # g2 + 2 g3 stay: the MSE is not zero


def test_shares_stay_in_the_unit_interval_with_arcsin():
    d = pd.read_csv(HERE / "fh_demo.csv")
    fit = fay_herriot(d, d[["area", "urban"]], area="area", transform="arcsin")
    t = fit.to_frame()
    assert t["estimate"].between(0, 1).all() and t["ci_low"].ge(0).all()
    assert t["ci_high"].le(1).all()
    assert t["model_share"].between(0, 1).all()


def test_benchmarking_hits_the_direct_estimate_of_the_whole():
    d = pd.read_csv(HERE / "fh_sim.csv")
    cov = d[["area", "x1", "x2"]].assign(pop=np.arange(1, 41) * 100.0)
    t = fay_herriot(d, cov, area="area", x=["x1", "x2"], benchmark=1.5,
                    population="pop").to_frame()
    w = cov["pop"] / cov["pop"].sum()
    assert float(np.sum(w * t["benchmarked"])) == pytest.approx(1.5)


def test_bad_inputs_name_the_area():
    d = pd.read_csv(HERE / "fh_sim.csv")
    with pytest.raises(SmallAreaError, match=r"area 40.*no row in the covariates"):
        fay_herriot(d, d[["area", "x1"]].iloc[:-1], area="area")
    bad = d.assign(se=d["se"].where(d["area"] != 7, 0.0))
    with pytest.raises(SmallAreaError, match=r"area 7.*positive"):
        fay_herriot(bad, d[["area", "x1"]], area="area")
    bad = d.assign(se=d["se"].where(d["area"] != 3, -1.0))
    with pytest.raises(SipasError, match="area 3"):
        fay_herriot(bad, d[["area", "x1"]], area="area")


def test_result_is_immutable():
    fit = _fit("fh_sim", "REML")
    with pytest.raises(AttributeError):
        fit.variance = 1.0
    assert "random effect variance" in fit.summary().index


# ---------------------------------------------------------------- bootstrap MSE

def _simulated(seed: int = 0, m: int = 50):
    """A data set drawn from the model itself: A = 1, D from 0.2 to 1, one covariate."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=m)
    d = np.linspace(0.2, 1.0, m)
    theta = 1 + 0.5 * x + rng.normal(size=m)
    direct = pd.DataFrame({"area": range(m), "estimate": theta + rng.normal(scale=np.sqrt(d)),
                           "se": np.sqrt(d)})
    return direct, pd.DataFrame({"area": range(m), "x": x}), d


def test_bootstrap_mse_agrees_with_prasad_rao_within_monte_carlo_error():
    """The parametric bootstrap estimates the MSE of the EBLUP at the fitted parameters,
    g1 + g2 + g3 to order 1/m (Rao & Molina 2015, 6.2.3); Prasad-Rao adds one more g3 for
    the bias of g1 at the estimated A. Both closed forms are computed here from A alone."""
    direct, cov, d = _simulated()
    b = 2000
    pr = fay_herriot(direct, cov, area="area").to_frame()
    fit = fay_herriot(direct, cov, area="area", mse="bootstrap", replicates=b, rng=20260101)
    boot = fit.to_frame()
    assert fit.mse_method == "bootstrap" and fit.replicates == b
    a = fit.variance
    vi = 1 / (a + d)
    g3 = d**2 * vi**3 * 2 / np.sum(vi**2)
    target = pr["mse"].to_numpy() - g3  # g1 + g2 + g3
    # (eblup* - theta*) is about N(0, mse): a mean of B squares has SE sqrt(2 / B) mse
    mc_se = np.sqrt(2 / b) * target
    z = (boot["mse"].to_numpy() - target) / mc_se
    assert np.abs(z).max() < 4
    assert boot["mse"].mean() / target.mean() == pytest.approx(1, abs=0.015)
    # against Prasad-Rao itself: within Monte Carlo error plus the g3 they differ by
    assert np.all(np.abs(boot["mse"] - pr["mse"]) < 4 * mc_se + g3)
    # the EBLUPs do not depend on the MSE method
    np.testing.assert_array_equal(boot["estimate"], pr["estimate"])
    np.testing.assert_allclose(boot["se"] ** 2, boot["mse"])


def test_bootstrap_is_reproducible_from_its_seed():
    direct, cov, _ = _simulated(1, m=20)
    one = fay_herriot(direct, cov, area="area", mse="bootstrap", replicates=50, rng=7)
    two = fay_herriot(direct, cov, area="area", mse="bootstrap", replicates=50,
                      rng=np.random.default_rng(7))
    other = fay_herriot(direct, cov, area="area", mse="bootstrap", replicates=50, rng=8)
    np.testing.assert_array_equal(one.to_frame()["mse"], two.to_frame()["mse"])
    assert not np.allclose(one.to_frame()["mse"], other.to_frame()["mse"])


def test_bootstrap_of_shares_gives_the_mse_of_the_back_transformed_share():
    d = pd.read_csv(HERE / "fh_demo.csv")
    pr = fay_herriot(d, d[["area", "urban"]], area="area", transform="arcsin").to_frame()
    t = fay_herriot(d, d[["area", "urban"]], area="area", transform="arcsin",
                    mse="bootstrap", replicates=400, rng=3).to_frame()
    assert t["estimate"].between(0, 1).all() and (t["mse"] > 0).all()
    assert t["ci_low"].ge(0).all() and t["ci_high"].le(1).all()
    # same order as the delta-method MSE, not equal (it carries the back-transformation)
    ratio = t["mse"] / pr["mse"]
    assert ratio.between(0.3, 3).all() and not np.allclose(ratio, 1)


def test_bootstrap_in_the_zero_variance_case_and_bad_replicates():
    d = pd.read_csv(HERE / "fh_zero.csv")
    with pytest.warns(UserWarning, match="estimated at 0"):
        t = fay_herriot(d, d[["area", "x1"]], area="area", mse="bootstrap", replicates=100,
                        rng=1).to_frame()
    assert np.isfinite(t["mse"]).all() and (t["mse"] > 0).all()
    for bad in (1, 0, 2.5, True):
        with pytest.raises(SmallAreaError, match="replicates must be an integer"):
            fay_herriot(d, d[["area", "x1"]], area="area", mse="bootstrap", replicates=bad)
    with pytest.raises(SmallAreaError, match="mse must be one of"):
        fay_herriot(d, d[["area", "x1"]], area="area", mse="jackknife")


# ---------------------------------------------------------------- smoothed variances

def test_deff_smoothing_by_hand():
    """Three areas: shares 0.5, 0.8 and 0 with SEs 0.1, 0.1, 0 and 50, 40, 20 respondents.
    deff = (0.01 + 0.01) / (0.25 / 50 + 0.16 / 40) = 0.02 / 0.009; pooled p = (25 + 32 + 0)
    / 110; smoothed se = sqrt(deff p (1 - p) / n)."""
    d = pd.DataFrame({"estimate": [0.5, 0.8, 0.0], "se": [0.1, 0.1, 0.0], "n": [50, 40, 20]})
    out = smooth_variances(d, method="deff")
    deff, p = 0.02 / 0.009, 57 / 110
    assert out.attrs["smoothing"] == pytest.approx({"method": "deff", "p": p, "deff": deff})
    np.testing.assert_allclose(out["smoothed_se"],
                               np.sqrt(deff * p * (1 - p) / np.array([50, 40, 20])))
    np.testing.assert_allclose(out["n_eff"], np.array([50, 40, 20]) / deff)


def test_loglinear_smoothing_by_hand():
    """log se² = a + b log n by least squares on four areas (the fifth has no SE), with
    Duan's smearing factor, written out with the textbook formulas."""
    n = np.array([20.0, 40.0, 80.0, 160.0, 30.0])
    se = np.array([0.30, 0.18, 0.16, 0.08, np.nan])
    d = pd.DataFrame({"estimate": [3.0, 3.2, 2.9, 3.1, 3.0], "se": se, "n": n})
    out = smooth_variances(d, method="loglinear")
    x, z = np.log(n[:4]), np.log(se[:4] ** 2)
    sxx = sum((xi - x.mean()) ** 2 for xi in x)
    sxz = sum((xi - x.mean()) * (zi - z.mean()) for xi, zi in zip(x, z))
    b = sxz / sxx
    a = z.mean() - b * x.mean()
    c = np.mean([np.exp(zi - a - b * xi) for xi, zi in zip(x, z)])
    par = out.attrs["smoothing"]
    assert (par["a"], par["b"], par["smearing"]) == pytest.approx((a, b, c))
    np.testing.assert_allclose(out["smoothed_se"], np.sqrt(c * np.exp(a) * n**b))


def test_smoothing_in_the_model_accepts_a_zero_variance_and_feeds_arcsin():
    d = pd.read_csv(HERE / "fh_demo.csv")
    cov = d[["area", "urban"]]
    zero = d.assign(se=d["se"].where(d["area"] != 2, 0.0))
    with pytest.raises(SmallAreaError, match=r"area 2.*smooth the variances"):
        fay_herriot(zero, cov, area="area")
    fit = fay_herriot(zero, cov, area="area", smooth="deff")
    t = fit.to_frame()
    assert fit.smoothing["method"] == "deff" and "smoothed_se" in t.columns
    sm = smooth_variances(zero, method="deff")
    np.testing.assert_allclose(t["smoothed_se"], sm["smoothed_se"])
    # on the arcsine scale the smoothed effective size n / deff gives D = deff / (4 n):
    # the same fit as direct SEs whose own effective size p (1 - p) / se² is n / deff
    deff = sm.attrs["smoothing"]["deff"]
    p = d["estimate"]
    same = d.assign(se=np.sqrt(p * (1 - p) * deff / d["n"]))
    one = fay_herriot(zero, cov, area="area", smooth="deff", transform="arcsin").to_frame()
    two = fay_herriot(same, cov, area="area", transform="arcsin").to_frame()
    np.testing.assert_allclose(one["estimate"], two["estimate"], rtol=1e-12)
    np.testing.assert_allclose(one["mse"], two["mse"], rtol=1e-12)


def test_smoothing_bad_inputs():
    d = pd.DataFrame({"estimate": [0.5, 0.6, 0.7], "se": [0.1, 0.1, 0.1], "n": [10, 0, 12]})
    with pytest.raises(SmallAreaError, match=r"respondents n of area 1.*positive"):
        smooth_variances(d, method="deff")
    with pytest.raises(SmallAreaError, match="shares in"):
        smooth_variances(d.assign(estimate=[2.0, 3.0, 4.0], n=[5, 6, 7]), method="deff")
    with pytest.raises(SmallAreaError, match="at least 3 areas"):
        smooth_variances(d.assign(n=[10, 10, 10]), method="loglinear")
    with pytest.raises(SmallAreaError, match="smooth must be one of"):
        smooth_variances(d, method="gvf")
    with pytest.raises(SmallAreaError, match="respondents column 'n'"):
        fay_herriot(d.drop(columns="n").assign(a=range(3)), pd.DataFrame({"a": range(3)}),
                    area="a", smooth="deff")


def test_covariate_text_and_area_codes_of_another_type():
    d = pd.read_csv(HERE / "fh_sim.csv")
    cov = d[["area", "x1"]].astype({"x1": object})
    cov.loc[4, "x1"] = "NA"
    with pytest.raises(SmallAreaError, match=r"covariate 'x1' of area 5 must be a number"):
        fay_herriot(d, cov, area="area", x=["x1"])
    # areas coded 1, 2 ... in the direct estimates and 1.0, 2.0 ... in the covariates
    as_float = d[["area", "x1"]].assign(area=d["area"].astype(float))
    one = fay_herriot(d, as_float, area="area", x=["x1"]).to_frame()
    two = fay_herriot(d, d[["area", "x1"]], area="area", x=["x1"]).to_frame()
    np.testing.assert_array_equal(one["estimate"], two["estimate"])
    assert one["area"].tolist() == d["area"].tolist()
