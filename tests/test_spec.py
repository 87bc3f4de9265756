"""Questionnaire spec (sipas.spec): what a valid spec holds, and every way one is refused.

Reference values are the bundled demo spec (src/sipas/datasets/specs/demo.toml) and small
specs written in the tests; each refusal checks the error class and the words of the message
that name the key, item, code or file at fault (design.md section 6).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sipas
from conftest import examples
from sipas.spec import IndexDefinition, Spec, load_spec, parse_spec

# --------------------------------------------------------------------------- helpers

BASE = {
    "survey": {"name": "t", "respondent_id": "id",
               "title": {"vi": "Khảo sát thử", "en": "Test survey"}},
    "scales": {"s5": {"min": 1, "max": 5, "satisfied": [4, 5],
                      "labels": {"vi": ["Rất không hài lòng", "Không hài lòng", "Bình thường",
                                        "Hài lòng", "Rất hài lòng"],
                                 "en": ["Very dissatisfied", "Dissatisfied", "Neutral",
                                        "Satisfied", "Very satisfied"]}},
               "yn": {"codes": [1, 2], "satisfied": [1]}},
    "missing": {"dont_know": [8], "not_applicable": [9]},
    "items": [{"name": "q1", "scale": "s5", "label": {"vi": "Câu 1", "en": "Question 1"}},
              {"name": "q2", "scale": "s5"},
              {"name": "q3", "scale": "s5"},
              {"name": "p1", "scale": "yn", "kind": "perception"}],
    "factors": [{"name": "f1", "items": ["q1", "q2"]}],
}


def spec_dict(**changes):
    """A deep copy of BASE with top-level tables replaced (None removes a table)."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def refused(data, *words, source=None):
    """parse_spec must raise SpecError whose message contains every word."""
    with pytest.raises(sipas.SpecError) as info:
        parse_spec(data, source=source)
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"
    return str(info.value)


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


SPEC_TOML = """
[survey]
name = "mini"
respondent_id = "id"
title = { vi = "Khảo sát nhỏ", en = "Small survey" }

[scales.s5]
min = 1
max = 5
satisfied = [4, 5]

[missing]
dont_know = [8]
refused = [7]

[[items]]
name = "q1"
label = { vi = "Hài lòng chung", en = "Overall satisfaction" }
scale = "s5"

[[items]]
name = "q2"
scale = "s5"
missing = { not_applicable = [9] }

[[factors]]
name = "f"
items = ["q1"]

[overall]
item = "q2"

[index]
measure = "mean"
aggregate = "respondents"
overall = "item"

[design]
ids = ["psu"]
strata = "stratum"
weights = "w"
fpc = ["N"]

[domains]
columns = ["sex"]

[[margins]]
name = "sex"
variables = ["sex"]
targets = { "1" = 480, "2" = 520 }

[[margins]]
variables = ["sex", "age"]
file = "cells.csv"
"""


# --------------------------------------------------------------------------- the demo spec

def test_demo_spec_holds_every_section():
    spec = load_spec("demo")
    assert isinstance(spec, Spec)
    assert spec.name == "demo"
    assert spec.respondent_id == "resp_id"
    assert spec.synthetic is True
    q01 = spec.item("q01")
    assert q01.label["vi"] == "Nơi ngồi chờ tại Bộ phận Một cửa có đủ chỗ ngồi"
    assert q01.label["en"] == "Enough seats in the one-stop waiting area"
    assert spec.scale_of("q01").codes == (1, 2, 3, 4, 5)
    assert spec.scale_of("q01").satisfied == (4, 5)
    assert spec.scale_of("p01").codes == (1, 2)
    assert spec.scale_of("p01").satisfied == (1,)
    assert spec.scale_of("q01").label(4, "en") == "Satisfied"
    assert spec.scale_of("q01").label(4, "vi") == "Hài lòng"
    assert spec.missing == {"refused": (7,), "dont_know": (8,), "not_applicable": (9,),
                            "not_asked": (99,)}
    assert [f.name for f in spec.factors] == ["access", "procedures", "officials", "results",
                                              "feedback"]
    assert spec.overall_item == "q23"
    assert spec.design.ids == ("commune", "resp_id")
    assert spec.design.strata == "district"
    assert spec.design.weights == "w_design"
    assert spec.design.fpc == ("N_communes", "N_users")
    assert spec.design.nest is True
    assert spec.design.lonely_psu == "fail"
    assert "district" in spec.domains
    assert "sex" in spec.domains
    assert spec.index == IndexDefinition("top_box", "items", "mean_of_factors")
    assert [m.name for m in spec.margins] == ["sex", "age_group", "ethnicity", "district"]
    assert spec.margin("sex").targets == {(1,): 36831.0, (2,): 40103.0}


