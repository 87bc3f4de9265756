"""Benchmark of the "Scale" issue: the same survey tasks at 100,000 / 1,000,000 / 10,000,000
respondents, in memory and through Dask, beside a plain-numpy lower bound and two peers
(svy, R ``survey``).

Data: benchmarks/synthetic.py (63 provinces, ~20 communes each, 22 Likert items, 3% NaN).
Design: ``sipas.Design(frame, ids="commune", strata="province", weights="w")`` (built once,
outside the task time).

Tasks

  rake        ``sipas.rake(design, {sex, age_group, ethnicity, province}, tol=1e-8)``
  share       one share overall with Taylor SE: ``sipas.proportion(design, "q01",
              value=[4, 5])``
  share_prov  the same by 63 provinces (``by="province"``)
  items_prov  22 items x 63 provinces in one call: ``sipas.proportion(design, items,
              value=[4, 5], by="province")``
  boot        ``sipas.replicate(design, "bootstrap", replicates=200, rng=1)`` then
              ``sipas.mean(rep, "q01", by="province")`` (timed together)
  pipeline    ``sipas.pipeline.run(sipas.pipeline.load_pipeline(demo_pipeline_path()))``: the
              whole demo pipeline on the bundled 800-row demo survey (run once, not per size)

Engines

  memory        sipas on the pandas frame
  dask          sipas on ``dd.read_parquet(<n rows in --partitions files>)`` through a
                ``distributed.LocalCluster(n_workers=--workers, threads_per_worker=1)``: every
                call reads the Parquet files again (the out-of-core case)
  dask_persist  the same frame in the workers' memory, as the pandas frame is for
                ``memory``: ``.repartition(partition_size=--persist-size).persist()``, by
                default 256 MiB partitions (dask's default Parquet block size; the 40 files
                of 10M rows are 46 MiB each in memory, and each partition costs a task of
                fixed overhead per call: 40 partitions take about twice as long as 8)
  svy, R        peers of ``share`` (run here at 100k and 1M); the peers of the other tasks are
                taken from the earlier runs of bench_estimation.py / bench_weighting.py
                (``--peer-json``; the same computations: see "Peers" in README.md)

Lower bound (plain numpy, measured in the same worker process, on the same columns, design
codes -- PSU index, stratum of each PSU -- prepared outside the timing as a design build
does; best of ``--repeat``, at least 1 s of runs, the better of a measurement before and after
the task):

  share       num = w where q01 in {4, 5}, den = w where q01 is not NaN; 2 ``np.bincount``
              by PSU; the ratio; its linearized PSU totals ``(Sn - p Sd) / D``; the stratified
              between-PSU variance (with-replacement, as R's default)
  share_prov  the same with key ``psu * 63 + province code`` (2 bincounts over n rows)
  items_prov  the same for 22 items (44 bincounts over n rows, key computed once)
  boot        Rao-Wu factors (200 x 1,302, multinomial per stratum), 2 bincounts of the q01 sums
              per (PSU, province), replicate estimates by two (200 x PSU) @ (PSU x 63) products
  rake        joint cell code of the 4 margin columns (1,260 cells), 1 bincount of w, IPF on the
              cells with sipas's stopping rule, then ``w * f[cell]``

Each lower bound is checked against sipas's result (column ``lb_diff``: max relative
difference of estimate and SE, of the weights for ``rake``; estimate only for ``boot``).

Memory: peak RSS (VmHWM, reset once the frame is loaded) as in bench_estimation.py;
``peak/frame`` = (peak RSS - RSS after imports and warm-up) / the frame's
``memory_usage(deep=True)``. For Dask: the client process (which also runs the scheduler)
plus the sum of the worker processes' peaks, each minus its RSS after the warm-up.

Dask floor: in the same Dask session, the best time of the cheapest pass over the columns
the task reads (``df[cols].sum().compute()``: read them and add them up; a row count could
be answered from the Parquet metadata), and its ratio to the in-memory time: no Dask
implementation of the task can be much faster.

Dask results are checked against the in-memory ones at the same size (max relative
difference of estimate and SE; for ``rake``: of ``sipas.mean(raked, "q01")``, computed after
the timing).

Usage::

    python benchmarks/bench_scale.py                               # everything (~15 min on 2 cores)
    python benchmarks/bench_scale.py --sizes 1000000 --engines memory --tasks share items_prov
    python benchmarks/bench_scale.py --sizes 10000000 --engines dask --dask-sizes 10000000
    python benchmarks/bench_scale.py --profile                     # + profiles of the misses
    python benchmarks/bench_scale.py --sizes 10000000 --dask-sizes 10000000 --merge
                                   # rerun 10M only; keep the other rows of results/scale.json

Results: results/scale.md and scale.json, the current results (``--tag`` adds a suffix for
ad-hoc runs; scale.json is read back by ``--merge`` and ``--reuse``); every row that was
kept from an earlier run says which. Peer rows of rake/share_prov/items_prov/boot come from
results/estimation.json and results/weighting.json (``--peer-json``). Profiles go to
benchmarks/.cache/profiles/scale_*.txt (not kept in git).
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
    MIB,
    PROFILES,
    RESULTS,
    best_of,
    command_line,
    fmt,
    have_rscript,
    last_json,
    loadavg,
    machine_note,
    peak_rss,
    pkg_version,
    profile_top,
    r_versions,
    reset_peak,
    rss,
    run_child,
    table,
)

TASKS = ["rake", "share", "share_prov", "items_prov", "boot"]
# the data columns each task reads besides the design's (province, commune, w)
TASK_COLUMNS = {"rake": ["sex", "age_group", "ethnicity"], "share": ["q01"],
                "share_prov": ["q01"], "items_prov": [f"q{i:02d}" for i in range(1, 23)],
                "boot": ["q01"]}
ALL_TASKS = [*TASKS, "pipeline"]
ENGINES = ["memory", "dask", "dask_persist", "svy", "R"]
TOL = 1e-8
REPLICATES = 200
# peers reused from the earlier runs: this task -> (file, peer task)
PEER_TASK = {"rake": "rake", "share_prov": "b", "items_prov": "c", "boot": "d"}
DEFAULT_PEER_JSON = [RESULTS / "estimation.json", RESULTS / "weighting.json"]
# targets
TARGET_SVY = 5.0      # at 1M: at least 5x faster than svy
TARGET_R = 50.0       # at 1M: at least 50x faster than R
TARGET_LB = 2.0       # at 1M: within 2x of the plain-numpy lower bound
TARGET_MEM = 3.0      # at 1M: peak < 3x the frame
TARGET_DASK = 3.0     # at 10M: Dask within 3x of in memory
MEMORY_LIMIT_GB = 24  # at 10M: in memory within the machine's 24 GB


def parts_dir(n: int, partitions: int) -> Path:
    import synthetic

    base = synthetic.path_for(n)
    return base.with_name(f"{base.stem}_parts{partitions}")


def check_dir() -> Path:
    import synthetic

    return synthetic.CACHE / "scale_check"


# ---------------------------------------------------------------------- data

def build_parts(n: int, partitions: int) -> Path:
    """Write the n-row survey as ``partitions`` Parquet files of equal row counts (rows stay
    sorted by province and commune, so a commune can straddle two files)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import synthetic

    out = parts_dir(n, partitions)
    if (out / "_done").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    frame = synthetic.load(n)
    tbl = pa.Table.from_pandas(frame, preserve_index=False)
    del frame
    step = -(-n // partitions)
    for i in range(partitions):
        pq.write_table(tbl.slice(i * step, step), out / f"part.{i:03d}.parquet",
                       compression="zstd")
    (out / "_done").write_text(str(partitions))
    return out


# ---------------------------------------------------------------------- lower bounds

class Codes:
    """Design codes for the numpy lower bound, prepared outside the timing (what a design
    build does): PSU index per row, stratum of each PSU, PSUs per stratum."""

    def __init__(self, frame):
        import numpy as np
        import pandas as pd

        psu, ids = pd.factorize(frame["commune"].to_numpy(), sort=True)
        self.psu = psu.astype(np.int64)
        self.U = len(ids)
        strat, sids = pd.factorize(frame["province"].to_numpy(), sort=True)
        self.H = len(sids)
        self.strat_of_psu = np.zeros(self.U, dtype=np.int64)
        self.strat_of_psu[self.psu] = strat
        order = np.argsort(self.strat_of_psu, kind="stable")
        self.order = order  # PSUs grouped by stratum
        self.nh = np.bincount(self.strat_of_psu, minlength=self.H)
        self.starts = np.concatenate([[0], np.cumsum(self.nh)[:-1]])
        self.fh = (self.nh / (self.nh - 1.0))[self.strat_of_psu]


def _small_codes(values):
    """Codes 0..L-1 of small non-negative integer values (by a bincount, not a hash)."""
    import numpy as np

    present = np.bincount(values) > 0
    code_of = np.cumsum(present) - 1
    return code_of[values].astype(np.int64), int(present.sum()), np.flatnonzero(present)


def _strat_var(z, c: Codes):
    """Stratified between-PSU variance of PSU totals z (U x K), with replacement."""
    import numpy as np

    zs = z[c.order]
    zh = np.add.reduceat(zs, c.starts, axis=0)
    dev = z - (zh / c.nh[:, None])[c.strat_of_psu]
    return (c.fh[:, None] * dev * dev).sum(axis=0)


def _share_parts(frame, item):
    import numpy as np

    w = frame["w"].to_numpy()
    y = frame[item].to_numpy()
    num = np.where((y == 4) | (y == 5), w, 0.0)
    den = np.where(np.isnan(y), 0.0, w)
    return num, den


def lb_share(frame, c: Codes):
    import numpy as np

    num, den = _share_parts(frame, "q01")
    sn = np.bincount(c.psu, weights=num, minlength=c.U)
    sd = np.bincount(c.psu, weights=den, minlength=c.U)
    d = sd.sum()
    p = sn.sum() / d
    z = ((sn - p * sd) / d)[:, None]
    return np.array([p]), np.sqrt(_strat_var(z, c))


def _domain_key(frame, c: Codes):
    dom, n_dom, _ = _small_codes(frame["province"].to_numpy())
    return c.psu * n_dom + dom, n_dom


def _by_domain_shares(frame, c: Codes, items):
    import numpy as np

    key, nd = _domain_key(frame, c)
    size = c.U * nd
    sn = np.empty((c.U, nd, len(items)))
    sd = np.empty((c.U, nd, len(items)))
    for j, it in enumerate(items):
        num, den = _share_parts(frame, it)
        sn[:, :, j] = np.bincount(key, weights=num, minlength=size).reshape(c.U, nd)
        sd[:, :, j] = np.bincount(key, weights=den, minlength=size).reshape(c.U, nd)
    d = sd.sum(axis=0)
    p = sn.sum(axis=0) / d
    z = ((sn - p * sd) / d).reshape(c.U, -1)
    se = np.sqrt(_strat_var(z, c))
    return p.ravel(), se  # domain-major, item-minor (sipas's table order)


def lb_share_prov(frame, c: Codes):
    return _by_domain_shares(frame, c, ["q01"])


def lb_items_prov(frame, c: Codes):
    import synthetic

    return _by_domain_shares(frame, c, synthetic.ITEMS)


def lb_boot(frame, c: Codes):
    import numpy as np

    rng = np.random.default_rng(1)
    fac = np.empty((REPLICATES, c.U))
    for h in range(c.H):
        nh = int(c.nh[h])
        sel = c.order[c.starts[h]:c.starts[h] + nh]
        counts = rng.multinomial(nh - 1, np.full(nh, 1.0 / nh), size=REPLICATES)
        fac[:, sel] = counts * (nh / (nh - 1.0))
    key, nd = _domain_key(frame, c)
    w = frame["w"].to_numpy()
    y = frame["q01"].to_numpy()
    ok = ~np.isnan(y)
    num = np.where(ok, y * w, 0.0)
    den = np.where(ok, w, 0.0)
    size = c.U * nd
    sn = np.bincount(key, weights=num, minlength=size).reshape(c.U, nd)
    sd = np.bincount(key, weights=den, minlength=size).reshape(c.U, nd)
    full = sn.sum(axis=0) / sd.sum(axis=0)
    reps = (fac @ sn) / (fac @ sd)
    se = np.sqrt(((reps - reps.mean(axis=0)) ** 2).sum(axis=0) / (REPLICATES - 1))
    return full, se


def lb_rake(frame, c: Codes):
    import numpy as np
    import synthetic

    margins = synthetic.margins()
    names = ["province", "ethnicity", "age_group", "sex"]
    codes, dims, targets = [], [], []
    for v in names:
        code, k, levels = _small_codes(frame[v].to_numpy())
        codes.append(code)
        dims.append(k)
        targets.append(np.array([margins[v][int(lv)] for lv in levels]))
    cell = codes[0]
    for code, k in zip(codes[1:], dims[1:]):
        cell = cell * k + code
    w = frame["w"].to_numpy()
    size = np.bincount(cell, weights=w, minlength=int(np.prod(dims))).reshape(dims)
    eps = TOL * float(targets[0].sum())
    f = np.ones_like(size)
    old = size.copy()
    axes = range(len(dims))
    sweep_order = [3, 2, 1, 0]  # sex, age group, ethnicity, province: the margins' order
    for _ in range(1000):
        for ax in sweep_order:
            t = targets[ax]
            other = tuple(a for a in axes if a != ax)
            tot = (size * f).sum(axis=other)
            shape = [1] * len(dims)
            shape[ax] = dims[ax]
            f = f * np.where(tot > 0, t / np.where(tot > 0, tot, 1.0), 1.0).reshape(shape)
        new = size * f
        mis = max(float(np.max(np.abs(new.sum(axis=tuple(a for a in axes if a != ax)) - t)))
                  for ax, t in zip(axes, targets))
        if np.max(np.abs(new - old)) < eps and mis < eps:
            break
        old = new
    return w * f.ravel()[cell]


LOWER_BOUNDS = {"share": lb_share, "share_prov": lb_share_prov, "items_prov": lb_items_prov,
                "boot": lb_boot, "rake": lb_rake}
LB_WHAT = {
    "share": "2 bincounts (w x in-codes, w x answered) by PSU + linearized stratified variance",
    "share_prov": "2 bincounts by (PSU, province) + linearized stratified variance",
    "items_prov": "44 bincounts by (PSU, province) + linearized stratified variance",
    "boot": "Rao-Wu factors + 2 bincounts by (PSU, province) + (200 x PSU) @ (PSU x 63)",
    "rake": "cell code + 1 bincount of w by 1,260 cells + IPF on cells + w * f[cell]",
}


def rel_diff(a, b) -> float:
    """Max relative difference (absolute where the reference is 0)."""
    import numpy as np

    a = np.asarray(a, dtype="float64").ravel()
    b = np.asarray(b, dtype="float64").ravel()
    if a.shape != b.shape:
        return float("inf")
    scale = np.where(a != 0, np.abs(a), 1.0)
    d = np.abs(a - b) / scale
    d = d[~(np.isnan(a) & np.isnan(b))]
    return float(d.max()) if d.size else 0.0


# ---------------------------------------------------------------------- sipas tasks

def sipas_fns(sipas, design, items, margins):
    def boot():
        rep = sipas.replicate(design, "bootstrap", replicates=REPLICATES, rng=1)
        return sipas.mean(rep, "q01", by="province")

    return {
        "rake": lambda: sipas.rake(design, margins, tol=TOL),
        "share": lambda: sipas.proportion(design, "q01", value=[4, 5]),
        "share_prov": lambda: sipas.proportion(design, "q01", value=[4, 5], by="province"),
        "items_prov": lambda: sipas.proportion(design, items, value=[4, 5], by="province"),
        "boot": boot,
    }


def _outputs(sipas, task: str, out) -> tuple[dict, dict]:
    """(arrays for the Dask check, scalars for the JSON) of a task's result."""
    import numpy as np

    if task == "rake":
        summ = out.history[-1].summary
        ach = [(m["achieved"], m["target"]) for m in summ["margins"]]
        misfit = max(abs(a - t) / t for a, t in ach)
        t = time.perf_counter()
        chk = sipas.mean(out, "q01").to_frame()
        check_s = time.perf_counter() - t
        arrays = {"est": chk["estimate"].to_numpy(float), "se": chk["se"].to_numpy(float),
                  "achieved": np.array([a for a, _ in ach])}
        return arrays, {"sweeps": summ.get("iterations"), "max_rel_misfit": misfit,
                        "check_s": check_s, "est": float(arrays["est"][0]),
                        "se": float(arrays["se"][0])}
    tab = out.to_frame()
    arrays = {"est": tab["estimate"].to_numpy(float), "se": tab["se"].to_numpy(float)}
    return arrays, {"rows": len(tab), "est": float(arrays["est"][0]),
                    "se": float(arrays["se"][0])}


def _release_arrow() -> None:
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:
        pass


def worker_memory(task: str, n: int, repeat: int, profile: bool) -> dict:
    import numpy as np
    import synthetic

    import sipas

    items, margins = synthetic.ITEMS, synthetic.margins()
    small = synthetic.generate(5000)
    d_small = sipas.Design(small, ids="commune", strata="province", weights="w")
    _outputs(sipas, task, sipas_fns(sipas, d_small, items, margins)[task]())
    LOWER_BOUNDS[task](small, Codes(small))
    del small, d_small
    gc.collect()
    rss_imports = rss()

    t = time.perf_counter()
    frame = synthetic.load(n)
    load_s = time.perf_counter() - t
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    _release_arrow()
    gc.collect()

    codes = Codes(frame)
    lb_fn = LOWER_BOUNDS[task]
    reset_peak()
    rss_lb = rss()
    lb_s, _, lb_out = best_of(lambda: lb_fn(frame, codes), repeat, min_time=1.0)
    lb_mib = (peak_rss() - rss_lb) / MIB
    del lb_out
    gc.collect()
    reset_peak()

    t = time.perf_counter()
    design = sipas.Design(frame, ids="commune", strata="province", weights="w")
    design_s = time.perf_counter() - t
    prep_peak = peak_rss()
    fn = sipas_fns(sipas, design, items, margins)[task]
    gc.collect()
    reset_peak()
    rss_before = rss()
    t = time.perf_counter()
    out = fn()
    cold_s = time.perf_counter() - t
    cold_peak = peak_rss()
    out = None
    best, times, out = best_of(fn, repeat)
    task_peak = max(cold_peak, peak_rss())
    load_end = loadavg()
    peak = max(prep_peak, task_peak)

    lb_s2, _, lb_out = best_of(lambda: lb_fn(frame, codes), repeat, min_time=1.0)
    arrays, scalars = _outputs(sipas, task, out)
    if task == "rake":
        lb_diff = rel_diff(out.weight_array, lb_out)
    elif task == "boot":
        lb_diff = rel_diff(arrays["est"], lb_out[0])  # SEs differ: different draws
    else:
        lb_diff = max(rel_diff(arrays["est"], lb_out[0]), rel_diff(arrays["se"], lb_out[1]))
    check_dir().mkdir(parents=True, exist_ok=True)
    np.savez(check_dir() / f"{task}_{n}.npz", **arrays)
    res = {
        "engine": "memory", "task": task, "n": n, "load_s": load_s,
        "frame_mib": frame_bytes / MIB, "rss_imports_mib": rss_imports / MIB,
        "design_s": design_s, "cold_s": cold_s, "best_s": best, "times": times,
        "lb_s": min(lb_s, lb_s2), "lb_mib": lb_mib, "lb_diff": lb_diff,
        "peak_mib": peak / MIB, "task_extra_mib": (task_peak - rss_before) / MIB,
        "peak_ratio": (peak - rss_imports) / frame_bytes,
        "peak_above_imports_mib": (peak - rss_imports) / MIB,
        "loadavg": load_end, **scalars,
    }
    if profile:
        path = PROFILES / f"scale_{task}_memory_{n}.txt"
        res["profile"] = str(path)
        print(profile_top(fn, 15, path), file=sys.stderr)
    return res


# ---------------------------------------------------------------------- Dask

def _worker_reset() -> int:
    from _common import reset_peak as rp
    from _common import rss as r

    rp()
    return r()


def _worker_release() -> int:
    """Give the memory freed while loading back to the system, so that the workers' peak is
    the persisted frame and the task: pyarrow's pool keeps what the Parquet reads and the
    repartition used (about 1.2 GB over 4 workers at 10M rows), and glibc keeps freed heap
    (dask's documented ``malloc_trim`` idiom)."""
    import ctypes

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    return ctypes.CDLL("libc.so.6").malloc_trim(0)


def _worker_peak() -> int:
    from _common import peak_rss as p

    return p()


def _task_stream_summary(records: list[dict]) -> str:
    """Worker time per task name and transfer volume from a distributed task stream."""
    from collections import defaultdict

    comp: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    transfer_s = 0.0
    for rec in records:
        name = rec["key"][0] if isinstance(rec["key"], tuple) else rec["key"]
        name = str(name).split("-")[0] if "-" in str(name) else str(name)
        for st in rec.get("startstops", []):
            dt = st["stop"] - st["start"]
            if st["action"] == "compute":
                comp[name][0] += 1
                comp[name][1] += dt
            elif st["action"] == "transfer":
                transfer_s += dt
        comp[name][2] += rec.get("nbytes", 0) or 0
    lines = ["worker wall time by task name, summed over the workers (4 processes share 2 "
             "cores, so the sum exceeds the CPU time), and the size of the tasks' results:",
             f"{'task':40s} {'n':>5s} {'seconds':>9s} {'result MiB':>11s}"]
    for name, (k, s, b) in sorted(comp.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"{name[:40]:40s} {k:5d} {s:9.3f} {b / MIB:11.1f}")
    lines.append(f"transfers between workers: {transfer_s:.3f} s")
    return "\n".join(lines)


def _worker_profile_summary(state: dict, top: int = 20, interval: float = 0.01) -> str:
    """Top functions of distributed's statistical profile of the workers (samples every
    ``interval`` s of each worker thread): inclusive and own samples per function."""
    from collections import Counter

    incl: Counter = Counter()
    own: Counter = Counter()

    def key(node):
        d = node.get("description") or {}
        return f"{Path(str(d.get('filename', '?'))).name}:{d.get('name', '?')}"

    def walk(node, above):
        k = key(node)
        if k not in above:
            incl[k] += node["count"]
        kids = node.get("children", {}).values()
        own[k] += node["count"] - sum(c["count"] for c in kids)
        for c in kids:
            walk(c, above | {k})

    total = state.get("count", 0)
    for child in state.get("children", {}).values():
        walk(child, frozenset())
    if not total:
        return "(no samples)"
    lines = [f"worker statistical profile: {total} samples x {interval * 1000:.0f} ms = "
             f"{total * interval:.1f} s of worker-thread time", "", "by inclusive samples:",
             f"{'samples':>8s} {'share':>6s}  function"]
    lines += [f"{c:8d} {c / total:6.1%}  {k}" for k, c in incl.most_common(top)]
    lines += ["", "by own samples (the line running when sampled, per function):",
              f"{'samples':>8s} {'share':>6s}  function"]
    lines += [f"{c:8d} {c / total:6.1%}  {k}" for k, c in own.most_common(top)]
    return "\n".join(lines)


def worker_dask(task: str, n: int, repeat: int, profile: bool, partitions: int,
                n_workers: int, persist: str | None) -> dict:
    import logging

    import dask
    import dask.dataframe as dd
    import distributed
    import numpy as np
    import synthetic

    import sipas

    items, margins = synthetic.ITEMS, synthetic.margins()
    cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    try:
        small = dd.from_pandas(synthetic.generate(5000), npartitions=n_workers)
        d_small = sipas.Design(small, ids="commune", strata="province", weights="w")
        _outputs(sipas, task, sipas_fns(sipas, d_small, items, margins)[task]())
        del small, d_small
        gc.collect()
        client.run(gc.collect)
        rss_imports = rss()
        w_imports = client.run(_worker_reset)

        path = parts_dir(n, partitions)
        t = time.perf_counter()
        df = dd.read_parquet(str(path))
        if persist:
            df = df.repartition(partition_size=persist).persist()
            distributed.wait(df)
            client.run(_worker_release)
        load_s = time.perf_counter() - t
        frame_bytes = int(sum(np.dtype(dt).itemsize for dt in df.dtypes) * n + 132)
        t = time.perf_counter()
        design = sipas.Design(df, ids="commune", strata="province", weights="w")
        design_s = time.perf_counter() - t
        fn = sipas_fns(sipas, design, items, margins)[task]
        # Dask's floor: the cheapest pass over the columns the task reads (their sums: a row
        # count could come from the Parquet metadata without reading), measured the same way
        cols = list(dict.fromkeys(["province", "commune", "w", *TASK_COLUMNS[task]]))
        floor_s, _t, _o = best_of(lambda: df[cols].sum().compute(), repeat)
        gc.collect()
        reset_peak()
        rss_before = rss()
        w_before = client.run(_worker_reset)
        t = time.perf_counter()
        out = fn()
        cold_s = time.perf_counter() - t
        out = None
        best, times, out = best_of(fn, repeat)
        load_end = loadavg()
        c_peak = peak_rss()
        w_peak = client.run(_worker_peak)
        arrays, scalars = _outputs(sipas, task, out)
        ref_path = check_dir() / f"{task}_{n}.npz"
        diff_est = diff_se = None
        if ref_path.exists():
            ref = np.load(ref_path)
            diff_est = rel_diff(ref["est"], arrays["est"])
            diff_se = rel_diff(ref["se"], arrays["se"])
            if task == "rake":
                diff_est = max(diff_est, rel_diff(ref["achieved"], arrays["achieved"]))
        w_peak_sum = sum(w_peak.values())
        w_imports_sum = sum(w_imports.values())
        res = {
            "engine": "dask_persist" if persist else "dask", "task": task, "n": n,
            "partitions": df.npartitions, "workers": n_workers, "load_s": load_s,
            "frame_mib": frame_bytes / MIB, "design_s": design_s, "cold_s": cold_s,
            "best_s": best, "times": times, "floor_s": floor_s,
            "client_peak_mib": c_peak / MIB, "workers_peak_mib": w_peak_sum / MIB,
            "peak_mib": (c_peak + w_peak_sum) / MIB,
            "task_extra_mib": (c_peak - rss_before + w_peak_sum
                               - sum(w_before.values())) / MIB,
            "peak_ratio": (c_peak - rss_imports + w_peak_sum - w_imports_sum) / frame_bytes,
            "diff_est": diff_est, "diff_se": diff_se, "loadavg": load_end, **scalars,
        }
        if profile:
            text = [f"# Dask {res['engine']} {task} n={n:,}: distributed run "
                    f"(best {best:.3f} s)\n"]
            with distributed.get_task_stream(client) as ts:
                t0 = time.time()
                t = time.perf_counter()
                fn()
                run_s = time.perf_counter() - t
            time.sleep(1.5)  # let the workers' profile cycle close
            text.append(f"one more distributed run: {run_s:.3f} s\n")
            text.append(_task_stream_summary(ts.data))
            text.append("\n\n# workers' statistical profile of that run\n")
            text.append(_worker_profile_summary(client.profile(start=t0)))
            text.append("\n\n# client-side cProfile of a distributed run (where the client "
                        "waits)\n")
            text.append(profile_top(fn, 12))
            if not persist:  # persisted partitions live on the workers only
                text.append("\n\n# cProfile with dask's synchronous scheduler (all partition "
                            "work in this process)\n")
                # drop_duplicates (domain labels) picks the P2P shuffle under a distributed
                # client; P2P needs workers, so the synchronous run uses the task shuffle
                with dask.config.set({"scheduler": "synchronous",
                                      "dataframe.shuffle.method": "tasks"}):
                    fn()  # warm
                    text.append(profile_top(fn, 25))
            path = PROFILES / f"scale_{task}_{res['engine']}_{n}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(text))
            res["profile"] = str(path)
            print("\n".join(text), file=sys.stderr)
        return res
    finally:
        client.close()
        cluster.close()


# ---------------------------------------------------------------------- pipeline

def worker_pipeline(repeat: int, profile: bool) -> dict:
    import sipas.pipeline as pp

    path = pp.demo_pipeline_path()
    gc.collect()
    rss_imports = rss()
    reset_peak()

    def fn():
        return pp.run(pp.load_pipeline(path))

    t = time.perf_counter()
    out = fn()
    cold_s = time.perf_counter() - t
    best, times, out = best_of(fn, repeat)
    peak = peak_rss()
    frame_bytes = int(out.data.frame.memory_usage(deep=True).sum())
    res = {
        "engine": "memory", "task": "pipeline", "n": len(out.data.frame), "cold_s": cold_s,
        "best_s": best, "times": times, "frame_mib": frame_bytes / MIB,
        "peak_mib": peak / MIB, "peak_above_imports_mib": (peak - rss_imports) / MIB,
        "peak_ratio": (peak - rss_imports) / frame_bytes, "tables": len(out.tables),
        "steps_s": {k: round(v, 4) for k, v in (getattr(out, "timings", {}) or {}).items()},
        "loadavg": loadavg(),
    }
    if profile:
        path = PROFILES / "scale_pipeline.txt"
        res["profile"] = str(path)
        print(profile_top(fn, 15, path), file=sys.stderr)
    return res


# ---------------------------------------------------------------------- peers of `share`

def worker_svy(n: int, repeat: int) -> dict:
    import polars as pl
    import svy
    import synthetic

    def prep(data):
        return data.with_columns((pl.col("q01") >= 4).cast(pl.Float64).alias("s_q01"))

    design = svy.Design(stratum="province", psu="commune", wgt="w")
    small = prep(pl.from_pandas(synthetic.generate(5000)))
    svy.Sample(small, design).estimation.mean("s_q01", drop_nulls=True)
    del small
    gc.collect()
    rss_imports = rss()
    data = svy.read_parquet(str(synthetic.path_for(n)))
    frame_bytes = int(data.estimated_size())
    gc.collect()
    reset_peak()
    data = prep(data)
    sample = svy.Sample(data, design)
    prep_peak = peak_rss()
    gc.collect()
    reset_peak()

    def fn():
        return sample.estimation.mean("s_q01", drop_nulls=True)

    t = time.perf_counter()
    out = fn()
    cold_s = time.perf_counter() - t
    best, times, out = best_of(fn, repeat)
    peak = max(prep_peak, peak_rss())
    first = out.to_polars()
    return {"engine": "svy", "task": "share", "n": n, "cold_s": cold_s, "best_s": best,
            "times": times, "frame_mib": frame_bytes / MIB, "peak_mib": peak / MIB,
            "peak_ratio": (peak - rss_imports) / frame_bytes,
            "est": float(first["est"][0]), "se": float(first["se"][0]), "loadavg": loadavg()}


R_SHARE = r"""
args <- commandArgs(trailingOnly = TRUE)
csv <- args[1]; reps <- as.integer(args[2])
suppressPackageStartupMessages(library(survey))
df <- if (requireNamespace("data.table", quietly = TRUE)) {
  as.data.frame(data.table::fread(csv, showProgress = FALSE)) } else read.csv(csv)
df$s_q01 <- as.numeric(df$q01 >= 4)
des <- svydesign(ids = ~commune, strata = ~province, weights = ~w, data = df)
times <- c(); peak <- 0
for (i in seq_len(reps)) {
  invisible(gc(reset = TRUE))
  times <- c(times, system.time(out <- svymean(~s_q01, des, na.rm = TRUE))[["elapsed"]])
  peak <- max(peak, sum(gc()[, 6]))
}
cat(sprintf('{"engine":"R","task":"share","best_s":%.6f,"times":[%s],"est":%.12g,"se":%.12g,"r_heap_peak_mib":%.1f}\n',
            min(times), paste(sprintf("%.6f", times), collapse = ","), coef(out)[[1]],
            SE(out)[[1]], peak))
"""


def run_r_share(n: int, repeat: int, timeout: float) -> dict | None:
    import tempfile

    import synthetic

    rs = have_rscript()
    if not rs:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_SHARE)
    try:
        code, out, err, maxrss = run_child([rs, fh.name, str(synthetic.csv_for(n)), str(repeat)],
                                           timeout=timeout)
    finally:
        os.unlink(fh.name)
    res = last_json(out)
    if code != 0 or res is None:
        print(f"[R share n={n}] failed ({code}): {err[-2000:]}", file=sys.stderr)
        return None
    res.update({"n": n, "process_maxrss_mib": maxrss, "loadavg": loadavg(),
                "peak_mib": res.get("r_heap_peak_mib")})
    return res


