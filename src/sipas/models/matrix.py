"""The model matrix of a survey model, kept in the shape its columns have.

A model on a survey file has a few numeric columns (the intercept, answers, ages) and
categorical terms with many levels (province: 62 columns). Stored densely, a 63-level
categorical makes the matrix ``rows x 72``, and every product with it costs ``rows x 72``
(``rows x 72^2`` for ``X'WX``) although 61 of every 62 of its entries are zero. A
:class:`BlockMatrix` keeps

* the **dense** columns as one ``rows x kd`` array, and
* every **one-hot block** (the columns of a term that has at most one nonzero per row: a
  categorical's treatment dummies, ``C(g):x``, ``C(a):C(b)``) as a code per row (which of its
  columns is nonzero) and that entry's value,

so that ``X b``, ``X' v`` and ``X' W X`` cost ``rows x kd`` (``rows x kd^2`` for ``X'WX``)
plus a few passes per block, whatever the number of levels. Which terms are blocks is decided
from the values, not from the formula: a term whose columns overlap on some row is dense.

formulaic builds the columns (:class:`ColumnsMaterializer`, a pandas materializer that hands
them over one by one, categorical encodings as sparse columns, instead of joining them into
one frame), so sipas reads the formula exactly as formulaic does.

Examples
--------
>>> import numpy as np
>>> dummies = OneHot.from_columns([(np.array([1]), np.array([1.0])),
...                                (np.array([2]), np.array([1.0]))], np.array([2, 3]), 3)
>>> bm = BlockMatrix(np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 5.0]]), np.arange(2), [dummies])
>>> bm.toarray().tolist()
[[1.0, 2.0, 0.0, 0.0], [1.0, 3.0, 1.0, 0.0], [1.0, 5.0, 0.0, 1.0]]
>>> bm.dot(np.ones(4)).tolist(), bm.tdot(np.ones(3)).tolist()
([3.0, 5.0, 7.0], [3.0, 10.0, 1.0, 1.0])
>>> bool(np.all(bm.gram(np.ones(3)) == bm.toarray().T @ bm.toarray()))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from formulaic.materializers import PandasMaterializer  # type: ignore[import-untyped]
from interface_meta import override
from scipy import sparse

from sipas.models.sandwich import ScoreColumns

__all__ = ["BlockMatrix", "Columns", "ColumnsMaterializer", "OneHot"]


@dataclass(frozen=True, eq=False)
class Columns:
    """The columns of a model matrix as formulaic made them (one ``rows x 1`` CSC each).

    Attributes
    ----------
    names : tuple of str
        Column names (formulaic's).
    columns : tuple of scipy.sparse.csc_matrix
        The columns; numeric ones store every row.
    missing : numpy.ndarray of bool
        Rows where a factor of the formula is missing (NaN, None); filled in while the
        formula's factors are encoded, so it is complete once the call returns.
    """

    names: tuple[str, ...]
    columns: tuple[Any, ...]
    missing: np.ndarray


class ColumnsMaterializer(PandasMaterializer):
    """formulaic's pandas materializer, with the columns kept apart: numeric factors as
    full columns, categorical encodings as formulaic's sparse dummies, and a mask of the rows
    where any factor is missing (the rows ``na_action="drop"`` would drop, without dropping
    them). Use it with ``output="sparse"`` and ``na_action="ignore"``."""

    REGISTER_NAME = "sipas_columns"
    REGISTER_INPUTS: Sequence[str] = ()
    REGISTER_OUTPUTS: Sequence[str] = ("sparse",)

    @override
    def _init(self) -> None:
        super()._init()
        n = len(self.data)
        self._missing = np.zeros(n, dtype=bool)
        # scipy keeps int32 indices when the rows fit (no copy per column)
        index = np.dtype(np.int32 if n < 2**31 - 1 else np.int64)
        self._rows: npt.NDArray[np.signedinteger[Any]] = np.arange(n, dtype=index)
        self._indptr: npt.NDArray[np.signedinteger[Any]] = np.array([0, n], dtype=index)

    def _full(self, values: np.ndarray) -> sparse.csc_matrix:
        """One column that stores every row (no scan for zeros: numeric columns are dense)."""
        return sparse.csc_matrix((values, self._rows, self._indptr), shape=(len(values), 1))

    @override
    def _encode_constant(self, value: Any, metadata: Any, encoder_state: dict[str, Any],
                         spec: Any, drop_rows: Sequence[int]) -> Any:
        return self._full(np.full(len(self._rows), float(value)))

    @override
    def _encode_numerical(self, values: Any, metadata: Any, encoder_state: dict[str, Any],
                          spec: Any, drop_rows: Sequence[int]) -> Any:
        raw = getattr(values, "__wrapped__", values)
        if isinstance(raw, pd.Series):
            arr = raw.to_numpy(dtype="float64", na_value=np.nan)
        else:
            arr = np.asarray(raw, dtype="float64")
        if arr.size != len(self._rows):  # a constant: one value for every row
            arr = np.broadcast_to(arr.reshape(-1), self._rows.shape).copy()
        arr = arr.reshape(-1)  # read only: formulaic scales it into a new column
        self._missing |= np.isnan(arr)
        return self._full(arr)

    @override
    def _encode_categorical(self, values: Any, metadata: Any, encoder_state: dict[str, Any],
                            spec: Any, drop_rows: Sequence[int],
                            reduced_rank: bool = False) -> Any:
        raw = getattr(values, "__wrapped__", values)
        self._missing |= np.asarray(pd.isna(raw), dtype=bool).reshape(-1)
        return super()._encode_categorical(values, metadata, encoder_state, spec, drop_rows,
                                           reduced_rank=reduced_rank)

    @override
    def _combine_columns(self, cols: Sequence[tuple[str, Any]], spec: Any,
                         drop_rows: Sequence[int]) -> Any:
        return Columns(tuple(str(name) for name, _ in cols),
                       tuple(sparse.csc_matrix(c) for _, c in cols), self._missing)


@dataclass(frozen=True, eq=False)
class OneHot:
    """Columns of which at most one is nonzero on each row.

    Attributes
    ----------
    code : numpy.ndarray of int
        (rows,) the column that is nonzero on each row; ``len(pos)`` where none is.
    value : numpy.ndarray
        (rows,) its value (0 where none is).
    pos : numpy.ndarray of int
        Position of each column among the model's coefficients.
    rows : scipy.sparse.csr_matrix
        (columns x rows) the block transposed, for ``block' v`` and ``block' W D``.
    """

    code: np.ndarray
    value: np.ndarray
    pos: np.ndarray
    rows: sparse.csr_matrix

    @classmethod
    def from_columns(cls, columns: Sequence[tuple[np.ndarray, np.ndarray]], pos: np.ndarray,
                     n: int) -> OneHot:
        """A block from each column's (rows, values), the rows of different columns disjoint."""
        counts = np.array([len(r) for r, _ in columns])
        index = np.concatenate([r for r, _ in columns]) if columns else np.zeros(0, np.int64)
        data = np.concatenate([v for _, v in columns]) if columns else np.zeros(0)
        code = np.full(n, len(columns), dtype=np.intp)
        code[index] = np.repeat(np.arange(len(columns)), counts)
        value = np.zeros(n)
        value[index] = data
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return cls(code, value, np.asarray(pos, dtype=np.intp),
                   sparse.csr_matrix((data, index, indptr), shape=(len(columns), n)))

    @property
    def width(self) -> int:
        """Number of columns."""
        return len(self.pos)

    def column(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows and values of one column."""
        lo, hi = self.rows.indptr[level], self.rows.indptr[level + 1]
        return self.rows.indices[lo:hi], self.rows.data[lo:hi]


class BlockMatrix:
    """A model matrix as dense columns and one-hot blocks (see the module docstring).

    Parameters
    ----------
    dense : numpy.ndarray
        (rows x kd) the dense columns (column-major: each column contiguous, which numpy's
        elementwise products and BLAS read fastest).
    dense_pos : numpy.ndarray of int
        Their positions among the coefficients.
    blocks : sequence of OneHot
        The one-hot blocks.
    """

    __slots__ = ("blocks", "dense", "dense_pos", "k", "n")

    def __init__(self, dense: np.ndarray, dense_pos: np.ndarray,
                 blocks: Sequence[OneHot]) -> None:
        self.dense = np.asfortranarray(dense, dtype="float64")
        self.dense_pos = np.asarray(dense_pos, dtype=np.intp)
        self.blocks = tuple(blocks)
        self.n = self.dense.shape[0]
        self.k = len(self.dense_pos) + sum(b.width for b in self.blocks)

    @classmethod
    def from_dense(cls, X: np.ndarray) -> BlockMatrix:
        """A matrix of dense columns only."""
        X = np.asarray(X, dtype="float64")
        return cls(X, np.arange(X.shape[1]), ())

    @classmethod
    def from_columns(cls, cols: Columns, terms: Sequence[Sequence[int]],
                     keep: np.ndarray) -> BlockMatrix:
        """The matrix of formulaic's columns on the rows ``keep`` (zero on the others).

        Parameters
        ----------
        cols : Columns
            The columns (:class:`ColumnsMaterializer`).
        terms : sequence of sequences of int
            The columns of each term; a term of two or more columns whose nonzeros fall on
            different rows becomes a one-hot block, the others dense columns.
        keep : numpy.ndarray of bool
            Rows of the model.
        """
        n = len(keep)
        columns = cols.columns
        dense_pos: list[int] = []
        blocks = []
        for term in terms:
            pos = list(term)
            # a numeric column stores every row: its term is dense
            if len(pos) > 1 and all(columns[j].nnz < n for j in pos):
                entries = [_entries(columns[j], keep) for j in pos]
                if _disjoint([rows for rows, _ in entries], n):
                    blocks.append(OneHot.from_columns(entries, np.array(pos), n))
                    continue
            dense_pos += pos
        dense = np.empty((n, len(dense_pos)), order="F")
        drop = np.flatnonzero(~keep)
        for i, j in enumerate(dense_pos):
            col = columns[j]
            if col.nnz == n:
                dense[:, i] = col.data
            else:
                dense[:, i] = 0.0
                dense[col.indices, i] = col.data
            dense[drop, i] = 0.0  # also the NaN of rows left out
        return cls(dense, np.array(dense_pos, dtype=np.intp), blocks)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.n, self.k

    def dot(self, b: np.ndarray) -> np.ndarray:
        """``X b`` (one value per row)."""
        out = self.dense @ b[self.dense_pos]
        for blk in self.blocks:
            out += blk.value * np.append(b[blk.pos], 0.0)[blk.code]
        return out

    def tdot(self, v: np.ndarray) -> np.ndarray:
        """``X' v`` (one value per column)."""
        out = np.empty(self.k)
        out[self.dense_pos] = self.dense.T @ v
        for blk in self.blocks:
            out[blk.pos] = blk.rows @ v
        return out

    def gram(self, ww: np.ndarray) -> np.ndarray:
        """``X' diag(ww) X``.

        The dense part ``D' W D`` by BLAS on chunks of rows small enough for the cache (the
        weighted chunk is made and used there, not written to memory); a block's diagonal,
        its products with the dense columns and with the other blocks from its nonzeros only
        (its rows weighted once: ``(w v)' D`` column by column)."""
        g = np.empty((self.k, self.k))
        dp = self.dense_pos
        dd = _dense_gram(self.dense, ww)
        g[np.ix_(dp, dp)] = np.tril(dd) + np.tril(dd, -1).T
        for i, blk in enumerate(self.blocks):
            weighted = blk.rows.copy()
            weighted.data *= ww[blk.rows.indices]
            cross = np.empty((blk.width, len(dp)))
            for j in range(len(dp)):  # column by column: scipy copies a column-major matrix
                cross[:, j] = weighted @ self.dense[:, j]
            g[np.ix_(blk.pos, dp)] = cross
            g[np.ix_(dp, blk.pos)] = cross.T
            g[np.ix_(blk.pos, blk.pos)] = np.diag(weighted @ blk.value)
            for other in self.blocks[:i]:
                m, mo = blk.width + 1, other.width + 1
                both = np.bincount(blk.code * mo + other.code,
                                   weights=ww * blk.value * other.value,
                                   minlength=m * mo).reshape(m, mo)[:-1, :-1]
                g[np.ix_(blk.pos, other.pos)] = both
                g[np.ix_(other.pos, blk.pos)] = both.T
        return g

    def nonzero_columns(self, rows: np.ndarray) -> np.ndarray:
        """Whether each column has a nonzero on some row of the mask ``rows``."""
        out = np.zeros(self.k, dtype=bool)
        weight = rows.astype("float64")
        out[self.dense_pos] = np.logical_and(self.dense != 0, rows[:, None]).any(axis=0)
        for blk in self.blocks:
            counts = np.bincount(blk.code, weights=weight * (blk.value != 0),
                                 minlength=blk.width + 1)
            out[blk.pos] = counts[:-1] > 0
        return out

    def score_columns(self, r: np.ndarray) -> list[ScoreColumns]:
        """The columns of ``diag(r) X`` for the sandwich: the dense columns as they are, each
        block as one column ``r * value`` with the block's codes (its totals per code are
        its columns' totals)."""
        parts = [ScoreColumns(self.dense * r[:, None], self.dense_pos)] if len(
            self.dense_pos) else []
        for blk in self.blocks:
            codes = np.where(blk.code < blk.width, blk.code, -1)
            parts.append(ScoreColumns((blk.value * r)[:, None], blk.pos, codes))
        return parts

    def toarray(self) -> np.ndarray:
        """The dense ``rows x columns`` matrix (column-major)."""
        out = np.zeros((self.n, self.k), order="F")
        out[:, self.dense_pos] = self.dense
        for blk in self.blocks:
            for level in range(blk.width):
                rows, values = blk.column(level)
                out[rows, blk.pos[level]] = values
        return out

    def take(self, rows: np.ndarray) -> BlockMatrix:
        """The matrix on the rows of a mask (in order)."""
        index = np.flatnonzero(rows)
        new_row = np.full(self.n, -1, dtype=np.int64)
        new_row[index] = np.arange(len(index))
        blocks = []
        for blk in self.blocks:
            moved = new_row[blk.rows.indices]
            kept = moved >= 0
            indptr = np.concatenate([[0], np.cumsum(kept)])[blk.rows.indptr]
            blocks.append(OneHot(blk.code[index], blk.value[index], blk.pos, sparse.csr_matrix(
                (blk.rows.data[kept], moved[kept], indptr), shape=(blk.width, len(index)))))
        dense = np.empty((len(index), len(self.dense_pos)), order="F")
        for j in range(dense.shape[1]):
            np.take(self.dense[:, j], index, out=dense[:, j])
        return BlockMatrix(dense, self.dense_pos, blocks)

    def without(self, positions: Sequence[int]) -> BlockMatrix:
        """The matrix without some columns (the others renumbered in order)."""
        drop = np.zeros(self.k, dtype=bool)
        drop[list(positions)] = True
        new = np.cumsum(~drop) - 1
        keep_dense = ~drop[self.dense_pos]
        blocks = []
        for blk in self.blocks:
            levels = np.flatnonzero(~drop[blk.pos])
            if len(levels) == blk.width:
                blocks.append(OneHot(blk.code, blk.value, new[blk.pos], blk.rows))
            elif len(levels):
                blocks.append(OneHot.from_columns([blk.column(int(lv)) for lv in levels],
                                                  new[blk.pos[levels]], self.n))
        return BlockMatrix(self.dense[:, keep_dense], new[self.dense_pos[keep_dense]], blocks)


#: bytes of the weighted chunk of dense columns in :func:`_dense_gram` (fits a core's L2 cache)
CHUNK_BYTES = 1 << 19


def _dense_gram(dense: np.ndarray, ww: np.ndarray) -> np.ndarray:
    """``D' diag(ww) D`` summed over chunks of rows (lower triangle exact, upper as BLAS
    gives it)."""
    n, kd = dense.shape
    out = np.zeros((kd, kd))
    if not kd:
        return out
    size = max(256, CHUNK_BYTES // (8 * kd))
    buf = np.empty((min(size, n), kd), order="F")
    for start in range(0, n, size):
        chunk = dense[start: start + size]
        weighted = buf[: len(chunk)]
        np.multiply(chunk, ww[start: start + size, None], out=weighted)
        out += chunk.T @ weighted
    return out


def _entries(col: Any, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows (of ``keep``) where a sparse column is not zero, and its values there."""
    rows, values = col.indices, col.data
    ok = keep[rows] & (values != 0)
    return rows[ok], values[ok]


def _disjoint(rows: Sequence[np.ndarray], n: int) -> bool:
    """Whether no row appears in two of the columns (each column's rows are distinct)."""
    total = sum(len(r) for r in rows)
    if total > n:
        return False
    seen = np.zeros(n, dtype=bool)
    for r in rows:
        seen[r] = True
    return int(np.count_nonzero(seen)) == total