def test_spec_file_with_inline_and_csv_margins(tmp_path):
    write(tmp_path / "cells.csv", "sex,age,population\n1,1,100\n1,2,150.5\n2,1,120\n2,2,130\n")
    path = write(tmp_path / "mini.toml", SPEC_TOML)
    spec = load_spec(path)
    assert spec.source == str(path)
    assert spec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert spec.title == {"vi": "Khảo sát nhỏ", "en": "Small survey"}
    assert spec.item("q2").label == {}
    assert spec.missing_codes("q1") == {"dont_know": (8,), "refused": (7,)}
    assert spec.missing_codes("q2") == {"dont_know": (8,), "refused": (7,),
                                        "not_applicable": (9,)}
    assert spec.index.measure == "mean"
    assert spec.index.aggregate == "respondents"
    assert spec.index.overall == "item"
    assert spec.overall_item == "q2"
    assert spec.margin("sex").source == "inline"
    assert spec.margin("sex").targets == {(1,): 480.0, (2,): 520.0}
    cells = spec.margin("sex*age")
    assert cells.variables == ("sex", "age")
    assert cells.source == str(tmp_path / "cells.csv")
    assert cells.targets == {(1, 1): 100.0, (1, 2): 150.5, (2, 1): 120.0, (2, 2): 130.0}


def test_utf8_bom_is_accepted(tmp_path):
    write(tmp_path / "cells.csv", "\ufeffsex,age,population\n1,1,1\n")
    spec = load_spec(write(tmp_path / "bom.toml", "\ufeff" + SPEC_TOML))
    assert spec.item("q1").label["vi"] == "Hài lòng chung"
    assert spec.margin("sex*age").targets == {(1, 1): 1.0}


def test_item_missing_codes_override_the_survey_kind():
    items = copy.deepcopy(BASE["items"])
    items[2]["missing"] = {"not_applicable": [], "dont_know": [8, 9]}
    spec = parse_spec(spec_dict(items=items))
    assert spec.missing_codes("q3") == {"dont_know": (8, 9)}
    assert spec.missing_codes("q1") == {"dont_know": (8,), "not_applicable": (9,)}


def test_spec_without_factors_is_allowed_unless_an_overall_rule_needs_them():
    spec = parse_spec(spec_dict(factors=None))
    assert spec.factors == ()
    refused(spec_dict(factors=None, index={"overall": "mean_of_factors"}),
            "'mean_of_factors'", "[[factors]]")


def test_lookups_of_unknown_names_raise_spec_error():
    spec = parse_spec(spec_dict())
    with pytest.raises(sipas.SpecError, match="item must be one of the items"):
        spec.item("q99")
    with pytest.raises(sipas.SpecError, match="'f9'"):
        spec.factor("f9")
    with pytest.raises(sipas.SpecError, match="margin"):
        spec.margin("age")


def test_index_definition_describes_itself():
    d = IndexDefinition("pct_of_max", "respondents", "weighted_factors", {"a": 2.0, "b": 1.0})
    assert d.describe() == ("item measure=pct_of_max; factor aggregate=respondents; "
                            "overall=weighted_factors a:2, b:1")


# --------------------------------------------------------------------------- refusals

def _items_with(i, **fields):
    items = copy.deepcopy(BASE["items"])
    items[i].update(fields)
    return items


