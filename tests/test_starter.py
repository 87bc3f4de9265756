"""``sipas init``: a starting spec and pipeline file from a .sav file's labels.

Reference: the bundled demo survey, whose hand-written spec (``sipas.load_spec("demo")``)
says what the guesses should find: its items, scales, missing codes and design columns.
"""

from __future__ import annotations

import shutil

import pytest

import sipas
from sipas.cli import main
from sipas.datasets import demo_path
from sipas.pipeline import load_pipeline, validate
from sipas.starter import open_questions, starter, write_starter


def test_the_guesses_match_the_hand_written_demo_spec(tmp_path):
    shutil.copy(demo_path(), tmp_path / "demo.sav")
    spec_path, pipe_path = write_starter(tmp_path / "demo.sav", tmp_path)
    guessed, truth = sipas.load_spec(spec_path), sipas.load_spec("demo")
    assert guessed.item_names == truth.item_names
    assert dict(guessed.missing) == {k: v for k, v in truth.missing.items() if v}
    assert guessed.overall_item == "q23" and guessed.respondent_id == "resp_id"
    assert (guessed.design.strata, guessed.design.weights, guessed.design.ids) == \
        ("district", "w_design", ("commune", "resp_id"))
    assert set(guessed.domains) == set(truth.domains)
    for item in truth.items:
        assert guessed.scale_of(item.name).satisfied == truth.scale_of(item.name).satisfied
        assert guessed.item(item.name).kind == item.kind
    # validate accepts the starting files as written, and lists what is still to decide
    assert [c.split()[0] for c in validate(load_pipeline(pipe_path))] == \
        ["pipeline", "spec", "data", "design", "weighting"]
    todo = open_questions(spec_path)
    assert any("factor" in t for t in todo) and any("satisfied" in t for t in todo)


def test_cli_init_then_validate_points_at_what_is_missing(tmp_path, capsys):
    out = tmp_path / "start"
    assert main(["init", str(demo_path()), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "respondent id: resp_id" in printed and "design:" in printed
    assert main(["validate", str(out / "pipeline.toml")]) == 2   # the data is not beside it
    assert "input file 'demo.sav' does not exist" in capsys.readouterr().err
    assert 'copy demo.sav into this folder' in (out / "pipeline.toml").read_text("utf-8")
    shutil.copy(demo_path(), out / "demo.sav")    # the documented edit
    assert main(["validate", str(out / "pipeline.toml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("todo: spec.toml") for line in lines)
    with pytest.raises(SystemExit):
        main(["init"])
    assert main(["init", str(demo_path()), "--out", str(out)]) == 2   # refuses to overwrite
    assert "--overwrite" in capsys.readouterr().err


def test_a_file_without_answer_labels_is_a_clear_error(tmp_path):
    import pandas as pd

    path = tmp_path / "plain.csv"
    pd.DataFrame({"id": [1, 2], "x": [3, 4]}).to_csv(path, index=False)
    with pytest.raises(sipas.SipasError, match="no column looks like an answer scale"):
        starter(path)
