"""Bad weighting inputs: targets that cannot be met, empty cells, codes that do not match.

Twelve respondents, one per PSU, weight 10, sex 1/2 and age 1/2/3 balanced; each case gives
targets or codes that are wrong in one way; see ``bad_inputs/catalogue.py`` for the checks.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sipas
from bad_inputs.catalogue import Case, check, params
from sipas.errors import ConvergenceError, DesignError, SpecError, WeightingError
from sipas.spec import parse_spec
from sipas.weighting.plan import apply_plan

SEX = {1: 60, 2: 60}
AGE = {1: 40, 2: 40, 3: 40}


def frame(**columns) -> pd.DataFrame:
    base = pd.DataFrame({"psu": range(12), "w": [10.0] * 12, "sex": [1, 2] * 6,
                         "age": [1, 1, 2, 2, 3, 3] * 2,
                         "resp": [1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 1, 1],
                         "y": np.arange(12, dtype=float)})
    return base.assign(**columns)


def design(**columns) -> sipas.Design:
    return sipas.Design(frame(**columns), ids="psu", weights="w")


def confounded() -> sipas.Design:
    """Sex and age group coincide in the sample, so 10/90 and 90/10 cannot both hold."""
    data = pd.DataFrame({"psu": range(4), "w": [1.0] * 4, "a": [1, 1, 2, 2], "b": [1, 1, 2, 2]})
    return sipas.Design(data, ids="psu", weights="w")


def spec_margins_in_words(tmp: Path):
    """The spec's margin file codes sex as Nam/Nữ; the data code it 1/2."""
    (tmp / "sex.csv").write_text("sex,population\nNam,60\nNữ,60\n", encoding="utf-8")
    spec = parse_spec({"survey": {"name": "t", "respondent_id": "psu"},
                       "scales": {"s5": {"min": 1, "max": 5, "satisfied": [4, 5]}},
                       "items": [{"name": "q1", "scale": "s5"}],
                       "margins": [{"name": "sex", "variables": ["sex"], "file": "sex.csv"}]},
                      source=tmp / "survey.toml")
    return sipas.rake(design(), spec.margins)


def plan_with_unknown_method(tmp: Path):
    spec = parse_spec({"survey": {"name": "t", "respondent_id": "psu"},
                       "scales": {"s5": {"min": 1, "max": 5, "satisfied": [4, 5]}},
                       "items": [{"name": "q1", "scale": "s5"}]})
    return apply_plan(design(), [{"method": "raking", "margins": ["sex"]}], spec)


def with_missing_sex(tmp: Path):
    data = frame()
    data["sex"] = data["sex"].astype(float)
    data.loc[3, "sex"] = np.nan
    return sipas.rake(sipas.Design(data, ids="psu", weights="w"), {"sex": copy.copy(SEX)})