def reused_peers(files: list[Path], sizes: list[int]) -> list[dict]:
    rows = []
    back = {v: k for k, v in PEER_TASK.items()}
    for f in files:
        if not Path(f).exists():
            print(f"note: peer file {f} not found")
            continue
        data = json.loads(Path(f).read_text())
        for r in data["results"]:
            if r.get("engine") in ("svy", "R") and r["n"] in sizes and r["task"] in back:
                row = dict(r)
                row["task"] = back[r["task"]]
                row["reused_from"] = Path(f).name
                rows.append(row)
    return rows


# ---------------------------------------------------------------------- driver

def earlier_rows(path: Path) -> list[dict]:
    """The rows of an earlier results JSON, each marked with the run it comes from."""
    data = json.loads(path.read_text())
    return [{**r, "run": r.get("run") or data.get("machine", path.name)}
            for r in data["results"]]


def selected(row: dict, args, engines: list[str]) -> bool:
    """Whether this run measures the row's (engine, task, size)."""
    engine, task, n = row.get("engine"), row["task"], row["n"]
    if task == "pipeline":
        return "pipeline" in args.tasks and "memory" in engines
    if engine in ("svy", "R") and "reused_from" in row:
        return n in args.sizes  # peers reused from --peer-json are read again
    if task not in args.tasks or engine not in engines:
        return False
    return n in (args.dask_sizes if str(engine).startswith("dask") else args.sizes)


