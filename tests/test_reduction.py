"""unit_sums against a plain pandas group-by, whatever the row order: sorted rows (sums by
runs), rows with a key in several runs, and scattered rows (sums by bincount)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sipas.engine.sums import _KeySums, unit_sums

N_UNITS, N_DOMAINS, J = 30, 3, 2


def _rows(order: str, seed: int = 5, zero_weights: bool = True, outside: bool = True):
    rng = np.random.default_rng(seed)
    n = 3000
    unit = np.sort(rng.integers(0, N_UNITS, n))
    # domains nested in units (sorted rows give one run per key) or mixed within units
    domain = (unit % N_DOMAINS) if order != "mixed" else rng.integers(0, N_DOMAINS, n)
    if outside:
        domain = np.where(rng.random(n) < 0.05, -1, domain)
    w = rng.uniform(0.5, 3.0, n)
    if zero_weights:
        w[rng.random(n) < 0.05] = 0.0
    y = rng.integers(1, 6, (n, J)).astype(float)
    y[rng.random((n, J)) < 0.1] = np.nan
    perm = {"sorted": np.arange(n), "mixed": np.arange(n),
            "blocks": np.concatenate([np.arange(n)[n // 2:], np.arange(n)[:n // 2]]),
            "shuffled": rng.permutation(n)}[order]
    return unit[perm], domain[perm], w[perm], y[perm]


def _reference(unit, domain, w, num, den, valid):
    keep = domain >= 0
    frame = pd.DataFrame({"key": (unit * N_DOMAINS + np.maximum(domain, 0))[keep]})
    wk, pos = w[keep], (w[keep] > 0).astype(float)
    for j in range(num.shape[1]):
        frame[f"wnum{j}"] = wk * num[keep, j]
        frame[f"wden{j}"] = wk * den[keep, j]
        frame[f"pden{j}"] = pos * valid[keep, j]
        frame[f"wnum2{j}"] = wk * num[keep, j] ** 2
    frame["prow"] = pos
    got = frame.groupby("key").sum().reindex(range(N_UNITS * N_DOMAINS), fill_value=0.0)
    return {f: got[[f"{f}{j}" for j in range(num.shape[1])]].to_numpy()
            for f in ("wnum", "wden", "pden", "wnum2")} | {"prow": got["prow"].to_numpy()}


@pytest.mark.parametrize("order", ["sorted", "blocks", "mixed", "shuffled"])
@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("zero_weights", [True, False])
def test_unit_sums_equal_group_by(order, binary, zero_weights):
    unit, domain, w, y = _rows(order, zero_weights=zero_weights)
    valid = (~np.isnan(y)).astype(float)
    num = np.isin(y, [4, 5]).astype(float) if binary else np.nan_to_num(y)
    ref = _reference(unit, domain, w, num, valid, valid)
    inputs = [(num, valid)]
    if binary:  # shares come as booleans (counted as 0/1, never or-ed)
        flags = valid.astype(bool)
        inputs.append((num.astype(bool), flags))
    for (x, v), compress in [(i, c) for i in inputs for c in (False, True)]:
        s = unit_sums(x, v, domain, N_DOMAINS, w, unit, N_UNITS, binary=binary,
                      compress=compress)
        keys = (np.arange(N_UNITS * N_DOMAINS) if s.dense else
                s.key_unit() * N_DOMAINS + s.key_domain())
        for field in ("wnum", "wden", "pden", "wnum2", "prow"):
            np.testing.assert_allclose(getattr(s, field), ref[field][keys], rtol=1e-12,
                                       atol=1e-12, err_msg=f"{order} {field}")
        np.testing.assert_allclose(s.wval, ref["wden"][keys], rtol=1e-12, atol=1e-12)


def test_totals_without_denominator_count_every_row():
    unit, domain, w, y = _rows("sorted", outside=False)
    num = np.nan_to_num(y)
    s = unit_sums(num, None, domain, N_DOMAINS, w, unit, N_UNITS)
    ones = np.ones_like(num)
    ref = _reference(unit, domain, w, num, ones, ones)
    np.testing.assert_allclose(s.wval, ref["wden"], rtol=1e-12)
    np.testing.assert_allclose(s.pden, ref["pden"], rtol=1e-12)
    assert s.wden is None


@pytest.mark.parametrize(("key", "runs", "one_run"), [
    (np.repeat([0, 1, 2], 10), True, True),          # sorted: one run per key
    (np.tile(np.repeat([0, 1], 5), 4), True, False),  # a key in several runs
    (np.tile([0, 1, 2], 10), False, False),           # scattered: bincount
])
def test_key_sums_strategy(key, runs, one_run):
    values = np.arange(len(key), dtype=float)
    sums = _KeySums(key, 4)
    assert sums.runs is runs
    if runs:
        assert sums.one_run is one_run
    np.testing.assert_array_equal(sums(values), np.bincount(key, weights=values, minlength=4))
    np.testing.assert_array_equal(sums.count(), np.bincount(key, minlength=4))
    # booleans are summed as numbers, never or-ed
    np.testing.assert_array_equal(sums(values > 3), np.bincount(key, weights=values > 3,
                                                                minlength=4))


@pytest.mark.parametrize("binary", [False, True])
def test_no_domain_codes_is_one_domain(binary):
    """``domain=None`` (a Dask partition without ``by``) gives the same sums as codes that
    are all 0, and refuses more than one domain."""
    rng = np.random.default_rng(4)
    n = 400
    unit = np.sort(rng.integers(0, 30, n))
    w = rng.uniform(0.5, 3, n)
    den = rng.random((n, 2)) > 0.2
    num = (rng.random((n, 2)) > 0.5) & den
    if not binary:
        num = num * rng.uniform(1, 5, (n, 2))
    a = unit_sums(num, den, None, 1, w, unit, 30, binary=binary, compress=True)
    b = unit_sums(num, den, np.zeros(n, dtype=np.int64), 1, w, unit, 30, binary=binary,
                  compress=True)
    for f in ("wnum", "wden", "pden", "wval", "wnum2", "prow"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    np.testing.assert_array_equal(a.key_unit(), b.key_unit())
    with pytest.raises(ValueError, match="n_domains must be 1"):
        unit_sums(num, den, None, 2, w, unit, 30)
