"""Bad arguments of two-way tables, tests of association, t and rank tests, and nonlinear
contrasts; see ``bad_inputs/catalogue.py`` for the checks."""

from __future__ import annotations

import pandas as pd
import pytest

import sipas
from bad_inputs.catalogue import Case, check, params
from sipas.errors import DesignError, EstimationError


def frame(**columns) -> pd.DataFrame:
    base = pd.DataFrame({"h": [1, 1, 1, 1, 2, 2, 2, 2], "psu": [1, 1, 2, 2, 3, 3, 4, 4],
                         "w": [10.0] * 4 + [20.0] * 4, "y": [1.0, 2, 3, 4, 5, 4, 3, 2],
                         "a": [1, 2] * 4, "b": ["x", "x", "y", "y"] * 2,
                         "g3": [1, 2, 3, 1, 2, 3, 1, 2], "one": [1] * 8})
    return base.assign(**columns)


def design(data: pd.DataFrame | None = None) -> sipas.Design:
    return sipas.Design(frame() if data is None else data, ids="psu", strata="h", weights="w")


def empty_level(tmp):
    """Level 3 of a occurs only in a row where b is missing: an empty row of the table."""
    data = frame(a=[1, 2, 1, 2, 1, 2, 1, 3], b=["x", "x", "y", "y", "x", "x", "y", None])
    return sipas.chisq_test(design(data), "a", "b")


def by_mean(tmp):
    return sipas.mean(design(), "y", by="a")


AREA = "tables"
CASES = [
    Case(AREA, "crosstab_unknown_column", "crosstab of a column that is not in the data",
         lambda tmp: sipas.crosstab(design(), "a", "nope"), DesignError,
         ("col column(s) ['nope'] not found",)),
    Case(AREA, "crosstab_same_column", "crosstab of a column by itself",
         lambda tmp: sipas.crosstab(design(), "a", "a"), DesignError,
         ("two different columns", "'a'")),
    Case(AREA, "crosstab_one_level", "a table variable with one value",
         lambda tmp: sipas.crosstab(design(), "a", "one"), DesignError,
         ("'one'", "at least two levels")),
    Case(AREA, "crosstab_by_table_variable", "crosstab with by= one of its variables",
         lambda tmp: sipas.crosstab(design(), "a", "b", by="a"), DesignError,
         ("by must not include", "'a'")),
    Case(AREA, "crosstab_bad_ci", "crosstab(ci='likelihood')",
         lambda tmp: sipas.crosstab(design(), "a", "b", ci="likelihood"), DesignError,
         ("ci must be one of", "'likelihood'")),
    Case(AREA, "chisq_empty_row", "a table whose row level has no respondent with a column "
         "answer", empty_level, EstimationError,
         ("level(s) [3] of 'a'", "empty row", "Recode or drop the level")),
    Case(AREA, "chisq_unknown_statistic", "chisq_test(statistic='G')",
         lambda tmp: sipas.chisq_test(design(), "a", "b", statistic="G"), DesignError,
         ("statistic must be one of", "'G'")),
    Case(AREA, "ttest_three_groups", "ttest with a group column of three values",
         lambda tmp: sipas.ttest(design(), "y", "g3"), DesignError,
         ("group column 'g3' must have exactly two values", "[1, 2, 3]", "rank_test")),
    Case(AREA, "ttest_one_group", "ttest with a group column of one value",
         lambda tmp: sipas.ttest(design(), "y", "one"), DesignError,
         ("exactly two values", "'one'")),
    Case(AREA, "ttest_unknown_column", "ttest of a column that is not in the data",
         lambda tmp: sipas.ttest(design(), "yy", "a"), DesignError, ("'yy'",)),
    Case(AREA, "ttest_text_outcome", "ttest of a text column",
         lambda tmp: sipas.ttest(design(), "b", "a"), DesignError,
         ("column 'b' must be numeric",)),
    Case(AREA, "ranktest_unknown_test", "rank_test(test='sign')",
         lambda tmp: sipas.rank_test(design(), "y", "a", test="sign"), DesignError,
         ("test must be one of", "'sign'")),
    Case(AREA, "ranktest_one_group", "rank_test with a group column of one value",
         lambda tmp: sipas.rank_test(design(), "y", "one"), DesignError,
         ("group column 'one'", "at least two values")),
    Case(AREA, "nonlinear_unknown_operand", "nonlinear_contrast naming a row that is not "
         "there", lambda tmp: sipas.nonlinear_contrast(by_mean(tmp), "u / v", operands={
             "u": (1, "y"), "v": (9, "y")}), EstimationError,
         ("operand (9, 'y') is not a row", "rows are")),
    Case(AREA, "nonlinear_no_operands", "a text expression without operands",
         lambda tmp: sipas.nonlinear_contrast(by_mean(tmp), "u / v"), EstimationError,
         ("needs operands=", "['u', 'v']")),
    Case(AREA, "nonlinear_unsafe_expression", "an expression that calls something else",
         lambda tmp: sipas.nonlinear_contrast(by_mean(tmp), "__import__('os')",
                                              operands={}), EstimationError,
         ("not allowed", "functions")),
    Case(AREA, "nonlinear_not_finite", "log of a negative difference",
         lambda tmp: sipas.nonlinear_contrast(by_mean(tmp), "log(u - v - 100)", operands={
             "u": (1, "y"), "v": (2, "y")}), EstimationError,
         ("not finite at the estimates", "(1, 'y')")),
    Case(AREA, "nonlinear_replicates_on_taylor", "variance='replicates' on a linearization "
         "design", lambda tmp: sipas.nonlinear_contrast(by_mean(tmp), "u / v", operands={
             "u": (1, "y"), "v": (2, "y")}, variance="replicates"), EstimationError,
         ("needs an estimate from a replicate design", "variance='delta'")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case, tmp_path):
    check(case, tmp_path)
