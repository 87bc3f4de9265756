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


# --------------------------------------------------------------- issue 19 item 8 (the rest)

def _parquet_job(tmp: Path, frame: pd.DataFrame, by: list[str], extra: str = "") -> Path:
    folder = tmp / "job"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "demo.parquet")
    text = QUICK.format(by=", ".join(json.dumps(b) for b in by)).replace(
        "demo.sav", "demo.parquet").replace("[report]", f"{extra}\n[report]")
    path = folder / "pipeline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".sipas-"))


@pytest.mark.parametrize(("extra", "words"), [
    ("[drivers]\nseed = -1", "[drivers]: seed must be a non-negative integer; got -1"),
    ("[multiple]\nseed = -1", "[multiple]: seed must be a non-negative integer; got -1"),
    ('[compare]\nrank_by = "district"\nn_sim = 1000000000',
     "[compare]: n_sim must be from 1000 to 1000000 simulations"),
    ("[drivers]\nreplicates = 100000000", "[drivers]: replicates must be from 2 to 10000"),
], ids=["drivers_seed", "multiple_seed", "n_sim_billion", "replicates_hundred_million"])
def test_numbers_out_of_range_are_one_line_before_computing(tmp_path, capsys, monkeypatch,
                                                            extra, words):
    """Before: a numpy ValueError (negative seed) or MemoryError traceback, after the run."""
    import sipas.pipeline

    monkeypatch.setattr(sipas.pipeline, "run", lambda *a, **k: pytest.fail("computed"))
    pipeline = _parquet_job(tmp_path, _demo_frame(), ["district"], extra)
    code, err = run_cli(capsys, pipeline, "--out", tmp_path / "out")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert words in err and "pipeline.toml" in err
    assert not (tmp_path / "out").exists() and _hidden(tmp_path) == []


