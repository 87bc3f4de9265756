"""Look-up of combinations of key values (sampling units, weighting cells, domains) in
chunks of rows, with integer arithmetic: each column is coded against its distinct values,
the codes are combined in mixed radix, and a dense table (or a hash index when the key space
is large) gives the position of the combination; -1 for a combination not listed.

A Dask back end finds every partition's units, cells and domains this way; the tables are
built once, from the distinct values, on the client.

Examples
--------
>>> keys = KeyIndex.build(pd.DataFrame({"a": [1, 1, 2], "b": ["x", "y", "x"]}))
>>> keys.get(pd.DataFrame({"a": [2, 1, 3], "b": ["x", "y", "x"]})).tolist()
[2, 1, -1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

__all__ = ["KeyIndex"]


@dataclass(frozen=True, eq=False)
class KeyIndex:
    """Positions of combinations of key values (units, cells, domains), looked up per
    partition with integer arithmetic: each column is coded against its distinct values,
    the codes are combined in mixed radix, and a dense table (or a hash index when the key
    space is large) gives the row of the combination; -1 for a combination not listed.

    Examples
    --------
    >>> keys = KeyIndex.build(pd.DataFrame({"a": [1, 1, 2], "b": ["x", "y", "x"]}))
    >>> keys.get(pd.DataFrame({"a": [2, 1, 3], "b": ["x", "y", "x"]})).tolist()
    [2, 1, -1]
    >>> len(keys)
    3
    """

    columns: tuple[str, ...]
    levels: tuple[pd.Index, ...]
    table: np.ndarray | None
    mixed: pd.Index | None
    lookups: tuple[tuple[int, np.ndarray] | None, ...] = ()
    #: one integer column: ``(lowest, table)`` giving the row of an id directly
    direct: tuple[int, np.ndarray] | None = None
    #: the label of each combination, for the hashed layout (the tables hold labels)
    labels: np.ndarray | None = None
    #: per column, its level code times the column's place value in the mixed-radix code
    #: (a table over the ids' range for integer columns, else None), and the place values
    steps: tuple[tuple[int, np.ndarray] | None, ...] = ()
    places: tuple[int, ...] = ()

    @classmethod
    def build(cls, combos: pd.DataFrame) -> KeyIndex:
        cols = tuple(combos.columns)
        levels = tuple(pd.Index(pd.unique(combos[c])) for c in cols)
        # pandas-stubs: get_indexer takes any array-like (a Series here), not only an Index
        codes = cls._mix(levels, [lv.get_indexer(combos[c])  # type: ignore[arg-type]
                                  for lv, c in zip(levels, cols)])
        lookups = tuple(_integer_lookup(lv) for lv in levels)
        sizes = [len(lv) for lv in levels]
        space = int(np.prod(sizes, dtype=np.float64))
        places = tuple(int(np.prod(sizes[i + 1:], dtype=np.int64)) for i in range(len(cols)))
        dtype, unknown = _mix_dtype(space, len(cols))
        steps: tuple[tuple[int, np.ndarray] | None, ...] = tuple(None if lk is None else
                      (lk[0], np.where(lk[1] >= 0, lk[1] * place, unknown).astype(dtype))
                      for lk, place in zip(lookups, places))
        if space <= 20_000_000:
            table: np.ndarray = np.full(space, -1, dtype=_index_dtype(len(combos)))
            table[codes] = np.arange(len(combos))
            keys = cls(cols, levels, table, None, lookups, steps=steps, places=places)
            return keys.relabel(np.arange(len(combos))) if len(cols) == 1 else keys
        return cls(cols, levels, None, pd.Index(codes), lookups, steps=steps, places=places)

    def relabel(self, labels: np.ndarray) -> KeyIndex:
        """The same index giving ``labels[row]`` instead of the row of a combination (one
        look-up per partition row instead of two).

        Examples
        --------
        >>> keys = KeyIndex.build(pd.DataFrame({"a": [5, 7]})).relabel(np.array([10, 20]))
        >>> keys.get(pd.DataFrame({"a": [7, 5, 6]})).tolist()
        [20, 10, -1]
        """
        labels = np.asarray(labels)
        if self.table is None:
            return replace(self, labels=labels)
        dtype = _index_dtype(int(labels.max(initial=0)) + 1)
        table: np.ndarray = np.where(self.table >= 0, labels[np.maximum(self.table, 0)],
                                     -1).astype(dtype)
        direct: tuple[int, np.ndarray] | None = None
        if len(self.columns) == 1 and self.lookups[0] is not None:
            lo, level_of = self.lookups[0]
            direct = lo, np.where(level_of >= 0, table[np.maximum(level_of, 0)], -1).astype(dtype)
        return replace(self, table=table, direct=direct)

    @staticmethod
    def _mix(levels: Sequence[pd.Index], codes: Sequence[np.ndarray]) -> np.ndarray:
        mixed = np.zeros(len(codes[0]), dtype=np.int64)
        for lv, c in zip(levels, codes):
            mixed = mixed * len(lv) + c
        return mixed

    def __len__(self) -> int:
        return int((self.table >= 0).sum()) if self.table is not None else len(self._hashed())

    def _hashed(self) -> pd.Index:
        """The mixed-radix codes of the combinations (the layout without a table)."""
        if self.mixed is None:
            raise ValueError("a KeyIndex has a dense table or a hash index of codes")
        return self.mixed

    def _step(self, i: int, values: pd.Series) -> np.ndarray:
        """Column ``i``'s share of the mixed-radix code of every row: its level code times
        its place value, or a negative number so large that the sum stays negative when the
        value is not a level (a new array: the caller adds to it in place)."""
        arr = values.to_numpy()
        step = self.steps[i]
        if step is not None and arr.dtype.kind in "iu":
            return _take_ids(arr, *step)
        space = int(np.prod([len(lv) for lv in self.levels], dtype=np.float64))
        dtype, unknown = _mix_dtype(space, len(self.columns))
        codes = self.levels[i].get_indexer(values)  # type: ignore[arg-type]  # as in build
        return np.where(codes >= 0, codes * self.places[i], unknown).astype(dtype)

    def get(self, part: pd.DataFrame) -> np.ndarray:
        if self.direct is not None:
            arr = part[self.columns[0]].to_numpy()
            if arr.dtype.kind in "iu":
                return _take_ids(arr, *self.direct)
        # one table look-up and one addition per column, in 32-bit integers when they fit
        mixed = self._step(0, part[self.columns[0]])
        for i in range(1, len(self.columns)):
            mixed += self._step(i, part[self.columns[i]])
        known = not len(mixed) or mixed.min() >= 0
        if not known:
            missing = mixed < 0
            mixed[missing] = 0
        if self.table is not None:
            rows = self.table.take(mixed)
        else:
            rows = self._hashed().get_indexer(mixed)  # type: ignore[arg-type]  # as in build
            if self.labels is not None:
                rows = np.where(rows >= 0, self.labels[rows], -1)
        return rows if known else np.where(missing, -1, rows)


def _take_ids(ids: np.ndarray, lo: int, table: np.ndarray) -> np.ndarray:
    """``table[v - lo + 1]`` for every integer id ``v`` (-1 for ids outside the table).

    Examples
    --------
    >>> table = np.array([-1, 0, -1, 1, -1])  # ids 10 and 12 at positions 0 and 1
    >>> _take_ids(np.array([12, 10, 99, 11], dtype=np.int16), 10, table).tolist()
    [1, 0, -1, -1]
    """
    if not len(ids):
        return table[:0]
    low, high = ids.min(), ids.max()
    start, stop = int(low) - lo + 1, int(high) - lo + 1
    # Offsets from the smallest id present, subtracted in the column's own dtype when they
    # fit: numpy's widening subtraction (int16 ids into int64) goes through a buffered cast,
    # ten times slower than the look-up itself (on an int32 table, as these are).
    if start >= 0 and stop < len(table) and stop - start <= np.iinfo(ids.dtype).max:
        return table[start:stop + 1].take(ids - low)
    index = ids.astype(np.intp) - (lo - 1)
    np.clip(index, 0, len(table) - 1, out=index)
    return table.take(index)


def _mix_dtype(space: int, n_columns: int) -> tuple[type, int]:
    """Integer type of mixed-radix codes and the per-column value of an unknown id: any
    sum with one unknown term is negative, and ``n_columns`` unknown terms do not wrap."""
    if space * (n_columns + 1) < 2**31:
        return np.int32, -(2**31 // (n_columns + 1))
    return np.int64, -(2**63 // (n_columns + 1))


def _index_dtype(size: int) -> type:
    # int32 positions halve the bytes a partition's look-ups write (fresh memory is costly
    # on workers whose allocator returns freed pages to the system)
    return np.int32 if size < 2**31 - 1 else np.int64


def _integer_lookup(levels: pd.Index) -> tuple[int, np.ndarray] | None:
    """``(lowest, table)`` with ``table[v - lowest + 1]`` the position of integer id ``v``
    (-1 for ids not listed, including the padding below and above), or ``None``."""
    values = levels.to_numpy()
    if values.dtype.kind not in "iu" or not len(values):
        return None
    lo, hi = int(values.min()), int(values.max())
    if hi - lo > 1 << 22:
        return None
    table: np.ndarray = np.full(hi - lo + 3, -1, dtype=_index_dtype(len(values)))
    table[values.astype(np.int64) - lo + 1] = np.arange(len(values))
    return lo, table