REFUSALS = {
    "unknown item in a factor": (
        {"factors": [{"name": "f1", "items": ["q1", "q7"]}]},
        ["[[factors]] #1 (name 'f1')", "unknown item(s) ['q7']"]),
    "item in two factors": (
        {"factors": [{"name": "f1", "items": ["q1", "q2"]}, {"name": "f2", "items": ["q2"]}]},
        ["item 'q2'", "two factors", "'f1'", "'f2'"]),
    "item twice in one factor": (
        {"factors": [{"name": "f1", "items": ["q1", "q1"]}]},
        ["(name 'f1')", "item(s) ['q1']", "more than once"]),
    "duplicate factor name": (
        {"factors": [{"name": "f1", "items": ["q1"]}, {"name": "f1", "items": ["q2"]}]},
        ["factor name", "['f1']"]),
    "duplicate item name": (
        {"items": [{"name": "q1", "scale": "s5"}, {"name": "q1", "scale": "s5"}]},
        ["item name", "['q1']"]),
    "code both valid and missing": (
        {"missing": {"dont_know": [5]}}, ["(name 'q1')", "[5]", "scale 's5'", "'dont_know'"]),
    "item code of a second kind": (
        {"items": _items_with(1, missing={"refused": [9]})},
        ["(name 'q2')", "code 9", "'not_applicable'", "'refused'"]),
    "item code valid on its scale": (
        {"items": _items_with(3, missing={"dont_know": [2]})}, ["(name 'p1')", "[2]", "'yn'"]),
    "satisfied code outside the scale": (
        {"scales": {"s5": {"min": 1, "max": 5, "satisfied": [5, 6]},
                    "yn": {"codes": [1, 2], "satisfied": [1]}}},
        ["[scales.s5]", "satisfied code(s) [6]", "[1, 2, 3, 4, 5]"]),
    "no satisfied codes": (
        {"scales": {"s5": {"min": 1, "max": 5}, "yn": {"codes": [1, 2], "satisfied": [1]}}},
        ["[scales.s5]", "required key 'satisfied' is missing", "[4, 5]"]),
    "both codes and min/max": (
        {"scales": {"s5": {"min": 1, "max": 5, "codes": [1, 2], "satisfied": [1]},
                    "yn": {"codes": [1, 2], "satisfied": [1]}}}, ["[scales.s5]", "not both"]),
    "min above max": (
        {"scales": {"s5": {"min": 5, "max": 1, "satisfied": [1]},
                    "yn": {"codes": [1, 2], "satisfied": [1]}}},
        ["min/max must be two integers with min < max; got (5, 1)"]),
    "one-code scale": (
        {"scales": {"s5": {"codes": [1], "satisfied": [1]},
                    "yn": {"codes": [1, 2], "satisfied": [1]}}},
        ["codes must be at least two valid codes; got (1,)"]),
    "repeated code": (
        {"missing": {"dont_know": [8, 8]}}, ["dont_know must be a list without repeated codes"]),
    "labels of the wrong length": (
        {"scales": {"s5": {"min": 1, "max": 5, "satisfied": [5], "labels": {"vi": ["a"]}},
                    "yn": {"codes": [1, 2], "satisfied": [1]}}},
        ["labels.vi must be a list of 5 strings", "got ['a']"]),
    "labels not a table": (
        {"scales": {"s5": {"min": 1, "max": 5, "satisfied": [5], "labels": ["a"]},
                    "yn": {"codes": [1, 2], "satisfied": [1]}}},
        ["[scales.s5]", "labels must be a table", "got ['a']"]),
    "undefined scale": (
        {"items": _items_with(0, scale="s7")},
        ["(name 'q1')", "scale 's7' is not defined", "s5"]),
    "unknown top-level key": (
        {"factor": []}, ["spec: key 'factor' is not allowed; did you mean 'factors'?"]),
    "unknown key without a close match": (
        {"colour": "blue"}, ["key 'colour' is not allowed; allowed keys: 'design', 'domains'"]),
    "unknown survey key": (
        {"survey": {"name": "t", "respondent_id": "id", "titel": "x"}},
        ["[survey]: key 'titel' is not allowed; did you mean 'title'?"]),
    "unknown item key": (
        {"items": _items_with(0, lable="x")},
        ["[[items]] #1 (name 'q1'): key 'lable' is not allowed; did you mean 'label'?"]),
    "unknown scale key": (
        {"scales": {"s5": {"min": 1, "max": 5, "satisfed": [4]},
                    "yn": {"codes": [1, 2], "satisfied": [1]}}},
        ["[scales.s5]: key 'satisfed' is not allowed; did you mean 'satisfied'?"]),
    "unknown missing kind": (
        {"missing": {"dont_knwo": [8]}},
        ["[missing]: key 'dont_knwo' is not allowed; did you mean 'dont_know'?"]),
    "unknown design key": (
        {"design": {"weight": "w"}},
        ["[design]: key 'weight' is not allowed; did you mean 'weights'?"]),
    "unknown index key": (
        {"index": {"measures": "mean"}},
        ["[index]: key 'measures' is not allowed; did you mean 'measure'?"]),
    "name not a string": (
        {"survey": {"name": 5, "respondent_id": "id"}},
        ["[survey]", "name must be a non-empty string; got 5."]),
    "respondent id missing": (
        {"survey": {"name": "t"}},
        ["[survey]: required key 'respondent_id' is missing; it must be a non-empty string."]),
    "respondent id is an item": (
        {"survey": {"name": "t", "respondent_id": "q1"}},
        ["respondent_id must be a column that is not an item; got 'q1'."]),
    "synthetic not a boolean": (
        {"survey": {"name": "t", "respondent_id": "id", "synthetic": "yes"}},
        ["synthetic must be true or false; got 'yes'."]),
    "codes not numbers": (
        {"missing": {"dont_know": ["8"]}}, ["dont_know must be a list of numeric codes",
                                            "got ['8']"]),
    "items not an array": (
        {"items": {"name": "q1"}}, ["items must be an array of tables ([[items]])",
                                    "got {'name': 'q1'}"]),
    "no items": ({"items": []}, ["no [[items]] entries"]),
    "no scales": ({"scales": None}, ["required key 'scales' is missing", "[scales.<name>]"]),
    "item kind unknown": (
        {"items": _items_with(0, kind="satisfied")},
        ["(name 'q1')", "kind must be one of 'satisfaction'", "got 'satisfied'",
         "Did you mean 'satisfaction'?"]),
    "item missing not a table": (
        {"items": _items_with(0, missing=[8])},
        ["(name 'q1')", "missing must be a table", "[8]"]),
    "label wrong type": ({"items": _items_with(0, label=5)}, ["(name 'q1')", "label must be"]),
    "factor items not a list": (
        {"factors": [{"name": "f1", "items": 5}]}, ["items must be a list of item names; got 5."]),
    "empty factor": (
        {"factors": [{"name": "f1", "items": []}]}, ["(name 'f1')", "at least one item"]),
    "weighted_factors without weights": (
        {"index": {"overall": "weighted_factors"}},
        ["[index]", "factor_weights must be one weight for each factor ['f1']", "got {}"]),
    "weighted_factors with a missing factor": (
        {"factors": [{"name": "f1", "items": ["q1"]}, {"name": "f2", "items": ["q2"]}],
         "index": {"overall": "weighted_factors", "factor_weights": {"f1": 1}}},
        ["['f1', 'f2']", "got {'f1': 1}"]),
    "negative factor weight": (
        {"index": {"overall": "weighted_factors", "factor_weights": {"f1": -1}}},
        ["factor_weights must be non-negative numbers"]),
    "factor weights without weighted_factors": (
        {"index": {"factor_weights": {"f1": 1}}},
        ["factor_weights", "only with overall = 'weighted_factors'",
         "got overall = 'mean_of_factors'"]),
    "factor weights not a table": (
        {"index": {"overall": "weighted_factors", "factor_weights": [1]}},
        ["factor_weights must be a table"]),
    "overall item without an overall item": (
        {"index": {"overall": "item"}}, ["overall = 'item'", "[overall] item"]),
    "unknown overall rule": (
        {"index": {"overall": "mean"}}, ["overall must be one of", "got 'mean'"]),
    "unknown measure": (
        {"index": {"measure": "top-box"}}, ["measure must be one of 'top_box'", "got 'top-box'",
                                            "Did you mean 'top_box'?"]),
    "overall item unknown": (
        {"overall": {"item": "q9"}}, ["[overall]", "item must be one of the [[items]]; got 'q9'"]),
    "overall item not a string": (
        {"overall": {"item": ["q3"]}}, ["[overall]", "item must be a non-empty string",
                                        "['q3']"]),
    "overall item inside a factor": (
        {"overall": {"item": "q1"}}, ["[overall]", "'q1'", "factor 'f1'"]),
    "strata not a column name": ({"design": {"strata": 3}}, ["strata must be a column name"]),
    "nest not a boolean": ({"design": {"nest": "yes"}}, ["nest must be true or false"]),
    "lonely psu unknown": (
        {"design": {"lonely_psu": "drop"}}, ["lonely_psu must be one of", "'drop'"]),
    "domains not names": ({"domains": {"columns": [1]}}, ["[domains]", "list of column names"]),
    "margin without variables": (
        {"margins": [{"name": "m", "targets": {"1": 5}}]},
        ["[[margins]] #1 (name 'm')", "required key 'variables' is missing"]),
    "margin with targets and file": (
        {"margins": [{"variables": ["sex"], "targets": {"1": 5}, "file": "m.csv"}]},
        ["[[margins]] #1", "exactly one of targets"]),
    "margin target key of the wrong width": (
        {"margins": [{"variables": ["sex", "age"], "targets": {"1": 5}}]},
        ["target key '1'", "['sex', 'age']"]),
    "margin target not a number": (
        {"margins": [{"variables": ["sex"], "targets": {"1": "5"}}]},
        ["[[margins]] #1", "targets must be a table such as", "got {'1': '5'}."]),
    "margin cell twice inline": (
        {"margins": [{"variables": ["sex"], "targets": {"1": 5, "1.0": 6}}]},
        ["[[margins]] #1", "cell (1,) twice"]),
    "margin target zero": (
        {"margins": [{"variables": ["sex"], "targets": {"1": 0, "2": 4}}]},
        ["population targets must be positive finite numbers", "(1,)"]),
    "duplicate margin names": (
        {"margins": [{"variables": ["sex"], "targets": {"1": 5}},
                     {"name": "sex", "variables": ["sex"], "targets": {"1": 5}}]},
        ["margin name", "['sex']"]),
    "margin file not a string": (
        {"margins": [{"variables": ["sex"], "file": 5}]},
        ["[[margins]] #1", "file must be a non-empty string; got 5."]),
    "weighting steps not tables": (
        {"weighting": {"steps": ["rake"]}},
        ["[weighting]", "steps must be an array of tables ([[weighting.steps]])"]),
}


