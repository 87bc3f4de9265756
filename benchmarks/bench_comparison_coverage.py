"""Do "significant" and the adjusted intervals of compare_domains hold their level?

A population of 10 districts (strata) with equal true means, 6 communes (PSUs) sampled per
district and 15 respondents per commune, a commune effect (intra-cluster correlation about
0.1) and unequal weights. In each of ``--reps`` samples, ``sipas.mean(design, "y",
by="district")`` and then ``compare_domains`` of all 45 pairs and of each district against
the mean, with every adjustment. Printed per adjustment:

* family-wise error rate: the share of samples with at least one pair called significant
  (every null is true, so this is the FWER; Holm and Bonferroni must stay <= 5%, and with all
  nulls true Benjamini-Hochberg controls it too);
* simultaneous coverage: the share of samples in which every adjusted interval contains the
  true difference 0 (Bonferroni: >= 95%);
* agreement: rows where ``significant`` differs from "the interval excludes 0" (must be 0).

The run is seeded; results go to ``results/comparison_coverage.md``.

    python benchmarks/bench_comparison_coverage.py [--reps 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, command_line

import sipas

DISTRICTS, COMMUNES, TAKE = 10, 6, 15


def sample(gen: np.random.Generator) -> pd.DataFrame:
    rows = DISTRICTS * COMMUNES * TAKE
    district = np.repeat(np.arange(DISTRICTS), COMMUNES * TAKE)
    commune = np.repeat(np.arange(DISTRICTS * COMMUNES), TAKE)
    effect = gen.normal(0, np.sqrt(0.1), DISTRICTS * COMMUNES)[commune]
    y = 3.0 + effect + gen.normal(0, np.sqrt(0.9), rows)
    w = gen.uniform(20, 80, rows)
    return pd.DataFrame({"district": district, "commune": commune, "w": w, "y": y})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    args = parser.parse_args()
    gen = np.random.default_rng(20261205)
    adjusts = ("holm", "bonferroni", "fdr_bh", "none")
    stats = {(kind, a): {"fwer": 0, "cover": 0, "disagree": 0}
             for kind in ("pairs", "vs mean") for a in adjusts}
    t0 = time.perf_counter()
    for _ in range(args.reps):
        frame = sample(gen)
        d = sipas.Design(frame, ids="commune", strata="district", weights="w")
        est = sipas.mean(d, "y", by="district")
        for kind, pairs in (("pairs", True), ("vs mean", False)):
            for a in adjusts:
                out = sipas.compare_domains(est, pairs=pairs, adjust=a)
                s = stats[(kind, a)]
                s["fwer"] += bool(out["significant"].any())
                s["cover"] += bool(((out["ci_low"] <= 0) & (out["ci_high"] >= 0)).all())
                excludes = (out["ci_low"] > 0) | (out["ci_high"] < 0)
                s["disagree"] += int((excludes != out["significant"]).sum())
    seconds = time.perf_counter() - t0
    mc = 1.96 * np.sqrt(0.05 * 0.95 / args.reps)
    lines = ["# Error rates of domain comparisons", "",
             f"* command: `{command_line()}`; {args.reps} samples of {DISTRICTS} districts x "
             f"{COMMUNES} communes x {TAKE} respondents, equal true means (every null true), "
             f"ICC about 0.1, unequal weights; Monte Carlo error near 5%: ±{mc:.3f}; "
             f"{seconds:.0f} s", "",
             "| comparisons | adjust | family-wise error rate | simultaneous coverage of the "
             "adjusted intervals | rows where significant and interval disagree |",
             "|---|---|---|---|---|"]
    for (kind, a), s in stats.items():
        lines.append(f"| {kind} | {a} | {s['fwer'] / args.reps:.3f} | "
                     f"{s['cover'] / args.reps:.3f} | {s['disagree']} |")
    lines += ["", "`none` shows what the unadjusted tests would claim: its error rate is that "
              "of 45 (or 10) tests at 5% each."]
    text = "\n".join(lines) + "\n"
    print(text)
    (RESULTS / "comparison_coverage.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
