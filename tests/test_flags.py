"""Reliability flags: the NCHS 2017 standards for proportions and the RSE rule.

References: the rules of Parker et al. (2017), Vital Health Stat 2(175), applied by hand to
worked cases; the Korn-Graubard limits recomputed here from scipy's beta quantiles (a second
implementation of the interval, not the code under test).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sipas
from sipas.indices.reliability import ReliabilityRules, flag, korn_graubard


def kg_by_hand(p, se, df, n, level=0.95):
    """Korn-Graubard as NCHS writes it: n_eff = p(1-p)/se^2 capped at n (n at p = 0 or 1),
    times (t_{n-1} / t_df)^2; Clopper-Pearson limits at x = n_eff* p successes."""
    n_eff = n if p in (0.0, 1.0) else min(p * (1 - p) / se**2, n)
    a = 1 - level
    n_star = n_eff * (stats.t.ppf(a / 2, n - 1) / stats.t.ppf(a / 2, df)) ** 2
    x = n_star * p
    lo = 0.0 if x == 0 else stats.beta.ppf(a / 2, x, n_star - x + 1)
    hi = 1.0 if x == n_star else stats.beta.ppf(1 - a / 2, x + 1, n_star - x)
    return n_eff, lo, hi


# (p, se, df, n) -> expected verdict and reasons, one case per rule of the standard
CASES = [
    # effective sample size 0.25/0.0845^2 = 35 >= 30, but df 30 gives a CI 0.32 wide
    ((0.5, 0.0845, 30, 60), "suppress", "width>=0.3"),
    # effective n 0.16/0.08^2 = 25 < 30: suppressed first, whatever the width
    ((0.2, 0.08, 30, 200), "suppress", "n_eff<30"),
    # n = 20 respondents caps the effective n at 20 even with a small SE
    ((0.5, 0.01, 30, 20), "suppress", "n_eff<30"),
    # narrow: width <= 0.05 is presented at once
    ((0.5, 0.01, 60, 3000), "", ""),
    # a small share, width below 0.30 but above 130% of p: suppressed
    ((0.04, 0.035, 60, 400), "suppress", "rel_width>1.3"),
    # a large share whose complement 1 - p is small: presented, for review
    ((0.96, 0.035, 60, 400), "review", "complement_rel_width>1.3"),
    # a good estimate on too few PSUs: review
    ((0.5, 0.02, 5, 900), "review", "df<8"),
    # 100% of 400 respondents: presented (its KG width is small) but reviewed
    ((1.0, 0.0, 60, 400), "review", "p=0 or 1"),
]


@pytest.mark.parametrize(("case", "verdict", "reason"), CASES)
def test_nchs_worked_cases(case, verdict, reason):
    p, se, df, n = case
    table = pd.DataFrame({"estimate": [p], "se": [se], "df": [df], "n": [n]})
    out = flag(table, "nchs", share=True)
    assert out["flag"].item() == verdict
    assert out["flag_reason"].item() == reason


@pytest.mark.parametrize(("case", "verdict", "reason"), CASES)
def test_korn_graubard_limits_equal_the_hand_formula(case, verdict, reason):
    p, se, df, n = case
    n_eff, lo, hi = korn_graubard(np.array([p]), np.array([se]), np.array([float(df)]),
                                  np.array([float(n)]))
    want = kg_by_hand(p, se, df, n)
    np.testing.assert_allclose([n_eff[0], lo[0], hi[0]], want, rtol=1e-10, atol=1e-14)


def test_the_issue_example_is_suppressed():
    """p = 0.5 with effective n 35 and df 30 (issue 15): its Korn-Graubard interval is more
    than 0.30 wide, so the share must not be published."""
    n_eff, lo, hi = kg_by_hand(0.5, np.sqrt(0.25 / 35), 30, 35)
    assert hi - lo > 0.30
    out = flag(pd.DataFrame({"estimate": [0.5], "se": [np.sqrt(0.25 / 35)], "df": [30],
                             "n": [35]}))
    assert out["flag"].item() == "suppress"


def test_means_follow_the_rse_rule():
    table = pd.DataFrame({"estimate": [4.0, 4.0, 4.0, 4.0], "se": [0.4, 1.6, 2.4, 0.1],
                          "df": [30, 30, 30, 4], "n": [100, 100, 100, 10]})
    out = flag(table, "nchs", share=False)
    assert out["flag"].tolist() == ["", "review", "suppress", "suppress"]
    assert out["flag_reason"].tolist() == ["", "rse>0.3", "rse>0.5", "n<30; df<8"]
    rse = flag(table, "rse", share=False)
    assert rse["flag_reason"].tolist() == ["", "rse>0.25", "rse>0.5", "n<30; df<8"]


def test_a_custom_rule_set_and_its_errors():
    rules = ReliabilityRules.preset("nchs", min_df=12)
    assert rules.name == "custom" and rules.min_df == 12
    out = flag(pd.DataFrame({"estimate": [0.5], "se": [0.01], "df": [10], "n": [3000]}),
               rules, share=True)
    assert out["flag_reason"].item() == "df<12"
    with pytest.raises(sipas.DesignError, match="rules"):
        ReliabilityRules.preset("cdc")
    with pytest.raises(sipas.DesignError, match="min_df"):
        ReliabilityRules.preset("nchs", min_df=-1)
    with pytest.raises(sipas.DesignError, match="estimate"):
        flag(pd.DataFrame({"p": [0.5]}))


def test_an_estimate_is_flagged_as_a_proportion_and_empty_rows_are_suppressed():
    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    est = sipas.proportion(d, "p01", value=1, by="urban")
    out = flag(est)
    t = est.to_frame()
    for i in range(len(t)):
        row = t.iloc[i]
        _, lo, hi = kg_by_hand(row["estimate"], row["se"], row["df"], row["n"], est.level)
        hand = flag(pd.DataFrame([row[["estimate", "se", "df", "n"]]]), share=True)
        assert out["flag"].iloc[i] == hand["flag"].item()
    gap = pd.DataFrame({"estimate": [np.nan], "se": [np.nan], "df": [3], "n": [0]})
    assert flag(gap)[["flag", "flag_reason"]].values.tolist() == [["suppress", "no data"]]
