"""Coverage of rank confidence sets: the sets sipas publishes against the percentile
intervals it published before (marginal quantiles of ranks simulated from N(theta_hat, V)).

Fifteen provinces with independent estimates of standard error 1 and true values

* ``apart``: 0, 3, 6, ... (3 SE between neighbours),
* ``close``: 0, 0.1, 0.2, ... (0.1 SE between neighbours),
* ``equal``: all 0 (every true rank is 1, ties sharing the best rank);

and a correlated case (``correlated``: ``close`` values with covariance 0.5 between every
pair, as for domains of one sample). In each of ``--reps`` replications an estimate vector
is drawn from N(theta, V); a method covers a province when its set contains the province's
true rank, and covers *all* when it does so for every province at once.

Printed: per setting and method, the smallest marginal coverage over the provinces and the
simultaneous coverage, against the nominal 95%. The run is seeded; results go to
``results/rank_coverage.md``.

    python benchmarks/bench_rank_coverage.py [--reps 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, command_line

from sipas.engine.ranks import rank_sets

P = 15
LEVEL = 0.95


def settings() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    eye = np.eye(P)
    corr = 0.5 * np.ones((P, P)) + 0.5 * eye
    return {"apart": (3.0 * np.arange(P), eye), "close": (0.1 * np.arange(P), eye),
            "equal": (np.zeros(P), eye), "correlated": (0.1 * np.arange(P), corr)}


def percentile_sets(est: np.ndarray, cov: np.ndarray, gen: np.random.Generator,
                    n_sim: int) -> tuple[np.ndarray, np.ndarray]:
    draws = gen.multivariate_normal(est, cov, size=n_sim, method="eigh")
    ranks = rankdata(-draws, method="min", axis=1)
    return (np.quantile(ranks, 0.025, axis=0, method="inverted_cdf"),
            np.quantile(ranks, 0.975, axis=0, method="inverted_cdf"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--n-sim", type=int, default=2000)
    args = parser.parse_args()
    gen = np.random.default_rng(20261205)
    rows = []
    t0 = time.perf_counter()
    for name, (theta, cov) in settings().items():
        true = rankdata(-theta, method="min")
        hits = {m: np.zeros((args.reps, P), dtype=bool)
                for m in ("percentile (old)", "marginal", "simultaneous")}
        for r in range(args.reps):
            est = gen.multivariate_normal(theta, cov, method="eigh")
            lo, hi = percentile_sets(est, cov, gen, args.n_sim)
            hits["percentile (old)"][r] = (lo <= true) & (true <= hi)
            for simultaneous, key in ((False, "marginal"), (True, "simultaneous")):
                s = rank_sets(est, cov, level=LEVEL, simultaneous=simultaneous,
                              n_sim=args.n_sim, rng=gen)
                hits[key][r] = (s.low <= true) & (true <= s.high)
        for method, h in hits.items():
            rows.append((name, method, h.mean(axis=0).min(), h.all(axis=1).mean()))
    seconds = time.perf_counter() - t0
    mc = 1.96 * np.sqrt(LEVEL * (1 - LEVEL) / args.reps)
    lines = ["# Coverage of rank confidence sets", "",
             f"* command: `{command_line()}`; {args.reps} replications, {args.n_sim} draws "
             f"per set, {P} provinces, nominal {LEVEL:.0%}; Monte Carlo error of a coverage "
             f"near 95%: ±{mc:.3f}; {seconds:.0f} s", "",
             "| setting | method | smallest marginal coverage | simultaneous coverage |",
             "|---|---|---|---|"]
    lines += [f"| {s} | {m} | {a:.3f} | {b:.3f} |" for s, m, a, b in rows]
    lines += ["", "Marginal sets must reach 95% for every province (smallest marginal "
              "coverage); simultaneous sets must reach 95% for all provinces at once."]
    text = "\n".join(lines) + "\n"
    print(text)
    (RESULTS / "rank_coverage.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
