"""Estimates on a raked design: the calibration-aware variance by joint cells against the
same variance from the projections' row factors (the baseline, measured in the same run),
and against the unraked design.

Data: benchmarks/synthetic.py at --n rows (default 1,000,000), raked to the 4 margins of
bench_scale.py (sex, age group, ethnicity, province; tol 1e-8). The baseline is the raked
design with its projections' cell layout removed (``dataclasses.replace(p, layout=None)``),
so every margin is reduced row by row, as before the cell layout existed. Each task is timed
as the best of --repeat calls (first call timed separately, on a fresh copy of the design),
and the results of the two variance paths are compared (max relative difference of SEs).

Usage::

    python benchmarks/bench_raked.py                 # 1M rows, ~1 min
    python benchmarks/bench_raked.py --n 100000

Results: results/raked_<n>.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RESULTS, machine_note, table  # noqa: E402


def without_layout(design):
    """The same design whose raking projections reduce row by row (the baseline)."""
    stripped = {}
    for step in design._calibration:
        for proj in step:
            if id(proj) not in stripped:
                stripped[id(proj)] = dataclasses.replace(proj, layout=None, _cache={})
    return dataclasses.replace(design, _calibration=tuple(
        tuple(stripped[id(p)] for p in step) for step in design._calibration))


def fresh(design):
    """A copy of the design with empty caches (for first-call times)."""
    layouts = {}

    def clean(p):
        layout = None if p.layout is None else layouts.setdefault(
            id(p.layout), dataclasses.replace(p.layout, _cache={}))
        return dataclasses.replace(p, _cache={}, layout=layout)

    copies = {}
    for step in design._calibration:
        for proj in step:
            copies.setdefault(id(proj), clean(proj))
    return dataclasses.replace(design, _calibration=tuple(
        tuple(copies[id(p)] for p in step) for step in design._calibration))


def best_of(fn, design, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(design)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    import numpy as np
    import synthetic

    import sipas

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    frame = synthetic.load(args.n)
    design = sipas.Design(frame, ids="commune", strata="province", weights="w")
    raked = sipas.rake(design, synthetic.margins(), tol=1e-8)
    tasks = {
        "mean of q01": lambda d: sipas.mean(d, "q01"),
        "share by province": lambda d: sipas.proportion(d, "q01", value=[4, 5], by="province"),
        "22 shares x 63 provinces": lambda d: sipas.proportion(d, synthetic.ITEMS,
                                                                value=[4, 5], by="province"),
    }
    rows = []
    for name, fn in tasks.items():
        cells_d, rows_d = fresh(raked), without_layout(raked)
        t = time.perf_counter()
        a = fn(cells_d).to_frame()
        first_cells = time.perf_counter() - t
        t = time.perf_counter()
        b = fn(rows_d).to_frame()
        first_rows = time.perf_counter() - t
        cells_s = best_of(fn, cells_d, args.repeat)
        rows_s = best_of(fn, rows_d, args.repeat)
        unraked_s = best_of(fn, design, args.repeat)
        diff = float(np.max(np.abs(a["se"] - b["se"]) / b["se"]))
        rows.append({"task": name, "cells": cells_s, "rows": rows_s, "ratio": rows_s / cells_s,
                     "first_cells": first_cells, "first_rows": first_rows,
                     "unraked": unraked_s, "diff": diff})
        print(f"{name:26s} by cells {cells_s:.4f} s  by rows {rows_s:.4f} s  "
              f"(x{rows_s / cells_s:.1f})  first call {first_cells:.3f} / {first_rows:.3f} s  "
              f"unraked {unraked_s:.4f} s  SE diff {diff:.1e}")
    columns = [("task", "task (raked design)"), ("cells", "by cells s"),
               ("rows", "by rows s (baseline)"), ("ratio", "baseline / by cells"),
               ("first_cells", "1st call by cells s"), ("first_rows", "1st call by rows s"),
               ("unraked", "unraked design s"), ("diff", "max rel. diff SE")]
    text = (f"{machine_note()}\n\nEstimates on a design raked to 4 margins, n = {args.n:,} "
            f"(best of {args.repeat})\n\n" + table(rows, columns) + "\n")
    out = RESULTS / f"raked_{args.n}.md"
    out.write_text(text, encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
