"""Survey GLMs at 1M rows: sipas.glm with Taylor SEs against one weighted least-squares solve
of the same model (statsmodels WLS and numpy lstsq) in the same run.

The model has 10 terms: 8 Likert items, sex and province (63 levels), 72 coefficients, on the
seeded 1,000,000-row survey of ``synthetic.py`` (63 strata, ~1,300 PSUs, ~3% missing per
item). sipas's time is the whole call (formula, fit, sandwich, result); the WLS solve is
given the finished model matrix. Target (issue 16): within 3x of the WLS solve.

Usage::

    python benchmarks/bench_models.py            # writes results/models.md
    python benchmarks/bench_models.py --n 100000 --tag _small
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _common import best_of, command_line, machine_note, table, write_section  # noqa: E402

TERMS = " + ".join([f"q{j:02d}" for j in range(2, 10)] + ["C(sex)", "C(province)"])
MODELS = {"gaussian": f"q01 ~ {TERMS}", "quasibinomial": f"I(q01 >= 4) ~ {TERMS}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--tag", default="")
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
        print(rows[-1], flush=True)
    body = (f"`{command_line()}` · {machine_note()}\n\n"
            f"Model: `{MODELS['gaussian']}` (and `I(q01 >= 4) ~ ...` quasibinomial); "
            "sipas: the whole `sipas.glm` call with Taylor SEs (stratified cluster design); "
            "WLS: `statsmodels.WLS(y, X, weights=w).fit()` and `numpy.linalg.lstsq` on the "
            "finished matrix, best of "
            f"{args.repeat}.\n\n"
            + table(rows, [("family", "family"), ("rows", "rows used"), ("coef", "coef"),
                           ("iterations", "IRLS steps"), ("sipas_s", "sipas s"),
                           ("wls_s", "WLS s"), ("lstsq_s", "lstsq s"),
                           ("vs_wls", "sipas / WLS"), ("vs_lstsq", "sipas / lstsq")]))
    write_section(HERE / "results" / f"models{args.tag}.md", "Survey GLMs (bench_models.py)",
                  f"{args.n:,} rows", body)


if __name__ == "__main__":
    main()
