"""Element designs and other large key spaces keep only the (unit, domain) keys present.
Every result must be the same as with the dense layout of the same data: estimates, SEs,
covariances, df, n and design effects (1e-12), whichever way the keys are stored — one key
per unit (element designs, domains made of whole units) or keys searched for (domains that
cut across units) — and whether the variables are reduced in one block or several."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sipas
from sipas.engine import sums

ITEMS = [f"q{j}" for j in range(1, 8)]  # more than one block of variables


def _frame(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 1500
    h = np.sort(rng.integers(0, 6, n))
    frame = pd.DataFrame({"h": h, "psu": h * 20 + rng.integers(0, 12, n),
                          "w": rng.uniform(0.5, 4.0, n)})
    frame["region"] = frame["psu"] % 7           # whole PSUs in a domain
    frame["sex"] = rng.integers(1, 3, n)         # cuts across PSUs
    frame["keep"] = rng.random(n) > 0.03  # a subset: rows kept with weight zero
    for item in ITEMS:
        frame[item] = rng.integers(1, 6, n).astype(float)
        frame.loc[rng.random(n) < 0.1, item] = np.nan
    return frame


def _results(design: sipas.Design, by: str) -> list[pd.DataFrame]:
    share = sipas.proportion(design, ITEMS, value=[4, 5], by=by)
    mean = sipas.mean(design, ITEMS, by=by)
    return [share.to_frame(), mean.to_frame(), pd.DataFrame(share.vcov()),
            pd.DataFrame(mean.vcov())]


@pytest.mark.parametrize(("ids", "by"), [(None, "region"), (None, "sex"),
                                         ("psu", "region"), ("psu", "sex")])
@pytest.mark.parametrize("lonely", ["fail", "adjust"])
def test_compressed_keys_give_the_dense_results(monkeypatch, ids, by, lonely):
    frame = _frame()
    if lonely == "adjust":  # one stratum with a single PSU
        frame.loc[frame["h"] == 5, "psu"] = 999
    design = sipas.Design(frame, ids=ids, strata="h", weights="w", lonely_psu=lonely)
    design = design.subset(frame["keep"].to_numpy())
    dense = _results(design, by)
    monkeypatch.setattr(sums, "DENSE_KEYS", 1)
    compressed = _results(design, by)
    for a, b in zip(dense, compressed):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-15)


def test_one_key_per_unit_is_used_when_every_unit_has_one_domain():
    rng = np.random.default_rng(1)
    unit = rng.permutation(50)
    domain = rng.integers(0, 3, 50)
    got = sums._domain_of_units(unit, domain, None, 50)
    assert got is not None and np.array_equal(got[unit], domain)
    mixed = unit.copy()
    mixed[1] = mixed[0]
    domain[1] = (domain[0] + 1) % 3
    assert sums._domain_of_units(mixed, domain, None, 50) is None
