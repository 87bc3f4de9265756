"""Try every failure of issue 19 items 8 and 9 against the bundled demo, as a user would.

Run by hand (not collected by pytest)::

    PYTHONPATH=src python tests/issue19_probe.py [CASE ...]

Each case builds a job in a fresh temporary folder (the SYNTHETIC demo survey, changed in one
way), runs the ``sipas`` command in a subprocess and reports what a user sees: the exit code,
whether stderr holds a traceback or more than one line, and what is left behind (the output
folder after a failure, hidden ``.sipas-*`` files beside it). A case is ``ok`` when it ends
the way the issue asks: exit code 2 with one line and nothing left behind, or exit 0 where
the input is valid and must simply be handled (a ``by`` column with one value).

On branch t19 before its fixes (commit 7ee0e91), 7 of the 29 cases failed: a negative seed in
``[drivers]`` or ``[multiple]``, a billion simulations or replicates, ``describe`` on a
Parquet struct or list column (tracebacks), and ``--out .`` (it "worked" by replacing the
shell's current folder). Two more ended in one line with a poor message: a 300-byte name
inside ``--out`` ("Free space") and a misspelt ``by`` column (no hint). The rest were
already handled.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(str(resources.files("sipas.datasets") / "data"))
QUICK = """[input]
data = "{data}"
spec = "demo"
[indices]
by = {by}
{extra}
[report]
formats = ["csv", "xlsx"]
"""


@dataclass
class Setup:
    """A command to run (``argv`` after ``sipas``), where, and what a good outcome is."""

    argv: list[str]
    cwd: Path
    out: Path | None = None
    expect: int = 2
    limit_fsize: int | None = None
    check: Callable[[], str] | None = None


def _frame() -> pd.DataFrame:
    import pyreadstat

    frame, _ = pyreadstat.read_sav(str(DATA / "demo.sav"))
    return frame


def _job(tmp: Path, frame: pd.DataFrame | None = None, by: list[str] | None = None,
         extra: str = "") -> Path:
    folder = tmp / "job"
    folder.mkdir()
    if frame is None:
        shutil.copy(DATA / "demo.sav", folder / "demo.sav")
        data = "demo.sav"
    else:
        frame.to_parquet(folder / "demo.parquet")
        data = "demo.parquet"
    text = QUICK.format(data=data, by=json.dumps(by if by is not None else ["district"],
                                                 ensure_ascii=False), extra=extra)
    (folder / "pipeline.toml").write_text(text, encoding="utf-8")
    return folder / "pipeline.toml"


def _run(tmp: Path, pipeline: Path, out: Path | str, expect: int = 2, **kw) -> Setup:
    return Setup(["run", str(pipeline), "--out", str(out), "--quiet"], tmp,
                 out=tmp / out if not Path(out).is_absolute() else Path(out), expect=expect, **kw)


# ----------------------------------------------------------------------------- the cases

def by_one_value(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp, _frame().assign(one=1.0), by=["one"]), "out", expect=0)


def rank_one_domain(tmp: Path) -> Setup:
    pipe = _job(tmp, _frame().assign(one=1.0), by=["one"],
                extra='[compare]\nrank_by = "one"\nn_sim = 1000')
    return _run(tmp, pipe, "out", expect=0)


def out_dot(tmp: Path) -> Setup:
    """--out the current folder (empty): refused, the run would replace the shell's folder."""
    pipe = _job(tmp)
    (tmp / "empty").mkdir()
    setup = _run(tmp / "empty", pipe, ".")
    setup.out = tmp / "empty" / "x"  # leftovers would appear inside the current folder

    def check() -> str:
        return "" if (tmp / "empty").is_dir() else "the current folder went away"
    setup.check = check
    return setup


def out_long_name(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp), "o" * 256)


def out_long_with_part(tmp: Path) -> Setup:
    """255 bytes: allowed, and the temporary name must not push it over."""
    return _run(tmp, _job(tmp), "o" * 255, expect=0)


def out_long_path_component(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp), Path("o" * 300) / "out")


def out_parent_is_file(tmp: Path) -> Setup:
    pipe = _job(tmp)
    (tmp / "f").write_text("x", encoding="utf-8")
    return _run(tmp, pipe, "f/out")


