"""Invariants of the weighting layer, checked on random data (hypothesis).

References: raking is the unique minimiser of the raking distance subject to the margins
(Deville & Särndal 1992), so it cannot depend on the order of the rows or the scale of
the input weights; trimming redistributes what it cuts (R ``trimWeights``), so the sum is
kept; Kish's design effect due to weighting is ``n sum w^2 / (sum w)^2 = 1 + cv^2`` with the
population cv (Kish 1965, sec. 11.7), and the effective sample size is ``n / deff``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import sipas
from conftest import examples

SETTINGS = settings(max_examples=examples(40), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

positive = st.floats(0.5, 50.0, allow_nan=False, allow_infinity=False)


@st.composite
def raking_problems(draw):
    """Rows with two categorical variables (every level present) and margins that a
    positive re-weighting attains (targets = margins of w * exp(noise)), so raking has a
    solution."""
    n = draw(st.integers(8, 40))
    k_a, k_b = draw(st.integers(2, 4)), draw(st.integers(2, 3))
    a = np.array(draw(st.lists(st.integers(0, k_a - 1), min_size=n, max_size=n)))
    b = np.array(draw(st.lists(st.integers(0, k_b - 1), min_size=n, max_size=n)))
    a[:k_a], b[:k_b] = np.arange(k_a), np.arange(k_b)  # every level has sample
    w = draw(arrays(np.float64, n, elements=positive))
    noise = draw(arrays(np.float64, n, elements=st.floats(-1.0, 1.0)))
    truth = w * np.exp(noise) * 3.0
    frame = pd.DataFrame({"psu": np.arange(n), "a": a, "b": b, "w": w})
    margins = {"a": pd.Series(truth).groupby(a).sum().to_dict(),
               "b": pd.Series(truth).groupby(b).sum().to_dict()}
    return frame, margins


def raked(frame: pd.DataFrame, margins) -> np.ndarray | None:
    """Raked weights, or None when IPF is too slow (nearly confounded margins)."""
    design = sipas.Design(frame, ids="psu", weights="w")
    try:
        return sipas.rake(design, margins, tol=1e-11, max_iter=3000).weight_array
    except sipas.ConvergenceError:
        return None


@SETTINGS
@given(problem=raking_problems(), seed=st.integers(0, 2**32 - 1))
def test_raking_does_not_depend_on_row_order(problem, seed):
    frame, margins = problem
    order = np.random.default_rng(seed).permutation(len(frame))
    w = raked(frame, margins)
    w_perm = raked(frame.iloc[order].reset_index(drop=True), margins)
    assert (w is None) == (w_perm is None)  # the same sweeps, whatever the order
    if w is not None:
        np.testing.assert_allclose(w_perm, w[order], rtol=1e-8)


@SETTINGS
@given(problem=raking_problems(), scale=st.floats(1e-3, 1e3))
def test_scaling_the_base_weights_does_not_change_raked_weights(problem, scale):
    frame, margins = problem
    w = raked(frame, margins)
    w_scaled = raked(frame.assign(w=frame["w"] * scale), margins)
    assert (w is None) == (w_scaled is None)  # the first sweep absorbs the scale
    if w is None:
        return
    np.testing.assert_allclose(w_scaled, w, rtol=1e-8)
    total = sum(margins["a"].values())
    for col in ("a", "b"):
        got = pd.Series(w).groupby(frame[col]).sum()
        for level, target in margins[col].items():
            assert abs(got[level] - target) <= 1e-11 * total


@st.composite
def trimming_problems(draw):
    n = draw(st.integers(3, 60))
    w = draw(arrays(np.float64, n, elements=st.floats(0.1, 1000.0)))
    q_lo, q_hi = sorted(draw(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=2)))
    lo = float(np.quantile(w, q_lo)) * draw(st.sampled_from([0.0, 1.0]))
    hi = float(np.quantile(w, q_hi)) * draw(st.floats(1.0, 1.5))
    assume(lo < hi)
    return w, (lo if lo > 0 else None), hi


def trim_design(w: np.ndarray) -> sipas.Design:
    return sipas.Design(pd.DataFrame({"psu": np.arange(len(w)), "w": w}), ids="psu",
                        weights="w")


@SETTINGS
@given(problem=trimming_problems())
def test_strict_trimming_leaves_no_weight_outside_and_keeps_the_sum(problem):
    w, lo, hi = problem
    mean = w.mean()
    if mean > hi * (1 + 1e-9) or (lo is not None and mean < lo * (1 - 1e-9)):
        with pytest.raises(sipas.WeightingError, match="Widen the bounds"):
            sipas.trim(trim_design(w), lower=lo, upper=hi, strict=True)
        return
    try:
        t = sipas.trim(trim_design(w), lower=lo, upper=hi, strict=True).weight_array
    except sipas.WeightingError:
        # refused only when the mean weight is within rounding of a bound
        assert min(hi - mean, mean - (lo or -np.inf)) < 1e-6 * mean
        return
    assert t.max() <= hi
    if lo is not None:
        assert t.min() >= lo
    assert t.sum() == pytest.approx(w.sum(), rel=1e-10)


@SETTINGS
@given(problem=trimming_problems())
def test_one_pass_trimming_keeps_the_sum(problem):
    w, lo, hi = problem
    outcome = _trim_or_message(w, lo, hi)
    if isinstance(outcome, str):  # a weight pushed below zero, or none inside
        assert "negative" in outcome or "every weight" in outcome
        return
    t = outcome
    assert t.sum() == pytest.approx(w.sum(), rel=1e-10)
    trimmed = (w > hi) | ((w < lo) if lo is not None else np.zeros(len(w), dtype=bool))
    np.testing.assert_array_equal(t[w > hi], hi)
    if lo is not None:
        np.testing.assert_array_equal(t[w < lo], lo)
    # the untrimmed units all move by the same amount
    moved = t[~trimmed] - w[~trimmed]
    if moved.size:
        assert np.ptp(moved) <= 1e-9 * max(1.0, abs(moved).max())


def _trim_or_message(w, lo, hi):
    try:
        return sipas.trim(trim_design(w), lower=lo, upper=hi).weight_array
    except sipas.WeightingError as exc:
        return str(exc)


@SETTINGS
@given(w=arrays(np.float64, st.integers(1, 200), elements=st.floats(1e-3, 1e4)))
def test_kish_deff_is_one_plus_cv_squared(w):
    row = sipas.weight_diagnostics(w).iloc[0]
    cv = w.std(ddof=0) / w.mean()
    assert row["cv"] == pytest.approx(cv, rel=1e-9, abs=1e-12)
    assert row["kish_deff"] == pytest.approx(1 + cv**2, rel=1e-9)
    assert row["ess"] == pytest.approx(len(w) / row["kish_deff"], rel=1e-9)
    assert row["n"] == len(w)
    assert 1 - 1e-12 <= row["kish_deff"] <= len(w) * (1 + 1e-12)


@SETTINGS
@given(w=arrays(np.float64, st.integers(2, 50), elements=st.floats(1e-3, 1e4)),
       scale=st.floats(1e-3, 1e3))
def test_diagnostics_ignore_zero_weights_and_scale(w, scale):
    """Zero-weight rows (domains, non-respondents) are not weights; deff is scale-free."""
    base = sipas.weight_diagnostics(w).iloc[0]
    padded = sipas.weight_diagnostics(np.concatenate([w, np.zeros(3)]) * scale).iloc[0]
    assert padded["n"] == base["n"]
    assert padded["kish_deff"] == pytest.approx(base["kish_deff"], rel=1e-9)
    assert padded["sum"] == pytest.approx(base["sum"] * scale, rel=1e-9)


@SETTINGS
@given(arrays(np.float64, st.integers(1, 300), elements=positive))
def test_weight_quantiles_equal_numpy(w):
    from sipas.weighting.diagnostics import _quantiles

    probs = (0.05, 0.25, 0.5, 0.75, 0.95)
    assert _quantiles(w, probs) == np.quantile(w, probs).tolist()