@pytest.mark.parametrize(("changes", "words"), list(REFUSALS.values()), ids=list(REFUSALS))
def test_invalid_spec_is_refused_with_a_message_naming_the_fault(changes, words):
    refused(spec_dict(**changes), *words)


def test_messages_name_the_spec_file():
    refused(spec_dict(missing={"dont_know": [5]}), "my.toml: [[items]] #1 (name 'q1'): ",
            source="my.toml")


def test_a_spec_must_be_a_mapping():
    with pytest.raises(sipas.SpecError, match="must be a table of keys; got 'list'"):
        parse_spec([1, 2])


# --------------------------------------------------------------------------- margin files

def _margin_spec(tmp_path, csv_text, variables=("sex",)):
    if csv_text is not None:
        write(tmp_path / "m.csv", csv_text)
    return spec_dict(margins=[{"name": "m", "variables": list(variables), "file": "m.csv"}])


MARGIN_FILE_REFUSALS = {
    "file missing": (None, ["(name 'm')", "margin file", "m.csv", "does not exist"]),
    "bad columns": ("gender,pop\n1,5\n", ["m.csv", "the header must name the columns "
                                          "['sex', 'population']", "lacks ['sex', 'population']"]),
    "non-numeric population": ("sex,population\n1,5\n2,abc\n",
                               ["m.csv", "line 3", "population must be a number; got 'abc'"]),
    "thousands separator": ('sex,population\n1,"40,103"\n', ["line 2", "'40,103'"]),
    "duplicate cells": ("sex,population\n1,5\n2,6\n1.0,7\n", ["m.csv", "line 4",
                                                              "cell (1,) appears twice"]),
    "header only": ("sex,population\n", ["m.csv", "no data rows"]),
    "empty file": ("", ["m.csv", "the header must name the columns", "has 0 cell(s)"]),
    "short row": ("sex,population\n1\n", ["line 2", "2 cells like the header", "['1']"]),
    "empty code": ("sex,population\n,5\n", ["line 2", "every code must be non-empty"]),
    "infinite population": ("sex,population\n1,inf\n", ["positive finite numbers", "inf"]),
    "negative population": ("sex,population\n1,-5\n", ["positive finite numbers", "-5.0"]),
}