def test_library_seeds_must_be_non_negative():
    import sipas
    from sipas.errors import DesignError

    design = sipas.Design.from_spec(sipas.datasets.load_demo())
    with pytest.raises(DesignError, match="rng must be a non-negative integer seed"):
        sipas.replicate(design, "bootstrap", replicates=5, rng=-1)


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2]], ids=["struct", "list"])
def test_describe_a_nested_parquet_column_is_one_line(tmp_path, capsys, value):
    """Before: TypeError (unhashable dict) or ValueError (truth value of an array)."""
    path = tmp_path / "nested.parquet"
    pd.DataFrame({"id": [1, 2], "s": [value, value]}).to_parquet(path)
    assert main(["describe", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'s (" in err and "nested values" in err, err


def test_out_the_current_folder_is_refused(tmp_path, capsys, monkeypatch):
    """Before: exit 0, the shell's current folder replaced by a new one under its feet."""
    pipeline = job(tmp_path)
    here = tmp_path / "empty"
    here.mkdir()
    monkeypatch.chdir(here)
    inode = here.stat().st_ino
    code, err = run_cli(capsys, pipeline, "--out", ".")
    assert code == 2 and len(err.splitlines()) == 1 and "current folder" in err, err
    assert here.stat().st_ino == inode and list(here.iterdir()) == []
    assert _hidden(tmp_path) == []


def test_a_long_name_inside_out_says_so(tmp_path, capsys):
    """Before: 'cannot write ...: File name too long. Free space or choose another --out.'"""
    code, err = run_cli(capsys, job(tmp_path), "--out", tmp_path / ("o" * 300) / "out")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "longer than 255 bytes" in err and "Free space" not in err and len(err) < 400


def test_describe_out_name_too_long_says_so(tmp_path, capsys):
    shutil.copy(DATA / "demo.sav", tmp_path / "demo.sav")
    assert main(["describe", str(tmp_path / "demo.sav"), "--out",
                 str(tmp_path / ("c" * 300 + ".csv"))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Choose a shorter" in err and len(err) < 400, err


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_misspelt_by_column_gets_a_hint(tmp_path, capsys, command):
    """Before: the columns were listed (or not) without the one meant."""
    pipeline = _parquet_job(tmp_path, _demo_frame(), ["Distrct"])
    args = [command, str(pipeline)] + (["--out", str(tmp_path / "out"), "--quiet"]
                                       if command == "run" else [])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pipeline.toml: [indices]" in err, err
    assert "Did you mean 'district' (for 'Distrct')?" in err


def test_a_spec_column_missing_from_the_data_gets_a_hint(tmp_path):
    import sipas
    from sipas.errors import ReadError

    frame = _demo_frame().rename(columns={"q01": "Q 01"})
    frame.to_parquet(tmp_path / "d.parquet")
    with pytest.raises(ReadError, match=r"Did you mean 'Q 01' \(for 'q01'\)\?"):
        sipas.read_survey(tmp_path / "d.parquet", spec="demo")


@pytest.mark.parametrize("case", ["by_one_value", "rank_one_domain"])
def test_one_domain_is_a_run_not_a_traceback(tmp_path, capsys, case):
    extra = '[compare]\nrank_by = "one"\nn_sim = 1000' if case == "rank_one_domain" else ""
    pipeline = _parquet_job(tmp_path, _demo_frame().assign(one=1.0), ["one"], extra)
    out = tmp_path / "out"
    code, err = run_cli(capsys, pipeline, "--out", out)
    assert code == 0, err
    table = pd.read_csv(out / "tables" / "index_by_one.csv")
    assert set(table["one"]) == {1}
    if case == "rank_one_domain":
        ranks = pd.read_csv(out / "tables" / "ranks_one.csv")
        assert ranks[["rank", "rank_low", "rank_high"]].to_numpy().tolist() == [[1, 1, 1]]


def test_an_unwritable_out_is_refused_before_computing(tmp_path, capsys, monkeypatch):
    """A folder nobody may write (simulated: root may write anywhere); the run never starts."""
    import errno

    import sipas.pipeline

    monkeypatch.setattr(sipas.pipeline, "run", lambda *a, **k: pytest.fail("computed"))
    pipeline = job(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    real = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if Path(self).parent == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    code, err = run_cli(capsys, pipeline, "--out", locked / "out")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "Permission denied" in err and list(locked.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_out_is_refused_before_computing_for_real(tmp_path, capsys):
    pipeline = job(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        code, err = run_cli(capsys, pipeline, "--out", locked / "out")
    finally:
        locked.chmod(0o755)
    assert code == 2 and len(err.splitlines()) == 1, err


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import errno

    import sipas.report.files

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sipas.report.files, "write_csv", full)
    out = tmp_path / "out"
    code, err = run_cli(capsys, job(tmp_path), "--out", out)
    assert code == 2 and len(err.splitlines()) == 1 and "No space left" in err, err
    assert not out.exists() and _hidden(tmp_path) == []


def test_running_out_of_memory_is_one_line(tmp_path, capsys, monkeypatch):
    import sipas.pipeline

    def huge(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(sipas.pipeline, "run", huge)
    out = tmp_path / "out"
    code, err = run_cli(capsys, job(tmp_path), "--out", out)
    assert code == 2 and len(err.splitlines()) == 1 and "not enough memory" in err, err
    assert not out.exists() and _hidden(tmp_path) == []


# ----------------------------------------------------- one path rule (issue 19 item 6)

SPECS = Path(str(resources.files("sipas.datasets") / "specs"))
MARGINS = ("sex", "age_group", "ethnicity", "district")


def _job_with_spec_folder(tmp: Path, margin_path: str = "../margins/{m}.csv",
                          allow: bool = False) -> Path:
    """job/pipeline.toml, job/spec/spec.toml naming ``margin_path``, job/margins/*.csv."""
    folder = tmp / "job"
    (folder / "spec").mkdir(parents=True)
    (folder / "margins").mkdir()
    shutil.copy(DATA / "demo.sav", folder / "demo.sav")
    text = (SPECS / "demo.toml").read_text(encoding="utf-8")
    for m in MARGINS:
        shutil.copy(DATA / f"demo_margins_{m}.csv", folder / "margins" / f"{m}.csv")
        text = text.replace(f'file = "../data/demo_margins_{m}.csv"',
                            f'file = "{margin_path.format(m=m)}"')
    (folder / "spec" / "spec.toml").write_text(text, encoding="utf-8")
    pipeline = QUICK.replace('spec = "demo"', 'spec = "spec/spec.toml"').format(
        by='"district"') + '[[weighting.steps]]\nmethod = "rake"\nmargins = ["sex", "district"]\n'
    if allow:
        pipeline = "[pipeline]\nallow_absolute_paths = true\n" + pipeline
    (folder / "pipeline.toml").write_text(pipeline, encoding="utf-8")
    return folder / "pipeline.toml"


def test_margin_files_are_relative_to_the_spec_from_any_working_folder(tmp_path, capsys,
                                                                      monkeypatch):
    """A spec in job/spec/ names ../margins/age.csv; the run starts in another folder."""
    from sipas.pipeline import load_pipeline, pipeline_inputs

    _job_with_spec_folder(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = load_pipeline(Path("../job/pipeline.toml")).load_spec()
    assert [m.source for m in spec.margins] == [
        str((tmp_path / "job" / "margins" / f"{m}.csv").resolve()) for m in MARGINS]
    inputs = pipeline_inputs(load_pipeline(Path("../job/pipeline.toml")))
    assert (tmp_path / "job" / "margins" / "age_group.csv").resolve() in inputs
    code, err = run_cli(capsys, "../job/pipeline.toml", "--out", "out")
    assert code == 0, err
    margins = pd.read_csv(elsewhere / "out" / "tables" / "weighting_margins.csv")
    assert set(margins["margin"]) == {"sex", "district"}
    # the margin files are inputs: an output folder holding them is refused
    code, err = run_cli(capsys, "../job/pipeline.toml", "--out", "../job/margins", "--overwrite")
    assert code == 2 and "holds the input" in err and "margins/sex.csv" in err, err


def test_a_spec_read_alone_keeps_its_margins_in_its_folder(tmp_path):
    """Without a pipeline the spec's folder is the limit; root= widens it."""
    import sipas

    _job_with_spec_folder(tmp_path)
    spec_path = tmp_path / "job" / "spec" / "spec.toml"
    with pytest.raises(sipas.SpecError, match=r"path '../margins/sex.csv' leaves the spec's "
                                              r"folder .* root="):
        sipas.load_spec(spec_path)
    spec = sipas.load_spec(spec_path, root=tmp_path / "job")
    assert spec.margin("sex").targets


@pytest.mark.parametrize("escape", ["../../../../../../../../../../etc/passwd",
                                    "../../secret.csv"])
def test_a_margin_file_outside_the_job_is_never_opened(tmp_path, capsys, escape):
    """Before: the file was read and its first line printed in the message."""
    secret = tmp_path / "secret.csv"
    secret.write_text("password: hunter2\n", encoding="utf-8")
    pipeline = _job_with_spec_folder(tmp_path, escape)
    assert main(["validate", str(pipeline)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "leaves its job's folder" in err, err
    assert "root:" not in err and "hunter2" not in err


def test_a_margin_file_that_is_not_one_never_shows_its_content(tmp_path, capsys):
    """Inside the job but not a margin file: the message lists what is missing, not the
    file's first line."""
    pipeline = _job_with_spec_folder(tmp_path)
    (tmp_path / "job" / "margins" / "sex.csv").write_text("password: hunter2\n1\n",
                                                            encoding="utf-8")
    assert main(["validate", str(pipeline)]) == 2
    err = capsys.readouterr().err.strip()
    assert "it lacks ['sex', 'population']" in err and "hunter2" not in err, err


def test_allow_absolute_paths_also_admits_absolute_margin_files(tmp_path, capsys):
    """Before: an absolute margin file was refused even with allow_absolute_paths = true."""
    from sipas.pipeline import load_pipeline

    shared = tmp_path / "shared"
    shared.mkdir()
    for m in MARGINS:
        shutil.copy(DATA / f"demo_margins_{m}.csv", shared / f"{m}.csv")
    pipeline = _job_with_spec_folder(tmp_path, str(shared / "{m}.csv"), allow=True)
    assert load_pipeline(pipeline).load_spec().margin("sex").source == str(shared / "sex.csv")
    strict = _job_with_spec_folder(tmp_path / "strict", str(shared / "{m}.csv"))
    assert main(["validate", str(strict)]) == 2
    assert "absolute path" in capsys.readouterr().err
