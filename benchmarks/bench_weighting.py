"""Benchmark of raking: 1,000,000 respondents to 4 margins (sex 2, age group 5,
ethnicity 2, province 63) to tol 1e-8, beside weightipy, svy and R ``survey::rake``.

Tasks (one fresh worker process each, best of ``--repeat`` after one cold run):

  sipas        ``sipas.rake(design, margins, tol=1e-8)`` from the design weights ``w``
               (design: ids=commune, strata=province, weights=w); the returned design also
               carries the calibration-aware variance projections, as R's rake does.
  sipas_unit   the same from equal starting weights (what weightipy does)
  weightipy    ``weightipy.weight(df, scheme)`` (Rim; always starts from weights 1, targets
               as shares; its own stopping rule ``convcrit``, see --weightipy-convcrit)
  svy          ``sample.weighting.rake(controls=margins, tol=1e-8)`` from ``w``
  R            ``rake(design, list(~sex, ~age_group, ~ethnicity, ~province), pops,
               control=list(epsilon=1e-8, maxit=100))`` timed inside R

Every engine reports the largest relative margin misfit it reached, |total - target| /
target over all levels of the 4 margins (for weightipy: on shares).

Usage::

    python benchmarks/bench_weighting.py                    # 1M, all engines
    python benchmarks/bench_weighting.py --sizes 100000 1000000 --engines sipas weightipy
    python benchmarks/bench_weighting.py --profile          # cProfile sipas.rake if over 0.3 s

Results: benchmarks/results/weighting.md (the current results; ``--tag`` adds a suffix for
ad-hoc runs) and weighting.json (read back by bench_scale.py ``--peer-json``); profiles go
to benchmarks/.cache/profiles/rake_<engine>_<n>.txt (not kept in git).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    MIB,
    PROFILES,
    RESULTS,
    best_of,
    command_line,
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

HERE = Path(__file__).resolve().parent
TOL = 1e-8
TARGET_S = 0.3  # rake of 1M rows
MARGIN_VARS = ["sex", "age_group", "ethnicity", "province"]
ENGINES = ["sipas", "sipas_unit", "weightipy", "svy", "R"]


def _misfit(frame_cols: dict, w, margins: dict, shares: bool = False) -> float:
    """Largest relative |total - target| / target over every level of every margin."""
    import numpy as np

    worst = 0.0
    grand = sum(next(iter(margins.values())).values())
    for var, targets in margins.items():
        codes = np.asarray(frame_cols[var])
        got = np.bincount(codes, weights=w, minlength=max(targets) + 1)
        if shares:
            got = got / w.sum() * grand
        for level, t in targets.items():
            worst = max(worst, abs(got[level] - t) / t)
    return float(worst)


def _release_arrow() -> None:
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:
        pass


def worker(engine: str, n: int, repeat: int, profile: bool, convcrit: float) -> dict:
    import numpy as np
    import synthetic

    margins = synthetic.margins()
    extra: dict = {}

    if engine in ("sipas", "sipas_unit"):
        import sipas

        def make(frame):
            if engine == "sipas_unit":
                frame = frame.assign(one=np.ones(len(frame)))
            d = sipas.Design(frame, ids="commune", strata="province",
                             weights="one" if engine == "sipas_unit" else "w")
            return d, lambda: sipas.rake(d, margins, tol=TOL)

        def weights_of(out):
            return out.weight_array

        def info(out):
            summ = out.history[-1].summary
            return {"iterations": summ.get("iterations"), "converged": summ.get("converged")}
    elif engine == "weightipy":
        import weightipy as wp

        shares = {var: {k: 100 * v / sum(t.values()) for k, v in t.items()}
                  for var, t in margins.items()}

        def make(frame):
            sub = frame[MARGIN_VARS]
            scheme = wp.scheme_from_dict(shares, name="bench",
                                         rim_params={"convcrit": convcrit,
                                                     "max_iterations": 1000})
            return None, lambda: wp.weight(sub, scheme)

        def weights_of(out):
            return np.asarray(out, dtype="float64")

        def info(out):
            return {"convcrit": convcrit}
    elif engine == "svy":
        import polars as pl
        import svy

        def make(frame):
            data = frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
            sample = svy.Sample(data, svy.Design(stratum="province", psu="commune", wgt="w"))
            return sample, lambda: sample.weighting.rake(controls=margins, tol=TOL,
                                                         max_iter=1000)

        def weights_of(out):
            return out.data[out.design.wgt].to_numpy()

        def info(out):
            return {}
    else:
        raise SystemExit(f"unknown engine {engine}")

    # warm-up on a small survey (lazy imports, one-off set-up)
    small = synthetic.generate(5000)
    _, fn_small = make(small)
    fn_small()
    del small, fn_small
    gc.collect()
    rss_imports = rss()

    t = time.perf_counter()
    if engine == "svy":
        import svy

        frame = svy.read_parquet(str(synthetic.path_for(n)))  # polars, as svy expects
        load_s = time.perf_counter() - t
        frame_bytes = int(frame.estimated_size())
    else:
        frame = synthetic.load(n)
        load_s = time.perf_counter() - t
        frame_bytes = int(frame.memory_usage(deep=True).sum())
    _release_arrow()
    gc.collect()
    reset_peak()
    t = time.perf_counter()
    obj, fn = make(frame)
    design_s = time.perf_counter() - t
    prep_peak = peak_rss()
    gc.collect()
    reset_peak()
    rss_before = rss()
    t = time.perf_counter()
    out = fn()
    cold_s = time.perf_counter() - t
    cold_peak = peak_rss()
    best, times, out = best_of(fn, repeat)
    task_peak = max(cold_peak, peak_rss())
    peak = max(prep_peak, task_peak)
    w = weights_of(out)
    cols = {v: frame[v].to_numpy() for v in MARGIN_VARS}
    res = {
        "engine": engine, "task": "rake", "n": n, "load_s": load_s,
        "frame_mib": frame_bytes / MIB, "design_s": design_s, "cold_s": cold_s,
        "best_s": best, "times": times, "peak_mib": peak / MIB,
        "task_extra_mib": (task_peak - rss_before) / MIB,
        "peak_ratio": (peak - rss_imports) / frame_bytes,
        "max_rel_misfit": _misfit(cols, w, margins, shares=engine == "weightipy"),
        "loadavg": loadavg(), **info(out), **extra,
    }
    _ = obj
    if profile:
        path = PROFILES / f"rake_{engine}_{n}.txt"
        text = profile_top(fn, 15, path)
        res["profile"] = str(path)
        print(text, file=sys.stderr)
    return res


def run_worker(engine: str, n: int, repeat: int, profile: bool, convcrit: float,
               timeout: float) -> dict | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--n", str(n),
           "--repeat", str(repeat), "--weightipy-convcrit", repr(convcrit)]
    if profile:
        cmd.append("--profile")
    code, out, err, maxrss = run_child(cmd, timeout=timeout)
    res = last_json(out)
    if code != 0 or res is None:
        print(f"[{engine} n={n}] failed ({code}):\n{err[-3000:]}", file=sys.stderr)
        return None
    res["process_maxrss_mib"] = maxrss
    if profile:
        res["profile_text"] = err
    return res


def run_r(n: int, repeat: int, timeout: float) -> dict | None:
    import synthetic

    rs = have_rscript()
    if not rs:
        return None
    code, out, err, maxrss = run_child(
        [rs, str(HERE / "bench_survey.R"), "rake", str(synthetic.csv_for(n)), str(repeat),
         str(synthetic.margins_csv())], timeout=timeout)
    res = last_json(out)
    if code != 0 or res is None:
        print(f"[R rake n={n}] failed ({code}): {err[-2000:]}", file=sys.stderr)
        return None
    res.update({"engine": "R", "n": n, "process_maxrss_mib": maxrss})
    return res


COLUMNS = [("engine", "engine"), ("n", "size"), ("best_s", "seconds (best of 3)"),
           ("cold_s", "1st call s"), ("vs", "sipas/this"), ("iterations", "sweeps"),
           ("max_rel_misfit", "max rel. misfit"), ("peak_mib", "peak RSS MiB"),
           ("peak_ratio", "peak/frame"), ("loadavg", "load avg"), ("target", "target")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", type=int, default=[1_000_000])
    ap.add_argument("--engines", nargs="+", default=ENGINES, choices=ENGINES)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--weightipy-convcrit", type=float, default=1e-9,
                    help="weightipy Rim convcrit (its default 0.01 reaches the same ~1e-12 "
                         "misfit at 1M; 1e-9 sweeps until the change stops shrinking)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--tag", default="",
                    help="suffix of the result file names (ad-hoc runs; the untagged "
                         "results/weighting.md is the current one)")
    ap.add_argument("--worker", choices=ENGINES)
    ap.add_argument("--n", type=int)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.repeat, args.profile,
                                args.weightipy_convcrit)))
        return

    print(machine_note())
    versions = {"sipas": pkg_version("sipas"), "weightipy": pkg_version("weightipy"),
                "svy": pkg_version("svy"), "R": r_versions()}
    print(" · ".join(f"{k} {v or 'not installed'}" for k, v in versions.items()))
    engines = [e for e in args.engines
               if versions.get(e.replace("_unit", ""), "x") or e.startswith("sipas")]
    for e in args.engines:
        if e not in engines:
            print(f"note: {e} is not installed; skipped")
    for n in args.sizes:
        run_child([sys.executable, str(HERE / "synthetic.py"), str(n)])

    results = []
    for n in args.sizes:
        for engine in engines:
            res = run_r(n, args.repeat, args.timeout) if engine == "R" else \
                run_worker(engine, n, args.repeat, False, args.weightipy_convcrit,
                           args.timeout)
            if res:
                results.append(res)
                print(f"  {engine:10s} n={n:>10,}  best {res['best_s']:.3f} s  misfit "
                      f"{res.get('max_rel_misfit', float('nan')):.2g}", flush=True)
        if args.profile:
            sp = next((r for r in results if r["engine"] == "sipas" and r["n"] == n), None)
            if sp and n >= 1_000_000 and sp["best_s"] > TARGET_S:
                prof = run_worker("sipas", n, 1, True, args.weightipy_convcrit, args.timeout)
                if prof:
                    print(f"\n### profile: sipas.rake n={n:,}\n{prof['profile_text']}")

    rows = []
    for r in results:
        sp = next((x for x in results if x["engine"] == "sipas" and x["n"] == r["n"]), None)
        row = dict(r)
        row["n"] = f"{r['n']:,}"
        row["vs"] = sp["best_s"] / r["best_s"] if sp else None
        if r["engine"] == "R":
            row["peak_mib"] = r.get("r_heap_peak_mib")  # R heap peak (gc max used)
            row["peak_ratio"] = None
            row["cold_s"] = r["times"][0]
        if r["engine"] == "sipas" and r["n"] == 1_000_000:
            row["target"] = f"{TARGET_S}s {'ok' if r['best_s'] <= TARGET_S else 'MISS'}"
        rows.append(row)
    text = table(rows, COLUMNS)
    print()
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"weighting{args.tag}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(
        {"machine": machine_note(), "command": command_line(), "versions": versions,
         "results": results}, indent=1, default=str))
    (RESULTS / f"{stem}.md").write_text(f"{machine_note()}\n\n`{command_line()}`\n\n"
                                        f"{text}\n")
    print(f"\nwritten: {RESULTS / stem}.md/.json   load avg at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