@pytest.mark.parametrize(("csv_text", "words"), list(MARGIN_FILE_REFUSALS.values()),
                         ids=list(MARGIN_FILE_REFUSALS))
def test_bad_margin_file_is_refused(tmp_path, csv_text, words):
    refused(_margin_spec(tmp_path, csv_text), *words, source=tmp_path / "s.toml")


def test_margin_file_not_utf8_is_refused(tmp_path):
    (tmp_path / "m.csv").write_bytes("district,population\nHà Quảng,5\n".encode("utf-16"))
    refused(_margin_spec(tmp_path, None, ("district",)), "m.csv", "must be UTF-8",
            source=tmp_path / "s.toml")


def test_margin_file_is_relative_to_the_spec_file(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "m.csv", "district,population\nHà Quảng,5\n")
    spec = parse_spec(_margin_spec(tmp_path, None, ("district",)), source=tmp_path / "sub" / "x")
    assert spec.margin("m").targets == {("Hà Quảng",): 5.0}


# --------------------------------------------------------------------------- load_spec

def test_bad_toml_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.toml", '[survey]\nname = "x"\nrespondent_id = id\n')
    with pytest.raises(sipas.SpecError) as info:
        load_spec(path)
    text = str(info.value)
    assert "bad.toml" in text
    assert "not valid TOML" in text
    assert "line 3" in text
    assert info.value.__cause__ is None  # no tomllib traceback in front of the message


