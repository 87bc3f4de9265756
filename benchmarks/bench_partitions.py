"""How the number of Dask partitions and the workers' allocator setting change the time of
one estimate, beside the in-memory time measured in the same run.

Tasks (10,000,000 rows by default, the bench_scale.py data): one share with its SE
(``share``) and one share by 63 provinces (``share_prov``), best of ``--repeat`` after a
warm-up call.

Variants, each on a ``distributed.LocalCluster(n_workers=4, threads_per_worker=1)``:

  read          ``dd.read_parquet`` of the 40 files on every call (dask merges the projected
                files into fewer partitions)
  persist<k>    the whole frame persisted in the workers in ``k`` partitions
                (``repartition(npartitions=k).persist()``)

and two allocator settings of the workers:

  default       distributed's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` (glibc gives freed
                memory back at once, so the next partition's arrays are fresh pages)
  no-trim       that variable unset (``distributed.nanny.pre-spawn-environ``)

Usage::

    python benchmarks/bench_partitions.py                      # ~4 min on 2 cores
    python benchmarks/bench_partitions.py --n 1000000 --partitions 40 8 1

Prints a Markdown table; writes results/partitions.md, the current results (``--tag`` adds a
suffix for ad-hoc runs).
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import synthetic  # noqa: E402
from _common import RESULTS, command_line, machine_note  # noqa: E402
from bench_scale import parts_dir as scale_parts_dir  # noqa: E402


def best(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def tasks(sipas, design) -> dict:
    return {
        "share": lambda: sipas.proportion(design, "q01", value=[4, 5], ci="wald"),
        "share_prov": lambda: sipas.proportion(design, "q01", value=[4, 5], ci="wald",
                                               by="province"),
    }


def in_memory(n: int, repeat: int) -> dict[str, float]:
    import pandas as pd

    import sipas

    frame = pd.read_parquet(synthetic.path_for(n))
    design = sipas.Design(frame, ids="commune", strata="province", weights="w")
    out = {name: best(fn, repeat) for name, fn in tasks(sipas, design).items()}
    del design, frame
    gc.collect()
    return out


def on_dask(n: int, parts_dir: Path, counts: list[int], trim: bool, repeat: int) -> list[dict]:
    import dask
    import dask.dataframe as dd
    import distributed

    import sipas

    setting = {} if trim else {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_":
                               None}
    rows = []
    with dask.config.set(setting):
        cluster = distributed.LocalCluster(n_workers=4, threads_per_worker=1, processes=True,
                                           dashboard_address=None,
                                           silence_logs=logging.ERROR)
        client = distributed.Client(cluster)
        try:
            variants = [("read", lambda: dd.read_parquet(str(parts_dir)))]
            full = dd.read_parquet(str(parts_dir)).persist()
            distributed.wait(full)
            for k in counts:
                variants.append((f"persist{k}",
                                 lambda k=k: full if k == full.npartitions else
                                 full.repartition(npartitions=k).persist()))
            for name, make in variants:
                df = make()
                if name != "read":
                    distributed.wait(df)
                design = sipas.Design(df, ids="commune", strata="province", weights="w")
                for task, fn in tasks(sipas, design).items():
                    rows.append({"allocator": "default" if trim else "no-trim",
                                 "variant": name, "partitions": df.npartitions,
                                 "task": task, "s": best(fn, repeat)})
                    print(rows[-1], file=sys.stderr, flush=True)
                del design, df
        finally:
            client.close()
            cluster.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--files", type=int, default=40, help="Parquet files (bench_scale.py's)")
    ap.add_argument("--partitions", nargs="+", type=int, default=[40, 18, 8, 4])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tag", default="",
                    help="suffix of the result file name (ad-hoc runs; the untagged "
                         "results/partitions.md is the current one)")
    args = ap.parse_args()

    parts_dir = scale_parts_dir(args.n, args.files)
    if not parts_dir.exists():
        sys.exit(f"{parts_dir} not found: run bench_scale.py once at this size (it writes "
                 "the partitioned copy), or python benchmarks/bench_scale.py --build-parts")
    note = machine_note()
    memory = in_memory(args.n, args.repeat)
    rows = []
    for trim in (True, False):
        rows += on_dask(args.n, parts_dir, args.partitions, trim, args.repeat)
    lines = [note, "", f"`{command_line()}`", "", f"{args.n:,} rows; in memory: "
             + ", ".join(f"{t} {s:.3f} s" for t, s in memory.items()), "",
             "| allocator | variant | partitions | task | Dask s | Dask/in-memory |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['allocator']} | {r['variant']} | {r['partitions']} | {r['task']} "
                     f"| {r['s']:.3f} | {r['s'] / memory[r['task']]:.2f} |")
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"partitions{args.tag}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
