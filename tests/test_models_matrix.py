"""The model matrix as dense columns and one-hot blocks (sipas.models.matrix) against the
dense matrix formulaic makes of the same formula, and the sandwich from blocks against the
sandwich from the dense scores (plain, calibrated and lonely-PSU designs).

Independent source: formulaic's own pandas model matrix, and plain numpy products.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from formulaic import model_matrix

import sipas
from sipas.models.formula import model_frame
from sipas.models.matrix import BlockMatrix
from sipas.models.sandwich import ScoreColumns, taylor_basis

FORMULA = "y ~ x + C(g) + C(h) + C(g):x + C(h):C(k) + np.log(z)"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 600
    out = pd.DataFrame({
        "y": rng.normal(size=n), "x": rng.normal(size=n), "z": rng.uniform(0.5, 2, n),
        "g": rng.choice(list("abcdef"), n), "h": rng.integers(1, 5, n).astype(float),
        "k": rng.choice(["u", "v", "w"], n), "psu": rng.integers(0, 40, n),
        "w": rng.uniform(1, 3, n)})
    out.loc[rng.choice(n, 30, replace=False), "x"] = np.nan
    out.loc[rng.choice(n, 20, replace=False), "g"] = None
    out.loc[rng.choice(n, 10, replace=False), "z"] = -1.0  # log(-1) is NaN: left out
    return out


def _dense(frame: pd.DataFrame, used: np.ndarray) -> np.ndarray:
    mm = model_matrix(FORMULA, frame, na_action="ignore")
    x = np.nan_to_num(np.asarray(mm.rhs, dtype="float64"))
    x[~used] = 0.0
    return x


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_blocks_equal_formulaic_dense(frame):
    mf = model_frame(frame, FORMULA)
    drop = model_matrix(FORMULA, frame, na_action="drop")
    np.testing.assert_array_equal(np.flatnonzero(mf.used), drop.rhs.index.to_numpy())
    x = _dense(frame, mf.used)
    X = mf.X
    assert len(X.blocks) >= 3  # C(g), C(h), C(g):x, C(h):C(k) are one-hot; x, log(z) dense
    np.testing.assert_array_equal(X.toarray(), x)
    rng = np.random.default_rng(1)
    w = np.where(mf.used, rng.uniform(0.5, 2, len(x)), 0.0)
    b = rng.normal(size=X.k)
    np.testing.assert_allclose(X.gram(w), x.T @ (x * w[:, None]), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(X.dot(b), x @ b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(X.tdot(w), x.T @ w, rtol=1e-13, atol=1e-13)
    rows = rng.random(len(x)) < 0.5
    np.testing.assert_array_equal(X.take(rows).toarray(), x[rows])
    np.testing.assert_array_equal(X.without((0, 3, 7)).toarray(), np.delete(x, [0, 3, 7], 1))
    np.testing.assert_array_equal(X.nonzero_columns(rows), (x[rows] != 0).any(axis=0))
    np.testing.assert_allclose(BlockMatrix.from_dense(x).gram(w), x.T @ (x * w[:, None]),
                               rtol=1e-13, atol=1e-12)


def _designs(frame: pd.DataFrame) -> list[sipas.Design]:
    d = sipas.Design(frame, ids="psu", weights="w")
    by_k = (frame.groupby("k")["w"].sum() * 1.1).to_dict()
    post = sipas.poststratify(d, "k", by_k)
    greg = sipas.calibrate(d, {"k": by_k, "y": float((frame["w"] * frame["y"]).sum()) + 5})
    # PSU 3 alone in its stratum: the adjust rule centres it on the grand mean
    strata = np.where(frame["psu"] == 3, 99, frame["psu"] % 7)
    lonely = sipas.Design(frame.assign(st=strata), ids="psu", strata="st", weights="w",
                          lonely_psu="adjust")
    return [d, post, greg, lonely]


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_sandwich_from_blocks_equals_dense_scores(frame):
    mf = model_frame(frame, FORMULA)
    rng = np.random.default_rng(3)
    r = np.where(mf.used, rng.normal(size=len(mf.y)), 0.0)
    bread = np.linalg.inv(mf.X.gram(np.where(mf.used, 1.0, 0.0)))
    beta = np.zeros(mf.X.k)
    dense = [ScoreColumns(mf.X.toarray() * r[:, None], np.arange(mf.X.k))]
    for design in _designs(frame):
        a = taylor_basis(design, mf.X.score_columns(r), bread, beta).cov()
        b = taylor_basis(design, dense, bread, beta).cov()
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.abs(b).max())