def test_non_utf8_spec_names_file_and_line(tmp_path):
    path = write(tmp_path / "cp.toml", '[survey]\nname = "Khảo sát"\n', encoding="utf-16")
    with pytest.raises(sipas.SpecError, match=r"cp\.toml.*must be UTF-8 text.*line 1"):
        load_spec(path)
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[survey]\nname = "caf\xe9"\n')
    with pytest.raises(sipas.SpecError, match=r"latin\.toml.*b'\\xe9' at line 2"):
        load_spec(path)


def test_missing_spec_file(tmp_path):
    with pytest.raises(sipas.SpecError, match=r"nope\.toml.*does not exist"):
        load_spec(tmp_path / "nope.toml")


def test_unknown_bundled_name_lists_the_bundled_specs():
    with pytest.raises(sipas.SpecError) as info:
        load_spec("demoo")
    assert "got 'demoo'" in str(info.value)
    assert "['demo', 'demo2026']" in str(info.value)


def test_errors_are_sipas_errors_and_value_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_spec(tmp_path / "nope.toml")


# --------------------------------------------------------------------------- properties

codes = st.sets(st.integers(-5, 120), min_size=0, max_size=6)


@settings(max_examples=examples(60), deadline=None)
@given(valid=st.sets(st.integers(0, 10), min_size=2, max_size=6), dk=codes, na=codes)
def test_overlap_is_refused_exactly_when_code_sets_intersect(valid, dk, na):
    data = spec_dict(scales={"s": {"codes": sorted(valid), "satisfied": [max(valid)]}},
                     missing={"dont_know": sorted(dk), "not_applicable": sorted(na)},
                     items=[{"name": "q", "scale": "s"}], factors=None)
    if (dk | na) & valid:
        with pytest.raises(sipas.SpecError):
            parse_spec(data)
    else:
        spec = parse_spec(data)
        assert set(spec.scale_of("q").codes) == valid
        assert {c for v in spec.missing_codes("q").values() for c in v} == dk | na
        # a code in both is one answer of the combined kind
        assert {c for c, k in spec.missing_kinds("q").items()
                if k == "dont_know_or_not_applicable"} == dk & na


@settings(max_examples=examples(40), deadline=None)
@given(targets=st.dictionaries(st.integers(1, 99), st.floats(1, 1e7), min_size=1, max_size=8))
def test_margin_csv_round_trips(tmp_path_factory, targets):
    folder = tmp_path_factory.mktemp("m")
    lines = ["sex,population", *(f"{k},{v!r}" for k, v in targets.items())]
    write(folder / "m.csv", "\n".join(lines) + "\n")
    spec = parse_spec(_margin_spec(folder, None), source=folder / "s.toml")
    got = spec.margin("m").targets
    assert got == {(k,): v for k, v in targets.items()}
    assert math.isclose(sum(got.values()), sum(targets.values()))


def test_design_lonely_options_reach_the_design():
    """[design] lonely_domain / lonely_corrected (R survey.adjust.domain.lonely and the
    corrected rules) are read, default false, and Design.from_spec passes them on."""
    design = dict(BASE.get("design", {}), lonely_psu="adjust", lonely_domain=True,
                  lonely_corrected=True)
    spec = parse_spec(spec_dict(design=design))
    assert (spec.design.lonely_domain, spec.design.lonely_corrected) == (True, True)
    assert parse_spec(spec_dict()).design.lonely_domain is False
    sd = sipas.datasets.load_demo()
    spec_demo = dataclasses.replace(sd.spec, design=dataclasses.replace(
        sd.spec.design, lonely_psu="average", lonely_domain=True, lonely_corrected=True))
    d = sipas.Design.from_spec(dataclasses.replace(sd, spec=spec_demo))
    assert (d.lonely_psu, d.lonely_domain, d.lonely_corrected) == ("average", True, True)
    assert d.engine.rule.domain and d.engine.rule.corrected
