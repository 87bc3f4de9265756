"""PAR scoring: hand-computed example, invariants, rank simulation, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sipas
from sipas.par import load_scheme, parse_scheme, score, shortfall, what_if

# A small scheme computed by hand below: 2 areas, 20 points.
SMALL = {
    "scheme": {"name": "small", "total": 20,
               "groups": [{"name": "A", "min": 15}, {"name": "B", "min": 0}]},
    "areas": [
        {"code": "X", "max": 10, "criteria": [
            {"code": "X1", "max": 10, "subcriteria": [
                {"code": "X1a", "max": 6, "source": "appraisal"},
                {"code": "X1b", "max": 4, "source": "citizen_survey",
                 "index": "factor:access"}]}]},
        {"code": "Y", "max": 10, "criteria": [
            {"code": "Y1", "max": 10, "subcriteria": [
                {"code": "Y1a", "max": 5, "source": "citizen_survey", "index": "item:p03",
                 "transform": "pct_of_max", "scale_max": 5},
                {"code": "Y1b", "max": 5, "source": "citizen_survey", "index": "overall",
                 "rule": "bands", "bands": [[0.8, 1.0], [0.6, 0.5], [0.0, 0.0]]}]}]},
    ],
}


def _inputs(values):
    rows = []
    for prov, (access, p03, overall) in values.items():
        rows += [{"province": prov, "index": "factor:access", "estimate": access, "se": 0.02},
                 {"province": prov, "index": "item:p03", "estimate": p03, "se": 0.05},
                 {"province": prov, "index": "overall", "estimate": overall, "se": 0.02}]
    return pd.DataFrame(rows)


APPRAISAL = pd.DataFrame({"province": ["P", "Q", "R"], "X1a": [6.0, 5.0, 4.0]})
SURVEY = _inputs({"P": (0.5, 4.0, 0.85), "Q": (0.75, 4.0, 0.7), "R": (1.0, 5.0, 0.55)})


def test_hand_computed_points_totals_ranks_with_ties():
    res = score(parse_scheme(SMALL), appraisal=APPRAISAL, survey=SURVEY)
    tot = res.totals.set_index("province")
    # P: 6 + 4*0.5 + 5*4/5 + 5*1.0 = 17;  Q: 5 + 3 + 4 + 2.5 = 14.5;  R: 4 + 4 + 5 + 0 = 13
    assert tot["total"].to_dict() == pytest.approx({"P": 17.0, "Q": 14.5, "R": 13.0}, abs=1e-12)
    assert tot["group"].to_dict() == {"P": "A", "Q": "B", "R": "B"}
    assert tot["rank"].to_dict() == {"P": 1, "Q": 2, "R": 3}
    tied = APPRAISAL.assign(X1a=[6.0, 5.0, 5.5])  # R = 14.5, tied with Q
    ranks = score(parse_scheme(SMALL), appraisal=tied, survey=SURVEY).totals
    assert ranks.set_index("province")["rank"].to_dict() == {"P": 1, "Q": 2, "R": 2}


def test_survey_se_is_the_linear_combination_of_index_ses():
    res = score(parse_scheme(SMALL), appraisal=APPRAISAL, survey=SURVEY)
    # bands are not linear: no analytic SE; take the scheme without the banded criterion
    lin = {**SMALL, "areas": [SMALL["areas"][0]], "scheme": {**SMALL["scheme"], "total": 10}}
    res = score(parse_scheme(lin), appraisal=APPRAISAL, survey=SURVEY)
    assert res.totals["se"].tolist() == pytest.approx([4 * 0.02] * 3)


def test_parts_add_up_and_never_exceed_maxima():
    res = score(parse_scheme(SMALL), appraisal=APPRAISAL, survey=SURVEY)
    assert (res.points["points"] <= res.points["max_points"] + 1e-12).all()
    by_prov = res.points.groupby("province")["points"].sum()
    tot = res.totals.set_index("province")
    assert np.allclose(by_prov, tot.loc[by_prov.index, "total"])
    assert np.allclose(tot["appraisal"] + tot["survey"], tot["total"])
    areas = res.areas.groupby("province")["points"].sum()
    assert np.allclose(areas, tot.loc[areas.index, "total"])


def test_full_survey_points_when_every_index_is_at_its_maximum():
    survey = _inputs({"P": (1.0, 5.0, 1.0), "Q": (1.0, 5.0, 1.0), "R": (1.0, 5.0, 1.0)})
    res = score(parse_scheme(SMALL), appraisal=APPRAISAL, survey=survey)
    assert res.totals["citizen_survey"].tolist() == pytest.approx([14.0] * 3)


def test_rank_simulation_collapses_with_zero_se_and_widens_with_large_se():
    zero = SURVEY.assign(se=0.0)
    res = score(parse_scheme(SMALL), appraisal=APPRAISAL, survey=zero, n_sim=500, rng=1)
    t = res.totals
    assert (t["rank_low"] == t["rank"]).all() and (t["rank_high"] == t["rank"]).all()
    big = SURVEY.assign(se=0.3)
    wide = score(parse_scheme(SMALL), appraisal=APPRAISAL, survey=big, n_sim=500, rng=1).totals
    assert (wide["rank_high"] - wide["rank_low"]).sum() > 0
    again = score(parse_scheme(SMALL), appraisal=APPRAISAL, survey=big, n_sim=500, rng=1)
    pd.testing.assert_frame_equal(again.totals, wide)
    assert np.allclose(again.rank_probabilities.sum(axis=1), 1.0)


def test_what_if_and_shortfall():
    res = score(parse_scheme(SMALL), appraisal=APPRAISAL, survey=SURVEY)
    gain = what_if(res, "Q", "factor:access", 0.1)
    assert gain.loc[gain.code == "X1b", "gain"].item() == pytest.approx(0.4)
    assert gain.loc[gain.code == "TOTAL", "points_after"].item() == pytest.approx(14.9)
    short = shortfall(res, "R")
    assert short["code"].iloc[0] == "Y1b" and short["lost"].iloc[0] == pytest.approx(5.0)


def test_bad_inputs_name_the_problem():
    with pytest.raises(sipas.ScoringError, match="missing from the survey \\['R'\\]"):
        score(parse_scheme(SMALL), appraisal=APPRAISAL,
              survey=SURVEY[SURVEY.province != "R"])
    with pytest.raises(sipas.ScoringError, match="in \\[0, 1\\]"):
        score(parse_scheme(SMALL), appraisal=APPRAISAL, survey=SURVEY.assign(estimate=82.0))
    with pytest.raises(sipas.ScoringError, match="X1a"):
        score(parse_scheme(SMALL), appraisal=APPRAISAL.assign(X1a=7.0), survey=SURVEY)
    bad = {**SMALL, "scheme": {**SMALL["scheme"], "total": 25}}
    with pytest.raises(sipas.SpecError, match="add up to 20"):
        parse_scheme(bad)


def test_bundled_schemes_load_and_the_2022_structure_holds():
    s = load_scheme("province-2022")
    assert len(s.areas) == 8 and s.total == 100
    by = s.max_by_source()
    assert by["appraisal"] == 68 and by["officials_survey"] + by["citizen_survey"] == 32
    assert all("user-supplied" in a.note for a in s.areas)
    assert load_scheme("example").max_by_source()["citizen_survey"] == 45


def test_index_result_feeds_the_score_with_its_covariance():
    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    res = sipas.satisfaction_index(d, sd.spec, by="urban")
    table, covs = sipas.par.survey_table(res)
    assert set(table["province"]) == {"1.0", "2.0"}
    cov = covs["1.0"]
    assert np.allclose(np.sqrt(np.diag(cov)), table[table.province == "1.0"]["se"])
    appraisal = pd.DataFrame({"province": ["1.0", "2.0"], "A1.1.1": [20.0, 21.0],
                              "A2.1.1": [15.0, 16.0], "A3.1.1": [8.0, 9.0]})
    out = score(load_scheme("example"), appraisal=appraisal, survey=res)
    assert out.totals["total"].between(0, 100).all()


def test_what_if_refuses_an_unused_index_and_never_goes_below_zero():
    res = score(parse_scheme(SMALL), appraisal=APPRAISAL, survey=SURVEY.assign(
        index=SURVEY["index"].replace({"item:p03": "item:p03"})))
    with pytest.raises(sipas.ScoringError, match="province"):
        what_if(res, "Nowhere", "factor:access", 0.1)
    drop = what_if(res, "P", "factor:access", -0.9)
    assert drop.loc[drop.code == "X1b", "points_after"].item() == pytest.approx(0.0)
