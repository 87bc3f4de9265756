"""Survey GLMs at 1M rows: sipas.glm with Taylor SEs against one weighted least-squares solve
of the same model (statsmodels WLS and numpy lstsq) in the same run.

The model has 10 terms: 8 Likert items, sex and province (63 levels), 72 coefficients, on the
seeded 1,000,000-row survey of ``synthetic.py`` (63 strata, ~1,300 PSUs, ~3% missing per
item). sipas's time is the whole call (formula, fit, sandwich, result); the WLS solve is
given the finished model matrix. Targets (issue 16): within 3x of the WLS solve, and at least
20x faster than R ``svyglm`` on the same data (``bench_models.R``, run when ``Rscript`` and
the survey package are installed; ``--no-r`` skips it).

A run with ``OPENBLAS_NUM_THREADS`` set writes its own section (``1,000,000 rows,
OPENBLAS_NUM_THREADS=1``), so the file holds the default (all cores) and the one-thread
numbers side by side.

Usage::

    python benchmarks/bench_models.py            # writes results/models.md
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_models.py --no-r
    python benchmarks/bench_models.py --n 100000 --tag _small
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _common import (  # noqa: E402
    best_of,
    command_line,
    machine_note,
    run_child,
    table,
    write_section,
)

TERMS = " + ".join([f"q{j:02d}" for j in range(2, 10)] + ["C(sex)", "C(province)"])
MODELS = {"gaussian": f"q01 ~ {TERMS}", "quasibinomial": f"I(q01 >= 4) ~ {TERMS}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--tag", default="")
    parser.add_argument("--no-r", action="store_true", help="skip the R svyglm peer")
    args = parser.parse_args()

    import statsmodels.api as sm
    import synthetic
    from formulaic import model_matrix

    import sipas

    frame = synthetic.load(args.n)
    design = sipas.Design(frame, ids="commune", strata="province", weights="w")
    sipas.glm(sipas.Design(frame.head(5000), ids="commune", strata="province", weights="w"),
              MODELS["gaussian"])  # warm-up: lazy imports
    rows = []
    res_coef: dict[str, float] = {}
    for family, formula in MODELS.items():
        t_sipas, _times, res = best_of(lambda f=family, fo=formula: sipas.glm(design, fo, f),
                                       args.repeat)
        mm = model_matrix(formula, frame, na_action="drop")
        X = np.asarray(mm.rhs, dtype="float64")
        y = np.asarray(mm.lhs, dtype="float64")[:, 0]
        w = frame["w"].to_numpy()[mm.rhs.index.to_numpy()]
        t_wls, _t, _r = best_of(lambda X=X, y=y, w=w: sm.WLS(y, X, weights=w).fit(),
                                args.repeat)
        sw = np.sqrt(w)
        t_lstsq, _t, _r = best_of(lambda X=X, y=y, sw=sw: np.linalg.lstsq(
            X * sw[:, None], y * sw, rcond=None), args.repeat)
        rows.append({"family": family, "rows": len(y), "coef": X.shape[1],
                     "sipas_s": t_sipas, "wls_s": t_wls, "lstsq_s": t_lstsq,
                     "vs_wls": t_sipas / t_wls, "vs_lstsq": t_sipas / t_lstsq,
                     "iterations": res.info["iterations"]})
        res_coef[family] = float(res.to_frame().set_index("term").loc["q02", "estimate"])
        print(rows[-1], flush=True)
    r_note = "R not run (--no-r)" if args.no_r else "R not installed"
    if not args.no_r and shutil.which("Rscript"):
        code, out, err, _rss = run_child(["Rscript", str(HERE / "bench_models.R"),
                                          str(synthetic.csv_for(args.n)), "1"])
        r_rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        if code != 0 or not r_rows:
            r_note = f"R failed: {err.strip()[-300:]}"
        else:
            r_note = "R survey svyglm, best of 1 (bench_models.R)"
            for rr in r_rows:
                mine = next(x for x in rows if x["family"] == rr["family"])
                mine["r_s"], mine["r_over_sipas"] = rr["best_s"], rr["best_s"] / mine["sipas_s"]
                mine["q02_rel_diff"] = abs(res_coef[rr["family"]] - rr["coef_q02"]) / abs(
                    rr["coef_q02"])
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    blas = f"OPENBLAS_NUM_THREADS={threads}" if threads else "BLAS threads: default"
    body = (f"`{command_line()}` · {machine_note()} · {blas} · {r_note}\n\n"
            f"Model: `{MODELS['gaussian']}` (and `I(q01 >= 4) ~ ...` quasibinomial); "
            "sipas: the whole `sipas.glm` call with Taylor SEs (stratified cluster design); "
            "WLS: `statsmodels.WLS(y, X, weights=w).fit()` and `numpy.linalg.lstsq` on the "
            "finished matrix, best of "
            f"{args.repeat}.\n\n"
            + table(rows, [("family", "family"), ("rows", "rows used"), ("coef", "coef"),
                           ("iterations", "IRLS steps"), ("sipas_s", "sipas s"),
                           ("wls_s", "WLS s"), ("lstsq_s", "lstsq s"),
                           ("vs_wls", "sipas / WLS"), ("vs_lstsq", "sipas / lstsq"),
                           ("r_s", "R svyglm s"), ("r_over_sipas", "R / sipas"),
                           ("q02_rel_diff", "q02 coef rel. diff vs R")]))
    heading = f"{args.n:,} rows" + (f", OPENBLAS_NUM_THREADS={threads}" if threads else "")
    write_section(HERE / "results" / f"models{args.tag}.md", "Survey GLMs (bench_models.py)",
                  heading, body)


if __name__ == "__main__":
    main()
