"""Shared helpers of the benchmark scripts: memory probes, timing, worker subprocesses,
profiles and table printing. Linux only (reads /proc/self/status)."""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# the one current results file of each script lives here (history: git)
RESULTS = Path(os.environ.get("SIPAS_BENCH_RESULTS", HERE / "results"))
# cProfile outputs and other scratch output: under the (gitignored) data cache, not results/
PROFILES = Path(os.environ.get("SIPAS_BENCH_CACHE", HERE / ".cache")) / "profiles"
MIB = 2**20


# ---------------------------------------------------------------------- memory

def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (VmRSS, VmHWM)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def rss() -> int:
    return _status("VmRSS")


def peak_rss() -> int:
    return _status("VmHWM")


def reset_peak() -> bool:
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0, clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------- timing

def best_of(fn: Callable[[], Any], repeat: int,
            min_time: float = 0.0) -> tuple[float, list[float], Any]:
    """Best of ``repeat`` runs (more, up to 1000, until ``min_time`` seconds have passed:
    used for the sub-millisecond baseline, which one busy moment of the machine spoils)."""
    times: list[float] = []
    out = None
    start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - start < min_time and len(times) < 1000):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), times, out


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def profile_top(fn: Callable[[], Any], n: int = 10, path: Path | None = None) -> str:
    """Run ``fn`` under cProfile; return (and write) the top ``n`` functions by cumulative
    time, plus the top ``n`` by own time."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.strip_dirs().sort_stats("cumulative").print_stats(n)
    buf.write("\n--- by own (tottime) ---\n")
    st.sort_stats("tottime").print_stats(n)
    text = buf.getvalue()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return text


# ---------------------------------------------------------------------- subprocesses

def run_child(cmd: list[str], timeout: float | None = None,
              env: dict[str, str] | None = None) -> tuple[int, str, str, float]:
    """Run a command; return (returncode, stdout, stderr, child's max RSS in MiB) using
    wait4, so the RSS is that child's own peak."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True, env=env)
        deadline = None if timeout is None else time.monotonic() + timeout
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline and not killed:
                proc.kill()
                killed = True
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if killed:
        err += "\n[timeout]"
    return proc.returncode, out, err, usage.ru_maxrss / 1024  # KiB -> MiB


def last_json(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def have_rscript() -> str | None:
    return shutil.which("Rscript")


def r_versions() -> str | None:
    rs = have_rscript()
    if not rs:
        return None
    code, out, _err, _ = run_child([rs, "-e", "cat(R.version.string, '| survey', "
                                    "as.character(packageVersion('survey')), '\\n')"])
    return out.strip() if code == 0 else None


def pkg_version(name: str) -> str | None:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


# ---------------------------------------------------------------------- printing

def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        if abs(v) >= 100:
            return f"{v:.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.{digits}g}" if abs(v) < 0.001 else f"{v:.{digits}f}"
    return str(v)


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A GitHub-markdown table of ``rows`` with (key, header) columns."""
    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(fmt(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def git_state() -> str:
    """Which sipas is measured: its commit and whether its src/ has local changes, or the
    label in SIPAS_BENCH_CODE (e.g. for a ``git archive`` snapshot put on PYTHONPATH)."""
    import importlib.util

    if os.environ.get("SIPAS_BENCH_CODE"):
        return os.environ["SIPAS_BENCH_CODE"]
    spec = importlib.util.find_spec("sipas")
    where = Path(spec.origin).resolve().parent.parent.parent if spec and spec.origin else HERE
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        # --no-optional-locks: a read-only status (no index refresh while others work)
        dirty = subprocess.run(["git", "--no-optional-locks", "-C", str(where), "status",
                                "--porcelain", "src"],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        head, dirty = "", ""
    if not head:
        return f"sipas from {where}"
    return f"sipas@{head}{' + uncommitted src changes' if dirty else ''}"


def command_line() -> str:
    """How this run was started, for the header of its results file."""
    script = Path(sys.argv[0]).resolve()
    if script.is_relative_to(HERE.parent):
        script = script.relative_to(HERE.parent)
    return " ".join(["python", str(script), *sys.argv[1:]])


def write_section(path: Path, title: str, heading: str, body: str) -> None:
    """Write ``body`` under ``## heading`` in the markdown file ``path``, keeping its other
    ``##`` sections (one results file for several modes of one script)."""
    sections: dict[str, str] = {}
    if path.exists():
        current = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("## "):
                current = line[3:].strip()
                sections[current] = ""
            elif current is not None:
                sections[current] += line + "\n"
    sections[heading] = body
    text = f"# {title}\n\n" + "".join(f"## {h}\n\n{b.strip(chr(10))}\n\n"
                                        for h, b in sections.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def machine_note() -> str:
    import platform
    return (f"{git_state()} · {platform.node()} · {os.cpu_count()} cores · "
            f"python {sys.version.split()[0]} · "
            f"load avg now {os.getloadavg()[0]:.2f} / {os.getloadavg()[1]:.2f} / "
            f"{os.getloadavg()[2]:.2f}")
