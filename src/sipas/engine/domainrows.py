"""Unit totals of units that each lie in one domain (element designs), without an index.

An element design's influence totals form a (units x domains*variables) matrix with one
block of ``J`` values per row, in the columns of the row's domain. A sparse matrix would
store a column index beside every value (half again the memory of the values); here the
values stay a dense (units x J) array with the domain of each unit, and the variance of a
one-stage design is computed from them directly (:meth:`DomainRows.moments`). Anything
else asks for the sparse matrix (:meth:`DomainRows.tocsr`).

Examples
--------
>>> import numpy as np
>>> t = DomainRows(np.array([[1.0], [2.0], [3.0]]), np.array([0, 1, 1]), 2)
>>> t.shape, t.toarray().tolist()
((3, 2), [[1.0, 0.0], [0.0, 2.0], [0.0, 3.0]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["DomainRows", "add_moments", "cells", "empty_moments", "products"]

#: rows summed at a time (the squares of a chunk are a temporary copy)
CHUNK = 1 << 15
#: runs of one cell in a chunk summed one by one (as products); more by ``np.add.reduceat``
RUNS = 16


@dataclass(frozen=True, eq=False)
class DomainRows:
    """Unit totals: ``values[u, j]`` in column ``domain[u] * J + j`` of row ``u``, zero
    elsewhere.

    Attributes
    ----------
    values : numpy.ndarray
        (units x J) values, row-major.
    domain : numpy.ndarray of int
        The domain of every unit.
    n_domains : int
        Number of domains ``D``.

    Examples
    --------
    >>> import numpy as np
    >>> t = DomainRows(np.ones((2, 3)), np.array([1, 0]), 2)
    >>> t.shape, t.tocsr().nnz
    ((2, 6), 6)
    """

    values: np.ndarray
    domain: np.ndarray
    n_domains: int
    #: (group, scale, sums, squares): :meth:`moments` summed as the values were made
    known: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(units, domains * variables), as the matrix it stands for."""
        return self.values.shape[0], self.n_domains * self.values.shape[1]

    @property
    def data(self) -> np.ndarray:
        """The stored values (as a sparse matrix's ``data``)."""
        return self.values

    def tocsr(self) -> sparse.csr_matrix:
        """The sparse matrix (32-bit indices where they fit).

        Examples
        --------
        >>> import numpy as np
        >>> DomainRows(np.array([[1.0, 2.0]]), np.array([1]), 2).tocsr().toarray().tolist()
        [[0.0, 0.0, 1.0, 2.0]]
        """
        n, j = self.values.shape
        idx = np.dtype(np.int32 if max(self.n_domains * j, (n + 1) * j) < 2**31 else np.int64)
        cols = np.multiply(self.domain.astype(idx)[:, None], j, dtype=idx)
        cols = (cols + np.arange(j, dtype=idx)[None, :]).ravel()
        ptr = np.arange(0, (n + 1) * j, j, dtype=idx)
        return sparse.csr_matrix((np.ascontiguousarray(self.values).ravel(), cols, ptr),
                                 shape=self.shape)

    def toarray(self) -> np.ndarray:
        """The dense matrix.

        Examples
        --------
        >>> import numpy as np
        >>> DomainRows(np.array([[1.0]]), np.array([1]), 2).toarray().tolist()
        [[0.0, 1.0]]
        """
        n, j = self.values.shape
        full = np.zeros((n, self.n_domains, j))
        full[np.arange(n), self.domain] = self.values
        return full.reshape(self.shape)

    def finite(self) -> DomainRows:
        """NaN values as zero (the same object when there is none).

        Examples
        --------
        >>> import numpy as np
        >>> DomainRows(np.array([[np.nan]]), np.array([0]), 1).finite().values.tolist()
        [[0.0]]
        """
        # a NaN or an infinity reaches the sums (known ones, or one sum without a temporary);
        # only when a sum is not finite are the values checked one by one
        total = self.known[2] if self.known is not None else self.values.sum()
        if np.isfinite(total).all() or np.isfinite(self.values).all():
            return self
        return DomainRows(np.nan_to_num(self.values), self.domain, self.n_domains)

    def combine(self, weights: np.ndarray) -> DomainRows | None:
        """``self @ weights`` when ``weights`` maps every domain's block of variables to the
        same block of outputs in that domain (``kron(eye(D), W)``, as an index of items
        by domain); None otherwise.

        Examples
        --------
        >>> import numpy as np
        >>> t = DomainRows(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0, 1]), 2)
        >>> t.combine(np.kron(np.eye(2), [[0.5], [0.5]])).toarray().tolist()
        [[1.5, 0.0], [0.0, 3.5]]
        >>> t.combine(np.ones((4, 1))) is None
        True
        """
        d, j = self.n_domains, self.values.shape[1]
        if weights.ndim != 2 or weights.shape[0] != d * j or weights.shape[1] % d:
            return None
        f = weights.shape[1] // d
        block = weights[:j, :f]
        if not np.array_equal(weights, np.kron(np.eye(d), block)):
            return None
        return DomainRows(self.values @ block, self.domain, d)

    def moments(self, group: np.ndarray, n_groups: int, scale: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """Per (group, domain) the sums of the values and the sums of their squares times
        the unit's ``scale``: two (groups * D x J) arrays, row ``g * D + d`` (those summed
        as the values were made, :attr:`known`, when they are for the same groups and scale).

        Examples
        --------
        >>> import numpy as np
        >>> t = DomainRows(np.array([[1.0], [2.0], [3.0]]), np.array([0, 1, 1]), 2)
        >>> s, m = t.moments(np.array([0, 0, 1]), 2, np.array([1.0, 1.0, 2.0]))
        >>> s.ravel().tolist(), m.ravel().tolist()
        ([1.0, 2.0, 0.0, 3.0], [1.0, 4.0, 0.0, 18.0])
        """
        if self.known is not None and self.known[0] is group and self.known[1] is scale:
            return self.known[2], self.known[3]
        cell = cells(group, self.domain, self.n_domains)
        sums, squares = empty_moments(n_groups * self.n_domains, self.values.shape[1])
        for lo in range(0, len(cell), CHUNK):
            add_moments(sums, squares, self.values[lo: lo + CHUNK], cell[lo: lo + CHUNK],
                        scale[lo: lo + CHUNK])
        return sums, squares


def products(t: DomainRows, other: np.ndarray | sparse.csr_matrix, scale: np.ndarray
             ) -> np.ndarray:
    """``sum_u scale_u t_u' other_u``: the (D*J x L) products of the blocks with the rows of
    a (units x L) matrix (calibration loadings), a chunk of units at a time.

    Examples
    --------
    >>> import numpy as np
    >>> t = DomainRows(np.array([[1.0], [2.0], [3.0]]), np.array([0, 1, 1]), 2)
    >>> products(t, np.array([[1.0], [1.0], [2.0]]), np.ones(3)).ravel().tolist()
    [1.0, 8.0]
    """
    d, j = t.n_domains, t.values.shape[1]
    n_other = other.shape[1]
    other = sparse.csr_matrix(other)
    out = np.zeros((d * n_other, j))
    for lo in range(0, t.values.shape[0], CHUNK):
        part = other[lo: lo + CHUNK].tocoo()
        # each unit's loadings moved to the columns of its domain
        cols = t.domain[lo + part.row] * n_other + part.col
        wide = sparse.csr_matrix((part.data, (part.row, cols)), shape=(part.shape[0], d * n_other))
        out += wide.T @ (t.values[lo: lo + CHUNK] * scale[lo: lo + CHUNK, None])
    return out.reshape(d, n_other, j).transpose(0, 2, 1).reshape(d * j, n_other)


def cells(group: np.ndarray, domain: np.ndarray, n_domains: int) -> np.ndarray:
    """The (group, domain) cell ``g * D + d`` of every unit.

    Examples
    --------
    >>> import numpy as np
    >>> cells(np.array([0, 1]), np.array([1, 1]), 2).tolist()
    [1, 3]
    """
    cell = np.multiply(group, n_domains, dtype=np.int64)
    cell += domain
    return cell


def empty_moments(n_cells: int, n_vars: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero sums and sums of squares for :func:`add_moments`.

    Examples
    --------
    >>> [a.shape for a in empty_moments(4, 2)]
    [(4, 2), (4, 2)]
    """
    return np.zeros((n_cells, n_vars)), np.zeros((n_cells, n_vars))


def add_moments(sums: np.ndarray, squares: np.ndarray, values: np.ndarray, cell: np.ndarray,
                scale: np.ndarray) -> None:
    """Add a chunk of units' values to the sums and scaled squares of their cells.

    Examples
    --------
    >>> import numpy as np
    >>> s, m = empty_moments(2, 1)
    >>> add_moments(s, m, np.array([[1.0], [2.0]]), np.array([1, 1]), np.array([1.0, 3.0]))
    >>> s.ravel().tolist(), m.ravel().tolist()
    ([0.0, 3.0], [0.0, 13.0])
    """
    if np.any(cell[1:] < cell[:-1]):  # units not in cell order: order this chunk
        order = np.argsort(cell, kind="stable")
        cell, values, scale = cell[order], values[order], scale[order]
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    sq = values * values
    # runs of one cell, each cell once per chunk (so a plain add): a few runs are
    # vector-matrix products, many a reduceat
    if len(starts) <= RUNS:
        for a, b in zip(starts, [*starts[1:], len(cell)]):
            sums[cell[a]] += np.ones(b - a) @ values[a:b]
            squares[cell[a]] += scale[a:b] @ sq[a:b]
    else:
        sq *= scale[:, None]
        sums[cell[starts]] += np.add.reduceat(values, starts, axis=0)
        squares[cell[starts]] += np.add.reduceat(sq, starts, axis=0)