AREA = "weighting"
CASES = [
    Case(AREA, "rake_not_converging", "margins the sample cannot meet jointly",
         lambda tmp: sipas.rake(confounded(), {"a": {1: 10, 2: 90}, "b": {1: 90, 2: 10}},
                                max_iter=50), ConvergenceError,
         ("raking did not converge in 50 sweeps", "margin 'a'", "is at 90 instead of 10",
          "collapse sparse levels")),
    Case(AREA, "rake_max_iter_too_small", "max_iter=1 on margins that are easy to meet",
         lambda tmp: sipas.rake(design(), {"sex": {1: 50, 2: 70}, "age": {1: 30, 2: 40, 3: 50}},
                                max_iter=1),
         ConvergenceError, ("did not converge in 1 sweeps", "every margin is within the "
                            "tolerance", "still changing", "Raise max_iter")),
    Case(AREA, "calibrate_not_converging", "logit calibration with bounds too tight",
         lambda tmp: sipas.calibrate(design(), {"sex": {1: 10, 2: 110}}, method="logit",
                                     bounds=(0.5, 2)), ConvergenceError,
         ("calibration (logit, bounds 0.5..2) did not converge", "'sex=1'", "Widen the bounds")),
    Case(AREA, "rake_empty_cell", "a population level without respondents",
         lambda tmp: sipas.rake(design(), {"sex": SEX, "age": {**AGE, 3: 30, 4: 10}}),
         WeightingError, ("margin 'age'", "population level(s) [(4,)]", "no respondent",
                          "partial=True")),
    Case(AREA, "poststratify_empty_cell", "a post-stratum without respondents",
         lambda tmp: sipas.poststratify(design(), "age", {**AGE, 3: 30, 4: 10}),
         WeightingError, ("population level(s) [(4,)]", "Collapse them")),
    Case(AREA, "sample_level_without_target", "respondents in a level with no target",
         lambda tmp: sipas.poststratify(design(), "age", {1: 60, 2: 60}), WeightingError,
         ("sample level(s) [(3,)] have no population target",)),
    Case(AREA, "inconsistent_margin_totals", "sex sums to 120, age to 121",
         lambda tmp: sipas.rake(design(), {"sex": SEX, "age": {**AGE, 3: 41}}), WeightingError,
         ("do not sum to the same population total (sex=120, age=121)", "same year")),
    Case(AREA, "inconsistent_calibration_totals", "calibration totals of 120 and 121",
         lambda tmp: sipas.calibrate(design(), {"sex": SEX, "age": {**AGE, 3: 41}}),
         WeightingError, ("sex=120, age=121", "Calibration cannot hit all of them")),
    Case(AREA, "codes_differ", "targets coded Nam/Nữ, data coded 1/2",
         lambda tmp: sipas.rake(design(), {"sex": {"Nam": 60, "Nữ": 60}}), WeightingError,
         ("margin 'sex'", "do not match at all", "('Nam',)", "Recode the targets")),
    Case(AREA, "codes_text_vs_number", "targets keyed \"1\"/\"2\", data coded 1/2",
         lambda tmp: sipas.poststratify(design(), "sex", {"1": 60, "2": 60}), WeightingError,
         ("('1',)", "1 versus '1'")),
    Case(AREA, "spec_margin_codes_differ", "the spec's margin file says Nam/Nữ, data 1/2",
         spec_margins_in_words, WeightingError, ("margin 'sex'", "do not match at all")),
    Case(AREA, "margin_column_missing", "an empty sex cell among weighted rows",
         with_missing_sex, WeightingError,
         ("column(s) ['sex'] have 1 missing value(s)", "rows [3]",
          "sipas does not drop respondents silently")),
    Case(AREA, "margin_column_absent", "a margin on a column that is not in the data",
         lambda tmp: sipas.rake(design(), {"gender": SEX}), DesignError,
         ("margin 'gender'", "not in the data", "Check the spelling")),
    Case(AREA, "negative_target", "a target of -60",
         lambda tmp: sipas.rake(design(), {"sex": {1: -60, 2: 60}}), WeightingError,
         ("target of (1,) must be a finite number >= 0; got -60",)),
    Case(AREA, "target_text", "a target written as a word",
         lambda tmp: sipas.rake(design(), {"sex": {1: "sixty", 2: 60}}), WeightingError,
         ("target of (1,) must be a number; got 'sixty'",)),
    Case(AREA, "nonresponse_unknown_code", "response status 2 not classified",
         lambda tmp: sipas.nonresponse(design(resp=[1, 1, 1, 3] * 3), "resp", [1],
                                       nonrespondent=[2]), WeightingError,
         ("response status column 'resp'", "code(s) [3]", "never counted as a respondent")),
    Case(AREA, "nonresponse_empty_status", "an empty response status",
         lambda tmp: sipas.nonresponse(design(resp=[1, 2, np.nan] * 4), "resp", [1],
                                       nonrespondent=[2]), WeightingError,
         ("'<empty>'", "Classify every code")),
    Case(AREA, "nonresponse_class_without_respondent", "a class where nobody answered",
         lambda tmp: sipas.nonresponse(design(), "resp", [1], nonrespondent=[2],
                                       classes="psu"), WeightingError,
         ("weighting class {'psu': 3}", "no respondent", "Collapse it")),
    Case(AREA, "nonresponse_status_absent", "a response status column that is not there",
         lambda tmp: sipas.nonresponse(design(), "status", [1], nonrespondent=[2]),
         DesignError, ("response status column 'status' is not in the data",)),
    Case(AREA, "calibration_negative_weights", "linear calibration to an impossible total",
         lambda tmp: sipas.calibrate(design(), {"sex": SEX, "y": -5000.0}), WeightingError,
         ("negative weight(s)", "bounds=(lower, upper)", "method='raking'")),
    Case(AREA, "trim_bounds_infeasible", "strict trimming to bounds above the mean weight",
         lambda tmp: sipas.trim(design(), lower=20, upper=30, strict=True), WeightingError,
         ("no weights within [20, 30]", "mean 10", "Widen the bounds")),
    Case(AREA, "tolerance_zero", "rake(tol=0)",
         lambda tmp: sipas.rake(design(), {"sex": SEX}, tol=0), WeightingError,
         ("tol must be a finite number > 0; got 0",)),
    Case(AREA, "probability_zero", "a selection probability of 0",
         lambda tmp: sipas.base_weights(frame(p=[0.0] + [0.5] * 11), "p"), WeightingError,
         ("selection probability column 'p' must be in (0, 1]", "rows [0]")),
    Case(AREA, "plan_unknown_method", "a weighting plan step method = 'raking'",
         plan_with_unknown_method, SpecError,
         ("[[weighting.steps]] #1 (method 'raking'): method must be one of", "got 'raking'",
          "Did you mean 'rake'?")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case, tmp_path):
    check(case, tmp_path)
