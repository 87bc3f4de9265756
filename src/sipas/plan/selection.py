"""Selecting a sample: PPS systematic with certainty units, simple random and systematic.

``inclusion_probabilities`` gives ``pi_k = n x_k / sum x`` with every unit whose ``pi_k``
reaches 1 taken with certainty and the others recomputed from the rest, recursively (R
``sampling::inclusionprobabilities``). ``select`` draws from a frame, per stratum, and writes
the inclusion probability and the design weight of every selected unit; a second call with
``within=`` the first selection selects inside the selected clusters and multiplies the
probabilities, so the next wave's ``Design(frame, ids=..., strata=..., weights="weight")``
reads the result directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, generator, message, plain
from sipas.errors import PlanError

__all__ = ["Selection", "inclusion_probabilities", "select"]

SelectMethod = Literal["pps", "srs", "systematic"]


def inclusion_probabilities(sizes: Any, n: int) -> np.ndarray:
    """Inclusion probabilities proportional to size, with certainty units, for ``n`` draws.

    Parameters
    ----------
    sizes : array
        Positive measures of size (households, users of the one-stop office...).
    n : int
        Units to select, at most the number of units.

    Returns
    -------
    numpy.ndarray
        ``pi`` with ``sum(pi) == n`` and ``0 < pi <= 1``; units with ``pi == 1`` are
        certainty units.

    Raises
    ------
    PlanError
        A size that is zero, negative or missing (the message names its position), or ``n``
        not in 1..len(sizes).

    Notes
    -----
    Repeat: ``pi_k = (n - c) x_k / sum_{not certain} x`` over the units not yet certain, where
    ``c`` counts the certain ones; units with ``pi_k >= 1`` become certain. Matches R
    ``sampling::inclusionprobabilities(x, n)``.

    Examples
    --------
    >>> inclusion_probabilities([1, 2, 3, 20], 2).round(4).tolist()
    [0.1667, 0.3333, 0.5, 1.0]
    """
    x = np.asarray(sizes, dtype="float64")
    if x.ndim != 1:
        raise PlanError(message("sizes", "a one-dimensional array", x.shape))
    bad = ~np.isfinite(x) | (x <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PlanError(message(f"sizes[{i}]", "positive and finite", plain(x[i]),
                                "A cluster of size zero can never be drawn: drop it from the "
                                "frame or give it its measure of size."))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(x):
        raise PlanError(message("n", f"an integer from 1 to the number of units ({len(x)})",
                                n))
    return _pips(x, int(n))


def _pips(x: np.ndarray, n: int) -> np.ndarray:
    certain = np.zeros(len(x), dtype=bool)
    while True:
        rest = n - int(certain.sum())
        pi = np.where(certain, 1.0, rest * x / x[~certain].sum())
        new = (pi >= 1) & ~certain
        if not new.any():
            return pi
        certain |= new


@dataclass(frozen=True)
class Selection:
    """The selected units of a frame with their probabilities and design weights.

    ``frame`` holds the selected rows with the columns ``prob`` (overall inclusion
    probability), ``weight`` (``1 / prob``), ``certainty`` and ``prob_<k>`` (stage ``k``).
    ``summary()`` is the selection report: per stratum, units in the frame, selected,
    certainty units, and the sum of weights against the frame's count (and size).
    """

    frame_: pd.DataFrame
    report: pd.DataFrame
    stage: int
    seed: Any

    @property
    def frame(self) -> pd.DataFrame:
        """The selected rows (a copy)."""
        return self.frame_.copy()

    def to_frame(self) -> pd.DataFrame:
        """The selected rows with ``prob_<k>``, ``prob``, ``weight`` and ``certainty``."""
        return self.frame_.copy()

    def summary(self) -> pd.DataFrame:
        """The selection report, one row per stratum of this stage."""
        return self.report.copy()

    def __len__(self) -> int:
        return len(self.frame_)

    def __repr__(self) -> str:
        return f"Selection(stage={self.stage}, selected={len(self.frame_)})"


def select(frame: pd.DataFrame, n: int | Mapping[Any, int] | pd.Series, *,
           method: SelectMethod = "pps", size: str | None = None,
           strata: str | None = None, within: Selection | None = None,
           cluster: str | None = None,
           seed: int | np.random.Generator | None = None) -> Selection:
    """Select units from a frame, per stratum; PPS systematic, simple random or systematic.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per unit (communes, or people of the selected communes).
    n : int, mapping or Series
        Units to select, overall or per stratum (keys: the values of ``strata``).
    method : {"pps", "srs", "systematic"}
        PPS systematic on ``size`` (certainty units first), simple random sampling without
        replacement, or equal-probability systematic sampling, in the frame's order.
    size : str, optional
        Column of the measure of size (for ``"pps"``).
    strata : str, optional
        Column of the strata; with ``within``, the cluster column the units belong to.
    within : Selection, optional
        The previous stage: only units of its selected clusters are kept, and their
        probability is multiplied by the cluster's.
    cluster : str, optional
        With ``within``: the column naming the cluster in both frames (default ``strata``).
    seed : int or numpy.random.Generator, optional
        The random start; the same seed gives the same sample.

    Returns
    -------
    Selection

    Raises
    ------
    PlanError
        A missing column, a stratum with no units or fewer units than asked, a size of zero.

    Notes
    -----
    PPS systematic: with ``pi`` from :func:`inclusion_probabilities`, cumulate ``pi`` in frame
    order and take the units whose cumulated interval holds ``u + j`` for a uniform start
    ``u`` and integers ``j``; every unit is taken with probability exactly ``pi_k``
    (Madow 1949). R equivalent: ``sampling::UPsystematic``.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"commune": range(6), "district": [1, 1, 1, 2, 2, 2],
    ...                   "users": [100, 900, 200, 300, 300, 400]})
    >>> s = select(f, {1: 2, 2: 1}, size="users", strata="district", seed=1)
    >>> s.frame[["commune", "certainty"]].head(1).values.tolist()
    [[1, True]]
    """
    check_choice("method", method, ("pps", "srs", "systematic"), PlanError)
    rng = generator(seed, PlanError, "seed")
    f = frame.reset_index(drop=True)
    prior = np.ones(len(f))
    stage = 1
    if within is not None:
        f, prior = _within(f, within, cluster or strata)
        stage = within.stage + 1
    for col in (size, strata):
        if col is not None and col not in f.columns:
            raise PlanError(f"column {col!r} is not in the frame; columns: "
                            f"{list(f.columns)[:12]}.")
    if method == "pps" and size is None:
        raise PlanError(message("size", "a column of the frame for method='pps'", None))
    groups = (np.zeros(len(f), dtype="int64"), np.array([None], dtype=object)) \
        if strata is None else _codes(f[strata])
    code, labels = groups
    want = _wanted(n, labels, strata)
    pi = np.empty(len(f))
    counts = np.bincount(code, minlength=len(labels))
    order = np.argsort(code, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for g, label in enumerate(labels):
        idx = order[bounds[g]:bounds[g + 1]]
        k = want[g]
        where = f"stratum {plain(label)!r}" if strata else "the frame"
        if len(idx) == 0 or k > len(idx):
            raise PlanError(f"{where} has {len(idx)} units but {k} are to be selected; "
                            "lower n for it or take all its units.")
        if method == "pps":
            x = f[size].to_numpy(dtype="float64")[idx]
            bad = ~np.isfinite(x) | (x <= 0)
            if bad.any():
                raise PlanError(f"{where}: unit at row {int(idx[np.flatnonzero(bad)[0]])} has "
                                f"size {plain(x[bad][0])}; a size must be positive: drop the "
                                "unit or give its measure of size.")
            pi[idx] = _pips(x, k) if k > 0 else 0.0
        else:
            pi[idx] = k / len(idx)
    take = _draw(pi, code, order, bounds, method, rng)
    out = f.loc[take].copy()
    out[f"prob_{stage}"] = pi[take]
    out["prob"] = prior[take] * pi[take]
    out["weight"] = 1.0 / out["prob"]
    out["certainty"] = pi[take] >= 1 - 1e-12
    report = _report(f, code, labels, take, pi, size, strata)
    return Selection(out.reset_index(drop=True), report, stage, seed)


def _within(f: pd.DataFrame, within: Selection, cluster: str | None
            ) -> tuple[pd.DataFrame, np.ndarray]:
    if cluster is None or cluster not in f.columns or cluster not in within.frame_.columns:
        raise PlanError(message("cluster", "a column of both frames with within=", cluster,
                                "Name the column that identifies the selected clusters."))
    first = within.frame_.drop_duplicates(cluster).set_index(cluster)["prob"]
    keep = f[cluster].isin(first.index).to_numpy()
    f = f.loc[keep].reset_index(drop=True)
    if len(f) == 0:
        raise PlanError("no unit of the frame belongs to a selected cluster; check the "
                        f"column {cluster!r} holds the same ids in both frames.")
    prior = f[cluster].map(first).to_numpy(dtype="float64")
    drop = [c for c in ("prob", "weight", "certainty") if c in f.columns]
    f = f.drop(columns=drop)
    earlier = within.frame_.drop_duplicates(cluster).set_index(cluster)
    for col in (c for c in earlier.columns if c.startswith("prob_") and c not in f.columns):
        # the earlier stages' probabilities travel with the unit, for the report and the design
        f[col] = f[cluster].map(earlier[col]).to_numpy()
    return f, prior


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if values.isna().any():
        raise PlanError(f"column {values.name!r} has missing strata at rows "
                        f"{np.flatnonzero(values.isna().to_numpy())[:5].tolist()}.")
    code, labels = pd.factorize(values, sort=True)
    return code.astype("int64"), np.asarray(labels, dtype=object)


def _wanted(n: Any, labels: np.ndarray, strata: str | None) -> np.ndarray:
    if isinstance(n, (Mapping, pd.Series)):
        got = dict(n.items())
        missing = [plain(label) for label in labels if label not in got]
        if missing:
            raise PlanError(f"n has no size for stratum {missing[0]!r} of {strata!r}; give "
                            "one for every stratum (0 to skip one).")
        out = np.array([got[label] for label in labels])
    else:
        out = np.full(len(labels), n)
    if not np.all((out >= 0) & (out == np.floor(out))):
        raise PlanError(message("n", "non-negative integers", n))
    return out.astype("int64")


def _draw(pi: np.ndarray, code: np.ndarray, order: np.ndarray, bounds: np.ndarray,
          method: str, rng: np.random.Generator) -> np.ndarray:
    """Row numbers selected, in frame order."""
    if method == "srs":
        u = rng.random(len(pi))
        # rank of a uniform within its stratum: the k smallest are a simple random sample
        keys = np.lexsort((u, code))
        rank = np.empty(len(pi), dtype="int64")
        rank[keys] = np.arange(len(pi)) - bounds[code[keys]]
        counts = np.diff(bounds)
        k = np.rint(pi * counts[code]).astype("int64")
        return np.flatnonzero(rank < k)
    # systematic on the cumulated probabilities, one uniform start per stratum
    p = pi[order]
    cum = np.cumsum(p)
    start = np.repeat(_starts(cum, bounds), np.diff(bounds))
    upper = cum - start
    lower = upper - p
    start_u = np.repeat(rng.random(len(bounds) - 1), np.diff(bounds))
    hits = np.floor(upper - start_u + 1e-12) - np.floor(lower - start_u + 1e-12)
    chosen = order[hits > 0]
    return np.sort(chosen)


def _starts(cum: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The cumulated sum before each stratum, so every stratum's cumulation starts at 0."""
    before = np.concatenate([[0.0], cum])[bounds[:-1]]
    return before


def _report(f: pd.DataFrame, code: np.ndarray, labels: np.ndarray, take: np.ndarray,
            pi: np.ndarray, size: str | None, strata: str | None) -> pd.DataFrame:
    h = len(labels)
    sel = np.zeros(len(f), dtype=bool)
    sel[take] = True
    w = np.where(sel, 1 / np.where(pi > 0, pi, 1), 0.0)
    out = pd.DataFrame({
        "stratum": labels if strata else ["all"],
        "units": np.bincount(code, minlength=h),
        "selected": np.bincount(code, weights=sel, minlength=h).astype("int64"),
        "certainty": np.bincount(code, weights=sel & (pi >= 1 - 1e-12),
                                 minlength=h).astype("int64"),
        "expected": np.bincount(code, weights=pi, minlength=h),
        "sum_weights": np.bincount(code, weights=w, minlength=h)})
    if size is not None:
        x = f[size].to_numpy(dtype="float64")
        out["size_total"] = np.bincount(code, weights=x, minlength=h)
        out["size_estimate"] = np.bincount(code, weights=w * x, minlength=h)
    return out
