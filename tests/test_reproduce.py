"""Reproduction of published figures: the seed article's figures from the demo survey."""

from __future__ import annotations

import pandas as pd
import pytest

import sipas
from sipas.reproduce import published_figures, reproduce


@pytest.fixture(scope="module")
def result():
    sd = sipas.datasets.load_demo()
    design = sipas.rake(sipas.nonresponse(sipas.Design.from_spec(sd), "response", [1],
                                          nonrespondent=[2, 3], classes="district"),
                        sd.spec.margins)
    return reproduce(published_figures("cao-bang-2020"), design, sd.spec)


def test_70_and_74_5_percent_are_reproduced_within_the_ci(result):
    t = result.table.set_index("indicator")
    for ind, value in (("p01", 70.0), ("p02", 74.5)):
        row = t.loc[ind]
        assert row["published"] == value
        assert row["ci_low"] <= value <= row["ci_high"]
        assert row["status"] == "reproduced"
        assert row["definition"].startswith("weighted, top_box")


def test_a_wrong_definition_does_not_reproduce_70_percent(result):
    c = result.candidates
    wrong = c[(c.indicator == "p01") & c.definition.str.startswith("unweighted, top_box")]
    assert not wrong["in_ci"].any()
    assert (wrong["computed"] < 66).all()


def test_mean_and_percent_of_max_of_3_74(result):
    t = result.table[result.table.indicator == "p03"].set_index("unit")
    assert t.loc["mean", "status"] == "reproduced"
    assert t.loc["percent_of_max", "computed"] == pytest.approx(
        20 * t.loc["mean", "computed"], rel=1e-12)


def test_national_figures_have_no_data(result):
    national = result.table[result.table.domain == "Vietnam"]
    assert len(national) == 8 and (national["status"] == "no data").all()


def test_bad_published_table():
    from sipas.reproduce import check_published

    with pytest.raises(sipas.SpecError, match="unit"):
        check_published(pd.DataFrame({"indicator": ["p01"], "domain": ["all"], "value": [1],
                                      "unit": ["percentage"], "source": ["x"]}))
