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
from sipas.small_area import fay_herriot

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
