"""Seeded synthetic national-style satisfaction survey for the benchmarks.

The survey looks like a provincial SIPAS wave: 63 provinces (strata), ~20 communes per
province as PSUs (~1,300 PSUs, commune ids unique across provinces), 22 Likert items coded
1-5 with ~3% missing (NaN), sex (2), age group (5), ethnicity (2) and unequal design
weights. It is generated once per (size, seed, item dtype) and cached as Parquet under
``benchmarks/.cache/`` (override with ``SIPAS_BENCH_CACHE``); later runs read the file.

Columns and dtypes (all numpy-friendly, no object columns)::

    province   int16   1..63                 stratum
    commune    int16   province*100 + k      PSU (unique across provinces)
    w          float64 design weight         unequal: province rate x commune x person
    sex        int8    1, 2
    age_group  int8    1..5
    ethnicity  int8    1 (majority), 2
    q01..q22   float64 (or float32) 1..5, NaN = missing

Usage::

    python benchmarks/synthetic.py 100000 1000000      # build the caches
    python -c "import synthetic; print(synthetic.load(100_000).info())"

``margins(n)`` returns the population totals used by the raking benchmark (sex, age group,
ethnicity, province), consistent with each other (same grand total).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_PROVINCES = 63
N_ITEMS = 22
ITEMS = [f"q{j:02d}" for j in range(1, N_ITEMS + 1)]
SEED = 20240601
MISSING_RATE = 0.03
CACHE = Path(os.environ.get("SIPAS_BENCH_CACHE", Path(__file__).resolve().parent / ".cache"))

# population structure (the margins the sample is raked to)
SEX_SHARES = np.array([0.494, 0.506])
AGE_SHARES = np.array([0.16, 0.23, 0.24, 0.21, 0.16])
# the sample over-represents some groups so raking has work to do
SAMPLE_SEX = np.array([0.46, 0.54])
SAMPLE_AGE = np.array([0.10, 0.20, 0.26, 0.25, 0.19])


def path_for(n: int, item_dtype: str = "float64", seed: int = SEED) -> Path:
    return CACHE / f"survey_n{n}_s{seed}_{item_dtype}.parquet"


def _structure(seed: int) -> dict:
    """Province and commune structure, independent of n (same PSUs at every size)."""
    rng = np.random.default_rng([seed, 0])
    pop = np.round(rng.lognormal(np.log(1.1e6), 0.55, N_PROVINCES), -2)  # adults per province
    n_comm = rng.integers(18, 24, N_PROVINCES)  # 18..23 communes, ~1,300 in all
    # majority-ethnicity share per province: most provinces ~90%, mountain provinces lower
    kinh = np.clip(rng.beta(8, 1.2, N_PROVINCES), 0.15, 0.99)
    kinh[rng.choice(N_PROVINCES, 12, replace=False)] *= 0.4
    prov_effect = rng.normal(0, 0.35, N_PROVINCES)
    communes, comm_prov, comm_share, comm_effect, comm_wfac = [], [], [], [], []
    alloc = np.sqrt(pop) / np.sqrt(pop).sum()  # square-root allocation across provinces
    for p in range(N_PROVINCES):
        k = n_comm[p]
        share = rng.dirichlet(np.full(k, 6.0))
        communes.append((p + 1) * 100 + np.arange(1, k + 1))
        comm_prov.append(np.full(k, p))
        comm_share.append(alloc[p] * share)
        comm_effect.append(rng.normal(0, 0.25, k))
        comm_wfac.append(rng.lognormal(0, 0.35, k))
    return {
        "pop": pop, "kinh": kinh, "prov_effect": prov_effect, "alloc": alloc,
        "commune": np.concatenate(communes).astype(np.int16),
        "comm_prov": np.concatenate(comm_prov),
        "comm_share": np.concatenate(comm_share),
        "comm_effect": np.concatenate(comm_effect),
        "comm_wfac": np.concatenate(comm_wfac),
        "item_effect": rng.normal(0.3, 0.3, N_ITEMS),
    }


def generate(n: int, *, seed: int = SEED, item_dtype: str = "float64") -> pd.DataFrame:
    """Generate the survey in memory (no cache). Rows are sorted by province, commune."""
    st = _structure(seed)
    rng = np.random.default_rng([seed, n])
    share = st["comm_share"] / st["comm_share"].sum()
    per_comm = rng.multinomial(n, share)
    per_comm = np.maximum(per_comm, 2)  # every PSU has respondents
    excess = int(per_comm.sum() - n)
    if excess:  # take the extra rows back from the largest communes
        order = np.argsort(-per_comm)
        per_comm[order[:excess]] -= 1
    comm_idx = np.repeat(np.arange(len(per_comm)), per_comm)
    prov_idx = st["comm_prov"][comm_idx]
    n_prov = np.bincount(prov_idx, minlength=N_PROVINCES)

    frame = pd.DataFrame({
        "province": (prov_idx + 1).astype(np.int16),
        "commune": st["commune"][comm_idx],
    })
    # unequal weights: province expansion rate x commune factor x person factor
    person = rng.lognormal(0, 0.3, n)
    raw = st["comm_wfac"][comm_idx] * person
    # scale within province so the province weights sum to its population
    prov_raw = np.bincount(prov_idx, weights=raw, minlength=N_PROVINCES)
    frame["w"] = raw * (st["pop"] / prov_raw)[prov_idx]
    frame["sex"] = (1 + (rng.random(n) < SAMPLE_SEX[1])).astype(np.int8)
    frame["age_group"] = (1 + np.searchsorted(np.cumsum(SAMPLE_AGE)[:-1], rng.random(n),
                                              side="right")).astype(np.int8)
    sample_kinh = np.clip(st["kinh"] + 0.05, 0, 0.995)  # majority slightly over-sampled
    frame["ethnicity"] = (1 + (rng.random(n) >= sample_kinh[prov_idx])).astype(np.int8)

    latent = (st["prov_effect"][prov_idx] + st["comm_effect"][comm_idx]
              + rng.standard_normal(n, dtype=np.float32) * 0.8
              + 0.1 * (frame["age_group"].to_numpy() - 3)).astype(np.float32)
    cuts = np.array([-1.6, -0.8, 0.0, 1.1], dtype=np.float32)
    del person, raw
    for j, name in enumerate(ITEMS):
        y = latent + np.float32(st["item_effect"][j]) + rng.standard_normal(n, dtype=np.float32)
        code = (1 + np.searchsorted(cuts, y, side="right")).astype(item_dtype)
        code[rng.random(n, dtype=np.float32) < MISSING_RATE] = np.nan
        frame[name] = code
    _ = n_prov
    return frame


def load(n: int, *, item_dtype: str = "float64", seed: int = SEED,
         verbose: bool = False) -> pd.DataFrame:
    """The cached survey of ``n`` rows (generated and written on first use)."""
    path = path_for(n, item_dtype, seed)
    if not path.exists():
        t = time.perf_counter()
        frame = generate(n, seed=seed, item_dtype=item_dtype)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        frame.to_parquet(tmp, index=False, compression="zstd")
        tmp.replace(path)
        margins_path = path.with_suffix(".margins.json")
        margins_path.write_text(json.dumps(_margins_json(seed)))
        if verbose:
            print(f"generated {path.name} in {time.perf_counter() - t:.1f} s "
                  f"({path.stat().st_size / 2**20:.0f} MiB on disk)")
        return frame
    return pd.read_parquet(path)


def margins(seed: int = SEED) -> dict[str, dict[int, float]]:
    """Population totals of sex, age group, ethnicity and province (same grand total)."""
    st = _structure(seed)
    pop = st["pop"]
    total = float(pop.sum())
    kinh_total = float((pop * st["kinh"]).sum())
    return {
        "sex": {1: total * SEX_SHARES[0], 2: total * SEX_SHARES[1]},
        "age_group": {a + 1: total * s for a, s in enumerate(AGE_SHARES)},
        "ethnicity": {1: kinh_total, 2: total - kinh_total},
        "province": {p + 1: float(pop[p]) for p in range(N_PROVINCES)},
    }


def _margins_json(seed: int) -> dict:
    return {var: {str(k): v for k, v in t.items()} for var, t in margins(seed).items()}


def csv_for(n: int, item_dtype: str = "float64", seed: int = SEED) -> Path:
    """The same data as CSV (for R, which may lack arrow); written once, next to the
    Parquet file. Missing items are empty cells (R reads them as NA)."""
    path = path_for(n, item_dtype, seed).with_suffix(".csv")
    if not path.exists():
        frame = load(n, item_dtype=item_dtype, seed=seed)
        tmp = path.with_suffix(".csv.tmp")
        import pyarrow as pa
        import pyarrow.csv as pacsv

        pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        tmp.replace(path)
    return path


def margins_csv(seed: int = SEED) -> Path:
    """Margins as a long CSV (variable, level, total) for R."""
    path = CACHE / f"margins_s{seed}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [(var, k, v) for var, t in margins(seed).items() for k, v in t.items()]
        pd.DataFrame(rows, columns=["variable", "level", "total"]).to_csv(path, index=False)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--item-dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--csv", action="store_true", help="also write the CSV copy for R")
    args = ap.parse_args()
    for n in args.sizes:
        frame = load(n, item_dtype=args.item_dtype, verbose=True)
        print(f"n={n:,}: {frame.shape[1]} columns, {frame['commune'].nunique()} PSUs, "
              f"{frame['province'].nunique()} strata, "
              f"{frame.memory_usage(deep=True).sum() / 2**20:.0f} MiB in memory, "
              f"missing {frame[ITEMS].isna().mean().mean():.3%}")
        if args.csv:
            print("csv:", csv_for(n, args.item_dtype))


if __name__ == "__main__":
    main()
