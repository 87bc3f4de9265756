"""Bad PAR inputs: schemes whose points do not add up, appraisal and survey tables that do
not fit the scheme or each other.

Two provinces X and Y are scored with the bundled ``example`` scheme (three appraisal
sub-criteria, five factors and the overall index from the citizen survey); each case breaks
one cell, row or key; see ``bad_inputs/catalogue.py`` for the checks.
"""

from __future__ import annotations

import copy
import tomllib
import unicodedata
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bad_inputs.catalogue import Case, check, params
from sipas.errors import ScoringError, SpecError
from sipas.par import load_scheme, parse_scheme, score

INDICES = ["factor:access", "factor:procedures", "factor:officials", "factor:results",
           "factor:feedback", "overall"]
APPRAISAL = {"A1.1.1": 20.0, "A2.1.1": 15.0, "A3.1.1": 10.0}
EXAMPLE = tomllib.loads((resources.files("sipas.par") / "schemes" / "example.toml")
                        .read_text(encoding="utf-8"))


def survey(provinces=("X", "Y"), **changes: Any) -> pd.DataFrame:
    """Long survey table; ``changes`` sets one column of the first row (X, factor:access)."""
    table = pd.DataFrame([{"province": p, "index": i, "estimate": 0.8, "se": 0.02}
                          for p in provinces for i in INDICES])
    for col, value in changes.items():
        table[col] = table[col].astype(object)
        table.loc[0, col] = value
    return table


def appraisal(provinces=("X", "Y"), points: Any = None) -> pd.DataFrame:
    """Long appraisal table; ``points`` replaces the first row's points (X, A1.1.1)."""
    table = pd.DataFrame([{"province": p, "code": c, "points": v}
                          for p in provinces for c, v in APPRAISAL.items()])
    if points is not None:
        table["points"] = table["points"].astype(object)
        table.loc[0, "points"] = points
    return table


def scored(app: pd.DataFrame | None = None, sur: pd.DataFrame | None = None, **kwargs):
    return lambda tmp: score(load_scheme("example"),
                             appraisal=appraisal() if app is None else app,
                             survey=survey() if sur is None else sur, **kwargs)


def scheme(change: Callable[[dict], Any]) -> Callable[[Path], Any]:
    """The example scheme with one change, validated by parse_scheme."""
    def build(tmp: Path) -> Any:
        data = copy.deepcopy(EXAMPLE)
        change(data)
        return parse_scheme(data)
    return build


def area(i: int, **fields: Any) -> Callable[[dict], None]:
    return lambda d: d["areas"][i].update(fields)


def sub(a: int, c: int, s: int, **fields: Any) -> Callable[[dict], None]:
    return lambda d: d["areas"][a]["criteria"][c]["subcriteria"][s].update(fields)


def appraisal_file_cp1258(tmp: Path):
    path = tmp / "appraisal.csv"
    text = "province,code,points\n" + "".join(f"Cà Mau,{c},{v}\n" for c, v in APPRAISAL.items())
    path.write_bytes(unicodedata.normalize("NFD", text).encode("cp1258"))
    return score(load_scheme("example"), appraisal=path, survey=survey(["Cà Mau"]))


def scheme_file(tmp: Path):
    path = tmp / "scheme.toml"
    path.write_text('[scheme]\nname = "mine\ntotal = 100\n', encoding="utf-8")
    return load_scheme(path)


