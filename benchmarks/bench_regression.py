"""Before/after regression benchmark: the same tasks, in one run, on two source trees of sipas.

"before" is a git revision (default ``5b4e157``, the commit before the architecture
refactor), extracted with ``git -C <repo> archive <rev> src | tar -x -C <tmpdir>`` (no
worktree, nothing in the repository changes). "after" is the working tree's ``src/``, copied
to the temporary directory when the run starts (so edits made during the run do not mix in),
or another revision (``--after REV``). Each tree runs in its own worker process with
``PYTHONPATH=<tree>/src`` and otherwise the same environment and interpreter; the worker
checks that ``sipas`` was imported from its tree. Both read the same cached synthetic survey
(benchmarks/synthetic.py, ``--rows``, default 1,000,000).

Tasks (design: ``ids="commune", strata="province", weights="w"``, as bench_scale.py builds
it; proportions with sipas's default interval method, as there):

  design         ``sipas.Design(frame, ids="commune", strata="province", weights="w")``
  rake           ``sipas.rake(design, {sex, age_group, ethnicity, province}, tol=1e-8)``
  share          ``sipas.proportion(design, "q01", value=[4, 5])``
  share_prov     the same with ``by="province"``
  items_prov     ``sipas.proportion(design, 22 items, value=[4, 5], by="province")`` (22x63)
  boot           ``sipas.replicate(design, "bootstrap", replicates=200, rng=1)`` then
                 ``sipas.mean(rep, "q01", by="province")`` (timed together)
  raked_first    ``sipas.mean(raked, "q01", by="province")``: the first estimate on a freshly
                 raked design (the rake itself is not timed)
  raked_second   then ``sipas.mean(raked, "q02", by="province")`` on the same raked design
  factor_prov    ``sipas.factor_index(design, 22 items, satisfied=[4, 5], by="province")``

Only public calls that exist in both trees are used. If a keyword was renamed in one tree
(``TypeError: unexpected keyword argument``), the worker retries with known aliases during
its warm-up, keeps the name that worked, and the output says so.

How it is timed. ``--repeat`` rounds (default 5). A round starts one fresh worker process
per tree; each warms up on a 5,000-row survey (lazy imports, one-off set-up) and loads the
data. Then the driver asks them for one call at a time, alternating between the trees
(before, after, after, before, ...; the round's first tree alternates too), so both see the
same machine load (the machine is shared): every task at least ``--calls`` times per
process (default 3) and until each tree's calls of it took ``--min-time`` seconds (default
1.0; at most 50 calls). The first call of a task in a process is reported apart; a task's
time is the best of its later calls over all rounds ("best of N"), and the verdict is "ok"
when after / before <= 1.10, else "SLOWER". Beside it, the median of the after / before
ratios of calls made back to back (a paired estimate, less sensitive to load bursts). The
results of the two trees are compared too (max relative difference of the estimates and SEs;
of the raked weights for rake).

Both workers are pinned to the same CPU (``--cpu``, default the last one; ``--cpu none`` to
leave them free), with one BLAS/OpenMP thread each: on a shared machine a process otherwise
keeps landing on the core that someone else's job occupies, and whole processes of the same
code ran up to 2x apart; on one core, calls made back to back meet the same contention.

The exit status is 0 whatever the outcome (it is a measurement, not a test).

Usage::

    python benchmarks/bench_regression.py             # 5b4e157 vs the working tree, 1M (~3 min)
    python benchmarks/bench_regression.py --rows 100000 --repeat 3
    python benchmarks/bench_regression.py --before 5b4e157 --after HEAD --tag _head

Results: results/regression.md (the current results; ``--tag`` adds a suffix for ad-hoc
runs): the table, the raw numbers, both revisions and the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import queue
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RESULTS, command_line, loadavg, pkg_version, run_child  # noqa: E402

DEFAULT_BEFORE = "5b4e157"
TASKS = ["design", "rake", "share", "share_prov", "items_prov", "boot", "raked_first",
         "raked_second", "factor_prov"]
TASK_CALLS = {
    "design": 'Design(frame, ids="commune", strata="province", weights="w")',
    "rake": "rake(design, 4 margins, tol=1e-8)",
    "share": 'proportion(design, "q01", value=[4, 5])',
    "share_prov": 'proportion(design, "q01", value=[4, 5], by="province")',
    "items_prov": 'proportion(design, 22 items, value=[4, 5], by="province")',
    "boot": 'replicate(design, "bootstrap", replicates=200, rng=1) + mean(rep, "q01", '
            'by="province")',
    "raked_first": 'mean(raked, "q01", by="province"), first estimate after rake()',
    "raked_second": 'mean(raked, "q02", by="province"), second estimate',
    "factor_prov": 'factor_index(design, 22 items, satisfied=[4, 5], by="province")',
}
THRESHOLD = 1.10
MAX_CALLS = 50  # calls of one task in one process
TOL = 1e-8
REPLICATES = 200
LABELS = ("before", "after")
# keyword names a refactor may have renamed: the old name -> names tried in its place
ALIASES = {
    "ids": ("psu", "cluster", "clusters"),
    "strata": ("stratum",),
    "weights": ("weight", "wgt"),
    "value": ("values", "levels", "codes"),
    "by": ("domain", "domains", "over"),
    "tol": ("epsilon", "tolerance"),
    "replicates": ("n_replicates", "reps"),
    "rng": ("seed", "random_state"),
    "satisfied": ("top", "values", "value"),
}


# ---------------------------------------------------------------------- worker (one tree)

class Api:
    """Calls ``sipas.<name>(...)``; a keyword the tree rejects is retried under its
    aliases, and the name that worked is kept (so only the warm-up pays for the retry)."""

    def __init__(self, sipas):
        self.sipas = sipas
        self.renamed: dict[tuple[str, str], str] = {}
        self.notes: dict[tuple[str, str], str] = {}

    def __call__(self, name: str, *args, **kwargs):
        return self._call(name, getattr(self.sipas, name), args, kwargs, frozenset())

    def _call(self, name, fn, args, kwargs, tried):
        kw = {self.renamed.get((name, k), k): v for k, v in kwargs.items()}
        try:
            return fn(*args, **kw)
        except TypeError as exc:
            bad = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
            used = bad.group(1) if bad else None
            orig = next((k for k in kwargs if self.renamed.get((name, k), k) == used), None)
            if orig is None:
                raise
            tried = tried | {(orig, used)}
            for alt in ALIASES.get(orig, ()):
                if (orig, alt) in tried or alt in kw:
                    continue
                tried = tried | {(orig, alt)}
                self.renamed[(name, orig)] = alt
                try:
                    out = self._call(name, fn, args, kwargs, tried)
                except TypeError as exc2:
                    if f"'{alt}'" in str(exc2):
                        continue  # this alias is rejected too
                    raise
                self.notes[(name, orig)] = (f"sipas.{name}() rejected {orig}=; used "
                                            f"{self.renamed[(name, orig)]}=")
                return out
            self.renamed.pop((name, orig), None)
            raise


def _table_of(out):
    """(estimates, SEs) of an Estimate-like result, or None."""
    import numpy as np

    try:
        tab = out.to_frame()
        return (np.asarray(tab["estimate"], dtype="float64"),
                np.asarray(tab["se"], dtype="float64"))
    except Exception:
        return None


def _fingerprint(task: str, out) -> dict | None:
    import numpy as np

    if task == "design":
        return None
    if task == "rake":
        w = getattr(out, "weight_array", None)
        if w is None:
            return None
        w = np.asarray(w, dtype="float64")
        return {"weights": [float(w.sum()), float((w * w).sum()), *map(float, w[:5]),
                            *map(float, w[-5:])]}
    tab = _table_of(out)
    if tab is None:
        return None
    return {"est": tab[0].tolist(), "se": tab[1].tolist()}


def _task_fns(api: Api, frame, items, margins):
    """name -> fn(state) -> (seconds, output); ``state`` carries the design."""

    def timed(fn):
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out

    def design(st):
        s, d = timed(lambda: api("Design", frame, ids="commune", strata="province",
                                 weights="w"))
        st["design"] = d
        return s, d

    def raked_first(st):
        st["raked"] = api("rake", st["design"], margins, tol=TOL)  # not timed
        return timed(lambda: api("mean", st["raked"], "q01", by="province"))

    def raked_second(st):
        return timed(lambda: api("mean", st["raked"], "q02", by="province"))

    def boot(st):
        def run():
            rep = api("replicate", st["design"], "bootstrap", replicates=REPLICATES, rng=1)
            return api("mean", rep, "q01", by="province")
        return timed(run)

    return {
        "design": design,
        "rake": lambda st: timed(lambda: api("rake", st["design"], margins, tol=TOL)),
        "share": lambda st: timed(lambda: api("proportion", st["design"], "q01",
                                              value=[4, 5])),
        "share_prov": lambda st: timed(lambda: api("proportion", st["design"], "q01",
                                                   value=[4, 5], by="province")),
        "items_prov": lambda st: timed(lambda: api("proportion", st["design"], items,
                                                   value=[4, 5], by="province")),
        "boot": boot,
        "raked_first": raked_first,
        "raked_second": raked_second,
        "factor_prov": lambda st: timed(lambda: api("factor_index", st["design"], items,
                                                    satisfied=[4, 5], by="province")),
    }


# ---------------------------------------------------------------------- worker (one tree)

def serve(label: str, expect_src: str, n: int, tasks: list[str], cpu: int | None) -> None:
    """Worker process: warm up, load the data, then run one call per request on stdin and
    answer on stdout (lines starting with ``@@``; anything else printed goes to stderr)."""
    if cpu is not None:  # before numpy starts any thread
        os.sched_setaffinity(0, {cpu})
    channel = sys.stdout
    sys.stdout = sys.stderr

    def send(obj: dict) -> None:
        channel.write("@@" + json.dumps(obj, default=str) + "\n")
        channel.flush()

    info: dict = {"label": label, "n": n}
    try:
        t = time.perf_counter()
        import sipas

        info["import_s"] = time.perf_counter() - t
        origin = Path(sipas.__file__).resolve()
        info["sipas_file"] = str(origin)
        if not origin.is_relative_to(Path(expect_src).resolve()):
            send({"error": f"sipas was imported from {origin}, not from {expect_src}"})
            return
        import synthetic

        api = Api(sipas)
        items, margins = synthetic.ITEMS, synthetic.margins()
        warm_fns, state = _task_fns(api, synthetic.generate(5000), items, margins), {}
        warm_errors = {}
        for task in ["design", *[t for t in TASKS if t in tasks and t != "design"]]:
            try:
                warm_fns[task](state)
            except Exception as exc:
                warm_errors[task] = f"{type(exc).__name__}: {exc}"[:500]
        del warm_fns, state
        t = time.perf_counter()
        frame = synthetic.load(n)
        info["load_s"] = time.perf_counter() - t
        fns, state, last = _task_fns(api, frame, items, margins), {}, {}
        gc.collect()
        info.update(ready=True, warm_errors=warm_errors, loadavg=loadavg())
        send(info)
    except Exception:
        send({"error": traceback.format_exc()[-1500:]})
        return
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "run":
            task = cmd["task"]
            gc.collect()
            try:
                s, last[task] = fns[task](state)
                reply = {"s": s}
                if task == "raked_first":
                    reply["s2"], last["raked_second"] = fns["raked_second"](state)
            except Exception as exc:
                reply = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            send(reply)
        elif cmd["op"] == "fingerprints":
            send({task: _fingerprint(task, out) for task, out in last.items()})
        else:  # quit
            send({"maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "notes": list(api.notes.values()), "loadavg": loadavg()})
            return


# ---------------------------------------------------------------------- driver

class WorkerError(RuntimeError):
    pass


class Worker:
    """A worker process on one tree, asked for one call at a time."""

    def __init__(self, label: str, tree: dict, args, tasks: list[str]):
        env = dict(os.environ)
        env["PYTHONPATH"] = str(tree["root"] / "src")  # only this tree (nothing inherited)
        pin = [] if args.cpu is None else ["--pin", str(args.cpu)]
        if args.cpu is not None:  # one thread per worker on the one core
            env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.label, self.timeout = label, args.timeout
        self.err = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by close())
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", label, "--expect-src",
             str(tree["root"] / "src"), "--rows", str(args.rows), *pin, "--tasks", *tasks],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True,
            env=env, bufsize=1)
        self.started = time.perf_counter()
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("@@"):
                self.lines.put(json.loads(line[2:]))
        self.lines.put(None)

    def stderr_tail(self) -> str:
        self.err.seek(0)
        return self.err.read().strip()[-1500:]

    def recv(self) -> dict:
        try:
            msg = self.lines.get(timeout=self.timeout)
        except queue.Empty:
            raise WorkerError(f"no answer within {self.timeout:g} s") from None
        if msg is None:
            self.proc.wait()
            raise WorkerError(f"worker exited {self.proc.returncode}: {self.stderr_tail()}")
        return msg

    def ask(self, **cmd) -> dict:
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise WorkerError(f"worker gone ({exc}): {self.stderr_tail()}") from None
        return self.recv()

    def close(self) -> dict:
        out: dict = {}
        try:
            if self.proc.poll() is None:
                out = self.ask(op="quit")
        except WorkerError:
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.err.close()
        out["wall_s"] = time.perf_counter() - self.started
        return out


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--no-optional-locks", "-C", str(repo), *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def _extract(repo: Path, rev: str, dest: Path) -> None:
    """``git -C repo archive rev src | tar -x -C dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.Popen(["git", "-C", str(repo), "archive", rev, "src"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tar = subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout,
                         capture_output=True)
    archive.stdout.close()
    err = archive.stderr.read().decode()
    if archive.wait() != 0 or tar.returncode != 0:
        raise RuntimeError(f"git archive {rev} src | tar failed: {err} {tar.stderr.decode()}")


def _tree_hash(src: Path) -> str:
    """A content hash of the files under src/ (bytecode caches left out)."""
    h = hashlib.sha256()
    for p in sorted(q for q in src.rglob("*") if q.is_file() and "__pycache__" not in q.parts):
        h.update(str(p.relative_to(src)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def _describe_rev(repo: Path, rev: str) -> str:
    full = _git(repo, "rev-parse", "--verify", f"{rev}^{{commit}}")
    subject = _git(repo, "log", "-1", "--format=%cs %s", full)
    return f"`{full[:10]}` ({subject})"


def prepare_trees(repo: Path, before: str, after: str, tmp: Path) -> dict[str, dict]:
    trees = {}
    _extract(repo, before, tmp / "before")
    trees["before"] = {"root": tmp / "before", "what": f"git revision {before}: "
                       + _describe_rev(repo, before)}
    if after == "worktree":
        shutil.copytree(repo / "src", tmp / "after" / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        head = _git(repo, "rev-parse", "--short", "HEAD")
        changed = [ln for ln in _git(repo, "status", "--porcelain", "--", "src").splitlines()
                   if ln.strip()]
        trees["after"] = {"root": tmp / "after", "what":
                          f"working tree `{repo}/src` (copied at the start of the run): HEAD "
                          f"`{head}` + {len(changed)} changed, staged or untracked paths "
                          "under src/ (`git status --porcelain src`)"}
    else:
        _extract(repo, after, tmp / "after")
        trees["after"] = {"root": tmp / "after", "what": f"git revision {after}: "
                          + _describe_rev(repo, after)}
    for t in trees.values():
        t["hash"] = _tree_hash(t["root"] / "src")
    return trees


def run_round(rnd: int, trees: dict, args, tasks: list[str], times: dict, errors: dict,
              procs: list[dict], fingerprints: dict) -> None:
    """One round: a fresh worker per tree, each task's calls alternating between them.
    Appends (round, call index, seconds) to ``times[label][task]``."""
    labels = list(LABELS) if rnd % 2 == 0 else list(LABELS[::-1])
    workers = {lb: Worker(lb, trees[lb], args, tasks) for lb in labels}
    ready: dict[str, dict] = {}
    try:
        for lb in labels:
            try:
                ready[lb] = workers[lb].recv()
            except WorkerError as exc:
                ready[lb] = {"error": str(exc)}
            if ready[lb].get("error"):
                errors.setdefault(lb, {}).setdefault("start", ready[lb]["error"])
            for task, msg in ready[lb].get("warm_errors", {}).items():
                errors.setdefault(lb, {}).setdefault(task, f"on the warm-up data: {msg}")
        alive = [lb for lb in labels if ready[lb].get("ready")]
        for task in [t for t in tasks if t != "raked_second"]:
            active = [lb for lb in alive if task not in errors.get(lb, {})]
            spent = dict.fromkeys(active, 0.0)
            k = 0
            while active and (k < args.calls or (
                    k < MAX_CALLS and min(spent[lb] for lb in active) < args.min_time)):
                for lb in (labels if k % 2 == 0 else labels[::-1]):
                    if lb not in active:
                        continue
                    try:
                        r = workers[lb].ask(op="run", task=task)
                    except WorkerError as exc:
                        r = {"error": str(exc)}
                        alive.remove(lb)
                    if "error" in r:
                        errors.setdefault(lb, {})[task] = r["error"]
                        active.remove(lb)
                        continue
                    times[lb].setdefault(task, []).append((rnd, k, r["s"]))
                    spent[lb] += r["s"]
                    if "s2" in r:
                        times[lb].setdefault("raked_second", []).append((rnd, k, r["s2"]))
                k += 1
            print(f"  [round {rnd + 1}] {task:12s} {k:2d} calls  " + "  ".join(
                f"{lb} {min(s for rr, _k, s in times[lb].get(task, []) if rr == rnd):.4f}"
                for lb in labels if any(rr == rnd for rr, _k, _s in times[lb].get(task, []))),
                flush=True)
        for lb in alive:
            if lb not in fingerprints:
                with contextlib.suppress(WorkerError):
                    fingerprints[lb] = workers[lb].ask(op="fingerprints")
    finally:
        for lb in labels:
            procs.append({"round": rnd + 1, "label": lb, **ready.get(lb, {}),
                          **workers[lb].close()})


def rel_diff(a, b) -> float | None:
    import numpy as np

    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    if a.shape != b.shape:
        return None
    both_nan = np.isnan(a) & np.isnan(b)
    scale = np.where(a != 0, np.abs(a), 1.0)
    d = np.abs(a - b)[~both_nan] / scale[~both_nan]
    return float(d.max()) if d.size else 0.0


def _compare(fa: dict | None, fb: dict | None) -> str:
    if not fa or not fb:
        return "-"
    parts = []
    for key in fa:
        if key in fb:
            d = rel_diff(fa[key], fb[key])
            parts.append(f"{key} {'shape differs' if d is None else f'{d:.1e}'}")
    return ", ".join(parts) or "-"


def summarise(times: dict, fingerprints: dict, tasks: list[str], rounds: int) -> list[dict]:
    rows = []
    for task in tasks:
        row: dict = {"task": task}
        for lb in LABELS:
            rec = times[lb].get(task, [])
            later = [s for _r, k, s in rec if k > 0] or [s for _r, _k, s in rec]
            first = [s for _r, k, s in rec if k == 0]
            row[lb] = min(later) if later else None
            row[f"{lb}_first"] = min(first) if first else None
            row[f"{lb}_calls"] = len(rec)
            row[f"{lb}_rounds"] = [min((s for r, k, s in rec if r == rnd and k > 0),
                                       default=None) for rnd in range(rounds)]
        before = {(r, k): s for r, k, s in times["before"].get(task, []) if k > 0}
        ratios = [s / before[(r, k)] for r, k, s in times["after"].get(task, [])
                  if (r, k) in before]
        row["paired"] = statistics.median(ratios) if ratios else None
        row["pairs"] = len(ratios)
        if row["before"] and row["after"]:
            row["ratio"] = row["after"] / row["before"]
            row["verdict"] = "ok" if row["ratio"] <= THRESHOLD else "SLOWER"
        else:
            row["ratio"] = None
            missing = [lb for lb in LABELS if not row[lb]]
            row["verdict"] = f"n/a (no time for {' and '.join(missing)})"
        row["same"] = _compare(fingerprints.get("before", {}).get(task),
                               fingerprints.get("after", {}).get(task))
        rows.append(row)
    return rows


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def render(rows: list[dict], procs: list[dict], errors: dict, trees: dict, args,
           meta: dict) -> str:
    identical = trees["after"]["hash"] == trees["before"]["hash"]
    lines = [f"# Before/after regression at {args.rows:,} rows", ""]
    lines += [f"* date: {meta['date']}; command: `{meta['command']}`",
              f"* machine: {platform.node()}, {os.cpu_count()} cores, python "
              f"{sys.version.split()[0]}, numpy {pkg_version('numpy')}, pandas "
              f"{pkg_version('pandas')}; load avg {meta['load_start']} at the start, "
              f"{meta['load_end']} at the end (the machine is shared); {meta['wall_s']:.0f} s",
              f"* before: {trees['before']['what']}; tree hash {trees['before']['hash']}",
              f"* after: {trees['after']['what']}; tree hash {trees['after']['hash']}"
              + (" (identical to before)" if identical else ""),
              f"* {args.repeat} rounds, each with a fresh worker process per tree ("
              + ("both on CPU " + str(args.cpu) + ", one BLAS thread" if args.cpu is not None
                 else "not pinned") + "); calls "
              f"alternate between the trees; every task at least {args.calls} times per "
              f"process and for at least {args.min_time:g} s; time = best of the calls after "
              f"the first in each process; verdict ok if after/before <= {THRESHOLD:.2f}", ""]
    lines += ["| task | before (s) | after (s) | after/before | verdict | paired median "
              "after/before | before vs after results (max rel. diff) |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        paired = "-" if r["paired"] is None else f"{r['paired']:.3f}"
        lines.append(f"| {r['task']} | {_s(r['before'])} | {_s(r['after'])} | {ratio} | "
                     f"{r['verdict']} | {paired} | {r['same']} |")
    slower = [r["task"] for r in rows if r["verdict"] == "SLOWER"]
    missing = [r["task"] for r in rows if r["ratio"] is None]
    if not slower and not missing:
        lines += ["", "No task more than 10% slower.", ""]
    else:
        lines += ["", "Slower by more than 10%: " + (", ".join(slower) or "none")
                  + ("; not compared: " + ", ".join(missing) if missing else ""), ""]
    notes = sorted({f"{p['label']}: {n}" for p in procs for n in p.get("notes", [])})
    failed = [f"{lb} {task}: " + " / ".join(ln.strip() for ln in msg.strip().splitlines()[-3:])
              for lb, per in errors.items() for task, msg in per.items()]
    if notes or failed:
        lines += ["## Notes", ""]
        lines += [f"* keyword fallback, {n}" for n in notes]
        lines += [f"* failed, {e}" for e in failed]
        lines.append("")
    lines += ["## Tasks", "", "| task | call |", "|---|---|"]
    lines += [f"| {r['task']} | `sipas.{TASK_CALLS[r['task']]}` |" for r in rows]
    lines += ["", "## Raw numbers", "",
              "Best call after the first, per round (s); best first call in a process; calls "
              "in all; back-to-back pairs behind the paired median.", "",
              "| task | before per round | after per round | before 1st call | after 1st call "
              "| calls before / after | pairs |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        per = {lb: " ".join(_s(v) for v in r[f"{lb}_rounds"]) for lb in LABELS}
        lines.append(f"| {r['task']} | {per['before']} | {per['after']} | "
                     f"{_s(r['before_first'])} | {_s(r['after_first'])} | "
                     f"{r['before_calls']} / {r['after_calls']} | {r['pairs']} |")
    lines += ["", "| round | tree | process wall s | import s | load s | peak RSS MiB | "
              "load avg at start | sipas imported from |", "|---|---|---|---|---|---|---|---|"]
    for p in procs:
        rss = p.get("maxrss_mib")
        lines.append(f"| {p['round']} | {p['label']} | {p['wall_s']:.1f} | "
                     f"{_s(p.get('import_s'))} | {_s(p.get('load_s'))} | "
                     f"{'-' if rss is None else f'{rss:.0f}'} | {p.get('loadavg', '-')} | "
                     f"{p.get('sipas_file', '-')} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", default=DEFAULT_BEFORE,
                    help=f"git revision of the 'before' tree (default {DEFAULT_BEFORE})")
    ap.add_argument("--after", default="worktree",
                    help="'worktree' (the repository's src/ as it is now, copied at the "
                         "start) or a git revision")
    ap.add_argument("--repo", type=Path, default=HERE.parent,
                    help="the sipas git repository (default: the one holding this script)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5,
                    help="rounds, each with a fresh worker process per tree")
    ap.add_argument("--calls", type=int, default=3,
                    help="least number of calls of each task per process (the first is "
                         "reported apart)")
    ap.add_argument("--min-time", type=float, default=1.0,
                    help="each task is called until each tree's calls of it took this long "
                         f"(seconds; at most {MAX_CALLS} calls per process)")
    ap.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    ap.add_argument("--timeout", type=float, default=600,
                    help="longest wait for one answer of a worker, seconds")
    ap.add_argument("--tag", default="",
                    help="suffix of the results file (ad-hoc runs; the untagged "
                         "results/regression.md is the current one)")
    ap.add_argument("--cpu", default="auto",
                    help="the CPU both workers are pinned to: a number, 'auto' (the last "
                         "one this process may use) or 'none' (not pinned)")
    ap.add_argument("--serve", choices=LABELS, help=argparse.SUPPRESS)
    ap.add_argument("--expect-src", help=argparse.SUPPRESS)
    ap.add_argument("--pin", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.serve:
        serve(args.serve, args.expect_src, args.rows, args.tasks, args.pin)
        return 0
    if args.cpu == "none" or not hasattr(os, "sched_setaffinity"):
        args.cpu = None
    elif args.cpu == "auto":
        args.cpu = max(os.sched_getaffinity(0))
    else:
        args.cpu = int(args.cpu)

    tasks = [t for t in TASKS if t in args.tasks]
    if "raked_second" in tasks and "raked_first" not in tasks:  # timed with raked_first
        tasks.insert(tasks.index("raked_second"), "raked_first")
    meta = {"date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "command": command_line(), "load_start": loadavg()}
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="sipas-regression-"))
    try:
        trees = prepare_trees(args.repo.resolve(), args.before, args.after, tmp)
        for lb, t in trees.items():
            print(f"{lb}: {t['what']} (tree hash {t['hash']})", flush=True)
        run_child([sys.executable, str(HERE / "synthetic.py"), str(args.rows)])
        times: dict[str, dict] = {lb: {} for lb in LABELS}
        errors: dict[str, dict] = {}
        procs: list[dict] = []
        fingerprints: dict[str, dict] = {}
        for rnd in range(args.repeat):
            run_round(rnd, trees, args, tasks, times, errors, procs, fingerprints)
            broken = [lb for lb in LABELS if "start" in errors.get(lb, {})]
            if broken:
                print(f"{' and '.join(broken)} did not start: " + " | ".join(
                    errors[lb]["start"].strip().splitlines()[-1] for lb in broken))
                break
        meta["load_end"] = loadavg()
        meta["wall_s"] = time.perf_counter() - start
        rows = summarise(times, fingerprints, tasks, args.repeat)
        text = render(rows, procs, errors, trees, args, meta)
        print()
        print(text)
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"regression{args.tag}.md"
        out.write_text(text, encoding="utf-8")
        print(f"written: {out}")
    except Exception:
        traceback.print_exc()
        print("bench_regression: the measurement did not complete (exit status 0 anyway)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
