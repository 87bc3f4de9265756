"""Safe outputs and hostile inputs: interrupted runs, big value-label sets, no pickles."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import sipas


def _run_and_stop(tmp_path: Path, delay: float, sig: int) -> tuple[Path, int]:
    out = tmp_path / f"out-{sig}-{delay}"
    proc = subprocess.Popen([sys.executable, "-m", "sipas.cli", "demo", "--out", str(out),
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(sig)
    return out, proc.wait(timeout=120)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_no_partial_output(tmp_path, sig):
    """Stopped at several moments of the run: the output folder is either complete or
    absent, and no temporary file or folder is left behind."""
    for delay in (1.0, 2.5, 4.0):
        out, code = _run_and_stop(tmp_path, delay, sig)
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]
        assert leftovers == [], leftovers
        if out.exists():  # the run had finished before the signal
            assert code == 0
            assert (out / "provenance.json").is_file()
        else:  # stopped while importing (exit 1) or running (130), or before Python (-sig)
            assert code != 0


def test_killed_run_never_leaves_a_half_written_target(tmp_path):
    """SIGKILL cannot be caught: the hidden temporary folder may remain, but the target
    folder is never half-written (it appears only by an atomic rename)."""
    out, _code = _run_and_stop(tmp_path, 2.0, signal.SIGKILL)
    if out.exists():
        assert (out / "provenance.json").is_file()
    visible = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert all(p == out for p in visible)


def test_thousands_of_value_labels(tmp_path):
    n = 5000
    frame = pd.DataFrame({"id": np.arange(n, dtype=float), "commune": np.arange(n) % 50 + 1.0,
                          "code": np.arange(n, dtype=float)})
    labels = {"code": {float(i): f"nhãn số {i}" for i in range(n)}}
    path = tmp_path / "labels.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels)
    start = time.perf_counter()
    data = sipas.read_survey(path)
    assert time.perf_counter() - start < 10
    assert len(data.meta.value_labels["code"]) == n
    assert data.meta.value_labels["code"][4999.0] == "nhãn số 4999"


def test_input_files_are_never_written(tmp_path):
    from sipas.pipeline import demo_pipeline_path, load_pipeline, run

    src = sipas.datasets.demo_path()
    before = (src.stat().st_mtime_ns, src.read_bytes())
    run(load_pipeline(demo_pipeline_path()))
    assert (src.stat().st_mtime_ns, src.read_bytes()) == before


def test_nothing_is_unpickled_or_evaluated_from_inputs():
    """No module can load a pickle or evaluate text (inputs are parsed, never run)."""
    import re

    root = Path(sipas.__file__).parent
    files = list(root.rglob("*.py"))
    assert len(files) > 20
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    for pattern in (r"\bimport pickle\b", r"\bpickle\.loads?\(", r"(?<![\w.])eval\(",
                    r"(?<![\w.])exec\(", r"allow_pickle\s*=\s*True", r"read_pickle"):
        assert not re.search(pattern, text), pattern
