"""Speed of planning and small areas, beside a plain-numpy lower bound in the same run.

Targets (issue 18): sizing and allocating 3,300 communes < 1 s; PPS selection from a frame of
100,000 units < 1 s; Fay–Herriot for 3,300 areas < 2 s. Writes results/planning.md.

    python benchmarks/bench_planning.py
"""

from __future__ import annotations

import platform
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _common import best_of

from sipas.plan import allocate, sample_size, select
from sipas.small_area import fay_herriot

OUT = Path(__file__).resolve().parent / "results" / "planning.md"


def best(fn, repeat: int = 5) -> float:
    # the sub-millisecond numpy baselines need many runs, which min_time gives them
    return best_of(fn, repeat, min_time=0.2)[0]


def main() -> None:
    rng = np.random.default_rng(18)
    m = 3300
    pop = rng.integers(800, 20000, m).astype(float)
    p = rng.uniform(0.4, 0.9, m)

    def size_alloc():
        s = sample_size(p=p, margin=0.1, deff=1.5, population=pop, response_rate=0.8)
        allocate(pop, 100000, "neyman", sd=np.sqrt(p * (1 - p)), minimum=10, maximum=80)
        return s

    def size_alloc_numpy():
        n0 = 1.96**2 * p * (1 - p) / 0.01
        np.ceil(n0 * 1.5 / (1 + n0 * 1.5 / pop))
        a = pop * np.sqrt(p * (1 - p))
        np.floor(100000 * a / a.sum())

    frame = pd.DataFrame({"unit": np.arange(100000), "stratum": rng.integers(0, 100, 100000),
                          "size": rng.lognormal(5, 1.2, 100000)})

    def pps():
        select(frame, 30, size="size", strata="stratum", seed=1)

    x = frame["size"].to_numpy()

    def pps_numpy():
        pi = 3000 * x / x.sum()
        c = np.cumsum(np.minimum(pi, 1))
        np.flatnonzero(np.diff(np.floor(c - 0.5), prepend=0) > 0)

    x1, x2 = rng.normal(size=m), rng.uniform(size=m)
    d = rng.uniform(0.01, 0.05, m)
    y = 0.5 + 0.1 * x1 + 0.2 * x2 + rng.normal(scale=0.1, size=m) + rng.normal(scale=np.sqrt(d))
    direct = pd.DataFrame({"area": np.arange(m), "estimate": y, "se": np.sqrt(d)})
    cov = pd.DataFrame({"area": np.arange(m), "x1": x1, "x2": x2})

    def fh():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fay_herriot(direct, cov, area="area")

    xm = np.column_stack([np.ones(m), x1, x2])

    def fh_numpy():
        # one weighted least squares per Fisher step, ten steps: the arithmetic floor
        for a in np.linspace(0.005, 0.015, 10):
            w = 1 / (a + d)
            np.linalg.solve(xm.T @ (xm * w[:, None]), xm.T @ (w * y))

    def fh_boot():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fay_herriot(direct, cov, area="area", mse="bootstrap", replicates=200, rng=1)

    def fh_boot_numpy():
        for _ in range(201):
            fh_numpy()

    rows = [("size + allocate 3,300 communes", best(size_alloc), best(size_alloc_numpy), 1.0),
            ("PPS select from 100,000 units (100 strata)", best(pps), best(pps_numpy), 1.0),
            ("Fay–Herriot REML, 3,300 areas", best(fh), best(fh_numpy), 2.0),
            ("Fay–Herriot REML + bootstrap MSE (B = 200), 3,300 areas", best(fh_boot, 3),
             best(fh_boot_numpy, 3), None)]
    lines = ["# Planning and small areas: speed", "",
             f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
             f", best of 5. `python benchmarks/bench_planning.py`", "",
             "| task | sipas (s) | numpy lower bound (s) | ratio | target (s) | met |",
             "|---|---:|---:|---:|---:|---|"]
    for name, t, base, target in rows:
        met = "-" if target is None else "yes" if t < target else "NO"
        lines.append(f"| {name} | {t:.4f} | {base:.5f} | {t / base:.0f} | "
                     f"{'-' if target is None else f'{target:g}'} | {met} |")
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
