"""Bad questionnaire specs: one case per validation rule of ``sipas.spec``, and bad files.

Each case changes one thing in a small valid spec (``BASE``) or writes a broken TOML or
margin file; see ``bad_inputs/catalogue.py`` for the checks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bad_inputs.catalogue import Case, check, params
from sipas.errors import SpecError
from sipas.spec import load_spec, parse_spec

BASE: dict[str, Any] = {
    "survey": {"name": "t", "respondent_id": "id"},
    "scales": {"s5": {"min": 1, "max": 5, "satisfied": [4, 5]}},
    "missing": {"dont_know": [8], "not_applicable": [9]},
    "items": [{"name": "q1", "scale": "s5"}, {"name": "q2", "scale": "s5"},
              {"name": "q3", "scale": "s5"}],
    "factors": [{"name": "f1", "items": ["q1", "q2"]}],
}
TOML = """[survey]
name = "t"
respondent_id = "id"

[scales.s5]
min = 1
max = 5
satisfied = [4, 5]

[[items]]
name = "q1"
scale = "s5"
"""


def changed(change: Callable[[dict], Any]) -> Callable[[Path], Any]:
    """A builder: BASE with one change, validated by parse_spec."""
    def build(tmp: Path) -> Any:
        data = copy.deepcopy(BASE)
        change(data)
        return parse_spec(data)
    return build


def _mixed(rescale: str | None = None, *, measure: str = "mean",
           second: bool = False) -> Callable[[dict], None]:
    """BASE under ``measure`` with a yes/no item in factor f1 (rescaled when given)."""
    def change(d: dict) -> None:
        d["scales"]["yn"] = {"codes": [1, 2], "satisfied": [1]}
        d["items"].append({"name": "yn", "scale": "yn"})
        d["factors"][0]["items"] = ["q1", "yn"]
        if rescale:
            d["factors"][0]["rescale"] = rescale
        if second:
            d["factors"].append({"name": "f2", "items": ["q3"]})
        d["index"] = {"measure": measure}
    return change


def spec_file(text: str, encoding: str = "utf-8") -> Callable[[Path], Any]:
    def build(tmp: Path) -> Any:
        path = tmp / "survey.toml"
        path.write_bytes(text.encode(encoding))
        return load_spec(path)
    return build


def margin_file(csv_text: str | None, encoding: str = "utf-8",
                name: str = "sex.csv") -> Callable[[Path], Any]:
    """A spec with [[margins]] file = "sex.csv" beside it (``None``: the file is absent)."""
    def build(tmp: Path) -> Any:
        if csv_text is not None:
            (tmp / name).write_bytes(csv_text.encode(encoding))
        data = copy.deepcopy(BASE)
        data["margins"] = [{"variables": ["sex"], "file": name}]
        return parse_spec(data, source=tmp / "survey.toml")
    return build


def first_item(**fields: Any) -> Callable[[dict], None]:
    return lambda d: d["items"][0].update(fields)


def scale(**fields: Any) -> Callable[[dict], None]:
    return lambda d: d["scales"]["s5"].update(fields)


def top(**tables: Any) -> Callable[[dict], None]:
    return lambda d: d.update(tables)


def without(*keys: str) -> Callable[[dict], None]:
    return lambda d: [d.pop(k) for k in keys]


def nodes(*entries: dict[str, Any]) -> Callable[[dict], None]:
    """BASE with an index tree of ``entries`` instead of its factors."""
    def change(d: dict) -> None:
        d.pop("factors")
        d["nodes"] = list(entries)
    return change


AREA = "spec"
CASES = [
    Case(AREA, "tree_cycle", "index tree nodes a -> b -> a",
         changed(nodes({"name": "top", "children": ["a"]}, {"name": "a", "children": ["b"]},
                       {"name": "b", "children": ["a"]})), SpecError,
         ("[[nodes]]", "child of both", "'a'")),
    Case(AREA, "tree_cycle_without_top", "index tree whose only nodes form a cycle",
         changed(nodes({"name": "a", "children": ["b"]}, {"name": "b", "children": ["a"]})),
         SpecError, ("[[nodes]]", "'a' -> 'b' -> 'a'", "form a cycle")),
    Case(AREA, "tree_empty_node", "an index tree node without items or children",
         changed(nodes({"name": "top", "children": ["a"]}, {"name": "a", "items": []})),
         SpecError, ("node 'a' is empty", "items = [...] or children = [...]")),
    Case(AREA, "tree_unknown_item", "an index tree node naming an item not in [[items]]",
         changed(nodes({"name": "top", "children": ["a"]}, {"name": "a", "items": ["q9"]})),
         SpecError, ("[[nodes]] #2 (name 'a')", "node 'a' names unknown item(s) ['q9']")),
    Case(AREA, "tree_unknown_child", "an index tree node naming a node that does not exist",
         changed(nodes({"name": "top", "children": ["a", "b"]}, {"name": "a", "items": ["q1"]})),
         SpecError, ("node 'top' names unknown child node(s) ['b']",)),
    Case(AREA, "tree_two_tops", "index tree nodes that make two trees",
         changed(nodes({"name": "a", "items": ["q1"]}, {"name": "b", "items": ["q2"]})),
         SpecError, ("form 2 trees", "['a', 'b']", "exactly one node")),
    Case(AREA, "tree_and_factors", "[[nodes]] together with [[factors]]",
         changed(lambda d: d.update(nodes=[{"name": "a", "items": ["q1"]}])), SpecError,
         ("[[nodes]] define the whole index tree", "remove [[factors]]")),
    Case(AREA, "factor_unknown_item", "a factor names an item that is not in [[items]]",
         changed(lambda d: d["factors"][0]["items"].append("q9")), SpecError,
         ("[[factors]] #1 (name 'f1')", "unknown item(s) ['q9']", "defined in [[items]]")),
    Case(AREA, "item_in_two_factors", "q2 in factors f1 and f2",
         changed(lambda d: d["factors"].append({"name": "f2", "items": ["q2", "q3"]})),
         SpecError, ("item 'q2' is in two factors ('f1' and 'f2')", "remove it from one")),
    Case(AREA, "item_twice_in_a_factor", "q1 listed twice in one factor",
         changed(lambda d: d["factors"][0]["items"].append("q1")), SpecError,
         ("[[factors]] #1 (name 'f1')", "item(s) ['q1']", "more than once")),
    Case(AREA, "empty_factor", "a factor without items",
         changed(lambda d: d["factors"][0].update(items=[])), SpecError,
         ("(name 'f1')", "at least one item")),
    Case(AREA, "missing_code_is_valid", "dont_know = [5] on a 1-5 scale (overlapping codes)",
         changed(lambda d: d["missing"].update(dont_know=[5])), SpecError,
         ("(name 'q1')", "code(s) [5] are both valid answers of scale 's5'", "'dont_know'",
          "Use codes outside the scale")),
    Case(AREA, "item_missing_code_second_kind", "an item gives survey code 8 a second kind",
         changed(first_item(missing={"refused": [8]})), SpecError,
         ("[[items]] #1 (name 'q1')", "code 8 is a missing code of two kinds", "dont_know = []",
          "list it under both kinds in one table")),
    Case(AREA, "survey_year_not_a_year", "[survey] year = 26 (two digits)",
         changed(lambda d: d["survey"].update(year=26)), SpecError,
         ("[survey]", "year", "the survey's year, e.g. 2026", "26")),
    Case(AREA, "satisfied_outside_scale", "satisfied = [5, 6] on a 1-5 scale",
         changed(scale(satisfied=[5, 6])), SpecError,
         ("[scales.s5]", "satisfied code(s) [6] are outside the scale [1, 2, 3, 4, 5]")),
    Case(AREA, "no_satisfied_codes", "a scale without satisfied codes",
         changed(lambda d: d["scales"]["s5"].pop("satisfied")), SpecError,
         ("[scales.s5]: required key 'satisfied' is missing", "[4, 5]")),
    Case(AREA, "scale_min_above_max", "min = 5, max = 1",
         changed(scale(min=5, max=1)), SpecError,
         ("min/max must be two integers with min < max; got (5, 1)",)),
    Case(AREA, "scale_codes_and_min", "both codes = [...] and min/max",
         changed(scale(codes=[1, 2])), SpecError, ("either codes = [...] or min/max",)),
    Case(AREA, "scale_one_code", "a scale with a single code",
         changed(lambda d: d["scales"].update(s1={"codes": [1], "satisfied": [1]})),
         SpecError, ("[scales.s1]", "at least two valid codes; got (1,)")),
    Case(AREA, "scale_labels_count", "2 labels for 5 codes",
         changed(scale(labels={"vi": ["Không", "Có"]})), SpecError,
         ("labels.vi must be a list of 5 strings (one per code)",)),
    Case(AREA, "undefined_scale", "an item on a scale that is not defined",
         changed(first_item(scale="s7")), SpecError,
         ("(name 'q1')", "scale 's7' is not defined", "Add [scales.s7]")),
    Case(AREA, "unknown_top_key", "a misspelt section ([[factor]])",
         changed(top(factor=[])), SpecError,
         ("spec: key 'factor' is not allowed; did you mean 'factors'?",)),
    Case(AREA, "unknown_item_key", "a misspelt item key (lable)",
         changed(first_item(lable="Câu 1")), SpecError,
         ("[[items]] #1 (name 'q1'): key 'lable' is not allowed; did you mean 'label'?",)),
    Case(AREA, "unknown_missing_kind", "a misspelt missing kind (dont_knwo)",
         changed(lambda d: d["missing"].update(dont_knwo=[7])), SpecError,
         ("[missing]: key 'dont_knwo' is not allowed; did you mean 'dont_know'?",)),
    Case(AREA, "wrong_type_min", "min = \"1\" (text)",
         changed(scale(min="1")), SpecError, ("[scales.s5]: min must be an integer; got '1'.",)),
    Case(AREA, "wrong_type_codes", "missing codes as text ([\"8\"])",
         changed(lambda d: d["missing"].update(dont_know=["8"])), SpecError,
         ("dont_know must be a list of numeric codes; got ['8']", "[8, 9]")),
    Case(AREA, "wrong_type_items", "[items] as one table instead of [[items]]",
         changed(top(items={"name": "q1", "scale": "s5"})), SpecError,
         ("items must be an array of tables ([[items]])",)),
    Case(AREA, "wrong_type_nest", "nest = \"yes\"",
         changed(top(design={"nest": "yes"})), SpecError, ("nest must be true or false",)),
    Case(AREA, "wrong_type_strata", "strata as a list",
         changed(top(design={"strata": ["district", "urban"]})), SpecError,
         ("strata must be a column name; got ['district', 'urban']",)),
    Case(AREA, "no_survey_table", "no [survey] table", changed(without("survey")), SpecError,
         ("required key 'survey' is missing; it must be a table ([survey])",)),
    Case(AREA, "no_items", "no [[items]]", changed(top(items=[])), SpecError,
         ("no [[items]] entries",)),
    Case(AREA, "duplicate_item", "two items called q1",
         changed(lambda d: d["items"].append({"name": "q1", "scale": "s5"})), SpecError,
         ("item name(s) ['q1'] defined more than once",)),
    Case(AREA, "respondent_id_is_item", "respondent_id = \"q1\"",
         changed(lambda d: d["survey"].update(respondent_id="q1")), SpecError,
         ("respondent_id must be a column that is not an item; got 'q1'",)),
    Case(AREA, "weighted_factors_without_weights", "overall = 'weighted_factors', no weights",
         changed(top(index={"overall": "weighted_factors"})), SpecError,
         ("factor_weights must be one weight for each factor ['f1']; got {}",
          "[index.factor_weights]")),
    Case(AREA, "factor_weights_negative", "a negative factor weight",
         changed(top(index={"overall": "weighted_factors", "factor_weights": {"f1": -1}})),
         SpecError, ("non-negative numbers with a positive sum",)),
    Case(AREA, "factor_weights_unused", "factor_weights with overall = 'mean_of_factors'",
         changed(top(index={"factor_weights": {"f1": 1}})), SpecError,
         ("factor_weights are used only with overall = 'weighted_factors'",)),
    Case(AREA, "overall_item_without_item", "overall = 'item' but no [overall] item",
         changed(top(index={"overall": "item"})), SpecError,
         ("overall = 'item' needs [overall] item",)),
    Case(AREA, "overall_item_unknown", "[overall] item names an unknown item",
         changed(top(overall={"item": "q9"})), SpecError,
         ("[overall]", "item must be one of the [[items]]; got 'q9'")),
    Case(AREA, "overall_item_in_factor", "the overall item is also in a factor",
         changed(top(overall={"item": "q1"})), SpecError,
         ("a question asked apart from the factors; got 'q1'", "factor 'f1'")),
    Case(AREA, "unknown_measure", "measure = 'top2'",
         changed(top(index={"measure": "top2"})), SpecError,
         ("measure must be one of", "'top_box'", "got 'top2'")),
    Case(AREA, "unknown_lonely_psu", "lonely_psu = 'collapse'",
         changed(top(design={"lonely_psu": "collapse"})), SpecError,
         ("lonely_psu must be one of", "got 'collapse'")),
    Case(AREA, "not_a_table", "a list instead of a table of keys",
         lambda tmp: parse_spec([BASE]), SpecError, ("spec must be a table of keys; got 'list'",)),
    Case(AREA, "synthetic_not_bool", "synthetic = \"yes\"",
         changed(lambda d: d["survey"].update(synthetic="yes")), SpecError,
         ("[survey]", "synthetic must be true or false; got 'yes'")),
    Case(AREA, "label_wrong_type", "an item label given as a list",
         changed(first_item(label=["Câu 1", "Question 1"])), SpecError,
         ("(name 'q1')", "label must be a string or {vi = \"...\", en = \"...\"}")),
    Case(AREA, "unknown_item_kind", "kind = 'satisfied'",
         changed(first_item(kind="satisfied")), SpecError,
         ("(name 'q1')",
          "kind must be one of 'satisfaction', 'perception', 'expectation', 'other'",
          "Did you mean 'satisfaction'?")),
    Case(AREA, "unknown_aggregate", "aggregate = 'people'",
         changed(top(index={"aggregate": "people"})), SpecError,
         ("aggregate must be one of 'items', 'respondents'; got 'people'",)),
    Case(AREA, "overall_needs_factors", "overall = 'mean_of_factors' without [[factors]]",
         changed(lambda d: [d.pop("factors"), d.update(index={"overall": "mean_of_factors"})]),
         SpecError, ("overall = 'mean_of_factors' needs at least one [[factors]] entry",)),
    Case(AREA, "unknown_domains_key", "[domains] column = (singular)",
         changed(top(domains={"column": ["sex"]})), SpecError,
         ("[domains]: key 'column' is not allowed; did you mean 'columns'?",)),
    Case(AREA, "margin_without_variables", "a margin without variables =",
         changed(top(margins=[{"name": "sex", "targets": {"1": 5}}])), SpecError,
         ("[[margins]] #1 (name 'sex'): required key 'variables' is missing",
          "Name the column(s) of the margin")),
    Case(AREA, "duplicate_margin_name", "two margins called sex",
         changed(top(margins=[{"variables": ["sex"], "targets": {"1": 5, "2": 5}}] * 2)),
         SpecError, ("margin name(s) ['sex'] defined more than once",)),
    Case(AREA, "margin_target_text", "an inline target written as text",
         changed(top(margins=[{"variables": ["sex"], "targets": {"1": "480", "2": 520}}])),
         SpecError, ("targets must be a table such as", "got {'1': '480', '2': 520}")),
    Case(AREA, "margin_target_negative", "an inline population target of -5",
         changed(top(margins=[{"variables": ["sex"], "targets": {"1": -5, "2": 10}}])),
         SpecError, ("[[margins]] #1", "positive finite numbers", "-5.0")),
    Case(AREA, "margin_target_key", "a joint margin with a one-code target key",
         changed(top(margins=[{"variables": ["sex", "age"], "targets": {"1": 5}}])),
         SpecError, ("target key '1'", "one code per variable ['sex', 'age']")),
    Case(AREA, "margin_file_and_targets", "a margin with both file and targets",
         changed(top(margins=[{"variables": ["sex"], "targets": {"1": 5}, "file": "s.csv"}])),
         SpecError, ("exactly one of targets",)),
    Case(AREA, "margin_file_missing", "margins file that does not exist", margin_file(None),
         SpecError, ("margin file", "sex.csv", "does not exist",
                     "relative to the file that names them")),
    Case(AREA, "margin_file_header", "margins file with the wrong header",
         margin_file("gender,population\n1,5\n"), SpecError,
         ("sex.csv", "the header must name the columns ['sex', 'population']",
          "it lacks ['sex']")),
    Case(AREA, "margin_file_thousands", "population written \"36,831\"",
         margin_file('sex,population\n1,"36,831"\n2,40103\n'), SpecError,
         ("sex.csv' line 2", "got '36,831'", "no thousands separators")),
    Case(AREA, "margin_file_duplicate_cell", "the same cell twice in a margins file",
         margin_file("sex,population\n1,5\n1,6\n"), SpecError,
         ("line 3", "cell (1,) appears twice")),
    Case(AREA, "margin_file_short_row", "a margins file row with three cells",
         margin_file("sex,population\n1,5,7\n"), SpecError,
         ("line 2", "the row must be 2 cells like the header; got ['1', '5', '7']")),
    Case(AREA, "margin_file_empty_code", "a margins file row without its code",
         margin_file("sex,population\n,5\n"), SpecError,
         ("line 2", "every code must be non-empty")),
    Case(AREA, "margin_file_no_rows", "margins file with a header only",
         margin_file("sex,population\n"), SpecError, ("sex.csv", "has no data rows")),
    Case(AREA, "margin_file_zero", "a population of 0 in a margins file",
         margin_file("sex,population\n1,0\n2,5\n"), SpecError,
         ("positive finite numbers", "{(1,): 0.0}")),
    Case(AREA, "margin_file_not_utf8", "margins file in Windows-1258",
         margin_file("sex,population\nCà Mau,5\n", encoding="cp1258"), SpecError,
         ("sex.csv", "must be UTF-8 text", "Save it as UTF-8")),
    Case(AREA, "margin_file_absolute", "margins file = \"/etc/passwd\" (never opened)",
         margin_file(None, name="/etc/passwd"), SpecError,
         ("absolute path '/etc/passwd' is not allowed",)),
    Case(AREA, "mean_factor_mixed_scales", "a mean factor of a 1-5 item and a yes/no share",
         changed(_mixed()), SpecError,
         ("[[factors]] #1 (name 'f1'): factor 'f1' averages the means of items on different "
          "scales", "q1 on scale 's5' (1-5); yn on scale 'yn' (a yes/no share, 0-1)",
          'Add rescale = "pct_of_range" to the factor')),
    Case(AREA, "mean_overall_mixed_scales", "one factor rescaled to 0-1, another a 1-5 mean",
         changed(_mixed("pct_of_range", second=True)), SpecError,
         ("[index]: the overall index (mean_of_factors) combines indices on different "
          "scales: 'f1' on 0-1, 'f2' on 1-5",)),
    Case(AREA, "rescale_without_mean", "rescale under measure = \"top_box\"",
         changed(_mixed("pct_of_range", measure="top_box")), SpecError,
         ("[[factors]] #1 (name 'f1'): rescale = 'pct_of_range' maps item means to 0-1",
          "Remove rescale")),
    Case(AREA, "rescale_unknown", "rescale = \"zscore\"",
         changed(_mixed("zscore")), SpecError,
         ("rescale must be one of 'pct_of_range', 'pct_of_max'; got 'zscore'",)),
    Case(AREA, "margin_file_leaves_folder", "margins file = \"../../etc/passwd\" (never opened)",
         margin_file(None, name="../../../../../../../../etc/passwd"), SpecError,
         ("path '../../../../../../../../etc/passwd' leaves the spec's folder", "root=",
          "allow_absolute_paths")),
    Case(AREA, "margin_file_not_a_margin", "margins file = a file that is not one (content "
         "never shown)", margin_file("user: secret\n1\n"), SpecError,
         ("the header must name the columns ['sex', 'population']",
          "it lacks ['sex', 'population'] (its first line has 1 cell(s))")),
    Case(AREA, "margin_file_is_folder", "margins file = \".\" (a folder)",
         margin_file(None, name="."), SpecError, ("margin file '.' is a folder",)),
    Case(AREA, "spec_bad_toml", "an unclosed string in the TOML file",
         spec_file(TOML.replace('name = "t"', 'name = "t')), SpecError,
         ("survey.toml: line 2, column 10: not valid TOML", "Check quotes")),
    Case(AREA, "spec_not_utf8", "spec file saved in Windows-1258",
         spec_file(TOML.replace('name = "t"', 'name = "Cà Mau"'), encoding="cp1258"),
         SpecError, ("survey.toml", "must be UTF-8 text", "at line 2")),
    Case(AREA, "spec_file_missing", "a spec file that does not exist",
         lambda tmp: load_spec(tmp / "nope.toml"), SpecError,
         ("nope.toml", "does not exist", "Check the path")),
    Case(AREA, "spec_is_folder", "a folder instead of a spec file",
         lambda tmp: load_spec(tmp), SpecError,
         ("spec file must be a .toml file", "It is a folder")),
    Case(AREA, "unknown_bundled_spec", "a bundled spec name that does not exist",
         lambda tmp: load_spec("demo2020"), SpecError,
         ("bundled spec name ['demo', 'demo2026']", "got 'demo2020'")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case, tmp_path):
    check(case, tmp_path)
