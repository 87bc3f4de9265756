"""Element designs against clustered ones (output-safety issue, item 7): every row its own PSU.

The same synthetic survey is estimated twice in one run, each in a fresh worker process: as
the clustered design it is (``ids="commune"``, 1,302 PSUs) and as an element design (no
``ids``: every row is a PSU). Targets: the element design's peak memory at most 3x the frame,
and its time within 2x of the clustered design's, at 5,000,000 rows with a 63-level domain.

Tasks (both by ``province``, 63 domains):

* ``shares``: ``sipas.proportion(design, q01..q22, value=[4, 5], by="province")``
* ``means``: ``sipas.mean(design, q01..q22, by="province")``
* ``index``: ``sipas.factor_index(design, q01..q22, satisfied=[4, 5], by="province")``
* ``raked``: the shares on the design raked to four margins (sex, age group, ethnicity,
  province; raking outside the time)

Memory is measured as in ``bench_scale.py``: peak RSS (VmHWM) minus the RSS after imports
and a warm-up, over the frame's bytes; the peak is reset once the frame is loaded and
pyarrow's pool has given back what the Parquet read used, so it covers the design and the
task (the frame itself counts once). Time is the best of ``--repeat`` calls after the
first.

Usage::

    python benchmarks/bench_element.py                       # 5M rows, all tasks (~4 min)
    python benchmarks/bench_element.py --sizes 1000000 --tag _1m
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    command_line,
    last_json,
    machine_note,
    peak_rss,
    reset_peak,
    rss,
    run_child,
    table,
)

MIB = 2**20
TASKS = ("shares", "means", "index", "raked")
KINDS = ("clustered", "element")
TARGET_MEM = 3.0
TARGET_TIME = 2.0


def _task(sipas, design, items, task):  # type: ignore[no-untyped-def]
    if task == "shares" or task == "raked":
        return sipas.proportion(design, items, value=[4, 5], by="province")
    if task == "means":
        return sipas.mean(design, items, by="province")
    return sipas.factor_index(design, items, satisfied=[4, 5], by="province")


def worker(n: int, kind: str, task: str, repeat: int) -> dict:
    """One (size, design kind, task) in this process; returns its measurements."""
    import numpy as np
    import synthetic

    import sipas

    items = [f"q{j:02d}" for j in range(1, 23)]
    ids = "commune" if kind == "clustered" else None
    small = synthetic.load(100_000).head(5000)
    _task(sipas, sipas.Design(small, ids=ids, strata="province", weights="w"), items,
          "shares" if task == "raked" else task)
    del small
    gc.collect()
    rss_imports = rss()
    frame = synthetic.load(n)
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:
        pass
    gc.collect()
    reset_peak()
    t = time.perf_counter()
    design = sipas.Design(frame, ids=ids, strata="province", weights="w")
    if task == "raked":
        design = sipas.rake(design, synthetic.margins(), tol=1e-8)
    design_s = time.perf_counter() - t
    times = []
    out = None
    for _ in range(repeat + 1):
        out = None
        gc.collect()
        t = time.perf_counter()
        out = _task(sipas, design, items, task)
        times.append(time.perf_counter() - t)
    peak = peak_rss()
    table_ = out.to_frame()
    return {
        "n": n, "kind": kind, "task": task, "frame_mib": frame_bytes / MIB,
        "design_s": design_s, "first_s": times[0], "best_s": min(times[1:]),
        "peak_mib": (peak - rss_imports) / MIB, "peak_ratio": (peak - rss_imports) / frame_bytes,
        "rows": len(table_), "estimate": table_["estimate"].to_numpy(dtype=float).tolist(),
        "se": table_["se"].to_numpy(dtype=float).tolist(),
        "units": int(np.asarray(design.stages[0].n_units)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5_000_000])
    ap.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    ap.add_argument("--repeat", type=int, default=2, help="timed calls after the first")
    ap.add_argument("--tag", default="", help="suffix of the results file (ad-hoc runs)")
    ap.add_argument("--worker", nargs=3, metavar=("N", "KIND", "TASK"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        n, kind, task = args.worker
        print(json.dumps(worker(int(n), kind, task, args.repeat)))
        return

    import numpy as np

    env = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
    started = time.time()
    rows = []
    for n in args.sizes:
        for task in args.tasks:
            got = {}
            for kind in KINDS:
                rc, out, err, _ = run_child([sys.executable, __file__, "--repeat",
                                             str(args.repeat), "--worker", str(n), kind, task],
                                            env=env)
                res = last_json(out)
                if rc != 0 or res is None:
                    raise SystemExit(f"worker {n} {kind} {task} failed (rc {rc}):\n{err[-3000:]}")
                got[kind] = res
                print(f"{n:>10,} {task:<7} {kind:<9} best {res['best_s']:.3f} s  peak "
                      f"{res['peak_mib']:.0f} MiB = {res['peak_ratio']:.2f} x frame", flush=True)
            el, cl = got["element"], got["clustered"]
            ratio = el["best_s"] / cl["best_s"]
            # the element design's SEs differ (another design), its estimates must not
            same = float(np.max(np.abs(np.subtract(el["estimate"], cl["estimate"]))))
            for kind in KINDS:
                r = got[kind]
                rows.append({
                    "n": f"{n:,}", "task": task, "kind": kind, "psus": f"{r['units']:,}",
                    "design_s": r["design_s"], "first_s": r["first_s"], "best_s": r["best_s"],
                    "time_ratio": ratio if kind == "element" else None,
                    "peak_mib": r["peak_mib"], "frame_mib": r["frame_mib"],
                    "peak_ratio": r["peak_ratio"],
                    "verdict": "" if kind == "clustered" else (
                        ("ok" if r["peak_ratio"] <= TARGET_MEM else "MEMORY")
                        + (" ok" if ratio <= TARGET_TIME else " SLOW")),
                    "est_diff": same if kind == "element" else None,
                })
    body = "\n".join([
        "# Element designs against clustered ones",
        "",
        f"* date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}; "
        f"command: `{command_line()}`; {time.time() - started:.0f} s",
        f"* {machine_note()}; one BLAS thread; each row a fresh worker process",
        f"* targets: element peak <= {TARGET_MEM:g} x the frame; element time <= "
        f"{TARGET_TIME:g} x the clustered time (same task, same run)",
        "* peak = peak RSS of the design and the task (the frame counted once) minus the RSS "
        "after imports; time = best of the calls after the first; `est diff` = largest "
        "difference of the estimates between the two designs (they must be equal)",
        "",
        table(rows, [("n", "rows"), ("task", "task"), ("kind", "design"), ("psus", "PSUs"),
                     ("design_s", "design (s)"), ("first_s", "first call (s)"),
                     ("best_s", "best (s)"), ("time_ratio", "element / clustered"),
                     ("peak_mib", "peak (MiB)"), ("frame_mib", "frame (MiB)"),
                     ("peak_ratio", "peak / frame"), ("verdict", "verdict"),
                     ("est_diff", "est diff")]),
        "",
    ])
    path = HERE / "results" / f"element{args.tag}.md"
    path.write_text(body, encoding="utf-8")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
