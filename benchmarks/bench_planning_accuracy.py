"""Accuracy checks of planning and small areas that need many draws (not unit tests).

1. PPS systematic selection: the share of 20,000 seeded draws that take each unit against its
   inclusion probability, with the Monte Carlo z-score (pi (1 - pi) / R)^(1/2).
2. Fay–Herriot: over simulated data sets from the model, the mean Prasad–Rao MSE estimate of
   each area against the empirical MSE of its EBLUP (ratio near 1), for REML and ML.
3. Fay–Herriot bootstrap MSE (González-Manteiga et al. 2008): the same against the empirical
   MSE, beside Prasad–Rao on the same data sets, and its time.

Writes results/planning_accuracy.md.

    python benchmarks/bench_planning_accuracy.py
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sipas.plan import inclusion_probabilities, select
from sipas.small_area import fay_herriot

OUT = Path(__file__).resolve().parent / "results" / "planning_accuracy.md"


def frequencies(draws: int = 20000) -> list[str]:
    rng = np.random.default_rng(7)
    sizes = np.round(rng.lognormal(3, 1, 40), 1)
    sizes[[3, 17]] = [900.0, 400.0]  # certainty units, the second after recursion
    frame = pd.DataFrame({"unit": np.arange(40), "size": sizes,
                          "stratum": np.repeat([1, 2], 20)})
    n = {1: 5, 2: 4}
    pi = np.concatenate([inclusion_probabilities(sizes[:20], 5),
                         inclusion_probabilities(sizes[20:], 4)])
    counts = np.zeros(40)
    for seed in range(draws):
        counts[select(frame, n, size="size", strata="stratum", seed=seed)
               .frame["unit"].to_numpy()] += 1
    freq = counts / draws
    se = np.sqrt(pi * (1 - pi) / draws)
    z = np.where(se > 0, (freq - pi) / np.where(se > 0, se, 1), 0.0)
    return ["## PPS systematic selection: empirical frequencies", "",
            f"{draws} seeded draws, 40 units in 2 strata (n = 5 and 4), "
            f"{int((pi >= 1).sum())} certainty units.", "",
            f"- max |frequency - pi|: {np.abs(freq - pi).max():.5f}",
            f"- max |z| over units: {np.abs(z).max():.2f} (about 3 expected at most for 40 "
            "units)",
            f"- certainty units taken in every draw: {bool((freq[pi >= 1] == 1).all())}",
            f"- sum of frequencies: {freq.sum():.4f} (n = 9)", ""]


def mse_simulation(reps: int = 1000) -> list[str]:
    rng = np.random.default_rng(11)
    m, a = 40, 0.5
    x = rng.normal(size=m)
    d = np.linspace(0.1, 2.0, m)
    cov = pd.DataFrame({"area": np.arange(m), "x": x})
    out = ["## Fay–Herriot: estimated against empirical MSE", "",
           f"{reps} data sets from the model, {m} areas, A = {a}, D from 0.1 to 2.0.", "",
           "| method | mean estimated / empirical MSE | range over areas | zero A fits |",
           "|---|---:|---:|---:|"]
    for method in ("REML", "ML"):
        err2 = np.zeros(m)
        est = np.zeros(m)
        zero = 0
        for _ in range(reps):
            theta = 1 + 0.5 * x + rng.normal(scale=np.sqrt(a), size=m)
            y = theta + rng.normal(scale=np.sqrt(d))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fay_herriot(pd.DataFrame({"area": np.arange(m), "estimate": y,
                                                "se": np.sqrt(d)}), cov, area="area",
                                  method=method)
            t = fit.to_frame()
            err2 += (t["estimate"].to_numpy() - theta) ** 2
            est += t["mse"].to_numpy()
            zero += fit.zero_variance
        ratio = est / err2
        out.append(f"| {method} | {ratio.mean():.3f} | {ratio.min():.3f} - {ratio.max():.3f} "
                   f"| {zero} |")
    return [*out, ""]


def bootstrap_simulation(reps: int = 300, replicates: int = 100) -> list[str]:
    rng = np.random.default_rng(12)
    m, a = 40, 0.5
    x = rng.normal(size=m)
    d = np.linspace(0.1, 2.0, m)
    cov = pd.DataFrame({"area": np.arange(m), "x": x})
    err2, boot, pr = np.zeros(m), np.zeros(m), np.zeros(m)
    seconds = 0.0
    for rep in range(reps):
        theta = 1 + 0.5 * x + rng.normal(scale=np.sqrt(a), size=m)
        direct = pd.DataFrame({"area": np.arange(m), "estimate": theta + rng.normal(
            scale=np.sqrt(d)), "se": np.sqrt(d)})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            b = fay_herriot(direct, cov, area="area", mse="bootstrap",
                            replicates=replicates, rng=rep).to_frame()
            seconds += time.perf_counter() - start
            p = fay_herriot(direct, cov, area="area").to_frame()
        err2 += (b["estimate"].to_numpy() - theta) ** 2
        boot += b["mse"].to_numpy()
        pr += p["mse"].to_numpy()
    rb, rp = boot / err2, pr / err2
    return ["## Fay–Herriot: bootstrap against empirical MSE", "",
            f"{reps} data sets from the model (the setting above), REML, {replicates} "
            f"bootstrap replicates each; {seconds / reps:.3f} s per fit with its bootstrap.", "",
            "| MSE | mean estimated / empirical MSE | range over areas |", "|---|---:|---:|",
            f"| bootstrap | {rb.mean():.3f} | {rb.min():.3f} - {rb.max():.3f} |",
            f"| Prasad–Rao (same data sets) | {rp.mean():.3f} | {rp.min():.3f} - "
            f"{rp.max():.3f} |", "",
            "The bootstrap estimates about g1 + g2 + g3 and Prasad–Rao g1 + g2 + 2 g3: the "
            "bootstrap is expected a little lower (by the order of g3, 1/m); the ranges also "
            f"hold the Monte Carlo error of {reps} data sets.", ""]


def main() -> None:
    lines = ["# Planning and small areas: accuracy", "",
             "`python benchmarks/bench_planning_accuracy.py`", "",
             *frequencies(), *mse_simulation(), *bootstrap_simulation()]
    text = "\n".join(lines)
    print(text)
    OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
