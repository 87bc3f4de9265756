"""The Dask back end: the rows stay on the workers, a chunk per partition.

A design built on a ``dask.dataframe.DataFrame`` reads only the distinct values of its
design columns (one row per sampling unit) to lay out strata, clusters and fpc in memory.
Every reduction then runs a kernel on each partition (:class:`DaskRows` finds the
partition's units, weights and cells by table look-ups, :mod:`sipas.backends.keys`) and adds
the partitions' results on the client. A weighting step is a factor per cell, applied on the
workers. Steps that give every row its own weight (trimming, GREG calibration, subsets) and
statistics that sort rows (quantiles) need the rows in memory and say so. Install with
``pip install 'sipas[dask]'``.

Examples
--------
>>> import pandas as pd, dask.dataframe as dd, sipas
>>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "w": 2.0, "y": [1.0, 2, 3, 4, 5, 6]})
>>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
>>> float(sipas.mean(d, "y").to_frame()["estimate"][0])
3.5
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from sipas.backends.base import CellFactor, CellTable, Domains, WeightFactor, needs_memory
from sipas.backends.keys import KeyIndex
from sipas.backends.memory import missing_domain_message
from sipas.engine.rows import Kernel, Rows
from sipas.errors import DesignError, EstimationError

__all__ = ["DaskBackend", "DaskRows", "is_dask"]

T = TypeVar("T")


def is_dask(obj: Any) -> bool:
    """Whether ``obj`` is a Dask collection (checked without importing Dask).

    Examples
    --------
    >>> import pandas as pd
    >>> is_dask(pd.DataFrame()), is_dask([1, 2])
    (False, False)
    """
    return type(obj).__module__.split(".")[0] in ("dask", "dask_expr")


@dataclass(frozen=True, eq=False)
class _CellStep:
    """A cell factor on the workers: the cell columns, their look-up, the factor per cell."""

    columns: tuple[str, ...]
    keys: KeyIndex
    factor: np.ndarray


@dataclass(frozen=True, eq=False)
class _Layout:
    """What the workers need to find a row's units and weights (picklable, small)."""

    key_columns: tuple[str, ...]
    units: tuple[KeyIndex, KeyIndex]
    weights: str | None
    probs: str | None
    unit_weight: np.ndarray | None
    steps: tuple[_CellStep, ...] = ()

    @property
    def columns(self) -> list[str]:
        cols = [*self.key_columns, *(c for c in (self.weights, self.probs) if c)]
        for s in self.steps:
            cols += list(s.columns)
        return list(dict.fromkeys(cols))


class DaskRows:
    """One partition as a :class:`~sipas.engine.rows.Rows` chunk (look-ups cached).

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd, sipas
    >>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "w": 2.0, "y": [1.0, 2, 3, 4, 5, 6]})
    >>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
    >>> DaskRows(df, d.backend._layout).units(0).tolist()
    [0, 0, 1, 1, 2, 2]
    """

    partial = True

    def __init__(self, part: pd.DataFrame, layout: _Layout) -> None:
        self._part, self._layout = part, layout
        self._weights: list[np.ndarray] = []
        self._cells: dict[int, np.ndarray] = {}

    @property
    def frame(self) -> pd.DataFrame:
        """The partition."""
        return self._part

    def units(self, stage: int = -1) -> np.ndarray:
        """Unit code of every row at ``stage`` (0: PSU, -1: final)."""
        rows = self._layout.units[0 if stage == -1 else 1].get(self._part)
        if len(rows) and rows.min() < 0:
            raise DesignError("a row's design ids are not in the design's unit table "
                              "(the data changed after the design was built?)")
        return rows

    def cells(self, step: int) -> np.ndarray:
        """Cell of every row in weighting step ``step`` (-1: none)."""
        if step not in self._cells:
            self._cells[step] = self._layout.steps[step].keys.get(self._part)
        return self._cells[step]

    def weights(self, before: int | None = None) -> np.ndarray:
        """Final weights, or the weights before weighting step ``before``."""
        lay = self._layout
        if not self._weights:
            if lay.weights is not None:
                w = self._part[lay.weights].to_numpy(dtype="float64")
            elif lay.probs is not None:
                w = 1.0 / self._part[lay.probs].to_numpy(dtype="float64")
            elif lay.unit_weight is not None:
                w = lay.unit_weight[self.units(-1)]
            else:
                w = np.ones(len(self._part))
            self._weights.append(w)
        stop = len(lay.steps) if before is None else before
        while len(self._weights) <= stop:
            k = len(self._weights) - 1
            factor = np.append(lay.steps[k].factor, 0.0).take(self.cells(k))
            self._weights.append(factor * self._weights[-1])
        return self._weights[stop]


