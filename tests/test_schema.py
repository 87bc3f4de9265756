"""The TOML schema layer (sipas.schema): one wording per kind of mistake, naming the file and
the place in it, for every file sipas reads (spec, PAR scheme, pipeline, weighting plan)."""

from __future__ import annotations

import pytest

from sipas.errors import ScoringError, SpecError
from sipas.schema import (
    BOOL,
    FLOAT,
    INT,
    NAME,
    STR,
    Choice,
    Doc,
    Either,
    Key,
    ListOf,
    Table,
    TableOf,
    Tagged,
    read_toml,
    suggest,
    validate,
)

ITEM = Table({"name": Key(NAME, required=True), "scale": Key(NAME, required=True),
              "kind": Key(Choice("satisfaction", "perception"), default="satisfaction"),
              "weight": FLOAT, "n": INT, "missing": TableOf(ListOf(FLOAT))})
CRITERION = Table({"code": STR, "max": Key(FLOAT, required=True),
                   "subcriteria": ListOf(Table({"code": STR, "max": FLOAT, "bonus": BOOL}))})
SHAPE = Table({
    "survey": Key(Table({"name": Key(NAME, required=True), "synthetic": Key(BOOL, default=False)}),
                  required=True),
    "items": ListOf(ITEM),
    "areas": ListOf(Table({"code": STR, "criteria": ListOf(CRITERION)})),
    "scales": TableOf(Table({"min": INT, "max": INT})),
    "steps": ListOf(Tagged("method", {"rake": {"margins": ListOf(STR), "tol": FLOAT},
                                      "trim": {"upper": FLOAT}})),
    "by": Either(STR, ListOf(STR), what="a list of column names"),
})


def good():
    return {"survey": {"name": "t"},
            "items": [{"name": "q01", "scale": "s5"}, {"name": "q02", "scale": "s5"},
                      {"name": "q03", "scale": "s5", "kind": "perception"}],
            "areas": [{"code": "A1", "criteria": [
                {"code": "A1.1", "max": 10, "subcriteria": [{"code": "A1.1.1", "max": 4},
                                                            {"code": "A1.1.2", "max": 6}]}]}],
            "scales": {"s5": {"min": 1, "max": 5}},
            "steps": [{"method": "rake", "margins": ["sex"]}, {"method": "trim", "upper": 5}],
            "by": "district"}


def refused(data, name="sipas-2024.toml", error=SpecError):
    with pytest.raises(error) as info:
        validate(SHAPE, Doc(name, data, error))
    return str(info.value)


def test_a_valid_document_comes_back_with_its_defaults():
    out = validate(SHAPE, Doc("sipas-2024.toml", good()))
    assert out["survey"] == {"name": "t", "synthetic": False}
    assert [it["kind"] for it in out["items"]] == ["satisfaction", "satisfaction", "perception"]
    assert out["areas"][0]["criteria"][0]["subcriteria"][1] == {"code": "A1.1.2", "max": 6}
    assert out["by"] == "district"


def test_unknown_key_with_a_close_match_names_file_place_and_suggestion():
    data = good()
    data["items"][2]["scael"] = "s5"
    assert refused(data) == ("sipas-2024.toml: [[items]] #3 (name 'q03'): key 'scael' is not "
                             "allowed; did you mean 'scale'?")


def test_unknown_key_without_a_close_match_lists_the_allowed_keys():
    data = good()
    data["survey"]["colour"] = "blue"
    assert refused(data) == ("sipas-2024.toml: [survey]: key 'colour' is not allowed; allowed "
                             "keys: 'name', 'synthetic'.")


def test_unknown_top_level_key():
    data = good()
    data["item"] = []
    assert refused(data) == "sipas-2024.toml: key 'item' is not allowed; did you mean 'items'?"


def test_missing_required_key_and_missing_table():
    data = good()
    del data["items"][1]["scale"]
    assert refused(data) == ("sipas-2024.toml: [[items]] #2 (name 'q02'): required key 'scale' "
                             "is missing; it must be a non-empty string.")
    data = good()
    del data["survey"]
    assert refused(data) == ("sipas-2024.toml: required key 'survey' is missing; it must be a "
                             "table ([survey]).")


def test_wrong_type_in_a_nested_array_of_tables():
    data = good()
    data["areas"][0]["criteria"][0]["subcriteria"][1]["max"] = "6"
    assert refused(data) == (
        "sipas-2024.toml: [[areas]] #1 (code 'A1') [[areas.criteria]] #1 (code 'A1.1') "
        "[[areas.criteria.subcriteria]] #2 (code 'A1.1.2'): max must be a number; got '6'.")


def test_a_bool_is_not_an_integer_nor_a_number_and_a_number_is_not_a_bool():
    data = good()
    data["items"][0]["n"] = True
    assert refused(data).endswith("[[items]] #1 (name 'q01'): n must be an integer; got True.")
    data = good()
    data["items"][0]["weight"] = False
    assert refused(data).endswith("weight must be a number; got False.")
    data = good()
    data["areas"][0]["criteria"][0]["subcriteria"][0]["bonus"] = 1
    assert refused(data).endswith("bonus must be true or false; got 1.")


def test_an_integer_is_a_number_but_a_float_is_not_an_integer():
    data = good()
    data["items"][0]["weight"] = 2
    assert validate(SHAPE, Doc("x", data))["items"][0]["weight"] == 2
    data["scales"]["s5"]["max"] = 5.0
    assert refused(data) == "sipas-2024.toml: [scales.s5]: max must be an integer; got 5.0."


