"""Estimates on a raked design: the calibration-aware variance by joint cells against the
same variance from the projections' row factors (the baseline, measured in the same run),
and against the unraked design.

Data: benchmarks/synthetic.py at --n rows (default 1,000,000), raked to the 4 margins of
bench_scale.py (sex, age group, ethnicity, province; tol 1e-8). The baseline is the raked
design with its projections' cell layout removed (``dataclasses.replace(p, layout=None)``),
so every margin is reduced row by row, as before the cell layout existed. Each task is timed
as the best of --repeat calls (first call timed separately, on a fresh copy of the design),
and the results of the two variance paths are compared (max relative difference of SEs).

With ``--dask``, the same estimates on the same raked design through Dask instead: the
40 Parquet files of bench_scale.py persisted in a ``distributed.LocalCluster(n_workers=4,
threads_per_worker=1)`` in partitions of about 256 MiB (as its dask_persist), raked there,
each estimate timed (first call and best of --repeat) beside the in-memory time of the
same run, with the largest relative difference of the SEs.

Usage::

    python benchmarks/bench_raked.py                 # 1M rows, ~1 min
    python benchmarks/bench_raked.py --n 100000
    python benchmarks/bench_raked.py --n 10000000 --dask   # ~4 min, 8 GB

Results: results/raked.md, the current results (``--tag`` adds a suffix for ad-hoc runs),
one section per mode: "In memory: by cells vs by rows" (default) and "Through Dask"
(``--dask``); a run replaces its own section and keeps the other.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RESULTS, command_line, machine_note, table, write_section  # noqa: E402

TITLE = "Estimates on a raked design (bench_raked.py)"
SECTION_MEMORY = "In memory: by cells vs by rows"
SECTION_DASK = "Through Dask: in memory vs persisted"


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


def tasks(sipas, items) -> dict:
    return {
        "mean of q01": lambda d: sipas.mean(d, "q01"),
        "share by province": lambda d: sipas.proportion(d, "q01", value=[4, 5], by="province"),
        "22 shares x 63 provinces": lambda d: sipas.proportion(d, items, value=[4, 5],
                                                                by="province"),
    }


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def on_dask(frame, parts: Path, raked, margins, items, repeat: int) -> list[dict]:
    """The tasks on the raked design in memory and through Dask (persisted, ~256 MiB
    partitions), in the same run."""
    import logging

    import dask.dataframe as dd
    import distributed
    import numpy as np

    import sipas

    cluster = distributed.LocalCluster(n_workers=4, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    try:
        df = dd.read_parquet(str(parts)).repartition(partition_size="256MiB").persist()
        distributed.wait(df)
        design = sipas.Design(df, ids="commune", strata="province", weights="w")
        rake_mem, _ = timed(lambda: sipas.rake(sipas.Design(frame, ids="commune",
                                                            strata="province", weights="w"),
                                               margins, tol=1e-8))
        rake_dask, dk = timed(lambda: sipas.rake(design, margins, tol=1e-8))
        rows = [{"task": "rake (one call)", "mem": rake_mem, "dask": rake_dask,
                 "ratio": rake_dask / rake_mem, "parts": df.npartitions}]
        for name, fn in tasks(sipas, items).items():
            first_mem, a = timed(lambda fn=fn: fn(fresh(raked)))
            # the Dask design's projection caches are filled by the first task's first call
            first_dask, b = timed(lambda fn=fn: fn(dk))
            mem_s = best_of(fn, raked, repeat)
            dask_s = best_of(fn, dk, repeat)
            a, b = a.to_frame(), b.to_frame()
            diff = float(np.max(np.abs(a["se"] - b["se"]) / a["se"]))
            rows.append({"task": name, "mem": mem_s, "dask": dask_s, "ratio": dask_s / mem_s,
                         "first_mem": first_mem, "first_dask": first_dask,
                         "parts": df.npartitions, "diff": diff})
            print(f"{name:26s} in memory {mem_s:.3f} s  Dask {dask_s:.3f} s "
                  f"(x{dask_s / mem_s:.2f})  first call {first_mem:.3f} / {first_dask:.3f} s"
                  f"  SE diff {diff:.1e}", flush=True)
        return rows
    finally:
        client.close()
        cluster.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dask", action="store_true",
                    help="compare with the same estimates through Dask (not the row baseline)")
    ap.add_argument("--tag", default="",
                    help="suffix of the result file name (ad-hoc runs; the untagged "
                         "results/raked.md is the current one)")
    args = ap.parse_args()

    import numpy as np
    import synthetic

    import sipas

    frame = synthetic.load(args.n)
    design = sipas.Design(frame, ids="commune", strata="province", weights="w")
    raked = sipas.rake(design, synthetic.margins(), tol=1e-8)
    if args.dask:
        from bench_scale import parts_dir

        parts = parts_dir(args.n, 40)
        if not parts.exists():
            sys.exit(f"{parts} not found: run bench_scale.py at this size once (it writes "
                     "the 40 Parquet files)")
        rows = on_dask(frame, parts, raked, synthetic.margins(), synthetic.ITEMS, args.repeat)
        columns = [("task", "task (raked design)"), ("parts", "partitions"),
                   ("mem", "in memory s"), ("dask", "Dask s"), ("ratio", "Dask / in memory"),
                   ("first_mem", "1st call in memory s"), ("first_dask", "1st call Dask s"),
                   ("diff", "max rel. diff SE")]
        text = (f"{machine_note()}\n\n`{command_line()}`\n\nEstimates on a design raked to 4 "
                f"margins, in memory and through Dask (4 workers, persisted), n = {args.n:,} "
                f"(best of {args.repeat})\n\n" + table(rows, columns) + "\n")
        out = RESULTS / f"raked{args.tag}.md"
        write_section(out, TITLE, SECTION_DASK, text)
        print(f"written: {out} (section {SECTION_DASK!r})")
        return
    rows = []
    for name, fn in tasks(sipas, synthetic.ITEMS).items():
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
    text = (f"{machine_note()}\n\n`{command_line()}`\n\nEstimates on a design raked to 4 "
            f"margins, n = {args.n:,} (best of {args.repeat})\n\n" + table(rows, columns) + "\n")
    out = RESULTS / f"raked{args.tag}.md"
    write_section(out, TITLE, SECTION_MEMORY, text)
    print(f"written: {out} (section {SECTION_MEMORY!r})")


if __name__ == "__main__":
    main()
