"""Reproduction of published figures: the seed article's figures from the demo survey."""

from __future__ import annotations

import pandas as pd
import pytest

import sipas
from sipas.reproduction import published_figures, reproduce


@pytest.fixture(scope="module")
def result():
    sd = sipas.datasets.load_demo()
    design = sipas.rake(sipas.nonresponse(sipas.Design.from_spec(sd), "response", [1],
                                          nonrespondent=[2, 3], classes="district"),
                        sd.spec.margins)
    return reproduce(published_figures("cao-bang-2020"), design, sd.spec)


def test_70_and_74_5_percent_are_only_within_sampling_error(result):
    # the demo's estimates (68.5%, 74.3%) do not round to the published 70 and 74.5: the
    # published values lie in the intervals, which is all a different sample can show
    t = result.table.set_index("indicator")
    for ind, value in (("p01", 70.0), ("p02", 74.5)):
        row = t.loc[ind]
        assert row["published"] == value
        assert row["ci_low"] <= value <= row["ci_high"]
        assert row["status"] == "within sampling error"
        assert row["definition"].startswith("weighted, top_box")
        assert row["difference_in_se"] == pytest.approx(
            (value - row["computed"]) / row["se"], rel=1e-12)
    assert t.loc["p02", "decimals"] == 1 and t.loc["p01", "decimals"] == 0


def test_a_wrong_definition_is_not_consistent_with_70_percent(result):
    c = result.candidates
    wrong = c[(c.indicator == "p01") & c.definition.str.startswith("unweighted, top_box")]
    assert (wrong["status"] == "not consistent").all()
    assert (wrong["computed"] < 66).all()


def test_mean_and_percent_of_max_of_3_74(result):
    t = result.table[result.table.indicator == "p03"].set_index("unit")
    assert t.loc["mean", "status"] == "within sampling error"
    assert t.loc["percent_of_max", "computed"] == pytest.approx(
        20 * t.loc["mean", "computed"], rel=1e-12)


def test_reproduced_means_equal_at_the_published_rounding():
    """A figure computed from the same data, published at 1 and 2 decimals: reproduced; a
    value one rounding unit off is not, even though it lies well inside the CI."""
    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    exact = 100 * float(sipas.factor_index(d, ["p01"], satisfied=[1]).to_frame()["estimate"][0])
    table = pd.DataFrame({"indicator": "p01", "domain": "all", "unit": "percent",
                          "source": "recomputed", "value": [round(exact, 1), round(exact, 2),
                                                            round(exact, 1) + 0.1],
                          "decimals": [1, 2, 1]})
    rep = reproduce(table, d, sd.spec)
    assert rep.table["status"].tolist() == ["reproduced", "reproduced",
                                            "within sampling error"]
    assert "1 reproduced" not in rep.summary() and "2 reproduced" in rep.summary()


def test_the_spec_definition_wins_a_tie():
    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    # a yes/no item with no missing answer: valid answers and all respondents coincide,
    # but the spec's definition wins the tie
    table = pd.DataFrame({"indicator": ["p01"], "domain": ["all"], "unit": ["percent"],
                          "source": ["x"], "value": [1.0], "decimals": [0]})
    rep = reproduce(table, d, sd.spec)
    assert rep.table["status"].tolist() == ["not consistent"]
    assert rep.definitions["definition"].iloc[0] == "weighted, share of valid answers"


def test_published_tables_are_checked_against_their_own_parts():
    from sipas.reproduction import check_consistency

    out = check_consistency(published_figures("cao-bang-2020")).set_index("year")
    # national SIPAS 2023: the overall 82.66 is not the mean 82.888 of the five factors
    assert out.loc[2023, "expected"] == pytest.approx((83.00 + 83.02 + 83.12 + 83.03
                                                       + 82.27) / 5)
    assert not out.loc[2023, "consistent"]
    shares = pd.DataFrame({"indicator": "q", "domain": "all", "unit": "percent",
                           "source": "x", "year": 2024, "category": ["a", "b", "c"],
                           "value": [33.3, 33.3, 33.3]})
    ok = check_consistency(shares)
    assert ok["consistent"].tolist() == [True]  # 99.9 is 100 within 3 x 0.05
    shares.loc[0, "value"] = 30.0
    assert check_consistency(shares)["consistent"].tolist() == [False]


def test_par_points_add_up_to_their_total_and_are_not_computed(result):
    from sipas.reproduction import check_consistency

    sd = sipas.datasets.load_demo()
    design = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    par = pd.DataFrame({"indicator": ["PAR", "sipas", "admin", "PAR"],
                        "part_of": ["", "PAR", "PAR", ""],
                        "domain": ["all", "all", "all", "district=1"], "unit": "points",
                        "source": "x", "year": 2024, "value": [17.3, 8.25, 9.3, 12.0]})
    out = check_consistency(par)
    assert out["check"].tolist() == ["total = sum of its parts"]
    assert out["expected"].tolist() == [pytest.approx(17.55)]
    # 17.3 vs 17.55: beyond the rounding of 17.3 (0.05) plus that of the parts (0.055)
    assert out["consistent"].tolist() == [False]
    par.loc[0, "value"] = 17.55
    assert check_consistency(par)["consistent"].tolist() == [True]
    rep = reproduce(par, design, sd.spec)
    assert (rep.table["status"] == "no data").all()


def test_national_figures_have_no_data(result):
    national = result.table[result.table.domain == "Vietnam"]
    assert len(national) == 15 and (national["status"] == "no data").all()


def test_bad_published_table():
    from sipas.reproduction import check_published

    with pytest.raises(sipas.SpecError, match="unit"):
        check_published(pd.DataFrame({"indicator": ["p01"], "domain": ["all"], "value": [1],
                                      "unit": ["percentage"], "source": ["x"]}))
