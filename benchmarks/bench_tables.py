"""A two-way table with a Rao–Scott test on the 1,000,000-row benchmark survey.

Times, in one process on the same design (``sipas.Design(frame, ids="commune",
strata="province", weights="w")``, built outside the timing), a 5 x 5 table of ``q01``
(1-5, 3% missing) by ``age_group``:

* ``chisq_F``: ``sipas.chisq_test(design, "q01", "age_group")`` (second-order Rao–Scott F:
  the cell shares, their full 25 x 25 design covariance, the design-effect matrix);
* ``chisq_Wald``: ``statistic="Wald"`` (cell totals and their covariance);
* ``crosstab``: ``sipas.crosstab`` (cell, row and column shares and counts with SEs, CIs,
  deff and n: four reductions);
* the **lower bound**: the weighted table alone by one ``np.bincount`` on cell codes
  prepared outside the timing, plus Pearson's X^2 from it (no variance at all), in the
  same process: the ratio says what the design-based variance costs on top of counting;
* **R** ``survey::svychisq`` (``statistic="F"`` and ``"Wald"``) on the same data
  (``bench_tables.R``, CSV copy of the Parquet file), if ``Rscript`` and the survey package
  are installed.

Each time is the best of ``--repeat`` calls after one warm-up call (first-call times are
reported too). Usage::

    python benchmarks/bench_tables.py            # 1M rows, ~1 min with R
    python benchmarks/bench_tables.py --no-r     # sipas and numpy only

Results: results/tables.md (current) and results/tables.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    RESULTS,
    best_of,
    command_line,
    have_rscript,
    machine_note,
    r_versions,
    run_child,
    table,
)

ROW, COL = "q01", "age_group"


def numpy_table(ri: np.ndarray, ci: np.ndarray, w: np.ndarray, r: int, c: int) -> float:
    """The weighted table by one bincount and Pearson's X^2 on it (the lower bound)."""
    ok = (ri >= 0) & (ci >= 0)
    tab = np.bincount(ri[ok] * c + ci[ok], weights=w[ok], minlength=r * c).reshape(r, c)
    n = ok.sum()
    tab = tab / tab.sum() * n
    expected = np.outer(tab.sum(axis=1), tab.sum(axis=0)) / n
    return float(((tab - expected) ** 2 / expected).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-r", action="store_true", help="skip the R peer")
    args = ap.parse_args()

    import synthetic

    import sipas

    frame = synthetic.load(args.n)
    t = time.perf_counter()
    design = sipas.Design(frame, ids="commune", strata="province", weights="w")
    design_s = time.perf_counter() - t
    rows = []

    # numpy lower bound: codes prepared outside the timing, as a design build would
    r_lv = np.sort(frame[ROW].dropna().unique())
    c_lv = np.sort(frame[COL].dropna().unique())
    x = frame[ROW].to_numpy(dtype="float64", na_value=np.nan)
    ri = np.where(np.isnan(x), -1, np.searchsorted(r_lv, x)).astype(np.int64)
    ci = np.searchsorted(c_lv, frame[COL].to_numpy()).astype(np.int64)
    w = frame["w"].to_numpy()
    best, times, x2 = best_of(lambda: numpy_table(ri, ci, w, len(r_lv), len(c_lv)),
                              args.repeat, min_time=1.0)
    rows.append({"engine": "numpy", "task": "weighted table + X^2", "best_s": best,
                 "first_s": times[0], "statistic": x2})
    lower = best

    tasks = {
        "chisq_F": lambda: sipas.chisq_test(design, ROW, COL),
        "chisq_Wald": lambda: sipas.chisq_test(design, ROW, COL, statistic="Wald"),
        "crosstab": lambda: sipas.crosstab(design, ROW, COL),
    }
    for name, fn in tasks.items():
        t = time.perf_counter()
        out = fn()
        first = time.perf_counter() - t
        best, times, out = best_of(fn, args.repeat)
        row = {"engine": "sipas", "task": name, "best_s": best, "first_s": first,
               "vs_numpy": best / lower}
        if name.startswith("chisq"):
            row.update(statistic=out.statistic, p_value=out.p_value)
        rows.append(row)
        print(row, flush=True)

    r_note = "R not run (--no-r)" if args.no_r else "R not installed"
    if not args.no_r and have_rscript():
        csv = synthetic.csv_for(args.n)
        code, out, err, _rss = run_child(["Rscript", str(HERE / "bench_tables.R"), str(csv),
                                         str(min(args.repeat, 3)), ROW, COL])
        r_rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        if code != 0 or not r_rows:
            r_note = f"R failed: {err.strip()[-300:]}"
        else:
            r_note = r_versions() or "R"
            for rr in r_rows:
                mine = next(x for x in rows if x["task"] == rr["task"])
                rr["r_over_sipas"] = rr["best_s"] / mine["best_s"]
                mine["r_over_sipas"] = rr["r_over_sipas"]
                rows.append(rr)
    columns = [("engine", "engine"), ("task", "task"), ("best_s", "best s"),
               ("first_s", "1st call s"), ("vs_numpy", "x numpy bound"),
               ("r_over_sipas", "R / sipas"), ("statistic", "statistic"),
               ("p_value", "p-value")]
    body = "\n".join([
        "# Two-way table with a Rao-Scott test (bench_tables.py)", "",
        f"`{command_line()}` · {args.n:,} rows · table {ROW} (5 levels, 3% missing) x {COL} "
        f"(5) · design ids=commune (1,302 PSUs), strata=province (63), built in "
        f"{design_s:.2f} s outside the timing · best of {args.repeat} · {machine_note()} · "
        f"{r_note}", "",
        table(rows, columns), "",
        "`x numpy bound`: sipas time over the plain-numpy weighted table and Pearson X^2 "
        "(no variance) in the same process. `R / sipas`: R svychisq time over sipas's for "
        "the same statistic. The statistics agree (R prints the same F and Wald values).",
    ])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tables.md").write_text(body + "\n", encoding="utf-8")
    (RESULTS / "tables.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(body)


if __name__ == "__main__":
    main()