def out_unwritable(tmp: Path) -> Setup:
    """--out below a folder nobody may write (root: a read-only tmpfs if mountable)."""
    pipe = _job(tmp)
    ro = tmp / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)],
                          capture_output=True).returncode:
            raise RuntimeError("cannot make a read-only folder as root")
    else:
        ro.chmod(0o555)
    setup = _run(tmp, pipe, "ro/out")
    start = time.perf_counter()

    def check() -> str:
        took = time.perf_counter() - start
        subprocess.run(["umount", str(ro)], capture_output=True)
        ro.chmod(0o755)
        return "" if took < 3.0 else f"refused after {took:.1f} s (computed first?)"
    setup.check = check
    return setup


def disk_full(tmp: Path) -> Setup:
    pipe = _job(tmp)
    small = tmp / "small"
    small.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs", str(small)],
            capture_output=True).returncode:
        raise RuntimeError("cannot mount a small tmpfs")
    setup = _run(tmp, pipe, "small/out")

    def check() -> str:
        left = [p.name for p in small.iterdir()]
        subprocess.run(["umount", str(small)], capture_output=True)
        return f"left in the full disk: {left}" if left else ""
    setup.check = check
    return setup


def file_size_limit(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp), "out", limit_fsize=20_000)


def seed_negative(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp, extra='[compare]\nrank_by = "district"\nseed = -1'), "out")


def par_seed_negative(tmp: Path) -> Setup:
    for name in ("demo_par_appraisal.csv", "demo_par_survey.csv"):
        (tmp / "job").mkdir(exist_ok=True)
        shutil.copy(DATA / name, tmp / "job" / name)
    extra = ('[par]\nscheme = "example"\nappraisal = "demo_par_appraisal.csv"\n'
             'survey = "demo_par_survey.csv"\nprovince = "Cao Bằng"\nseed = -1')
    return _run(tmp, _job_keep(tmp, extra), "out")


def _job_keep(tmp: Path, extra: str) -> Path:
    folder = tmp / "job"
    shutil.copy(DATA / "demo.sav", folder / "demo.sav")
    text = QUICK.format(data="demo.sav", by='["district"]', extra=extra)
    (folder / "pipeline.toml").write_text(text, encoding="utf-8")
    return folder / "pipeline.toml"


def drivers_seed_negative(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp, extra="[drivers]\nreplicates = 5\nseed = -1"), "out")


def drivers_replicates_zero(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp, extra="[drivers]\nreplicates = 0"), "out")


def multiple_seed_negative(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp, extra="[multiple]\nseed = -1"), "out")


def n_sim_zero(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp, extra='[compare]\nrank_by = "district"\nn_sim = 0'), "out")


def n_sim_huge(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp, extra='[compare]\nrank_by = "district"\nn_sim = 1000000000'),
                "out")


def replicates_huge(tmp: Path) -> Setup:
    return _run(tmp, _job(tmp, extra="[drivers]\nreplicates = 100000000"), "out")


def decimals_negative(tmp: Path) -> Setup:
    pipe = _job(tmp)
    pipe.write_text(pipe.read_text(encoding="utf-8").replace(
        "[report]", "[report]\ndecimals = -2"), encoding="utf-8")
    return _run(tmp, pipe, "out")


def min_cell_zero_validate(tmp: Path) -> Setup:
    pipe = _job(tmp)
    pipe.write_text(pipe.read_text(encoding="utf-8").replace(
        "[report]", "[report]\nmin_cell = 0"), encoding="utf-8")
    return Setup(["validate", str(pipe)], tmp)


def describe_struct_parquet(tmp: Path) -> Setup:
    pd.DataFrame({"id": [1, 2], "s": [{"a": 1}, {"a": 2}]}).to_parquet(tmp / "s.parquet")
    return Setup(["describe", str(tmp / "s.parquet")], tmp)


def describe_list_parquet(tmp: Path) -> Setup:
    pd.DataFrame({"id": [1, 2], "s": [[1, 2], [3]]}).to_parquet(tmp / "s.parquet")
    return Setup(["describe", str(tmp / "s.parquet")], tmp)


def describe_out_folder(tmp: Path) -> Setup:
    shutil.copy(DATA / "demo.sav", tmp / "demo.sav")
    (tmp / "o").mkdir()
    return Setup(["describe", str(tmp / "demo.sav"), "--out", str(tmp / "o")], tmp)


def describe_out_long(tmp: Path) -> Setup:
    shutil.copy(DATA / "demo.sav", tmp / "demo.sav")
    return Setup(["describe", str(tmp / "demo.sav"), "--out", str(tmp / ("c" * 300 + ".csv"))],
                 tmp, out=tmp / ("c" * 300 + ".csv"))