NFD = unicodedata.normalize("NFD", "Cà Mau")
AREA = "PAR"
CASES = [
    Case(AREA, "provinces_differ", "survey has Z where the appraisal has Y",
         scored(sur=survey(["X", "Z"])), ScoringError,
         ("provinces differ", "missing from the survey ['Y']",
          "missing from the appraisal ['Z']", "same province names")),
    Case(AREA, "provinces_differ_in_unicode", "'Cà Mau' typed NFC in one table, NFD in the other",
         scored(app=appraisal(["Cà Mau"]), sur=survey([NFD])), ScoringError,
         ("provinces differ", "differ only in spaces, letter case or the Unicode form",
          "unicodedata.normalize('NFC', name)")),
    Case(AREA, "value_above_one", "a share given as 82 instead of 0.82",
         scored(sur=survey(estimate=82.0)), ScoringError,
         ("index 'factor:access' of 'X'", "must be in [0, 1]; got 82.0", "0.82, not 82")),
    Case(AREA, "value_below_zero", "a share of -0.1", scored(sur=survey(estimate=-0.1)),
         ScoringError, ("must be in [0, 1]; got -0.1",)),
    Case(AREA, "value_missing", "an empty survey estimate",
         scored(sur=survey(estimate=np.nan)), ScoringError,
         ("index 'factor:access' of 'X'", "got nan")),
    Case(AREA, "value_decimal_comma", "a survey estimate written \"0,8\"",
         scored(sur=survey(estimate="0,8")), ScoringError,
         ("citizen survey estimate of 'factor:access' for 'X' must be a number; got '0,8'",
          "decimal point")),
    Case(AREA, "se_missing", "an empty standard error", scored(sur=survey(se=np.nan)),
         ScoringError, ("se of 'factor:access' for 'X' must be a finite number >= 0; got nan",
                        "SE would be NaN")),
    Case(AREA, "se_negative", "a negative standard error", scored(sur=survey(se=-0.02)),
         ScoringError, ("se of 'factor:access'", "got -0.02")),
    Case(AREA, "survey_duplicate_rows", "the same (province, index) twice",
         scored(sur=pd.concat([survey(), survey().iloc[:1]])), ScoringError,
         ("[('X', 'factor:access')] appear more than once",)),
    Case(AREA, "survey_index_missing", "a province without the index a sub-criterion needs",
         scored(sur=survey().iloc[1:]), ScoringError,
         ("citizen survey index 'factor:access' (sub-criterion A1.2.1)",
          "missing for province 'X'")),
    Case(AREA, "survey_columns_missing", "a survey table without the se column",
         scored(sur=survey().drop(columns="se")), ScoringError,
         ("needs columns ['estimate', 'index', 'province', 'se']",)),
    Case(AREA, "appraisal_above_max", "30 appraisal points where the maximum is 25",
         scored(app=appraisal(points=30.0)), ScoringError,
         ("appraisal points of 'A1.1.1' for 'X' must be in [0, 25]; got 30.0",)),
    Case(AREA, "appraisal_negative", "negative appraisal points",
         scored(app=appraisal(points=-1.0)), ScoringError, ("[0, 25]; got -1.0",)),
    Case(AREA, "appraisal_decimal_comma", "appraisal points written \"20,5\"",
         scored(app=appraisal(points="20,5")), ScoringError,
         ("appraisal points of 'A1.1.1' for 'X' must be a number; got '20,5'",
          "decimal point")),
    Case(AREA, "appraisal_duplicate", "the same province and code twice",
         scored(app=pd.concat([appraisal(), appraisal().iloc[:1]])), ScoringError,
         ("province 'X' has points for 'A1.1.1' twice",)),
    Case(AREA, "appraisal_unknown_code", "a code that is not in the scheme",
         scored(app=pd.concat([appraisal(), pd.DataFrame(
             [{"province": "X", "code": "A9.9.9", "points": 1.0}])])), ScoringError,
         ("appraisal code 'A9.9.9' (province 'X')", "scheme 'example'")),
    Case(AREA, "appraisal_code_missing", "a province without one appraisal code",
         scored(app=appraisal().iloc[1:]), ScoringError,
         ("province 'X' has no points for ['A1.1.1']",)),
    Case(AREA, "appraisal_file_not_utf8", "appraisal CSV saved in Windows-1258",
         appraisal_file_cp1258, ScoringError,
         ("appraisal.csv", "must be UTF-8 text", "iconv -f CP1258")),
    Case(AREA, "score_level_as_percent", "score(level=95)", scored(level=95), ScoringError,
         ("level must be a number in (0, 1); got 95",)),
    Case(AREA, "too_few_draws", "score(n_sim=10)", scored(n_sim=10), ScoringError,
         ("n_sim must be 0 or an integer >= 100; got 10",)),
    Case(AREA, "scheme_area_sum", "area A1 max 45 but its criteria add up to 40",
         scheme(area(0, max=45)), SpecError,
         ("[[areas]] #1 (code 'A1')", "criteria maxima add up to 40, not 45")),
    Case(AREA, "scheme_criterion_sum", "sub-criteria of A1.1 add up to 20, not 25",
         scheme(sub(0, 0, 0, max=20)), SpecError,
         ("[[areas.criteria]] #1 (code 'A1.1')", "sub-criteria maxima add up to 20, not 25")),
    Case(AREA, "scheme_total_sum", "total 90 but the areas add up to 100",
         scheme(lambda d: d["scheme"].update(total=90)), SpecError,
         ("the areas' maxima add up to 100, not 90",)),
    Case(AREA, "scheme_unknown_key", "a misspelt area key (maxx)", scheme(area(0, maxx=3)),
         SpecError,
         ("[[areas]] #1 (code 'A1'): key 'maxx' is not allowed; did you mean 'max'?",)),
    Case(AREA, "scheme_max_text", "max = \"40\" (text)", scheme(area(0, max="40")),
         SpecError, ("[[areas]] #1 (code 'A1'): max must be a number; got '40'.",)),
    Case(AREA, "scheme_group_without_min", "a group without its minimum",
         scheme(lambda d: d["scheme"].update(groups=[{"name": "A"}])), SpecError,
         ("[[scheme.groups]] #1 (name 'A'): required key 'min' is missing; it must be a number",)),
    Case(AREA, "scheme_groups_order", "groups listed from the lowest minimum up",
         scheme(lambda d: d["scheme"]["groups"].reverse()), SpecError,
         ("groups must be listed from the highest minimum down",)),
    Case(AREA, "scheme_bands_malformed", "bands = [[0.9]] (a threshold without fraction)",
         scheme(sub(0, 1, 0, rule="bands", bands=[[0.9]])), SpecError,
         ("[[areas.criteria.subcriteria]] #1 (code 'A1.2.1')",
          "bands must be [[threshold, fraction], ...]", "got [[0.9]]")),
    Case(AREA, "scheme_bands_order", "bands from the lowest threshold up",
         scheme(sub(0, 1, 0, rule="bands", bands=[[0.0, 0.0], [0.9, 1.0]])), SpecError,
         ("highest threshold down", "[0.0, 0.9]")),
    Case(AREA, "scheme_areas_not_array", "[areas] as one table",
         scheme(lambda d: d.update(areas={"code": "A1"})), SpecError,
         ("areas must be an array of tables ([[areas]])",)),
    Case(AREA, "scheme_bad_source", "source = 'survey'", scheme(sub(0, 0, 0, source="survey")),
         SpecError, ("[[areas.criteria.subcriteria]] #1 (code 'A1.1.1')", "source must be one of",
                    "got 'survey'")),
    Case(AREA, "scheme_bad_index", "index = 'access' (no factor: prefix)",
         scheme(sub(0, 1, 0, index="access")), SpecError,
         ("(code 'A1.2.1'): index must be \"factor:<name>\"", "got 'access'")),
    Case(AREA, "scheme_duplicate_code", "two sub-criteria coded A1.1.1",
         scheme(sub(1, 0, 0, code="A1.1.1")), SpecError,
         ("sub-criterion code(s) ['A1.1.1'] are used twice",)),
    Case(AREA, "scheme_bad_toml", "an unclosed string in a scheme file", scheme_file,
         SpecError, ("scheme.toml: line 2, column 13: not valid TOML", "Check quotes")),
    Case(AREA, "scheme_unknown_bundled", "a bundled scheme name that does not exist",
         lambda tmp: load_scheme("province-2030"), SpecError,
         ("'province-2030' is neither a file nor a bundled scheme",)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case, tmp_path):
    check(case, tmp_path)
