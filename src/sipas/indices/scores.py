"""Item scores: every answer scored under a measure (top box, mean, % of max, % of range).

A scored answer is 1/0 for the top box, the code for ``mean``, the code rescaled to [0, 1]
for ``pct_of_max`` / ``pct_of_range``; answers that are empty or carry a missing code are
not valid for their item. The recipes here turn scores into the numerators and
denominators of ratios (item indices, per-respondent factor scores) for the estimation
engine; they are picklable, so a Dask back end runs them on its partitions.

Examples
--------
>>> import pandas as pd
>>> s = item_scores(pd.DataFrame({"q1": [5, 3], "q2": [4, 1]}), ["q1", "q2"])
>>> s.names, s.score.tolist()
(('q1', 'q2'), [[1.0, 1.0], [0.0, 0.0]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from sipas._validate import as_name_list, check_choice, message, plain
from sipas.errors import EstimationError
from sipas.spec import Spec

__all__ = ["ItemRecipe", "ItemScores", "Measure", "RespondentRecipe", "ScoreRecipe",
           "item_scores", "spec_scores"]

Measure = Literal["top_box", "mean", "pct_of_max", "pct_of_range"]
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ItemScores:
    """Per-respondent scores of items under one measure: ``score`` and ``valid`` (n x J).

    Attributes
    ----------
    names : tuple of str
        The item columns, in order.
    score : numpy.ndarray
        (n x J) scores (0 where the answer is not valid).
    valid : numpy.ndarray of bool
        (n x J) whether each answer is valid (answered, not a missing code).
    measure : str
        The measure that made the scores.

    Examples
    --------
    >>> import pandas as pd
    >>> s = item_scores(pd.DataFrame({"q1": [5, 3], "q2": [4, 1]}), ["q1", "q2"])
    >>> s.names, s.score.tolist()
    (('q1', 'q2'), [[1.0, 1.0], [0.0, 0.0]])
    """

    names: tuple[str, ...]
    score: np.ndarray
    valid: np.ndarray
    measure: str


def item_scores(frame: pd.DataFrame, items: Sequence[str], measure: Measure = "top_box", *,
                satisfied: Sequence[float] | Mapping[str, Sequence[float]] = (4, 5),
                missing_codes: Sequence[float] = (),
                scale: tuple[float, float] | Mapping[str, tuple]
                | None = None) -> ItemScores:
    """Score every answer: 1/0 for top box, the code for ``mean``, rescaled for ``pct_*``.

    ``missing_codes`` (and empty cells) are not valid answers: they leave the denominator of
    that item only. A code that is neither valid nor missing is not checked here (the reader
    does that); the scale range is needed for ``pct_of_max`` / ``pct_of_range``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data (one row per respondent).
    items : list of str
        Item columns with numeric answer codes.
    measure : {"top_box", "mean", "pct_of_max", "pct_of_range"}
        ``top_box``: 1 if the answer is in ``satisfied``, else 0; ``mean``: the code;
        ``pct_of_max``: code / max; ``pct_of_range``: (code - min) / (max - min).
    satisfied : list of codes, or mapping item -> list
        The top-box codes (per item with a mapping).
    missing_codes : list of codes
        Codes that are not valid answers (don't know, not applicable, ...).
    scale : (min, max) or mapping item -> (min, max), optional
        Range of the answer scale; required by ``pct_of_max`` and ``pct_of_range``.

    Returns
    -------
    ItemScores
        ``score`` and ``valid`` (n x J), 0 and False for empty cells and missing codes.

    Raises
    ------
    EstimationError
        An item is not a column or not numeric; ``top_box`` without satisfied codes for an
        item; ``pct_*`` without a scale, with ``min >= max``, or with valid answers outside
        the scale.
    DesignError
        An unknown ``measure``, or ``items`` not a list of names.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> f = pd.DataFrame({"q1": [5, 3, np.nan, 9], "q2": [4, 4, 2, 1]})
    >>> s = item_scores(f, ["q1", "q2"], satisfied=[4, 5], missing_codes=[9])
    >>> s.score.tolist()
    [[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    >>> s.valid[:, 0].tolist()  # empty cell and code 9 are not valid answers
    [True, True, False, False]
    >>> item_scores(f, ["q2"], "pct_of_range", scale=(1, 5)).score.ravel().tolist()
    [0.75, 0.75, 0.25, 0.0]
    """
    check_choice("measure", measure, ("top_box", "mean", "pct_of_max", "pct_of_range"))
    names = as_name_list("items", list(items))
    absent = [c for c in names if c not in frame.columns]
    if absent or not names:
        raise EstimationError(f"item column(s) {absent or names} not found in the data; items "
                              "must be columns of the design's frame.")
    # column-major: each item fills a contiguous column, and the estimation reads columns
    score = np.empty((len(frame), len(names)), order="F")
    valids = np.empty(score.shape, dtype=bool, order="F")
    missing = np.asarray(list(missing_codes), dtype="float64")
    for j, name in enumerate(names):
        col = frame[name]
        if not pd.api.types.is_numeric_dtype(col):
            raise EstimationError(f"item {name!r} must hold numeric codes; got {col.dtype}.")
        y = col.to_numpy(dtype="float64", na_value=np.nan)
        valid = valids[:, j]
        np.isnan(y, out=valid)
        np.logical_not(valid, out=valid)
        if len(missing):
            valid &= ~np.isin(y, missing)
        score[:, j] = _score(name, y, valid, measure, satisfied, scale)
    return ItemScores(tuple(names), score, valids, measure)


def _score(name, y, valid, measure, satisfied, scale) -> np.ndarray:
    if measure == "top_box":
        codes = satisfied.get(name, ()) if isinstance(satisfied, Mapping) else satisfied
        if not len(codes):
            raise EstimationError(f"item {name!r}: no satisfied codes given for top_box.")
        return np.where(valid, np.isin(y, np.asarray(list(codes), dtype="float64")), 0.0)
    if measure == "mean":
        return np.where(valid, y, 0.0)
    rng = scale.get(name) if isinstance(scale, Mapping) else scale
    if rng is None:
        raise EstimationError(f"measure={measure!r} needs scale=(min, max) for item {name!r}.")
    lo, hi = float(rng[0]), float(rng[1])
    if not hi > lo:
        raise EstimationError(message("scale", "(min, max) with min < max", rng))
    outside = valid & ((y < lo) | (y > hi))
    if outside.any():
        raise EstimationError(f"item {name!r} has valid answers outside the scale {rng}: "
                              f"{[plain(v) for v in sorted(set(y[outside]))[:8]]}. Declare them "
                              "missing or fix the scale.")
    value = y / hi if measure == "pct_of_max" else (y - lo) / (hi - lo)
    return np.where(valid, value, 0.0)


@dataclass(frozen=True)
class ScoreRecipe:
    """Computes the item scores of a frame (picklable: it runs on Dask workers too)."""

    items: tuple[str, ...]
    measure: Measure
    satisfied: Any
    missing_codes: tuple[float, ...]
    scale: Any
    spec: Spec | None = None
    #: (item, measure) columns scored after the spec's items, for tree nodes with a measure
    #: of their own
    extra: tuple[tuple[str, str], ...] = ()
    #: which of the score columns (the spec's items, then ``extra``) to compute; None: all
    select: tuple[int, ...] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the scores read."""
        return self.items

    @property
    def n_scores(self) -> int:
        """Number of score columns computed."""
        if self.select is not None:
            return len(self.select)
        return len(self.items) + (len(self.extra) if self.spec is not None else 0)

    def __call__(self, frame: pd.DataFrame) -> ItemScores:
        if self.spec is not None:
            return spec_scores(frame, self.spec, self.extra, self.select)
        items = self.items if self.select is None else tuple(self.items[i] for i in self.select)
        return item_scores(frame, items, self.measure, satisfied=self.satisfied,
                           missing_codes=self.missing_codes, scale=self.scale)

    def split(self, size: int) -> list[ScoreRecipe]:
        """The same scores in pieces of at most ``size`` columns (each item is scored on its
        own, so the pieces give the columns of the whole, in order)."""
        chosen = self.select if self.select is not None else tuple(range(self.n_scores))
        return [replace(self, select=chosen[i: i + size]) for i in range(0, len(chosen), size)]

    @property
    def binary(self) -> bool:
        if self.spec is None:
            return self.measure == "top_box"
        return all(self.measure == "top_box" or len(self.spec.scale_of(i).codes) == 2
                   for i in self.items) and all(m == "top_box" for _, m in self.extra)


@dataclass(frozen=True)
class ItemRecipe:
    """Item scores as ratio sources: (score x valid, valid, valid)."""

    scores: ScoreRecipe

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the scores read."""
        return self.scores.columns

    def __call__(self, frame: pd.DataFrame, w: np.ndarray) -> Arrays:
        sc = self.scores(frame)
        if self.scores.binary:
            # 0/1 scores as booleans: a byte per value, and the reduction counts them
            valid = np.asarray(sc.valid, order="F")
            return np.asarray(sc.score != 0, order="F"), valid, valid
        return self.from_scores(sc)

    def split(self, size: int) -> list[ItemRecipe]:
        """The same recipe in pieces of at most ``size`` items."""
        return [ItemRecipe(piece) for piece in self.scores.split(size)]

    @staticmethod
    def from_scores(sc: ItemScores):
        # a score is 0 where its answer is not valid, so it is its own numerator
        v = np.asarray(sc.valid, dtype="float64", order="F")
        return np.asarray(sc.score, dtype="float64", order="F"), v, v


@dataclass(frozen=True)
class RespondentRecipe:
    """Per-respondent factor scores: weighted mean over the respondent's valid items."""

    scores: ScoreRecipe
    groups: tuple[tuple[int, ...], ...]
    weights: tuple[tuple[float, ...], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the scores read."""
        return self.scores.columns

    def __call__(self, frame: pd.DataFrame, w: np.ndarray) -> Arrays:
        return self.from_scores(self.scores(frame))

    def split(self, size: int) -> list[RespondentRecipe]:
        """One piece: a respondent's score combines several items."""
        return [self]

    def from_scores(self, sc: ItemScores):
        per_resp, valid = [], []
        for cols, a in zip(self.groups, self.weights):
            v = sc.valid[:, list(cols)]
            wsum = v @ np.asarray(a)
            with np.errstate(divide="ignore", invalid="ignore"):
                per_resp.append(np.where(wsum > 0, (sc.score[:, list(cols)] * v) @ np.asarray(a)
                                         / wsum, 0.0))
            valid.append(wsum > 0)
        vmat = np.asarray(np.column_stack(valid), dtype="float64", order="F")
        return np.asarray(np.column_stack(per_resp) * vmat, order="F"), vmat, vmat


def spec_scores(frame: pd.DataFrame, spec: Spec, extra: Sequence[tuple[str, str]] = (),
                select: Sequence[int] | None = None) -> ItemScores:
    """Scores of every item of ``spec`` under ``[index] measure``, then of the ``extra``
    (item, measure) pairs (columns named ``item@measure``); ``select``: only those columns."""
    measure = spec.index.measure
    names = list(spec.item_names)
    satisfied = {it: spec.scale_of(it).satisfied for it in names}
    scale = {it: (spec.scale_of(it).min, spec.scale_of(it).max) for it in names}
    codes = sorted({c for it in names for v in spec.missing_codes(it).values() for c in v})
    pairs = [*((it, measure) for it in names), *extra]
    labels = [*names, *(f"{it}@{m}" for it, m in extra)]
    if select is not None:
        pairs, labels = [pairs[i] for i in select], [labels[i] for i in select]
    parts = []
    for it, m in pairs:
        # binary yes/no items have no meaningful mean: they are always shares
        m = "top_box" if len(spec.scale_of(it).codes) == 2 else cast(Measure, m)
        parts.append(item_scores(frame, [it], m, satisfied=satisfied, missing_codes=codes,
                                 scale=scale))
    score = np.empty((len(frame), len(parts)), order="F")
    valid = np.empty(score.shape, dtype=bool, order="F")
    for j, p in enumerate(parts):
        score[:, j], valid[:, j] = p.score[:, 0], p.valid[:, 0]
    return ItemScores(tuple(labels), score, valid, measure)