def run_worker(args_list: list[str], timeout: float) -> dict | None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, str(Path(__file__).resolve()), *args_list]
    code, out, err, maxrss = run_child(cmd, timeout=timeout, env=env)
    res = last_json(out)
    if code != 0 or res is None:
        print(f"[{' '.join(args_list)}] failed ({code}):\n{err[-3000:]}", file=sys.stderr)
        return None
    res["process_maxrss_mib"] = maxrss
    if "--profile" in args_list and err.strip():
        res["profile_text"] = err
    return res


def _say(res: dict) -> None:
    extra = ""
    if res["engine"] == "memory" and "lb_s" in res:
        extra = f" lb {res['lb_s']:.4f} (x{res['best_s'] / res['lb_s']:.1f}, diff " \
                f"{res['lb_diff']:.1e})"
    if res["engine"].startswith("dask"):
        extra = f" diff est {fmt(res.get('diff_est'))} se {fmt(res.get('diff_se'))}"
    print(f"  {res['engine']:12s} {res['task']:10s} n={res['n']:>10,}  best "
          f"{res['best_s']:.3f} s (cold {res.get('cold_s', float('nan')):.3f}){extra} peak "
          f"{fmt(res.get('peak_mib'))} MiB = {fmt(res.get('peak_ratio'))}x  load "
          f"{res.get('loadavg')}", flush=True)


