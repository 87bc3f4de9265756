"""Bad inputs to the satisfaction indices: empty domains, missing items, missing scales.

Sixteen respondents in two strata of four PSUs; q2 is answered only in domain 1. Cases
marked xfail are known problems in indices.py, which this catalogue does not change; see
``bad_inputs/catalogue.py`` for the checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sipas
from bad_inputs.catalogue import Case, check, params
from sipas.errors import DesignError, EstimationError
from sipas.spec import parse_spec

SPEC = {
    "survey": {"name": "t", "respondent_id": "id"},
    "scales": {"s5": {"min": 1, "max": 5, "satisfied": [4, 5]}},
    "missing": {"dont_know": [8]},
    "items": [{"name": "q1", "scale": "s5"}, {"name": "q2", "scale": "s5"}],
    "factors": [{"name": "f", "items": ["q1", "q2"]}],
    "design": {"ids": ["psu"], "strata": "h", "weights": "w"},
}


def frame(**columns) -> pd.DataFrame:
    """q2 has no valid answer in domain dom=2 (every answer there is empty)."""
    base = pd.DataFrame({"id": range(16), "h": [1] * 8 + [2] * 8,
                         "psu": np.repeat(np.arange(8), 2), "w": 10.0, "dom": [1, 2] * 8,
                         "q1": [5.0, 4, 3, 2] * 4, "q2": [4.0, np.nan] * 8})
    return base.assign(**columns)


def design(data: pd.DataFrame | None = None) -> sipas.Design:
    return sipas.Design(frame() if data is None else data, ids="psu", strata="h", weights="w")


def empty_domain_is_flagged(tmp: Path) -> str:
    res = sipas.satisfaction_index(design(), parse_spec(SPEC), by="dom")
    items = res.items.set_index(["dom", "name"])
    empty = items.loc[(2, "q2")]
    assert np.isnan(empty["estimate"]) and np.isnan(empty["se"])
    assert empty["n"] == 0 and empty["flag"] == "suppress" and empty["flag_reason"] == "no data"
    answered = items.drop(index=(2, "q2"))
    assert answered["estimate"].notna().all()
    assert "no data" not in set(answered["flag_reason"])
    for table in (res.items, res.factors, res.overall):  # no NaN without its flag
        blank = table["estimate"].isna()
        assert (table.loc[blank, "flag_reason"] == "no data").all()
        assert (table.loc[blank, "flag"] == "suppress").all()
    return ("no error: the q2 row of domain 2 has estimate NaN, n = 0, flag 'suppress' and "
            "flag_reason 'no data'; every other item row has a number, and any factor or "
            "overall row left without a value carries the same flag")


def empty_domain_factor_index(tmp: Path) -> str:
    table = sipas.factor_index(design(), ["q2"], by="dom").to_frame().set_index("dom")
    assert table.loc[1, "estimate"] == 1.0
    assert np.isnan(table.loc[2, "estimate"]) and table.loc[2, "n"] == 0
    assert table.loc[2, "n_missing"] == 8
    return "no error: domain 2 has estimate NaN with n = 0 and n_missing = 8"


AREA = "indices"
CASES = [
    Case(AREA, "no_valid_answers_in_domain", "q2 has no valid answer in one domain",
         empty_domain_is_flagged, None),
    Case(AREA, "no_valid_answers_factor_index", "factor_index of q2 in that domain",
         empty_domain_factor_index, None),
    Case(AREA, "item_missing_from_data", "the spec's item q2 is not in the data",
         lambda tmp: sipas.satisfaction_index(design(frame().drop(columns="q2")),
                                              parse_spec(SPEC)), EstimationError,
         ("item column(s) ['q2'] not found in the data",)),
    Case(AREA, "spec_of_another_survey", "the demo spec on this survey's data",
         lambda tmp: sipas.satisfaction_index(design(), sipas.load_spec("demo")),
         EstimationError, ("item column(s) ['q01'] not found",)),
    Case(AREA, "pct_of_max_without_scale", "measure='pct_of_max' without scale=",
         lambda tmp: sipas.factor_index(design(), ["q1"], measure="pct_of_max"),
         EstimationError, ("measure='pct_of_max' needs scale=(min, max) for item 'q1'",)),
    Case(AREA, "pct_of_range_without_scale", "measure='pct_of_range' without scale=",
         lambda tmp: sipas.factor_index(design(), ["q1"], measure="pct_of_range"),
         EstimationError, ("measure='pct_of_range' needs scale=(min, max)",)),
    Case(AREA, "unknown_index_measure", "measure='top2'",
         lambda tmp: sipas.factor_index(design(), ["q1"], measure="top2"), DesignError,
         ("measure must be one of", "got 'top2'")),
    Case(AREA, "top_box_without_satisfied", "top_box with satisfied=[]",
         lambda tmp: sipas.factor_index(design(), ["q1"], satisfied=[]), EstimationError,
         ("item 'q1': no satisfied codes given for top_box",)),
    Case(AREA, "text_item", "answer labels instead of codes in the design's frame",
         lambda tmp: sipas.factor_index(design(frame(q1=list("abcd") * 4)), ["q1"]),
         EstimationError, ("item 'q1' must hold numeric codes",)),
    Case(AREA, "unknown_domain", "by= a column that is not there",
         lambda tmp: sipas.satisfaction_index(design(), parse_spec(SPEC), by="district"),
         DesignError, ("['district'] not found",)),
    Case(AREA, "answers_outside_scale", "answer 5 with scale=(1, 4)",
         lambda tmp: sipas.factor_index(design(), ["q1"], measure="pct_of_max", scale=(1, 4)),
         EstimationError, ("item 'q1' has valid answers outside the scale (1, 4): [5]",)),
    Case(AREA, "item_weights_wrong_length", "one item weight for two items",
         lambda tmp: sipas.factor_index(design(), ["q1", "q2"], item_weights=[1]),
         EstimationError, ("item_weights must be 2 non-negative numbers", "got [1]")),
    Case(AREA, "index_unknown_ci", "satisfaction_index(ci={'item': 'logitt'})",
         lambda tmp: sipas.satisfaction_index(design(), parse_spec(SPEC),
                                              ci={"item": "logitt"}),
         DesignError, ("ci must be one of", "'logitt'")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case, tmp_path):
    check(case, tmp_path)
