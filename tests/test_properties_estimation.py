"""Invariants of design-based estimation, checked with hypothesis on random small stratified
cluster designs (style.md rule 11).

Each property is a fact of the estimators' definitions, not of sipas's code: a mean is
invariant to the scale of the weights and a total proportional to it; domain totals add up
to the total (and, being a linear map, so do their influence values, hence the SE of their
sum); nothing depends on row order or on the labels of strata and PSUs; a variance is
non-negative; an interval contains its estimate; for a total, the delete-one jackknife equals
the linearization variance without fpc.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sipas
from conftest import examples

FAST = settings(max_examples=examples(20), deadline=None)
SLOW = settings(max_examples=examples(10), deadline=None)  # several designs per example


@st.composite
def surveys(draw: st.DrawFn) -> pd.DataFrame:
    """1-4 strata of 2-4 PSUs of 1-4 rows; weights in [0.5, 10]; y on a quarter grid;
    a domain column g with up to 3 levels."""
    h, psu = [], []
    for s in range(draw(st.integers(1, 4))):
        for j in range(draw(st.integers(2, 4))):
            m = draw(st.integers(1, 4))
            h += [s] * m
            psu += [f"{s}-{j}"] * m
    n = len(h)
    floats = st.floats(0.5, 10, allow_nan=False, allow_subnormal=False)
    return pd.DataFrame({
        "h": h,
        "psu": psu,
        "w": draw(st.lists(floats, min_size=n, max_size=n)),
        "y": [v / 4 for v in draw(st.lists(st.integers(-400, 400), min_size=n, max_size=n))],
        "x": draw(st.lists(st.floats(1, 5), min_size=n, max_size=n)),
        "g": draw(st.lists(st.sampled_from("abc"), min_size=n, max_size=n)),
    })


def build(frame: pd.DataFrame) -> sipas.Design:
    return sipas.Design(frame, ids="psu", strata="h", weights="w")


def results(d: sipas.Design) -> list[pd.DataFrame]:
    """The estimates a property compares (by-domain rows are sorted by level)."""
    return [sipas.mean(d, "y", by="g").to_frame(), sipas.total(d, ["y", "x"]).to_frame(),
            sipas.ratio(d, "y", "x", by="g").to_frame(),
            sipas.proportion(d, "g", ci="wilson").to_frame()]


def assert_same(a: pd.DataFrame, b: pd.DataFrame, cols=("estimate", "se", "ci_low", "ci_high",
                                                         "df", "n")) -> None:
    for col in cols:
        x, y = a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float)
        scale = max(np.nanmax(np.abs(x), initial=0.0), 1.0)
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-9 * scale, err_msg=col)


@FAST
@given(surveys(), st.floats(0.01, 1000))
def test_weight_scaling(frame, c):
    d, scaled = build(frame), build(frame.assign(w=frame.w * c))
    assert_same(sipas.mean(d, "y", by="g").to_frame(),
                sipas.mean(scaled, "y", by="g").to_frame())
    assert_same(sipas.proportion(d, "g").to_frame(), sipas.proportion(scaled, "g").to_frame())
    a, b = sipas.total(d, "y", by="g").to_frame(), sipas.total(scaled, "y", by="g").to_frame()
    a[["estimate", "se", "ci_low", "ci_high"]] *= c
    assert_same(a, b)


@FAST
@given(surveys())
def test_domain_totals_add_up_to_the_total(frame):
    d = build(frame)
    by = sipas.total(d, ["y", "x"], by="g")
    overall = sipas.total(d, ["y", "x"]).to_frame()
    f = by.to_frame()
    sums = f.groupby("variable", sort=False)["estimate"].sum()
    for var in ("y", "x"):
        scale = float(np.sum(frame.w * np.abs(frame[var])))
        want = overall.set_index("variable").loc[var, "estimate"]
        assert abs(sums[var] - want) <= 1e-9 * scale
        ones = (f["variable"] == var).to_numpy(dtype=float)
        summed = sipas.contrast(by, ones).to_frame().iloc[0]
        assert summed.se == pytest.approx(overall.set_index("variable").loc[var, "se"],
                                          rel=1e-9, abs=1e-9 * scale)


@SLOW
@given(surveys(), st.randoms(use_true_random=False))
def test_row_order_changes_nothing(frame, random):
    order = list(range(len(frame)))
    random.shuffle(order)
    shuffled = frame.iloc[order].reset_index(drop=True)
    for a, b in zip(results(build(frame)), results(build(shuffled))):
        assert_same(a, b)


@SLOW
@given(surveys(), st.randoms(use_true_random=False))
def test_relabelling_strata_and_psus_changes_nothing(frame, random):
    strata = sorted(frame.h.unique())
    psus = sorted(frame.psu.unique())
    new_strata = random.sample(range(100, 200), len(strata))
    new_psus = random.sample(range(1000, 2000), len(psus))
    relabelled = frame.assign(
        h=frame.h.map(dict(zip(strata, [f"S{v}" for v in new_strata]))),
        psu=frame.psu.map(dict(zip(psus, new_psus))))
    for a, b in zip(results(build(frame)), results(build(relabelled))):
        assert_same(a, b)
    nested = frame.assign(psu=frame.psu.str.split("-").str[1])  # ids unique within strata
    nd = sipas.Design(nested, ids="psu", strata="h", weights="w", nest=True)
    for a, b in zip(results(build(frame)), results(nd)):
        assert_same(a, b)


@FAST
@given(surveys(), st.sampled_from(["wald", "logit", "asin", "beta", "wilson", "xlogit"]),
       st.floats(0.5, 0.999))
def test_se_non_negative_and_interval_contains_estimate(frame, method, level):
    d = build(frame)
    tables = [*results(d), sipas.proportion(d, "g", by="h", method=method,
                                            level=level).to_frame(),
              sipas.total(d, "y", by="g", level=level).to_frame()]
    for f in tables:
        assert (f["se"].dropna() >= 0).all()
        ok = f["ci_low"].notna() & f["ci_high"].notna()
        est, lo, hi = f.loc[ok, "estimate"], f.loc[ok, "ci_low"], f.loc[ok, "ci_high"]
        slack = 1e-12 * np.maximum(np.abs(est), 1)
        assert (lo <= est + slack).all()
        assert (est <= hi + slack).all()


@FAST
@given(surveys())
def test_jackknife_total_equals_linearization(frame):
    d = build(frame)
    rep = sipas.replicate(d, "jkn")
    a = sipas.total(d, "y", by="g").to_frame()
    b = sipas.total(rep, "y", by="g").to_frame()
    assert_same(a, b, cols=("estimate", "se"))


@FAST
@given(surveys(), st.sampled_from(["frame", "ids", "strata", "weights", "fpc", "nest",
                                   "lonely_psu", "probs"]))
def test_design_cannot_be_mutated(frame, attribute):
    d = build(frame)
    with pytest.raises(AttributeError, match="cannot change"):
        setattr(d, attribute, None)


@FAST
@given(surveys(), st.integers(0, 10_000), st.floats(-1e3, 1e3))
def test_editing_the_design_frame_does_not_change_results(frame, where, value):
    d = build(frame)
    before = results(d)
    copy = d.frame
    copy.loc[where % len(frame), "y"] = value
    for a, b in zip(results(d), before, strict=True):
        pd.testing.assert_frame_equal(a, b)


@SLOW
@given(surveys(), st.integers(0, 10_000), st.floats(-1e3, 1e3))
def test_changing_the_input_frame_does_not_change_results(frame, where, value):
    d = build(frame)
    before = results(d)
    i = where % len(frame)
    frame.loc[i, "y"] = value
    frame.loc[i, "w"] = abs(value) + 1
    frame.loc[i, "g"] = "zzz"
    frame["x"] = 0.0
    for a, b in zip(before, results(d)):
        pd.testing.assert_frame_equal(a, b)
