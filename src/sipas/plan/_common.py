"""Argument handling shared by the planning functions: labelled arrays and one error wording."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import message, plain
from sipas.errors import PlanError

ArrayLike = float | int | Sequence[float] | np.ndarray | pd.Series | Mapping[Any, float]


def labelled(name: str, value: ArrayLike) -> tuple[np.ndarray, np.ndarray | None]:
    """A float array and the labels it carries (a Series index or mapping keys), if any."""
    values: Any
    if isinstance(value, Mapping):
        labels = np.asarray(list(value.keys()), dtype=object)
        values = list(value.values())
    elif isinstance(value, pd.Series):
        labels, values = value.index.to_numpy(dtype=object), value.to_numpy()
    else:
        labels, values = None, value
    try:
        arr = np.asarray(values, dtype="float64")
    except (TypeError, ValueError):
        raise PlanError(message(name, "numbers", value)) from None
    return arr, labels


def check_positive(name: str, values: np.ndarray, labels: np.ndarray | None, *,
                   allow_zero: bool = False, hint: str = "") -> None:
    """Raise naming the first element (and its label) that is not positive and finite."""
    bad = ~np.isfinite(values) | ((values < 0) if allow_zero else (values <= 0))
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        where = _where(labels, i, values.ndim)
        expectation = "non-negative and finite" if allow_zero else "positive and finite"
        raise PlanError(message(f"{name}{where}", expectation, plain(values.ravel()[i]), hint))


def check_unit_interval(name: str, values: np.ndarray, labels: np.ndarray | None, *,
                        closed_high: bool = False, hint: str = "") -> None:
    """Raise naming the first element outside (0, 1) (or (0, 1] with ``closed_high``)."""
    high = values <= 1 if closed_high else values < 1
    bad = ~(np.isfinite(values) & (values > 0) & high)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        where = _where(labels, i, values.ndim)
        interval = "(0, 1]" if closed_high else "(0, 1)"
        raise PlanError(message(f"{name}{where}", f"in {interval}",
                                plain(values.ravel()[i]), hint))


def _where(labels: np.ndarray | None, i: int, ndim: int) -> str:
    if ndim == 0:
        return ""
    if labels is not None and i < len(labels):
        return f" of {plain(labels[i])!r}"
    return f"[{i}]"


def frozen(arr: np.ndarray) -> np.ndarray:
    """A read-only view, so a result's arrays cannot be changed behind its back."""
    out = np.asarray(arr).view()
    out.flags.writeable = False
    return out
