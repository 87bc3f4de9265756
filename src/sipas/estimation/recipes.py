"""Recipes: how the rows of a frame become the numerators and denominators of ratios.

A recipe is a small picklable object called on a frame (the whole data in memory, or one
partition of a Dask frame) and the rows' weights; it returns ``(num, den, valid)`` arrays
(column-major, one column per variable; 0/1 indicators as booleans) for
:func:`sipas.engine.sums.unit_sums`. ``split(size)`` cuts it into recipes of fewer variables,
so memory stays bounded.

Examples
--------
>>> import numpy as np, pandas as pd
>>> num, den, valid = NumericRecipe(("y",))(pd.DataFrame({"y": [1.0, None]}), np.ones(2))
>>> num.ravel().tolist(), den.ravel().tolist()
([1.0, 0.0], [True, False])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from sipas._validate import check_choice, plain
from sipas.backends.base import Backend
from sipas.errors import DesignError, EstimationError

__all__ = ["ArrayRecipe", "Missing", "NumericRecipe", "RatioRecipe", "Recipe", "ShareRecipe",
           "levels"]

Missing = Literal["omit", "error"]
Arrays = tuple[np.ndarray, np.ndarray | None, np.ndarray]


class Recipe(Protocol):
    """How the rows of a frame become the numerators and denominators of ratios."""

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the recipe reads."""
        ...

    def __call__(self, frame: pd.DataFrame, w: np.ndarray) -> Arrays:
        """``(num, den, valid)``: (n x J) arrays (``den`` None for totals)."""
        ...

    def split(self, size: int) -> Sequence[Recipe]:
        """The same recipe in pieces of at most ``size`` variables."""
        ...


def levels(backend: Backend, var: str) -> list[Any]:
    """The observed values of a column, sorted (numbers first).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> [float(v) for v in levels(d.backend, "urban")]
    [1.0, 2.0]
    """
    values = backend.distinct([var])[var].dropna()
    return sorted(pd.unique(values.to_numpy()), key=_sort_key)


@dataclass(frozen=True)
class NumericRecipe:
    """Numeric columns as (num, den, valid): the values, and 1 where they are not missing
    (``total=True``: no denominator)."""

    names: tuple[str, ...]
    missing: Missing = "omit"
    total: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the recipe reads."""
        return self.names

    def __call__(self, frame: pd.DataFrame, w: np.ndarray) -> Arrays:
        y, valid = _numeric_matrices(frame, list(self.names), self.missing, w)
        return y, (None if self.total else valid), valid

    def split(self, size: int) -> list[NumericRecipe]:
        return [NumericRecipe(self.names[i: i + size], self.missing, self.total)
                for i in range(0, len(self.names), size)]


@dataclass(frozen=True)
class RatioRecipe:
    """Pairs of numeric columns: a row missing either value is left out of both."""

    nums: tuple[str, ...]
    dens: tuple[str, ...]
    missing: Missing = "omit"

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the recipe reads."""
        return tuple(dict.fromkeys(self.nums + self.dens))

    def __call__(self, frame: pd.DataFrame, w: np.ndarray) -> Arrays:
        y, vy = _numeric_matrices(frame, list(self.nums), self.missing, w)
        x, vx = _numeric_matrices(frame, list(self.dens), self.missing, w)
        valid = vy & vx
        return y * valid, x * valid, valid

    def split(self, size: int) -> list[RatioRecipe]:
        return [RatioRecipe(self.nums[i: i + size], self.dens[i: i + size], self.missing)
                for i in range(0, len(self.nums), size)]