def _run(part: pd.DataFrame, kernel: Any, layout: _Layout) -> pd.Series:
    return pd.Series([kernel(DaskRows(part, layout))], dtype=object)


@dataclass(frozen=True, eq=False)
class _CellCounts:
    """Weighted and plain counts of the positive-weight rows per combination of columns."""

    names: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.names

    def __call__(self, rows: Rows) -> pd.DataFrame:
        w = rows.weights()
        keep = w > 0
        cols = list(self.names)
        frame = rows.frame.loc[keep, cols].assign(__w=w[keep], __n=1.0)
        return frame.groupby(cols, dropna=False, sort=False)[["__w", "__n"]].sum().reset_index()

    def combine(self, parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
        table = pd.concat(parts, ignore_index=True)
        cols = list(self.names)
        return (table.groupby(cols, dropna=False, sort=True)[["__w", "__n"]].sum()
                .reset_index())


@dataclass(frozen=True, eq=False)
class _DomainCoder:
    keys: KeyIndex

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        return self.keys.get(frame)


@dataclass(frozen=True, eq=False)
class _NoDomains:
    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(frame), dtype=np.int64)


class DaskBackend:
    """Rows in a Dask frame (see :mod:`sipas.backends.base`). Build it with :meth:`open`,
    then give it the units laid out from its unit table (:meth:`with_units`).

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd, sipas
    >>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "w": 2.0, "y": [1.0, 2, 3, 4, 5, 6]})
    >>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
    >>> d.backend.kind, d.backend.cell_table(["psu"]).table["__w"].tolist()
    ('dask', [4.0, 4.0, 4.0])
    """

    kind: Literal["dask"] = "dask"
    in_memory = False

    def __init__(self, frame: Any, layout: _Layout) -> None:
        self._frame = frame
        self._layout = layout
        self._cache: dict[tuple[str, ...], pd.DataFrame] = {}

    @staticmethod
    def unit_table(frame: Any, keys: Sequence[str], fpc: Sequence[str],
                   weights: str | None) -> pd.DataFrame:
        """The distinct sampling units (and their fpc) of a Dask frame, sorted; the weight
        column is checked on the way (positive and finite).

        Raises
        ------
        DesignError
            A design column is not in the frame, or weights that are not positive and finite.
        """
        missing = [c for c in [*keys, *fpc, *([weights] if weights else [])]
                   if c not in frame.columns]
        if missing:
            raise DesignError(f"Design column(s) {missing} not found in the Dask DataFrame.")
        table = _distinct_rows(frame[list(dict.fromkeys([*keys, *fpc]))])
        if weights is not None:
            v = frame[weights]
            bad = (~(v > 0) | v.isna() | (v == np.inf)).sum().compute()
            if bad:
                raise DesignError(f"weights column {weights!r} has {int(bad)} value(s) that are "
                                  "zero, negative, NaN or infinite. Weights must be positive "
                                  "and finite.")
        return table.sort_values(list(keys), kind="stable").reset_index(drop=True)

    @classmethod
    def open(cls, frame: Any, table: pd.DataFrame, keys: Sequence[str],
             final_unit: np.ndarray, first_unit: np.ndarray, weights: str | None,
             probs: str | None, unit_weight: np.ndarray | None) -> DaskBackend:
        """A back end whose rows find their units through ``table[keys]`` (the unit table
        laid out by the design: each table row's final and first-stage unit)."""
        lookup = KeyIndex.build(table[list(keys)])
        layout = _Layout(tuple(keys), (lookup.relabel(final_unit), lookup.relabel(first_unit)),
                         weights, probs, unit_weight)
        return cls(frame.copy(), layout)

    # ------------------------------------------------------------------ facts

    @property
    def columns(self) -> pd.Index:
        """The data columns."""
        return pd.Index(self._frame.columns)

    @property
    def n_steps(self) -> int:
        """How many weight factors were applied."""
        return len(self._layout.steps)

    def frame(self) -> Any:
        """The Dask frame (a copy of the collection; the data stay where they are)."""
        return self._frame.copy()

    def weight_array(self) -> npt.NDArray[np.float64]:
        """Refused: the weights live on the workers."""
        needs_memory(self, "the weights as an array")
        raise AssertionError  # pragma: no cover

    def rows(self) -> DaskRows:
        """Refused: the rows live on the workers."""
        needs_memory(self, "all rows at once")
        raise AssertionError  # pragma: no cover

    # ------------------------------------------------------------------ sums

    def reduce(self, kernel: Kernel[T]) -> T:
        """``kernel`` on every partition (reading only the columns it and the layout need),
        the results added on the client."""
        import dask

        present = set(self._frame.columns)
        cols = [c for c in dict.fromkeys([*self._layout.columns, *kernel.columns])
                if c in present]
        # each shared argument is one node of the graph: shipped once per worker, and dask
        # does not walk through its contents
        shared = [dask.delayed(kernel, traverse=False), dask.delayed(self._layout,
                                                                      traverse=False)]
        out = self._frame[cols].map_partitions(_run, *shared, meta=pd.Series(dtype=object),
                                               enforce_metadata=False,
                                               align_dataframes=False)
        return kernel.combine(out.compute().tolist())

    def empty(self) -> pd.DataFrame:
        """The columns and their types, without rows (the frame's metadata)."""
        return self._frame._meta

    def distinct(self, columns: Sequence[str]) -> pd.DataFrame:
        """The distinct combinations of ``columns`` (cached per set of columns)."""
        key = tuple(columns)
        if key not in self._cache:
            self._cache[key] = _distinct_rows(self._frame[list(columns)])
        return self._cache[key].copy()

    def domains(self, columns: Sequence[str]) -> Domains:
        """Sorted labels of the observed combinations, looked up per partition."""
        cols = list(columns)
        if not cols:
            return Domains(pd.DataFrame(index=range(1)), _NoDomains())
        missing = [c for c in cols if c not in self._frame.columns]
        if missing:
            raise DesignError(f"column(s) {missing} not found in the design's data.")
        combos = self.distinct(cols)
        bad = combos.isna().any(axis=1)
        if bad.any():
            raise DesignError(missing_domain_message(
                [c for c in cols if combos[c].isna().any()], int(bad.sum()), None))
        combos = combos.sort_values(cols, kind="stable").reset_index(drop=True)
        return Domains(combos, _DomainCoder(KeyIndex.build(combos)))

    def cell_table(self, columns: Sequence[str]) -> CellTable:
        """Cells of ``columns`` among the positive-weight rows (one pass), sorted."""
        table = self.reduce(_CellCounts(tuple(columns)))
        return CellTable(table, (tuple(columns), KeyIndex.build(table[list(columns)])))

    def row_cells(self, cells: CellTable) -> np.ndarray:
        """Refused: the rows live on the workers."""
        needs_memory(self, "the cells of every row")
        raise AssertionError  # pragma: no cover

    def rows_of(self, cells: CellTable, which: int, limit: int = 10) -> list[int] | None:
        """Unknown: rows are not numbered across partitions."""
        return None

    def with_columns(self, columns: Mapping[str, Any]) -> DaskBackend:
        """The same rows, weights and steps with columns added (Dask series or scalars)."""
        out = DaskBackend(self._frame.assign(**columns), self._layout)
        return out

    def apply(self, factor: WeightFactor) -> DaskBackend:
        """A back end whose rows' weights include a cell factor (applied on the workers)."""
        if not isinstance(factor, CellFactor):
            raise EstimationError("a weighting step that gives every row its own weight "
                                  "(trimming, GREG calibration, subsets) needs the rows in "
                                  "memory; on a dask design use post-stratification or raking.")
        columns, keys = factor.lookup
        step = _CellStep(columns, keys, np.asarray(factor.factor, dtype="float64"))
        layout = _Layout(self._layout.key_columns, self._layout.units, self._layout.weights,
                         self._layout.probs, self._layout.unit_weight,
                         (*self._layout.steps, step))
        out = DaskBackend(self._frame, layout)
        out._cache = self._cache
        return out


def _distinct_rows(frame: Any) -> pd.DataFrame:
    """The distinct rows of a Dask frame (design ids, domain labels: small), by a tree of
    per-partition ``drop_duplicates``. Dask's default splits the output and so shuffles
    every row between workers (and logs a warning per shuffle); a few thousand distinct
    rows fit one partition."""
    return frame.drop_duplicates(split_out=1).compute()
