"""Issue 19: a run never destroys an input, writes only inside --out, replaces only a folder
sipas wrote, runs alone on its folder, leaves nothing behind, and fails in one line.

Each test fails on the code before the fix (commit 0f4e9e9): the runs it makes either exit
0 after deleting or replacing an input, or end in a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipas.cli import main
from sipas.pipeline import MARKER, output_folder
from sipas.pipeline.folder import _temporary
from sipas.report.files import MAX_NAME_BYTES, safe_filename

DATA = Path(str(resources.files("sipas.datasets") / "data"))
QUICK = """
[input]
data = "demo.sav"
spec = "demo"
[indices]
by = [{by}]
[report]
formats = ["csv", "xlsx"]
"""


def job(tmp: Path, by: str = '"district"', data: str = "demo.sav") -> Path:
    folder = tmp / "job"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "demo.sav", folder / "demo.sav")
    path = folder / "pipeline.toml"
    path.write_text(QUICK.format(by=by).replace("demo.sav", data), encoding="utf-8")
    return path


def _demo_frame() -> pd.DataFrame:
    import pyreadstat

    frame, _ = pyreadstat.read_sav(str(DATA / "demo.sav"))
    return frame


def run_cli(capsys, *args: object) -> tuple[int, str]:
    code = main(["run", *map(str, args), "--quiet"])
    return code, capsys.readouterr().err.strip()


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}


@pytest.mark.parametrize("where", ["job", ".", "job/demo.sav", "job/pipeline.toml",
                                   "job/demo.sav/out"])
def test_an_out_folder_that_is_or_holds_an_input_is_refused(tmp_path, capsys, monkeypatch,
                                                            where):
    pipeline = job(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    code, err = run_cli(capsys, pipeline, "--out", where, "--overwrite")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "input" in err
    assert tree(tmp_path) == before


def test_overwrite_replaces_only_a_folder_sipas_wrote(tmp_path, capsys):
    pipeline = job(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_bytes(b"years of work")
    code, err = run_cli(capsys, pipeline, "--out", mine, "--overwrite")
    assert code == 2 and "not written by sipas" in err
    assert (mine / "thesis.docx").read_bytes() == b"years of work"
    out = tmp_path / "out"
    assert run_cli(capsys, pipeline, "--out", out)[0] == 0
    assert (out / MARKER).is_file()
    code, err = run_cli(capsys, pipeline, "--out", out)
    assert code == 2 and "--overwrite" in err
    assert run_cli(capsys, pipeline, "--out", out, "--overwrite")[0] == 0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".sipas-")]
    assert leftovers == []


@pytest.mark.parametrize("column", ["../../../../data", "a/b", "con", "x\ny", "é" * 150])
def test_domain_column_names_never_leave_the_output_folder(tmp_path, capsys, column):
    frame = _demo_frame()
    frame[column] = frame["district"]
    folder = tmp_path / "deep" / "job"
    folder.mkdir(parents=True)
    frame.to_parquet(folder / "demo.parquet")
    text = QUICK.format(by=json.dumps(column))
    (folder / "pipeline.toml").write_text(text.replace("demo.sav", "demo.parquet"),
                                          encoding="utf-8")
    before = tree(tmp_path)
    out = tmp_path / "deep" / "out"
    code, err = run_cli(capsys, folder / "pipeline.toml", "--out", out)
    assert code == 0, err
    after = tree(tmp_path)
    new = [k for k in after if k not in before or after[k] != before[k]]
    assert new and all(Path(tmp_path / k).is_relative_to(out) for k in new), new
    assert all(len(os.fsencode(p.name)) <= 255 for p in out.rglob("*"))


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.lists(st.sampled_from(["/", "..", "\x01", "\r", "a", "é", "CON", ":", " "]),
                     min_size=1, max_size=160).map("".join))
def test_property_no_file_outside_out(tmp_path_factory, name):
    tmp = tmp_path_factory.mktemp("prop")
    frame = _demo_frame()
    frame = frame.assign(**{name: frame["district"]})
    (tmp / "job").mkdir()
    frame.to_parquet(tmp / "job" / "d.parquet")
    by = json.dumps(name)  # a TOML basic string
    (tmp / "job" / "p.toml").write_text(QUICK.format(by=by).replace("demo.sav", "d.parquet"),
                                        encoding="utf-8")
    before = tree(tmp)
    assert main(["run", str(tmp / "job" / "p.toml"), "--out", str(tmp / "o"), "--quiet"]) == 0
    after = tree(tmp)
    assert all((tmp / k).is_relative_to(tmp / "o") for k in after
               if k not in before or after[k] != before[k])


def test_safe_filenames_are_unique_and_short():
    taken: set[str] = set()
    names = ["a" * 300, "a" * 301, "A", "a", "..", ".", "NUL.csv", "x/y", "x_y"]
    safe = [safe_filename(n, taken) for n in names]
    assert len({s.casefold() for s in safe}) == len(names)
    assert all(len(s.encode()) <= MAX_NAME_BYTES and "/" not in s and s.strip(".") == s
               for s in safe)


def test_a_second_run_on_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    with output_folder(out) as tmp:
        (tmp / "a.txt").write_text("first", encoding="utf-8")
        with pytest.raises(Exception, match="another sipas run"), output_folder(out):
            pass
    assert (out / "a.txt").read_text(encoding="utf-8") == "first"


def test_two_concurrent_cli_runs_one_wins(tmp_path):
    pipeline = job(tmp_path)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sipas.cli", "run", str(pipeline), "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert len(loser.strip().splitlines()) == 1
    assert "another sipas run" in loser or "exists" in loser


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path, capsys):
    out = tmp_path / "out"
    for kind in ("part", "old"):
        left = _temporary(out.resolve(), kind)
        left.mkdir()
        (left / MARKER).write_text("x", encoding="utf-8")
    foreign = tmp_path / ".out.123.part"
    foreign.mkdir()
    assert run_cli(capsys, job(tmp_path), "--out", out)[0] == 0
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert names == [".out.123.part"]  # not marked by sipas: left alone


@pytest.mark.parametrize("case", ["parent_is_file", "long_name"])
def test_output_location_failures_are_one_line_before_computing(tmp_path, capsys, case):
    pipeline = job(tmp_path)
    if case == "parent_is_file":
        (tmp_path / "f").write_text("x", encoding="utf-8")
        out = tmp_path / "f" / "out"
    else:
        out = tmp_path / ("o" * 256)
    code, err = run_cli(capsys, pipeline, "--out", out)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "Traceback" not in err


def test_describe_never_writes_over_its_input(tmp_path, capsys):
    data = tmp_path / "b.csv"
    data.write_text("id,q1\n1,2\n", encoding="utf-8")
    assert main(["describe", str(data), "--out", str(data)]) == 2
    assert data.read_text(encoding="utf-8") == "id,q1\n1,2\n"
    assert main(["describe", str(data), "--out", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2


def test_a_file_size_limit_ends_in_one_line_and_leaves_nothing(tmp_path):
    import resource

    pipeline = job(tmp_path)
    out = tmp_path / "out"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "sipas.cli", "run", str(pipeline), "--out",
                           str(out), "--quiet"], capture_output=True, env=env,
                          preexec_fn=limit, timeout=300)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1, err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
