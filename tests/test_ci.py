"""Confidence intervals (sipas.ci) through the estimators.

References: the closed form of the Wilson score interval with the effective sample size
``n* = p (1 - p) / se^2`` (Kish; the design-based Wilson interval of Dean & Pagano 2015),
statsmodels' ``proportion_confint(method="wilson")`` on a simple random sample, and the t
quantiles of scipy.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

import sipas
from sipas.engine.intervals import proportion_interval, t_quantile, wald_interval


def srs_frame(n: int, successes: int) -> pd.DataFrame:
    return pd.DataFrame({"w": np.full(n, 3.0), "y": [1] * successes + [0] * (n - successes)})


def clustered_frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    h = np.repeat([0, 1, 2], 12)
    psu = np.repeat(np.arange(9), 4)
    return pd.DataFrame({"h": h, "psu": psu, "w": rng.uniform(1, 3, 36),
                         "y": (rng.uniform(size=36) < 0.3).astype(int),
                         "g": np.tile(["a", "b"], 18)})


def wilson(p: float, se: float, z: float) -> tuple[float, float]:
    n = p * (1 - p) / se**2
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


@pytest.mark.parametrize(("n", "x", "level"), [(50, 12, 0.95), (200, 3, 0.95), (30, 15, 0.9),
                                                (80, 79, 0.99)])
def test_wilson_on_srs_matches_statsmodels(n, x, level):
    """Equal weights, no fpc, each row a PSU: the linearized variance is p(1-p)/(n-1), so the
    effective sample size is n - 1 and statsmodels gets count = p (n - 1), nobs = n - 1."""
    d = sipas.Design(srs_frame(n, x), weights="w")
    f = sipas.proportion(d, "y", value=1, ci="wilson", df=math.inf, level=level).to_frame()
    p = x / n
    assert f["se"].iloc[0] ** 2 == pytest.approx(p * (1 - p) / (n - 1), rel=1e-12)
    lo, hi = proportion_confint(p * (n - 1), n - 1, alpha=1 - level, method="wilson")
    assert f["ci_low"].iloc[0] == pytest.approx(lo, rel=1e-10)
    assert f["ci_high"].iloc[0] == pytest.approx(hi, rel=1e-10)


def test_wilson_closed_form_with_design_df():
    """Clustered design, df = design df (t quantile): the closed form with z = t_{df}."""
    d = sipas.Design(clustered_frame(), ids="psu", strata="h", weights="w")
    f = sipas.proportion(d, "y", value=1, ci="wilson").to_frame()
    p, se, df = f["estimate"].iloc[0], f["se"].iloc[0], f["df"].iloc[0]
    assert df == 6
    lo, hi = wilson(p, se, stats.t.isf(0.025, df))
    assert f["ci_low"].iloc[0] == pytest.approx(lo, rel=1e-12)
    assert f["ci_high"].iloc[0] == pytest.approx(hi, rel=1e-12)
    assert 0 < lo < p < hi < 1


def test_wilson_by_domain_uses_each_domain_df_and_se():
    d = sipas.Design(clustered_frame(), ids="psu", strata="h", weights="w")
    f = sipas.proportion(d, "y", value=1, ci="wilson", by="g", level=0.9).to_frame()
    for _, row in f.iterrows():
        lo, hi = wilson(row.estimate, row.se, stats.t.isf(0.05, row.df))
        assert row.ci_low == pytest.approx(lo, rel=1e-12)
        assert row.ci_high == pytest.approx(hi, rel=1e-12)


def test_wald_interval_uses_t_quantile_of_design_df():
    d = sipas.Design(clustered_frame(), ids="psu", strata="h", weights="w")
    f = sipas.mean(d, "y").to_frame().iloc[0]
    q = stats.t.isf(0.025, 6)
    assert f.ci_low == pytest.approx(f.estimate - q * f.se, rel=1e-12)
    assert f.ci_high == pytest.approx(f.estimate + q * f.se, rel=1e-12)
    g = sipas.mean(d, "y", df=math.inf, level=0.9).to_frame().iloc[0]
    assert g.ci_high - g.estimate == pytest.approx(stats.norm.isf(0.05) * g.se, rel=1e-12)


def test_t_quantile_is_nan_for_non_positive_df():
    q = t_quantile(0.95, np.array([-1.0, 0.0, np.nan, 3.0, np.inf]))
    assert np.isnan(q[:3]).all()
    assert q[3] == pytest.approx(stats.t.isf(0.025, 3))
    assert q[4] == pytest.approx(stats.norm.isf(0.025))


def test_interval_with_zero_df_is_nan_never_invented():
    """A domain inside a single PSU has df = 0: no interval (design.md §3)."""
    frame = clustered_frame().assign(g=lambda f: np.where(f.psu == 0, "one", "rest"))
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    for est in (sipas.mean(d, "y", by="g"),
                sipas.proportion(d, "y", value=1, by="g", ci="wilson"),
                sipas.proportion(d, "y", value=1, by="g", ci="beta")):
        row = est.to_frame().set_index("g").loc["one"]
        assert row.df == 0
        assert np.isnan(row.ci_low)
        assert np.isnan(row.ci_high)


@pytest.mark.parametrize("method", ["wald", "mean", "logit", "xlogit", "asin", "beta",
                                    "wilson"])
def test_every_method_contains_the_estimate_and_narrows_with_level(method):
    d = sipas.Design(clustered_frame(), ids="psu", strata="h", weights="w")
    wide = sipas.proportion(d, "y", value=1, method=method, level=0.99).to_frame().iloc[0]
    narrow = sipas.proportion(d, "y", value=1, method=method, level=0.8).to_frame().iloc[0]
    assert wide.ci_low < narrow.ci_low < narrow.estimate < narrow.ci_high < wide.ci_high


def test_low_level_functions_agree_with_the_closed_forms():
    p, se = np.array([0.2, 0.5]), np.array([0.05, 0.1])
    lo, hi = wald_interval(p, se, np.array([np.inf, np.inf]), 0.95)
    np.testing.assert_allclose(hi - p, stats.norm.isf(0.025) * se)
    lo, hi = proportion_interval("wilson", p, se, np.inf, 0.95, np.array([10, 10]))
    want = np.array([wilson(a, b, stats.norm.isf(0.025)) for a, b in zip(p, se)])
    np.testing.assert_allclose(np.column_stack([lo, hi]), want, rtol=1e-12)


@pytest.mark.parametrize("level", [0, 1, 95, -0.1, "0.95", float("nan")])
def test_bad_level_names_the_argument_and_value(level):
    d = sipas.Design(clustered_frame(), ids="psu", strata="h", weights="w")
    with pytest.raises(sipas.DesignError, match=r"level must be .*; got"):
        sipas.proportion(d, "y", value=1, level=level)
    with pytest.raises(sipas.DesignError, match=r"level must be .*; got"):
        sipas.mean(d, "y", level=level)


@pytest.mark.parametrize("df", [0, -1, float("nan"), "3"])
def test_bad_df_names_the_argument_and_value(df):
    d = sipas.Design(clustered_frame(), ids="psu", strata="h", weights="w")
    with pytest.raises(sipas.DesignError, match=r"df must be .*; got"):
        sipas.mean(d, "y", df=df)


def test_bad_method_lists_the_choices():
    d = sipas.Design(clustered_frame(), ids="psu", strata="h", weights="w")
    with pytest.raises(sipas.DesignError, match=r"ci must be one of .*'wilson'.*'exact'"):
        sipas.proportion(d, "y", value=1, ci="exact")


def test_old_spelling_method_warns_and_gives_the_same_interval():
    d = sipas.Design(clustered_frame(), ids="psu", strata="h", weights="w")
    with pytest.warns(DeprecationWarning, match="method= is deprecated; use ci="):
        old = sipas.proportion(d, "y", value=1, method="beta").to_frame()
    new = sipas.proportion(d, "y", value=1, ci="beta").to_frame()
    pd.testing.assert_frame_equal(old, new)
    with pytest.raises(sipas.DesignError, match="give ci= only"):
        sipas.proportion(d, "y", value=1, ci="wald", method="beta")


def test_asin_interval_does_not_wrap_around():
    """With t se large, asin(sqrt p) -+ half leaves [0, pi/2]; sin^2 of an unclipped limit
    wraps around (p = 0.5, se = 0.5, df = 1 gave (0.975, ...), excluding p). Found by the
    property test of the interval containing its estimate."""
    p, se = np.array([0.5, 0.1]), np.array([0.5, 0.3])
    lo, hi = proportion_interval("asin", p, se, np.array([1.0, 2.0]), 0.875, np.array([2, 2]))
    np.testing.assert_array_equal(lo, [0.0, 0.0])
    np.testing.assert_array_equal(hi, [1.0, 1.0])
    small_lo, small_hi = proportion_interval("asin", np.array([0.3]), np.array([0.01]),
                                             np.array([np.inf]), 0.95, np.array([100]))
    centre, half = np.arcsin(np.sqrt(0.3)), stats.norm.isf(0.025) * 0.01 / (2 * np.sqrt(0.21))
    assert small_lo[0] == pytest.approx(np.sin(centre - half) ** 2, rel=1e-14)
    assert small_hi[0] == pytest.approx(np.sin(centre + half) ** 2, rel=1e-14)


@pytest.mark.parametrize("method", ["logit", "xlogit", "asin", "beta", "wilson"])
def test_a_share_of_100_percent_gets_the_clopper_pearson_interval(method):
    """Issue 19 item 10: at 100% the variance is 0; Korn and Graubard (1998) then use the
    respondents: with df = n - 1 the interval is Clopper-Pearson, lower limit
    (alpha/2)^(1/n) (closed form for x = n)."""
    from sipas.engine.intervals import proportion_interval

    n = 50
    lo, hi = proportion_interval(method, np.array([1.0, 0.0]), np.array([0.0, 0.0]),
                                 np.array([n - 1.0, n - 1.0]), 0.95, np.array([n, n]))
    assert lo[0] == pytest.approx(0.025 ** (1 / n), rel=1e-9) and hi[0] == 1.0
    assert lo[1] == 0.0 and hi[1] == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-9)
