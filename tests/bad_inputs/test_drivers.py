"""Bad arguments of key drivers (sipas.drivers) and multiple-response questions
(sipas.multiple_response, [[question_sets]]); see ``bad_inputs/catalogue.py`` for the checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sipas
from bad_inputs.catalogue import Case, check, params
from sipas.errors import DesignError, EstimationError, SpecError


def frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    out = pd.DataFrame({"h": np.repeat([1, 2], n // 2), "psu": np.arange(n) // 4,
                        "w": rng.uniform(1, 3, n), "y": rng.integers(1, 6, n).astype(float),
                        "a": rng.integers(1, 6, n).astype(float),
                        "b": rng.integers(1, 6, n).astype(float), "k": 3.0,
                        "o1": rng.integers(1, 3, n).astype(float),
                        "o2": rng.integers(1, 3, n).astype(float)})
    out["ab"] = out["a"] - out["b"]
    return out


def design(data: pd.DataFrame | None = None) -> sipas.Design:
    return sipas.Design(frame() if data is None else data, ids="psu", strata="h", weights="w")


def drivers(**kw):
    args = {"outcome": "y", "drivers": ["a", "b"], "replicates": 5, "rng": 1}
    args.update(kw)
    return lambda tmp: sipas.drivers(design(), **args)


def few_rows(tmp):
    return sipas.drivers(design().subset(np.arange(40) < 3), "y", ["a", "b"], replicates=5,
                         rng=1)


def one_option_spec(tmp):
    return sipas.spec.parse_spec({
        "survey": {"name": "x", "respondent_id": "id"},
        "scales": {"yn": {"codes": [1, 2], "satisfied": [1]}},
        "items": [{"name": "q1", "scale": "yn"}],
        "question_sets": [{"name": "needs", "options": ["o1"]}]})


AREA = "drivers"
CASES = [
    Case(AREA, "drivers_unknown_outcome", "an outcome column that is not in the data",
         drivers(outcome="nope"), DesignError, ("'nope'", "not found")),
    Case(AREA, "drivers_unknown_driver", "a driver column that is not in the data",
         drivers(drivers=["a", "zz"]), DesignError, ("'zz'", "not found")),
    Case(AREA, "drivers_constant", "a driver with one value among the respondents",
         drivers(drivers=["a", "k"]), EstimationError, ("'k'", "constant", "leave it out")),
    Case(AREA, "drivers_collinear", "a driver that is a combination of the others",
         drivers(drivers=["a", "b", "ab"]), EstimationError, ("collinear", "'ab'")),
    Case(AREA, "drivers_too_few_rows", "fewer respondents than the model needs", few_rows,
         EstimationError, ("3 respondents", "needs more than")),
    Case(AREA, "drivers_lmg_too_many", "LMG importance with 16 drivers",
         drivers(drivers={f"x{j}": ["a"] for j in range(16)}), EstimationError,
         ("at most 15", "relative_weights")),
    Case(AREA, "drivers_bad_importance", "importance='shapley'",
         drivers(importance="shapley"), DesignError, ("importance must be one of",
                                                       "'shapley'")),
    Case(AREA, "multiple_one_option", "a multiple-response question with one option",
         lambda tmp: sipas.multiple_response(design(), ["o1"]), DesignError,
         ("at least two option columns", "yes/no item")),
    Case(AREA, "multiple_spec_one_option", "[[question_sets]] with one option",
         one_option_spec, SpecError, ("question_sets", "at least two option columns")),
    Case(AREA, "multiple_unknown_option", "an option column that is not in the data",
         lambda tmp: sipas.multiple_response(design(), ["o1", "o9"]), DesignError,
         ("'o9'", "not found")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case, tmp_path):
    check(case, tmp_path)
