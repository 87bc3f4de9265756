"""The in-memory back end: a pandas frame, one chunk of rows with its arrays kept.

The rows' sampling units, the weights before and after every weighting step and every
step's cells are computed once and kept, so a kernel finds them as arrays; a reduction is
one call of the kernel on all rows.

Examples
--------
>>> import numpy as np, pandas as pd
>>> b = MemoryBackend(pd.DataFrame({"y": [1.0, 2.0]}), (np.array([0, 1]),), np.ones(2))
>>> b.kind, b.weight_array().tolist()
('memory', [1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from sipas._codes import sorted_codes
from sipas.backends.base import (
    CellFactor,
    CellTable,
    Domains,
    FixedCodes,
    RowWeights,
    WeightFactor,
)
from sipas.engine.rows import Kernel
from sipas.errors import DesignError, EstimationError

__all__ = ["MemoryBackend", "MemoryRows", "missing_domain_message"]

T = TypeVar("T")


def missing_domain_message(columns: Sequence[str], n: int, rows: Sequence[int] | None) -> str:
    """One wording for ``by`` columns with missing values (both back ends).

    Examples
    --------
    >>> missing_domain_message(["district"], 2, [4, 9]).split(". ")[0]
    "by column(s) ['district'] have 2 missing value(s) (rows [4, 9])"
    """
    where = f" (rows {list(rows)})" if rows is not None else ""
    return (f"by column(s) {list(columns)} have {n} missing value(s){where}. Give them a level "
            "of their own (e.g. fillna('unknown')) so no respondent is dropped silently.")


@dataclass(frozen=True, eq=False)
class _RowCells:
    """The cell of every row of a cell table (in-memory look-up), and which rows had
    positive weight when it was made."""

    cells: np.ndarray
    positive: np.ndarray


class MemoryRows:
    """All rows of a :class:`MemoryBackend` as one chunk (see :class:`~sipas.engine.rows.Rows`).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> b = MemoryBackend(pd.DataFrame({"y": [1.0, 2.0]}), (np.array([0, 1]),), np.ones(2))
    >>> b.rows().units(0).tolist()
    [0, 1]
    """

    partial = False

    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend

    @property
    def frame(self) -> pd.DataFrame:
        """The data frame."""
        return self._backend._frame

    def weights(self, before: int | None = None) -> np.ndarray:
        """Final weights, or the weights before weighting step ``before``."""
        stages = self._backend._weights
        return stages[-1] if before is None else stages[before]

    def units(self, stage: int = -1) -> np.ndarray:
        """Unit code of every row at ``stage``."""
        return self._backend._units[stage]

    def cells(self, step: int) -> np.ndarray:
        """Cell of every row in weighting step ``step``."""
        cells = self._backend._cells[step]
        if cells is None:
            raise EstimationError(f"internal: weighting step {step} has no cells")
        return cells


class MemoryBackend:
    """Rows in a pandas frame (see :mod:`sipas.backends.base`).

    Parameters
    ----------
    frame : pandas.DataFrame
        The data (the back end keeps it; the caller passes a private copy).
    units : tuple of numpy.ndarray
        Every row's unit code at each sampling stage that enters the variance.
    weights : numpy.ndarray
        The base weights.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> b = MemoryBackend(pd.DataFrame({"g": [1, 2, 2]}), (np.arange(3),), np.ones(3))
    >>> b.cell_table(["g"]).table["__w"].tolist()
    [1.0, 2.0]
    """

    kind: Literal["memory"] = "memory"
    in_memory = True

    def __init__(self, frame: pd.DataFrame, units: tuple[np.ndarray, ...],
                 weights: np.ndarray) -> None:
        self._frame = frame
        self._units = units
        self._weights: tuple[np.ndarray, ...] = (_frozen(weights),)
        self._cells: tuple[np.ndarray | None, ...] = ()

    # ------------------------------------------------------------------ facts

    @property
    def columns(self) -> pd.Index:
        """The data columns."""
        return self._frame.columns

    @property
    def n_steps(self) -> int:
        """How many weight factors were applied."""
        return len(self._cells)

    def frame(self) -> pd.DataFrame:
        """A copy of the data (copy-on-write: cheap, and edits do not reach the rows)."""
        return self._frame.copy(deep=False)

    def weight_array(self) -> npt.NDArray[np.float64]:
        """Final weights (read-only)."""
        return self._weights[-1]

    def rows(self) -> MemoryRows:
        """All rows as one chunk."""
        return MemoryRows(self)

    # ------------------------------------------------------------------ sums

    def reduce(self, kernel: Kernel[T]) -> T:
        """``kernel`` on all rows."""
        return kernel.combine([kernel(MemoryRows(self))])

    def empty(self) -> pd.DataFrame:
        """The columns and their types, without rows."""
        return self._frame.iloc[:0]

    def distinct(self, columns: Sequence[str]) -> pd.DataFrame:
        """The distinct combinations of ``columns``."""
        return self._frame[list(columns)].drop_duplicates().reset_index(drop=True)

    def domains(self, columns: Sequence[str]) -> Domains:
        """Domain codes of every row and the sorted labels (categoricals keep their order)."""
        cols = list(columns)
        if not cols:
            return Domains(pd.DataFrame(index=range(1)),
                           FixedCodes(np.zeros(len(self._frame), dtype=np.int64)))
        frame = self._frame[cols]
        bad = frame.isna().any(axis=1).to_numpy()
        if bad.any():
            raise DesignError(missing_domain_message(
                [c for c in cols if frame[c].isna().any()], int(bad.sum()),
                np.flatnonzero(bad)[:10].tolist()))
        if len(cols) == 1 and isinstance(frame[cols[0]].dtype, pd.CategoricalDtype):
            cat = frame[cols[0]].cat
            return Domains(pd.DataFrame({cols[0]: cat.categories}),
                           FixedCodes(cat.codes.to_numpy().astype(np.int64)))
        codes, labels = _joint_codes([sorted_codes(frame[c]) for c in cols], cols)
        return Domains(labels, FixedCodes(codes))

    def cell_table(self, columns: Sequence[str]) -> CellTable:
        """Cells of ``columns`` (missing values form cells of their own) among the rows with
        positive weight; the table is sorted by the columns."""
        cols = list(columns)
        w = self._weights[-1]
        positive = w > 0
        codes, labels = _joint_codes([sorted_codes(self._frame[c], na_level=True)
                                      for c in cols], cols)
        n = np.bincount(codes, weights=positive, minlength=len(labels))
        total = np.bincount(codes, weights=np.where(positive, w, 0.0), minlength=len(labels))
        keep = n > 0
        new = np.cumsum(keep) - 1
        cells = new[codes] if keep.all() else np.where(keep[codes], new[codes], -1)
        table = labels[keep].reset_index(drop=True).assign(__w=total[keep], __n=n[keep])
        return CellTable(table, _RowCells(cells, positive))

    def row_cells(self, cells: CellTable) -> np.ndarray:
        """The cell of every row (-1: in none)."""
        return cells.lookup.cells

    def rows_of(self, cells: CellTable, which: int, limit: int = 10) -> list[int] | None:
        """The first positive-weight rows of cell ``which`` (for messages that name rows)."""
        lookup = cells.lookup
        return np.flatnonzero((lookup.cells == which) & lookup.positive)[:limit].tolist()

    def with_columns(self, columns: Mapping[str, Any]) -> MemoryBackend:
        """The same rows, weights and steps with columns added to the data."""
        out = self._copy()
        out._frame = self._frame.assign(**columns)
        return out

    # ------------------------------------------------------------------ weighting

    def apply(self, factor: WeightFactor) -> MemoryBackend:
        """A back end whose final weights are the current ones times ``factor``."""
        w = self._weights[-1]
        if isinstance(factor, CellFactor):
            cells = factor.lookup.cells
            new = np.append(factor.factor, 0.0).take(cells) * w
            step_cells: np.ndarray | None = cells
        elif isinstance(factor, RowWeights):
            new, step_cells = np.asarray(factor.values, dtype="float64"), None
        else:
            raise EstimationError(f"internal: unknown weight factor {type(factor).__name__}")
        out = self._copy()
        out._weights = (*self._weights, _frozen(new))
        out._cells = (*self._cells, step_cells)
        return out

    def _copy(self) -> MemoryBackend:
        out = object.__new__(MemoryBackend)
        out._frame, out._units = self._frame, self._units
        out._weights, out._cells = self._weights, self._cells
        return out


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only float array (a copy when ``a`` is writeable, so no caller can change it)."""
    a = np.asarray(a, dtype="float64")
    if a.flags.writeable:
        a = a.copy()
        a.flags.writeable = False
    return a


