"""Weighted reliability. References: pingouin's unweighted alpha (listwise); closed forms."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

import sipas
from sipas.design import Reweighting
from sipas.indices.psychometrics import cronbach_alpha_from_cov, factor_reliability, item_analysis

ITEMS = ["q10", "q11", "q12", "q13", "q14"]


@pytest.fixture(scope="module")
def demo():
    sd = sipas.datasets.load_demo()
    return sd, sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)


def test_unweighted_alpha_equals_pingouin(demo):
    sd, _ = demo
    frame = sd.frame.assign(one=1.0)
    eq = sipas.Design(frame, ids="commune", strata="district", weights="one", nest=True)
    eq = eq.subset(sd.frame["response"] == 1)
    ours = item_analysis(eq, ITEMS)
    ref = pg.cronbach_alpha(sd.frame.loc[sd.frame.response == 1, ITEMS], nan_policy="listwise")
    assert ours.alpha == pytest.approx(ref[0], abs=1e-10)


def test_equal_weights_alpha_equals_unweighted(demo):
    sd, d = demo
    w = np.where(d.weight_array > 0, 7.5, 0.0)
    assert item_analysis(d.reweight(Reweighting.to(w)), ITEMS).alpha == pytest.approx(
        item_analysis(d.unweighted(), ITEMS).alpha, abs=1e-12)


def test_alpha_closed_form_and_item_statistics(demo):
    cov = np.array([[1.0, 0.5, 0.4], [0.5, 1.0, 0.3], [0.4, 0.3, 1.0]])
    assert cronbach_alpha_from_cov(cov) == pytest.approx(1.5 * (1 - 3 / 5.4))
    sd, d = demo
    res = item_analysis(d, ITEMS)
    assert res.ci_low < res.alpha < res.ci_high and res.se > 0
    assert len(res.items) == 5 and res.items["corrected_item_total_r"].between(0, 1).all()
    assert 0 < res.omega <= 1


def test_alpha_se_matches_a_jackknife_of_alpha(demo):
    sd, _ = demo
    rep = sipas.replicate(sipas.Design.from_spec(sd), "jkn").subset(
        (sd.frame["response"] == 1).to_numpy())
    taylor = item_analysis(sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1), ITEMS)
    jack = item_analysis(rep, ITEMS)
    assert jack.alpha == pytest.approx(taylor.alpha, rel=1e-12)
    assert jack.se == pytest.approx(taylor.se, rel=0.15)


def test_factor_reliability_table(demo):
    sd, d = demo
    table = factor_reliability(d, sd.spec)
    assert table["factor"].tolist() == [f.name for f in sd.spec.factors]
    assert (table["alpha"] > 0.5).all()


def test_too_few_complete_respondents(demo):
    sd, d = demo
    frame = pd.DataFrame({"a": [1.0, np.nan, 2, np.nan], "b": [np.nan, 1.0, 2, 3],
                          "psu": [1, 2, 3, 4], "w": 1.0})
    with pytest.raises(sipas.EstimationError, match="fewer than 3"):
        item_analysis(sipas.Design(frame, ids="psu", weights="w"), ["a", "b"])


def test_reliability_takes_the_spec_missing_codes_on_raw_codes(demo):
    """A design built on the raw file (9 = not applicable still a code): the spec's missing
    codes make the factor reliability equal to that of the cleaned data; without them an
    answer outside the scale is refused, never scored."""
    sd, clean = demo
    raw = sipas.read_survey(sipas.datasets.demo_path()).frame
    assert (raw[list(sd.spec.factor("feedback").items)] > 5).any().any()  # raw codes
    raw_design = sipas.Design.from_spec(sd, raw).subset(raw["response"] == 1)
    got = factor_reliability(raw_design, sd.spec).set_index("factor")
    want = factor_reliability(clean, sd.spec).set_index("factor")
    np.testing.assert_allclose(got[["alpha", "se", "omega", "n"]].to_numpy(float),
                               want[["alpha", "se", "omega", "n"]].to_numpy(float),
                               rtol=1e-12)
    items = list(sd.spec.factor("feedback").items)
    with pytest.raises(sipas.EstimationError, match="outside its scale"):
        item_analysis(raw_design, items, scale=[1, 2, 3, 4, 5])
    codes = [8, 9, 7, 99]
    assert item_analysis(raw_design, items, missing_codes=codes,
                         scale=[1, 2, 3, 4, 5]).alpha == pytest.approx(
        want.loc["feedback", "alpha"], rel=1e-12)


def test_a_factor_that_cannot_be_estimated_is_reported_not_fatal(demo):
    """Issue 19 item 9: one factor with fewer than three complete respondents used to abort
    the whole run without naming the factor."""
    sd, d = demo
    keep = np.zeros(len(sd.frame), dtype=bool)
    keep[:2] = True
    first = sd.spec.factors[0].items[0]
    frame = sd.frame.copy()
    frame.loc[~keep, first] = np.nan
    design = sipas.Design.from_spec(dataclasses.replace(sd, frame=frame))
    table = factor_reliability(design, sd.spec)
    row = table.set_index("factor").loc[sd.spec.factors[0].name]
    assert np.isnan(row["alpha"]) and row["note"].startswith("not estimable")
    assert table["alpha"].notna().sum() == len(table) - 1
