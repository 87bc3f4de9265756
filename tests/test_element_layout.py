"""Element designs and other large key spaces keep only the (unit, domain) keys present.
Every result must be the same as with the dense layout of the same data: estimates, SEs,
covariances, df, n and design effects (1e-12), whichever way the keys are stored — one key
per unit (element designs, domains made of whole units) or keys searched for (domains that
cut across units) — and whether the variables are reduced in one block or several. Element
designs keep only domain totals and read the rows again for the variance; that path must give
what the per-unit sums give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sipas
from sipas.design import taylor
from sipas.engine import keysums, sums
from sipas.engine.calibrated import Calibrated
from sipas.engine.domainrows import DomainRows

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


@pytest.mark.parametrize("by", ["region", "sex", None])
@pytest.mark.parametrize("lonely", ["fail", "adjust", "average"])
@pytest.mark.parametrize("order", ["sorted", "shuffled"])
@pytest.mark.parametrize("keys", ["dense", "blocks"])
def test_deferred_element_sums_give_the_per_unit_results(monkeypatch, by, lonely, order, keys):
    if keys == "blocks":  # large designs: a block of values per unit (DomainRows)
        monkeypatch.setattr(sums, "DENSE_KEYS", 1)
        monkeypatch.setattr(taylor, "DENSE_KEYS", 1)
    frame = _frame()
    if order == "shuffled":  # rows not in the order of their units
        frame = frame.sample(frac=1.0, random_state=4).reset_index(drop=True)
    if lonely != "fail":  # a stratum with a single row
        frame.loc[frame.index[frame["h"] == 5][1:], "h"] = 4
    design = sipas.Design(frame, strata="h", weights="w", lonely_psu=lonely)
    design = design.subset(frame["keep"].to_numpy())
    totals = _results(design, by)
    totals.append(sipas.total(design, ITEMS[:3], by=by).to_frame())
    totals.append(sipas.ratio(design, ITEMS[0], ITEMS[1], by=by).to_frame())
    assert totals[1]["deff"].notna().any()
    totals.append(sipas.factor_index(design, ITEMS, satisfied=[4, 5], by=by).to_frame())
    totals += _combinations(design, by)
    monkeypatch.setattr(keysums, "one_row_each", lambda unit, n: False)
    design = sipas.Design(frame, strata="h", weights="w", lonely_psu=lonely)
    design = design.subset(frame["keep"].to_numpy())
    per_unit = _results(design, by)
    per_unit.append(sipas.total(design, ITEMS[:3], by=by).to_frame())
    per_unit.append(sipas.ratio(design, ITEMS[0], ITEMS[1], by=by).to_frame())
    per_unit.append(sipas.factor_index(design, ITEMS, satisfied=[4, 5], by=by).to_frame())
    per_unit += _combinations(design, by)
    assert len(totals) == len(per_unit)
    for a, b in zip(totals, per_unit):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-15)


def _combinations(design: sipas.Design, by: str | None) -> list[pd.DataFrame]:
    """What uses the basis beyond its variances: a contrast across domains, a subset of
    rows, the covariance, effective df."""
    est = sipas.mean(design, ITEMS[:3], by=by)
    keys = est.keys
    diff = sipas.contrast(est, {keys[0]: 1, keys[-1]: -1}).to_frame()
    taken = est.basis.take([len(keys) - 1, 0])
    extra = pd.DataFrame({"var": taken.var(), "full": taken.full})
    df = est.basis.effective_df()
    return [diff, extra, pd.DataFrame(est.vcov()), pd.DataFrame({"df": df})]


def test_element_totals_are_blocks_per_unit_when_large(monkeypatch):
    monkeypatch.setattr(sums, "DENSE_KEYS", 1)
    monkeypatch.setattr(taylor, "DENSE_KEYS", 1)
    frame = _frame()
    design = sipas.Design(frame, strata="h", weights="w")
    est = sipas.proportion(design, ITEMS, value=[4, 5], by="sex")
    assert isinstance(est.basis.values, DomainRows)
    index = sipas.factor_index(design, ITEMS, satisfied=[4, 5], by="sex")
    assert isinstance(index.basis.values, DomainRows)  # an index of items stays in blocks
    # the variance from block sums equals the sparse matrix's
    dense = sipas.proportion(design, ITEMS, value=[4, 5], by="sex").basis
    np.testing.assert_allclose(dense.engine.var(dense.values.tocsr()), est.basis.var(),
                               rtol=1e-12)


def test_element_sums_are_domain_totals():
    frame = _frame()
    design = sipas.Design(frame, strata="h", weights="w")
    from sipas.estimation.fit import fit
    from sipas.estimation.recipes import NumericRecipe
    res = fit(design, NumericRecipe(tuple(ITEMS)), design.domains("sex"))
    assert res.sums.domain_totals and res.sums.wnum.shape == (2, len(ITEMS))
    assert res.basis.values.shape == (len(frame), 2 * len(ITEMS))


def test_values_kept_in_a_byte_only_when_exact():
    from sipas.estimation.fit import _small_codes
    codes = np.asfortranarray([[1.0, 5.0], [0.0, -3.0]])
    assert _small_codes(codes).dtype == np.int8
    np.testing.assert_array_equal(_small_codes(codes), codes)
    assert _small_codes(np.array([[1.5]])) is None  # not a whole number
    assert _small_codes(np.array([[200.0]])) is None  # beyond a byte
    flags = np.array([[True, False]])
    assert _small_codes(flags) is flags


@pytest.mark.parametrize("values", ["codes", "continuous", "large codes"])
def test_block_means_of_any_values_give_the_per_unit_results(monkeypatch, values):
    monkeypatch.setattr(sums, "DENSE_KEYS", 1)
    monkeypatch.setattr(taylor, "DENSE_KEYS", 1)
    frame = _frame()
    rng = np.random.default_rng(8)
    frame["y"] = {"codes": rng.integers(1, 6, len(frame)).astype(float),
                  "continuous": rng.gamma(2.0, 3.0, len(frame)),
                  "large codes": rng.integers(100, 400, len(frame)).astype(float)}[values]
    design = sipas.Design(frame, strata="h", weights="w")
    blocks = [sipas.mean(design, ["y", *ITEMS], by="sex").to_frame(),
              sipas.total(design, ["y"], by="region").to_frame()]
    monkeypatch.setattr(keysums, "one_row_each", lambda unit, n: False)
    design = sipas.Design(frame, strata="h", weights="w")
    per_unit = [sipas.mean(design, ["y", *ITEMS], by="sex").to_frame(),
                sipas.total(design, ["y"], by="region").to_frame()]
    for a, b in zip(blocks, per_unit):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("step", ["rake", "poststratify", "calibrate"])
@pytest.mark.parametrize("by", ["region", "sex"])
def test_calibrated_blocks_give_the_dense_results(monkeypatch, step, by):
    """A weighted element design by many domains keeps its calibrated totals as
    base - loadings x coefficients; every use of them equals the dense totals."""
    frame = _frame()
    rng = np.random.default_rng(5)
    frame["age"] = rng.integers(1, 4, len(frame))
    frame["x"] = rng.gamma(2.0, 1.0, len(frame))

    def results() -> list[pd.DataFrame]:
        design = sipas.Design(frame, strata="h", weights="w")
        total = float(design.weight_array.sum())
        if step == "rake":
            design = sipas.rake(design, {"sex": {1: 0.45 * total, 2: 0.55 * total},
                                         "age": {1: total / 3, 2: total / 3, 3: total / 3}})
        elif step == "poststratify":
            design = sipas.poststratify(design, "age", {1: 0.3 * total, 2: 0.3 * total,
                                                        3: 0.4 * total})
        else:
            design = sipas.calibrate(design, {"sex": {1: 0.5 * total, 2: 0.5 * total},
                                              "x": 2.1 * total})
        out = _results(design, by)
        out.append(sipas.factor_index(design, ITEMS, satisfied=[4, 5], by=by).to_frame())
        return out + _combinations(design, by)

    dense = results()
    monkeypatch.setattr(sums, "DENSE_KEYS", 1)
    monkeypatch.setattr(taylor, "DENSE_KEYS", 1)
    from sipas.engine import calibration
    monkeypatch.setattr(calibration, "DENSE_KEYS", 1)
    parts = results()
    design = sipas.rake(sipas.Design(frame, strata="h", weights="w"),
                        {"sex": dict(frame.groupby("sex")["w"].sum())})
    assert isinstance(sipas.mean(design, ITEMS, by=by).basis.values, Calibrated)
    assert len(dense) == len(parts)
    for a, b in zip(dense, parts):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-10, atol=1e-14)