def _find(results, engine, task, n):
    return next((r for r in results if r.get("engine") == engine and r["task"] == task
                 and r["n"] == n and "best_s" in r), None)


def memory_rows(results: list[dict], sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        for task in TASKS:
            m = _find(results, "memory", task, n)
            if m is None:
                continue
            sv, rr = _find(results, "svy", task, n), _find(results, "R", task, n)
            row = {"task": task, "n": f"{n:,}", "sipas": m["best_s"], "cold": m["cold_s"],
                   "lb": m["lb_s"], "vs_lb": m["best_s"] / m["lb_s"],
                   "svy": sv["best_s"] if sv else None, "R": rr["best_s"] if rr else None,
                   "x_svy": sv["best_s"] / m["best_s"] if sv else None,
                   "x_R": rr["best_s"] / m["best_s"] if rr else None,
                   "peak": m["peak_mib"], "frame": m["frame_mib"], "pratio": m["peak_ratio"],
                   "lb_diff": m["lb_diff"], "load": m["loadavg"]}
            if n == 1_000_000:
                row["target"] = "; ".join(_target_marks(row))
            if n == 10_000_000:
                fits = m["peak_mib"] < MEMORY_LIMIT_GB * 1024
                row["target"] = (f"in memory: {'ok' if fits else 'MISS'}"
                                 f" ({m['peak_mib'] / 1024:.1f} GB)")
            rows.append(row)
    return rows


def _target_marks(row: dict) -> list[str]:
    marks = []
    if row["x_svy"] is not None:
        marks.append(f"svy {'ok' if row['x_svy'] >= TARGET_SVY else 'MISS'}")
    if row["x_R"] is not None:
        marks.append(f"R {'ok' if row['x_R'] >= TARGET_R else 'MISS'}")
    marks.append(f"lb {'ok' if row['vs_lb'] <= TARGET_LB else 'MISS'}")
    marks.append(f"mem {'ok' if row['pratio'] < TARGET_MEM else 'MISS'}")
    return marks


MEM_COLUMNS = [("task", "task"), ("n", "size"), ("sipas", "sipas s (best of 3)"),
               ("cold", "1st call s"), ("lb", "numpy lower bound s"), ("vs_lb", "sipas/lb"),
               ("svy", "svy s"), ("R", "R s"), ("x_svy", "svy/sipas"), ("x_R", "R/sipas"),
               ("peak", "peak RSS MiB"), ("frame", "frame MiB"), ("pratio", "peak/frame"),
               ("lb_diff", "lb vs sipas rel. diff"), ("load", "load avg"),
               ("target", "targets")]


def dask_rows(results: list[dict], sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        for task in TASKS:
            m = _find(results, "memory", task, n)
            for engine in ("dask", "dask_persist"):
                d = _find(results, engine, task, n)
                if d is None:
                    continue
                row = {"task": task, "n": f"{n:,}", "engine": engine,
                       "parts": d.get("partitions"),
                       "mem": m["best_s"] if m else None, "dask": d["best_s"],
                       "cold": d["cold_s"], "ratio": d["best_s"] / m["best_s"] if m else None,
                       "floor": d.get("floor_s"),
                       "fratio": d["floor_s"] / m["best_s"] if m and d.get("floor_s") else None,
                       "diff_est": d.get("diff_est"), "diff_se": d.get("diff_se"),
                       "client": d["client_peak_mib"], "workers": d["workers_peak_mib"],
                       "pratio": d["peak_ratio"], "load": d["loadavg"]}
                if n == 10_000_000 and row["ratio"] is not None:
                    ok = row["ratio"] <= TARGET_DASK
                    row["target"] = f"<= {TARGET_DASK:g}x {'ok' if ok else 'MISS'}"
                rows.append(row)
    return rows


DASK_COLUMNS = [("task", "task"), ("n", "size"), ("engine", "engine"),
                ("parts", "partitions"), ("mem", "in-memory s"), ("dask", "Dask s (best of 3)"),
                ("cold", "1st call s"),
                ("ratio", "Dask/in-memory"), ("floor", "Dask floor s"),
                ("fratio", "floor/in-memory"), ("diff_est", "max rel. diff estimate"),
                ("diff_se", "max rel. diff SE"), ("client", "client peak MiB"),
                ("workers", "workers' peak MiB (sum)"), ("pratio", "peak/frame"),
                ("load", "load avg"), ("target", "target @10M")]

GROWTH_COLUMNS = [("task", "task"), ("n", "n"), ("frame", "frame MiB"),
                  ("above", "peak - imports MiB"), ("pratio", "peak/frame"),
                  ("own", "task's own working MiB"), ("lbmib", "lower bound's working MiB")]


def growth_rows(results: list[dict], sizes: list[int]) -> list[dict]:
    rows = []
    for task in TASKS:
        for n in sizes:
            m = _find(results, "memory", task, n)
            if m:
                rows.append({"task": task, "n": f"{n:,}", "frame": m["frame_mib"],
                             "above": m["peak_above_imports_mib"], "pratio": m["peak_ratio"],
                             "own": m["task_extra_mib"], "lbmib": m["lb_mib"]})
    return rows


def _provenance(results: list[dict]) -> list[str]:
    """Which rows come from earlier runs (kept by --merge or --reuse)."""
    earlier: dict[str, dict[tuple[str, int], list[str]]] = {}
    for r in results:
        if r.get("run") and r.get("engine") not in ("svy", "R"):
            earlier.setdefault(r["run"], {}).setdefault((r["engine"], r["n"]), []).append(
                r["task"])
    lines = []
    for run, groups in earlier.items():
        what = [f"{engine} {n:,}" + ("" if set(TASKS) <= set(tasks) else
                                     f" ({', '.join(tasks)})")
                for (engine, n), tasks in groups.items()]
        lines += [f"Rows from an earlier run ({run}): {'; '.join(what)}", ""]
    return lines


def render(results: list[dict], sizes: list[int], dask_sizes: list[int],
           header: str | None = None) -> str:
    parts = [header or f"{machine_note()}\n\n`{command_line()}`", ""]
    parts += _provenance(results)
    parts += ["## In memory", "", table(memory_rows(results, sizes), MEM_COLUMNS), ""]
    peers = sorted({(r["engine"], r["task"],
                     r.get("reused_from") or (f"earlier run, {r['run'].split(' · ')[0]}"
                                              if r.get("run") else "this run"))
                    for r in results if r.get("engine") in ("svy", "R")})
    if peers:
        parts.append("Peer rows: " + "; ".join(f"{e} {t} ({src})" for e, t, src in peers))
        parts.append("")
    pl = _find(results, "memory", "pipeline", next((r["n"] for r in results
                                                    if r["task"] == "pipeline"), -1))
    if pl:
        parts += ["## Demo pipeline (800 rows)", "",
                  table([{"task": "pipeline", "n": f"{pl['n']:,}", "best": pl["best_s"],
                          "cold": pl["cold_s"], "peak": pl["peak_mib"],
                          "above": pl["peak_above_imports_mib"], "frame": pl["frame_mib"],
                          "load": pl["loadavg"],
                          "steps": ", ".join(f"{k} {v:.3f}" for k, v in pl["steps_s"].items())}],
                        [("task", "task"), ("n", "rows"), ("best", "s (best of 3)"),
                         ("cold", "1st call s"), ("peak", "peak RSS MiB"),
                         ("above", "peak - imports MiB"), ("frame", "frame MiB"),
                         ("load", "load avg"), ("steps", "steps s (last run)")]), ""]
    parts += ["## Memory growth (in memory)", "", table(growth_rows(results, sizes),
                                                       GROWTH_COLUMNS), ""]
    drows = dask_rows(results, dask_sizes)
    if drows:
        parts += ["## Dask", "", table(drows, DASK_COLUMNS), ""]
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000, 10_000_000])
    ap.add_argument("--dask-sizes", nargs="+", type=int, default=[1_000_000, 10_000_000])
    ap.add_argument("--tasks", nargs="+", default=ALL_TASKS, choices=ALL_TASKS)
    ap.add_argument("--engines", nargs="+", default=ENGINES, choices=ENGINES)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=40)
    ap.add_argument("--persist-size", default="256MiB",
                    help="largest partition of the dask_persist frame "
                         "(repartition(partition_size=...))")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--peer-json", nargs="*", default=[str(p) for p in DEFAULT_PEER_JSON],
                    help="earlier bench_estimation/bench_weighting results whose svy and R rows "
                         "are reused for rake, share_prov, items_prov and boot")
    ap.add_argument("--reuse", metavar="JSON",
                    help="keep the rows of an earlier bench_scale JSON and only run the "
                         "(engine, task, size) combinations it lacks (resume a run)")
    ap.add_argument("--merge", action="store_true",
                    help="rerun the selected sizes/engines/tasks and keep the other rows of "
                         "the current results/scale<tag>.json (one current file)")
    ap.add_argument("--profile", action="store_true",
                    help="profile every task that misses a target (1M and 10M; Dask at 10M)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--tag", default="",
                    help="suffix of the result file names (ad-hoc runs; the untagged "
                         "results/scale.md is the current one)")
    # worker mode (internal)
    ap.add_argument("--worker", choices=["memory", "dask", "dask_persist", "svy", "pipeline"])
    ap.add_argument("--task", choices=ALL_TASKS)
    ap.add_argument("--n", type=int)
    ap.add_argument("--build-parts", action="store_true")
    args = ap.parse_args()

    if args.build_parts:
        for n in args.dask_sizes:
            print(build_parts(n, args.partitions))
        return
    if args.worker:
        if args.worker == "memory":
            res = worker_memory(args.task, args.n, args.repeat, args.profile)
        elif args.worker == "pipeline":
            res = worker_pipeline(args.repeat, args.profile)
        elif args.worker == "svy":
            res = worker_svy(args.n, args.repeat)
        else:
            res = worker_dask(args.task, args.n, args.repeat, args.profile, args.partitions,
                              args.workers,
                              args.persist_size if args.worker == "dask_persist" else None)
        print(json.dumps(res, default=str))
        return

    print(machine_note())
    versions = {"sipas": pkg_version("sipas"), "numpy": pkg_version("numpy"),
                "pandas": pkg_version("pandas"), "dask": pkg_version("dask"),
                "distributed": pkg_version("distributed"), "svy": pkg_version("svy"),
                "R": r_versions()}
    print(" · ".join(f"{k} {v or 'not installed'}" for k, v in versions.items()))
    engines = list(args.engines)
    if "svy" in engines and not versions["svy"]:
        print("note: svy is not installed; its columns are empty")
        engines.remove("svy")
    if "R" in engines and not versions["R"]:
        print("note: R/survey is not available; its columns are empty")
        engines.remove("R")
    if any(e.startswith("dask") for e in engines) and not versions["distributed"]:
        print("note: dask/distributed are not installed; no Dask rows")
        engines = [e for e in engines if not e.startswith("dask")]
    tasks = [t for t in args.tasks if t in TASKS]
    peer_sizes = [n for n in args.sizes if n <= 1_000_000]
    if any(n > 1_000_000 for n in args.sizes):
        print("note: svy and R are not run above 1M rows (svy's bootstrap needs ~10 GB per "
              "million rows, R took 150-190 s per run for items_prov/boot at 1M)")

    results: list[dict] = []
    stem = f"scale{args.tag}"
    if args.reuse:
        results = earlier_rows(Path(args.reuse))
        print(f"rows reused from {args.reuse}: {len(results)}")
    if args.merge and (RESULTS / f"{stem}.json").exists():
        kept = [r for r in earlier_rows(RESULTS / f"{stem}.json")
                if not selected(r, args, engines)]
        results += [r for r in kept if _find(results, r["engine"], r["task"], r["n"]) is None]
        print(f"--merge: {len(kept)} rows of {RESULTS / stem}.json kept")
    RESULTS.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        (RESULTS / f"{stem}.json").write_text(json.dumps(
            {"machine": machine_note(), "command": command_line(), "versions": versions,
             "lower_bounds": LB_WHAT,
             "results": [{k: v for k, v in r.items() if k != "profile_text"}
                         for r in results]}, indent=1, default=str))

    def have(engine, task, n):
        return _find(results, engine, task, n) is not None

    def add(res):
        if res:
            results.append(res)
            _say(res)
            save()

    use_dask = any(e.startswith("dask") for e in engines)
    for n in sorted(set(args.sizes) | (set(args.dask_sizes) if use_dask else set())):
        run_child([sys.executable, str(HERE / "synthetic.py"), str(n)])
    if any(e.startswith("dask") for e in engines):
        code, _out, err, _ = run_child([sys.executable, str(Path(__file__).resolve()),
                                       "--build-parts", "--partitions", str(args.partitions),
                                       "--dask-sizes", *map(str, args.dask_sizes)])
        if code:
            print(err[-2000:])

    common = ["--repeat", str(args.repeat)]
    for n in args.sizes:
        if "memory" in engines:
            for task in tasks:
                if not have("memory", task, n):
                    add(run_worker(["--worker", "memory", "--task", task, "--n", str(n),
                                    *common], args.timeout))
        if n in peer_sizes:
            if "share" in tasks and "svy" in engines and not have("svy", "share", n):
                add(run_worker(["--worker", "svy", "--task", "share", "--n", str(n), *common],
                               args.timeout))
            if "share" in tasks and "R" in engines and not have("R", "share", n):
                add(run_r_share(n, args.repeat, args.timeout))
    if "pipeline" in args.tasks and "memory" in engines and not any(
            r["task"] == "pipeline" for r in results):
        add(run_worker(["--worker", "pipeline", "--task", "pipeline", *common], args.timeout))
    for engine in ("dask", "dask_persist"):
        if engine not in engines:
            continue
        for n in args.dask_sizes:
            for task in tasks:
                if not have(engine, task, n):
                    add(run_worker(["--worker", engine, "--task", task, "--n", str(n),
                                    "--partitions", str(args.partitions), "--workers",
                                    str(args.workers), "--persist-size", args.persist_size,
                                    *common], args.timeout))
    if args.peer_json and ("svy" in args.engines or "R" in args.engines):
        reused = [r for r in reused_peers([Path(p) for p in args.peer_json], peer_sizes)
                  if r["task"] in tasks and not have(r["engine"], r["task"], r["n"])]
        results += reused
        if reused:
            print(f"svy and R rows of {sorted({r['task'] for r in reused})} reused from "
                  f"{sorted({r['reused_from'] for r in reused})}")
        save()

    if args.profile:
        for res in list(results):
            miss = False
            if res.get("engine") == "memory" and res["task"] in TASKS and \
                    res["n"] == 1_000_000:
                row = next((r for r in memory_rows(results, [res["n"]])
                            if r["task"] == res["task"]), None)
                miss = row is not None and "MISS" in (row.get("target") or "")
            if res.get("engine", "").startswith("dask") and res["n"] >= 10_000_000:
                m = _find(results, "memory", res["task"], res["n"])
                miss = m is not None and res["best_s"] > TARGET_DASK * m["best_s"]
            if miss:
                engine = res["engine"]
                extra = (["--partitions", str(args.partitions), "--workers", str(args.workers),
                          "--persist-size", args.persist_size]
                         if engine.startswith("dask") else [])
                prof = run_worker(["--worker", engine, "--task", res["task"], "--n",
                                   str(res["n"]), "--repeat", "1", "--profile", *extra],
                                  args.timeout)
                if prof and prof.get("profile_text"):
                    print(f"\n### profile: {engine} {res['task']} n={res['n']:,}\n"
                          f"{prof['profile_text'][-12000:]}")
    sizes = sorted({*args.sizes, *(r["n"] for r in results
                                    if r.get("engine") == "memory" and r["task"] in TASKS)})
    dask_sizes = sorted({*args.dask_sizes, *(r["n"] for r in results
                                             if str(r.get("engine")).startswith("dask"))})
    text = render(results, sizes, dask_sizes)
    print()
    print(text)
    (RESULTS / f"{stem}.md").write_text(text + "\n")
    save()
    print(f"\nwritten: {RESULTS / stem}.md/.json   load avg at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