def _joint_codes(key_codes: list[tuple[np.ndarray, np.ndarray]],
                 cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Every row's code among the observed combinations of several coded columns (sorted by
    the columns), and the combinations' labels."""
    if len(cols) == 1:
        codes, uniques = key_codes[0]
        return codes, pd.DataFrame({cols[0]: uniques})
    sizes = [len(u) for _c, u in key_codes]
    mixed = key_codes[0][0].astype(np.int64)
    for (codes, _u), size in zip(key_codes[1:], sizes[1:]):
        mixed = mixed * size + codes
    space = int(np.prod(sizes, dtype=np.float64))
    if space <= max(4 * len(mixed), 1 << 16):
        # one count per combination gives the occupied ones (no hashing)
        occupied = np.bincount(mixed, minlength=space) > 0
        rows = (np.cumsum(occupied) - 1)[mixed]
        uniq = np.flatnonzero(occupied)
    else:
        rows, uniq = sorted_codes(mixed)
    labels: dict[str, np.ndarray] = {}
    rest = np.asarray(uniq, dtype=np.int64)
    for c, (_codes, uniques), size in reversed(list(zip(cols, key_codes, sizes))):
        labels[c] = np.asarray(uniques)[rest % size]
        rest = rest // size
    return rows, pd.DataFrame({c: labels[c] for c in cols})