def test_value_outside_its_set_lists_the_values_and_suggests_the_closest():
    data = good()
    data["items"][0]["kind"] = "perceptions"
    assert refused(data) == (
        "sipas-2024.toml: [[items]] #1 (name 'q01'): kind must be one of 'satisfaction', "
        "'perception'; got 'perceptions'. Did you mean 'perception'?")
    data["items"][0]["kind"] = 3
    assert refused(data).endswith("kind must be one of 'satisfaction', 'perception'; got 3.")


def test_lists_and_tables_of_leaves_are_judged_whole():
    data = good()
    data["items"][0]["missing"] = {"dont_know": [8, "9"]}
    assert refused(data) == ("sipas-2024.toml: [[items]] #1 (name 'q01'): missing must be a "
                             "table of lists of numbers; got {'dont_know': [8, '9']}.")
    data = good()
    data["by"] = 3
    assert refused(data) == "sipas-2024.toml: by must be a list of column names; got 3."


def test_an_array_of_tables_given_as_one_table():
    data = good()
    data["items"] = {"name": "q01"}
    assert refused(data) == ("sipas-2024.toml: items must be an array of tables ([[items]]); "
                             "got {'name': 'q01'}.")


def test_a_table_of_tables_names_the_entry():
    data = good()
    data["scales"]["s5"] = [1, 5]
    assert refused(data) == ("sipas-2024.toml: [scales]: s5 must be a table ([scales.s5]); "
                             "got [1, 5].")
    data["scales"]["s5"] = {"min": 1, "mx": 5}
    assert refused(data) == ("sipas-2024.toml: [scales.s5]: key 'mx' is not allowed; did you "
                             "mean 'max'?")


def test_tagged_tables_check_the_tag_first_then_its_keys():
    data = good()
    data["steps"][0]["method"] = "raking"
    assert refused(data) == (
        "sipas-2024.toml: [[steps]] #1 (method 'raking'): method must be one of 'rake', "
        "'trim'; got 'raking'. Did you mean 'rake'?")
    data = good()
    data["steps"][1]["margins"] = ["sex"]  # a key of another method
    assert refused(data) == ("sipas-2024.toml: [[steps]] #2 (method 'trim'): key 'margins' is "
                             "not allowed; allowed keys: 'method', 'upper'.")
    data = good()
    del data["steps"][1]["method"]
    assert refused(data) == ("sipas-2024.toml: [[steps]] #2: required key 'method' is missing; "
                             "it must be one of 'rake', 'trim'.")


def test_none_counts_as_absent():
    data = good()
    data["survey"]["synthetic"] = None
    assert validate(SHAPE, Doc("x", data))["survey"]["synthetic"] is False


def test_the_document_must_be_a_table_and_the_error_class_is_the_callers():
    assert refused([1], name="spec") == "spec must be a table of keys; got 'list'."
    data = good()
    data["survey"]["name"] = ""
    text = refused(data, error=ScoringError)
    assert text == "sipas-2024.toml: [survey]: name must be a non-empty string; got ''."


def test_doc_names_places_for_the_modules_own_rules():
    doc = Doc("job.toml", good())
    assert doc.where() == "job.toml"
    assert doc.where(("items", 0)) == "job.toml: [[items]] #1 (name 'q01')"
    assert doc.where(("items",)) == "job.toml: [[items]]"
    assert doc.where(("scales", "my scale")) == 'job.toml: [scales."my scale"]'
    assert isinstance(doc.fail(("survey",), "x."), SpecError)


def test_suggest():
    assert suggest("tolerance", ["tol", "max_iter"]) is None
    assert suggest("max_iters", ["tol", "max_iter"]) == "max_iter"


# --------------------------------------------------------------------------- reading

def test_read_toml_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[survey]\nname = "x"\nrespondent_id = id\n', encoding="utf-8")
    with pytest.raises(SpecError) as info:
        read_toml(path, "spec")
    assert str(info.value) == (f"{path}: line 3, column 17: not valid TOML (Invalid value). "
                               "Check quotes, brackets and '=' on that line.")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_read_toml_error_at_the_end_of_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[survey]\nname = "x', encoding="utf-8")
    with pytest.raises(SpecError, match=r"bad\.toml: at the end of the file: not valid TOML "
                                        r"\(Unterminated string\)"):
        read_toml(path, "spec")


def test_read_toml_accepts_a_bom_and_returns_the_bytes(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_bytes("\ufeff[survey]\nname = \"Khảo sát\"\n".encode())
    data, raw = read_toml(path, "spec")
    assert data == {"survey": {"name": "Khảo sát"}}
    assert raw == path.read_bytes()


@pytest.mark.parametrize(("content", "words"), [
    (None, ["pipeline file", "nope.toml", "does not exist", "Check the path"]),
    ("folder", ["pipeline file must be a .toml file", "It is a folder"]),
    (b'name = "caf\xe9"\n', ["nope.toml: pipeline file must be UTF-8 text",
                             "b'\\xe9' at line 1"]),
])
def test_read_toml_refuses_missing_folder_and_non_utf8_files(tmp_path, content, words):
    path = tmp_path / "nope.toml"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(SpecError) as info:
        read_toml(path, "pipeline")
    for word in words:
        assert word in str(info.value), str(info.value)
