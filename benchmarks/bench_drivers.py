"""Key drivers with 100 bootstrap replicates on the 1,000,000-row benchmark survey.

Times, in one process on the same design (``sipas.Design(frame, ids="commune",
strata="province", weights="w")``, built outside the timing):

* ``drivers``: ``sipas.drivers(design, "q22", FACTORS, replicates=100, rng=1)`` with five
  factors of items q01-q21 (each a respondent's mean over its valid items): making the 100
  bootstrap replicates, the driver scores, one pass for the replicate totals of
  ``1, z, z z'``, LMG over the 2^5 submodels, standardised coefficients and impact for the
  full sample and every replicate, and the five factor indices (performance) with SEs;
* the same with ``importance="relative_weights"``;
* the **baseline**: one weighted least-squares solve of the same model (``numpy.linalg.lstsq``
  on ``sqrt(w) X``, the driver scores and complete cases prepared outside the timing), in
  the same run; the target is drivers under 10 s, the ratio says how many WLS solves it
  costs.

Usage::

    python benchmarks/bench_drivers.py            # 1M rows, ~1 min

Results: results/drivers.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RESULTS, best_of, command_line, machine_note, table  # noqa: E402

FACTORS = {"f1": ["q01", "q02", "q03", "q04"], "f2": ["q05", "q06", "q07", "q08", "q09"],
           "f3": ["q10", "q11", "q12", "q13", "q14"], "f4": ["q15", "q16", "q17", "q18"],
           "f5": ["q19", "q20", "q21"]}
OUTCOME = "q22"


def wls_inputs(frame):
    y = frame[OUTCOME].to_numpy(float)
    x = np.column_stack([np.nanmean(frame[items].to_numpy(float), axis=1)
                         for items in FACTORS.values()])
    ok = ~np.isnan(y) & ~np.isnan(x).any(axis=1)
    sw = np.sqrt(frame["w"].to_numpy(float)[ok])
    X = np.column_stack([np.ones(ok.sum()), x[ok]]) * sw[:, None]
    return X, y[ok] * sw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--replicates", type=int, default=100)
    args = ap.parse_args()
    import warnings

    import synthetic

    import sipas

    warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of rows with every item missing
    frame = synthetic.load(args.n)
    design = sipas.Design(frame, ids="commune", strata="province", weights="w")
    X, yw = wls_inputs(frame)
    rows = []
    t_wls, _, _ = best_of(lambda: np.linalg.lstsq(X, yw, rcond=None), args.repeat)
    rows.append({"task": "one WLS solve (numpy lstsq, baseline)", "seconds": t_wls,
                 "ratio": 1.0})
    for method in ("lmg", "relative_weights"):
        first = best_of(lambda m=method: sipas.drivers(
            design, OUTCOME, FACTORS, importance=m, replicates=args.replicates, rng=1), 1)[0]
        t, _, res = best_of(lambda m=method: sipas.drivers(
            design, OUTCOME, FACTORS, importance=m, replicates=args.replicates, rng=1),
            args.repeat)
        rows.append({"task": f"sipas.drivers, {method}, {args.replicates} bootstrap replicates",
                     "seconds": t, "ratio": t / t_wls, "first": first})
    body = (f"`{command_line()}`\n\n{machine_note()}\n\n"
            f"{args.n:,} rows, 63 strata, 1,302 PSUs; outcome {OUTCOME}, 5 factors of "
            f"q01-q21; best of {args.repeat} after a first call. Target: under 10 s.\n\n"
            + table(rows, [("task", "task"), ("seconds", "seconds"),
                           ("ratio", "x one WLS solve"), ("first", "first call (s)")])
            + f"\n\nR² = {res.r2:.4f} (se {res.r2_se:.4f}), n = {res.n:,}.\n")
    print(body)
    out = RESULTS / "drivers.md"
    out.write_text("# Key drivers (issue 16)\n\n" + body, encoding="utf-8")


if __name__ == "__main__":
    main()