@dataclass(frozen=True)
class ShareRecipe:
    """Indicators of answers in a set of codes, over the answered rows."""

    groups: tuple[tuple[str, tuple[Any, ...]], ...]
    missing: Missing = "omit"
    check: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the recipe reads."""
        return tuple(dict.fromkeys(var for var, _g in self.groups))

    def __call__(self, frame: pd.DataFrame, w: np.ndarray) -> Arrays:
        nums, valids = [], []
        for var, g in self.groups:
            col = frame[var]
            present = _present(col)
            if self.missing == "error":
                _refuse_missing(w, var, present)
            hit = _indicator(col, list(g), present)
            if self.check and not hit.any() and len(frame):
                _check_values_present(col, list(g), var)
            nums.append(hit)
            valids.append(present)
        # 0/1 indicators stay boolean: an eighth of the memory of floats, and the reduction
        # counts them as numbers (sipas.engine.sums)
        valid = _fortran(valids, dtype=bool)
        return _fortran(nums, dtype=bool), valid, valid

    def split(self, size: int) -> list[ShareRecipe]:
        return [ShareRecipe(self.groups[i: i + size], self.missing, self.check)
                for i in range(0, len(self.groups), size)]


@dataclass(frozen=True, eq=False)
class ArrayRecipe:
    """Numerators and denominators already computed for every row (in-memory designs).

    Examples
    --------
    >>> import numpy as np
    >>> r = ArrayRecipe(np.ones((3, 2)), np.ones((3, 2)))
    >>> [len(p.num[0]) for p in r.split(1)]
    [1, 1]
    """

    num: np.ndarray
    den: np.ndarray | None
    valid: np.ndarray | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """No data column: the arrays are given."""
        return ()

    def __call__(self, frame: pd.DataFrame, w: np.ndarray) -> Arrays:
        if len(frame) != len(self.num):
            raise EstimationError("internal: an array recipe was given another frame")
        valid = self.den if self.valid is None else self.valid
        return self.num, self.den, valid  # type: ignore[return-value]

    def split(self, size: int) -> list[ArrayRecipe]:
        j = self.num.shape[1]
        if j <= size:
            return [self]
        return [ArrayRecipe(self.num[:, i: i + size],
                            None if self.den is None else self.den[:, i: i + size],
                            None if self.valid is None else self.valid[:, i: i + size])
                for i in range(0, j, size)]


def _present(col: pd.Series) -> np.ndarray:
    """Rows with an answer (numpy's isnan is several times faster than pandas' notna)."""
    if isinstance(col.dtype, np.dtype) and col.dtype.kind == "f":
        return ~np.isnan(col.to_numpy())
    return col.notna().to_numpy()


def _fortran(columns: list[np.ndarray], dtype: type = np.float64) -> np.ndarray:
    """Stack columns into a new column-major array (each variable contiguous)."""
    if len(columns) == 1:  # one column is column-major already: one copy (callers write to it)
        return np.array(columns[0], dtype=dtype).reshape(-1, 1)
    out: np.ndarray = np.empty((len(columns[0]), len(columns)), dtype=dtype, order="F")
    for j, c in enumerate(columns):
        out[:, j] = c
    return out


def _indicator(col: pd.Series, values: list[Any], present: np.ndarray) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col):
        arr = col.to_numpy(dtype="float64", na_value=np.nan)
        try:
            return np.isin(arr, np.asarray(values, dtype="float64"))
        except (TypeError, ValueError):
            pass
    return col.isin(values).to_numpy(dtype=bool) & present


def _numeric_matrices(frame: pd.DataFrame, names: list[str], missing: Missing,
                      w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n x J) values (0 where missing) and the (n x J) boolean mask of the non-missing."""
    check_choice("missing", missing, ("omit", "error"))
    cols = []
    for name in names:
        col = frame[name]
        if not pd.api.types.is_numeric_dtype(col):  # bool (also nullable) counts as 0/1
            shown = [plain(v) for v in pd.unique(col.dropna())[:5]]
            raise DesignError(f"column {name!r} must be numeric for this estimator; got "
                              f"dtype {col.dtype} with values such as {shown}. For "
                              "categories use sipas.proportion; convert numbers stored as "
                              "text with pd.to_numeric.")
        cols.append(col.to_numpy(dtype="float64", na_value=np.nan))
    y = _fortran(cols)
    valid = ~np.isnan(y)
    # two reductions find an infinity without a row-sized temporary
    if np.isinf(np.max(y, where=valid, initial=0.0)) or np.isinf(
            np.min(y, where=valid, initial=0.0)):
        r, c = np.argwhere(np.isinf(y))[0]
        raise DesignError(f"column {names[c]!r} has infinite values (first at row {int(r)}).")
    if missing == "error":
        for j, name in enumerate(names):
            _refuse_missing(w, name, valid[:, j])
    y[~valid] = 0.0
    return y, valid


def _refuse_missing(w: np.ndarray, name: str, present: np.ndarray) -> None:
    bad = ~present & (w > 0)
    if bad.any():
        raise EstimationError(f"column {name!r} has {int(bad.sum())} missing value(s) (rows "
                              f"{np.flatnonzero(bad)[:10].tolist()}) and missing='error'. Use "
                              "missing='omit' to leave them out as a domain (R na.rm=TRUE).")


def _check_values_present(col: pd.Series, values: list[Any], name: str) -> None:
    observed = set(pd.unique(col.dropna()))
    if observed and not any(v in observed for v in values):
        shown = [plain(v) for v in sorted(observed, key=_sort_key)[:12]]
        wanted = [plain(v) for v in values]
        raise DesignError(f"value(s) {wanted} never occur in column {name!r} (values found: "
                          f"{shown}). Check the codes (1/2 vs 'Yes'/'No').")


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float, np.number)) else (1, str(v))


def _as_float(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.float64 else np.asarray(a, dtype="float64", order="F")
