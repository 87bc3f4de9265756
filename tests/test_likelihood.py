"""Profile-likelihood intervals for proportions (sipas._likelihood, R svyciprop "likelihood").

The R values are the oracle cases in tests/oracle/cases.json (survey 4.1-1).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sipas
from oracle_cases import cases, close, dataset, design_for, expected, run
from sipas.estimation import likelihood as lk

LIKELIHOOD = [c for c in cases() if c["options"].get("ci_method") == "svyciprop:likelihood"]


def strat_design(frame: pd.DataFrame) -> sipas.Design:
    return sipas.Design(frame, ids=None, strata="stype", weights="pw", fpc=["fpc"], nest=False)


@pytest.mark.parametrize("case", LIKELIHOOD, ids=[c["id"] for c in LIKELIHOOD])
def test_limits_match_r(case):
    got, want = run(case), expected(case)
    for field in ("ci_low", "ci_high"):
        assert close(got[field].iloc[0], want[field].iloc[0]), field


def test_twelve_oracle_cases():
    assert len(LIKELIHOOD) == 12


def test_fmm_spline_reproduces_cubics():
    # FMM end conditions take the end third derivatives from the data, so a cubic is exact
    x = np.array([-1.3, -0.7, 0.0, 0.4, 1.1, 2.0, 2.2])
    y = 0.5 * x**3 - x**2 + 2 * x - 3
    b, c, d = lk._fmm_coef(x, y)
    u = lk._seq(x[0], x[-1], 3 * len(x))
    assert np.allclose(lk._spline_eval(u, x, y, b, c, d), 0.5 * u**3 - u**2 + 2 * u - 3,
                       rtol=1e-12, atol=1e-12)


def test_seq_keeps_ends_exact():
    s = lk._seq(0.1, 0.7, 7)
    assert s[0] == 0.1
    assert s[-1] == 0.7
    assert np.allclose(np.diff(s), 0.1)


def test_approx_is_linear_inside_and_nan_outside():
    x, y = np.array([0.0, 1.0, 3.0]), np.array([10.0, 20.0, 0.0])
    assert lk._approx(x, y, 0.5) == 15.0
    assert lk._approx(x, y, 3.0) == 0.0
    assert math.isnan(lk._approx(x, y, -0.1))
    assert math.isnan(lk._approx(x, y, 3.5))


def test_regularize_sorts_and_averages_ties():
    x, y = lk._regularize(np.array([2.0, 1.0, 2.0]), np.array([1.0, 5.0, 3.0]))
    assert x.tolist() == [1.0, 2.0]
    assert y.tolist() == [5.0, 2.0]


def test_irls_stops_near_the_mle():
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.3).astype(float)
    w = rng.uniform(0.5, 3.0, 300)
    fit = lk._irls(y, w / w.mean())
    p = np.dot(w, y) / w.sum()
    assert fit is not None
    assert abs(fit.coef - math.log(p / (1 - p))) < 1e-6


def test_domains_equal_subsets():
    frame = dataset("apistrat.csv")
    d = strat_design(frame)
    by = sipas.proportion(d, "sch.wide", value="Yes", by="stype", ci="likelihood")
    by = by.to_frame()
    for i, s in enumerate(by["stype"]):
        sub = d.subset((frame["stype"] == s).to_numpy())
        one = sipas.proportion(sub, "sch.wide", value="Yes", ci="likelihood").to_frame()
        for field in ("ci_low", "ci_high"):
            assert one[field].iloc[0] == pytest.approx(by[field].iloc[i], rel=1e-12)
        assert by["ci_low"].iloc[i] < by["estimate"].iloc[i] < by["ci_high"].iloc[i]


def test_degenerate_proportions_give_nan():
    frame = dataset("apistrat.csv").copy()
    frame["all_yes"] = np.where(frame["stype"] == "E", "Yes", frame["sch.wide"])
    d = strat_design(frame)
    got = sipas.proportion(d, "all_yes", value="Yes", by="stype", ci="likelihood")
    got = got.to_frame().set_index("stype")
    assert np.isnan(got.loc["E", "ci_low"])
    assert np.isnan(got.loc["E", "ci_high"])
    assert got.loc["H", "ci_low"] < got.loc["H", "estimate"] < got.loc["H", "ci_high"]


def test_replicate_designs_give_an_interval_near_the_logit_one():
    # survey 4.4-1's dispersion (4.1-1 gave NA here, a bug fixed upstream): on clus1 JK1 the
    # likelihood interval is close to the logit one, which it approximates for moderate n
    case = next(c for c in cases() if c["design"]["type"] == "replicate")
    design = design_for(case)
    got = sipas.proportion(design, "sch.wide", value="Yes", ci="likelihood").to_frame()
    ref = sipas.proportion(design, "sch.wide", value="Yes", ci="logit").to_frame()
    assert got["ci_low"].iloc[0] < got["estimate"].iloc[0] < got["ci_high"].iloc[0]
    assert abs(got["ci_low"].iloc[0] - ref["ci_low"].iloc[0]) < 0.02
    assert abs(got["ci_high"].iloc[0] - ref["ci_high"].iloc[0]) < 0.02