def describe_out_parent_missing(tmp: Path) -> Setup:
    shutil.copy(DATA / "demo.sav", tmp / "demo.sav")
    return Setup(["describe", str(tmp / "demo.sav"), "--out", str(tmp / "no" / "c.csv")], tmp,
                 out=tmp / "no", expect=0)


def factor_under_three(tmp: Path) -> Setup:
    """Fewer than 3 respondents answered every item of factor 1: reliability of that factor
    is 'not estimable', the rest of the run goes on."""
    import sipas

    spec = sipas.load_spec("demo")
    frame = _frame()
    items = list(spec.factors[0].items)
    frame.loc[frame.index[2:], items[0]] = np.nan
    setup = _run(tmp, _job(tmp, frame), "out", expect=0)

    def check() -> str:
        rel = pd.read_csv(tmp / "out" / "tables" / "reliability.csv")
        text = rel.to_string()
        return "" if "estimable" in text else f"reliability table: {text[:200]}"
    setup.check = check
    return setup


def header_nfd(tmp: Path) -> Setup:
    """The data header in NFD, the pipeline's by in NFC: the same column."""
    name = "huyện"
    frame = _frame().assign(**{unicodedata.normalize("NFD", name): _frame()["district"]})
    return _run(tmp, _job(tmp, frame, by=[name]), "out", expect=0)


def header_spaces(tmp: Path) -> Setup:
    frame = _frame().rename(columns={"district": " district "})
    return _run(tmp, _job(tmp, frame, by=["district"]), "out", expect=0)


def by_misspelt_hint(tmp: Path) -> Setup:
    setup = Setup(["validate", str(_job(tmp, by=["distrct"]))], tmp)
    return setup


# ----------------------------------------------------------------------------- the runner

CASES: dict[str, Callable[[Path], Setup]] = {f.__name__: f for f in [
    by_one_value, rank_one_domain, out_dot, out_long_name, out_long_with_part,
    out_long_path_component, out_parent_is_file, out_unwritable, disk_full, file_size_limit,
    seed_negative, par_seed_negative, drivers_seed_negative, drivers_replicates_zero,
    multiple_seed_negative, n_sim_zero, n_sim_huge, replicates_huge, decimals_negative,
    min_cell_zero_validate,
    describe_struct_parquet, describe_list_parquet, describe_out_folder, describe_out_long,
    describe_out_parent_missing, factor_under_three, header_nfd, header_spaces,
    by_misspelt_hint]}


def _watched(setup: Setup, tmp: Path) -> Path:
    """The folder where leftovers would appear: the nearest existing parent of --out."""
    if setup.out is None:
        return tmp
    for parent in setup.out.parents:
        try:
            if parent.is_dir():
                return parent
        except OSError:  # a name too long to stat
            continue
    return tmp


def probe(name: str) -> tuple[bool, str]:
    """Run one case; return (ok, what happened)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"i19-{name}-"))
    try:
        setup = CASES[name](tmp)
    except RuntimeError as exc:
        return True, f"skipped: {exc}"
    watch = _watched(setup, tmp)
    before = {p.name for p in watch.iterdir()}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def limit() -> None:
        if setup.limit_fsize:
            resource.setrlimit(resource.RLIMIT_FSIZE, (setup.limit_fsize, setup.limit_fsize))

    proc = subprocess.run([sys.executable, "-m", "sipas.cli", *setup.argv], cwd=setup.cwd,
                          capture_output=True, env=env, preexec_fn=limit, timeout=600)
    err = proc.stderr.decode(errors="replace").strip()
    problems = []
    if proc.returncode != setup.expect:
        problems.append(f"exit {proc.returncode} (want {setup.expect})")
    if "Traceback" in err:
        problems.append("traceback")
    if proc.returncode == 2 and len(err.splitlines()) != 1:
        problems.append(f"{len(err.splitlines())} lines on stderr")
    if proc.returncode != 0:
        left = sorted({p.name for p in watch.iterdir()} - before)
        if left:
            problems.append(f"left behind: {left}")
    if setup.check is not None:
        extra = setup.check()
        if extra:
            problems.append(extra)
    last = err.splitlines()[-1] if err else ""
    shutil.rmtree(tmp, ignore_errors=True)
    return not problems, "; ".join(problems) + (f" | {last[:240]}" if last else "")


def main(names: list[str]) -> int:
    bad = 0
    for name in names or list(CASES):
        ok, what = probe(name)
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {what}", flush=True)
    print(f"{bad} of {len(names or CASES)} cases fail")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
