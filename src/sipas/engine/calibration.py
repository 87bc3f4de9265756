"""Calibration-aware linearization: the projections of weighting steps (R ``svyrecvar``).

A weighting step that calibrates (post-stratification, each margin of raking, GREG
calibration) replaces the influence values ``x`` (already multiplied by the weights) by
their residuals ``x - diag(b) F M^-1 F' diag(a) x`` (R's ``postStrata``). ``F`` is the
indicator of a margin's levels (cell steps) or a model matrix (GREG); ``a`` and ``b`` are row
factors of the step's weights. Everything the variance needs from the rows is a sum:

* per estimate, ``F' diag(a) x``: per (level, domain) sums of the estimate's numerators and
  denominators (:func:`projection_sums`, in the same pass as the unit sums);
* once per design, the cross products ``F_p' diag(a_p b_q) F_q`` between projections
  (:class:`CrossKernel`; free within one cell step, from the rows per cell) and the unit
  loadings ``U' diag(b) F`` (:class:`UnitCellKernel`, :class:`LoadingKernel`).

:func:`calibrated_unit_totals` applies a chain of projections to the unit totals of the
influence values, in the order of the steps (raking repeats its margins).

Examples
--------
>>> import numpy as np
>>> proj = CellProjection(step=0, level_of_cell=np.array([0, 1]), f=np.ones(2), p=2,
...                       m_inv=np.array([0.5, 1.0]), raking=False,
...                       cell_rows=np.array([2.0, 1.0]), cell_weight=np.array([2.0, 1.0]))
>>> proj.within_step(proj)
array([[2., 0.],
       [0., 1.]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from sipas.engine.rows import Rows
from sipas.engine.sums import DENSE_KEYS
from sipas.engine.variance import UnitTotals, is_sparse

__all__ = [
    "CellProjection",
    "CrossKernel",
    "LoadingKernel",
    "MatrixProjection",
    "Projection",
    "UnitCellKernel",
    "calibrated_unit_totals",
    "calibration_coefficients",
    "distinct",
    "level_influence",
    "projection_sums",
]


@dataclass(frozen=True, eq=False)
class CellProjection:
    """One margin of a cell weighting step: post-stratification, or one margin of raking.

    The rows' cells and weights come from the step (``Rows.cells(step)``,
    ``Rows.weights(before=step)``): ``b = w_before f[cell]`` (the weights after this margin)
    and ``a = 1 / f[cell]`` (post-stratification: R's weighted cell mean) or ``a = 1 / b``
    (raking: R's unweighted average of the residuals).

    Attributes
    ----------
    step : int
        Index of the weighting step among the design's weight factors.
    level_of_cell : numpy.ndarray of int
        The margin level of each cell of the step.
    f : numpy.ndarray
        The weight factor of each cell after this margin (relative to the step's input).
    p : int
        Number of levels.
    m_inv : numpy.ndarray
        Diagonal of ``M^-1`` (p,).
    raking : bool
        Which ``a`` (see above).
    cell_rows, cell_weight : numpy.ndarray
        Rows with positive input weight per cell, and their input weight: the cross
        products between margins of the step come from them (no pass over the rows).

    Examples
    --------
    >>> import numpy as np
    >>> CellProjection(0, np.array([0, 0, 1]), np.array([1.0, 2.0, 1.0]), 2,
    ...                np.array([0.5, 1.0]), raking=True).cell_a().tolist()
    [1.0, 0.5, 1.0]
    """

    step: int
    level_of_cell: np.ndarray
    f: np.ndarray
    p: int
    m_inv: np.ndarray
    raking: bool
    cell_rows: np.ndarray | None = None
    cell_weight: np.ndarray | None = None

    def cell_a(self) -> np.ndarray:
        """``1 / f`` per cell (0 where ``f`` is 0): with the multiplier of the step's
        per-cell sums, ``a w`` of every row."""
        f = self.f
        return np.where(f > 0, 1.0 / np.where(f > 0, f, 1.0), 0.0)

    def terms(self, rows: Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(level, a, b)`` of every row of a chunk (level 0 for rows in no cell).

        Parameters
        ----------
        rows : Rows
            A chunk of the design's rows.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        """
        cells = rows.cells(self.step)
        ok = cells >= 0
        c = np.maximum(cells, 0)
        w_before = rows.weights(before=self.step)
        b = np.where(ok, w_before * self.f[c], 0.0)
        if self.raking:
            a = np.where(b > 0, 1.0 / np.where(b > 0, b, 1.0), 0.0)
        else:
            a = np.where(ok & (w_before > 0), self.cell_a()[c], 0.0)
        return np.where(ok, self.level_of_cell[c], 0), a, b

    def within_step(self, other: CellProjection) -> np.ndarray:
        """``F_self' diag(a_self b_other) F_other`` for a margin of the same step, from the
        rows (raking) or input weights (post-stratification) per cell: no pass over rows.

        On a row of cell ``c`` with input weight ``w0 > 0``, ``a_self b_other`` is
        ``f_other[c] / f_self[c]`` (raking) or ``w0 f_other[c] / f_self[c]``.

        Parameters
        ----------
        other : CellProjection
            A margin of the same step.

        Returns
        -------
        numpy.ndarray
            (p_self x p_other).
        """
        per_cell = (self.cell_rows if self.raking else self.cell_weight) * self.cell_a() * other.f
        pairs = self.level_of_cell * other.p + other.level_of_cell
        return np.bincount(pairs, weights=per_cell,
                           minlength=self.p * other.p).reshape(self.p, other.p)


@dataclass(frozen=True, eq=False)
class MatrixProjection:
    """GREG calibration: ``F`` the (n x p) auxiliaries, ``a = w_before / w_after``, ``b =
    w_after`` (the weights before and after the step). The matrix is row-aligned, so this
    projection lives on in-memory designs only.

    Examples
    --------
    >>> import numpy as np
    >>> proj = MatrixProjection(step=0, x=np.ones((3, 1)), p=1, m_inv=np.eye(1))
    >>> proj.p
    1
    """

    step: int
    x: np.ndarray
    p: int
    m_inv: np.ndarray

    def terms(self, rows: Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(F, a, b)`` of the rows (``F`` the model matrix)."""
        w0, w1 = rows.weights(before=self.step), rows.weights(before=self.step + 1)
        a = np.where(w1 > 0, w0 / np.where(w1 > 0, w1, 1.0), 0.0)
        return self.x, a, w1


Projection = CellProjection | MatrixProjection


def distinct(chain: Sequence[Projection]) -> list[Projection]:
    """The projections of a chain, each once, in order of first appearance.

    Examples
    --------
    >>> import numpy as np
    >>> p = MatrixProjection(0, np.ones((2, 1)), 1, np.eye(1))
    >>> len(distinct([p, p, p]))
    1
    """
    out: list[Projection] = []
    for p in chain:
        if all(p is not q for q in out):
            out.append(p)
    return out


# ---------------------------------------------------------------------- per-estimate sums

def projection_sums(rows: Rows, groups: Sequence[Sequence[Projection]], num: np.ndarray,
                    den: np.ndarray | None, domain: np.ndarray, n_domains: int,
                    w: np.ndarray) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per group of projections, the sums ``F' diag(a) w num`` (and ``den``) of a chunk.

    A group is the margins of one cell step (sums per (cell, domain, variable), with the
    multiplier ``w / w_before`` for raking and ``w`` for post-stratification; the levels
    follow from the cells) or one matrix projection (per (feature, domain, variable)).

    Parameters
    ----------
    rows : Rows
        The chunk.
    groups : sequence of sequences of Projection
        The projections, grouped by step.
    num, den : numpy.ndarray
        (n x J) numerators and denominators of the estimates (``den`` None for totals).
    domain : numpy.ndarray of int
        Domain of every row (-1: none).
    n_domains : int
        Number of domains.
    w : numpy.ndarray
        The rows' final weights.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray or None)
        Per group, ``(keys x J)`` sums of numerators and denominators, keys ``key * D + d``.
    """
    inside = domain >= 0
    everyone = bool(inside.all())
    dom = domain if everyone else np.where(inside, domain, 0)
    buf = np.empty(len(w))
    out = []
    for group in groups:
        first = group[0]
        if isinstance(first, CellProjection):
            cells = rows.cells(first.step)
            n_cells = len(first.f)
            ok = cells >= 0 if everyone else (cells >= 0) & inside
            if first.raking:
                w_before = rows.weights(before=first.step)
                ok = ok & (w_before > 0)
                m = np.zeros(len(w))
                np.divide(w, w_before, out=m, where=ok)
            else:
                m = np.where(ok, w, 0.0)
            key = _with_domain(np.maximum(cells, 0), dom, n_domains, n_cells * n_domains)
            size = n_cells * n_domains
            out.append((_by_key(key, m, size, num, buf),
                        None if den is None else _by_key(key, m, size, den, buf)))
            continue
        x, a, _b = first.terms(rows)
        m = a * w if everyone else np.where(inside, a * w, 0.0)
        parts = [(_by_key(dom, m * x[:, c], n_domains, num, buf),
                  None if den is None else _by_key(dom, m * x[:, c], n_domains, den, buf))
                 for c in range(first.p)]
        out.append((np.vstack([p[0] for p in parts]),
                    None if den is None else np.vstack([d for _, d in parts if d is not None])))
    return out


def level_influence(proj: Projection, sums: tuple[np.ndarray, np.ndarray | None],
                    n_domains: int, est: np.ndarray, denom: np.ndarray | None) -> np.ndarray:
    """``F' diag(a) x0`` (p x k) of the uncorrected influence ``x0 = w z`` of k estimates,
    from its group's sums (see :func:`projection_sums`).

    Parameters
    ----------
    proj : Projection
        One projection of the group.
    sums : (numpy.ndarray, numpy.ndarray or None)
        The group's summed numerator and denominator sums.
    n_domains : int
        Number of domains ``D``.
    est : numpy.ndarray
        The k = D J estimates (domain-major).
    denom : numpy.ndarray or None
        Their weighted denominators (None for totals).

    Returns
    -------
    numpy.ndarray
        ``(num - est den) / denom`` per level (totals: ``num``); 0 where ``denom`` is 0.
    """
    snum, sden = sums
    j = snum.shape[1]
    k = n_domains * j
    if isinstance(proj, CellProjection):
        n_cells = len(proj.f)
        to_levels = sparse.csr_matrix((proj.cell_a(), (proj.level_of_cell,
                                                       np.arange(n_cells))),
                                      shape=(proj.p, n_cells))
        snum = np.asarray(to_levels @ snum.reshape(n_cells, k))
        sden = None if sden is None else np.asarray(to_levels @ sden.reshape(n_cells, k))
    else:
        snum = snum.reshape(proj.p, k)
        sden = None if sden is None else sden.reshape(proj.p, k)
    if sden is None:
        return snum
    if denom is None:
        raise ValueError("ratio estimates need their denominators (denom=)")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (snum - est * sden) / denom
    return np.where(denom > 0, out, 0.0)


def _with_domain(codes: np.ndarray, dom: np.ndarray, n_domains: int, size: int) -> np.ndarray:
    """``codes * n_domains + dom`` in the narrowest integer type that holds ``size`` keys."""
    key: np.ndarray = codes.astype(np.int32 if size < 2**31 else np.int64)
    key *= n_domains
    key += dom
    return key


def _by_key(key: np.ndarray, m: np.ndarray, size: int, values: np.ndarray,
            buf: np.ndarray) -> np.ndarray:
    out = np.empty((size, values.shape[1]))
    for j in range(values.shape[1]):
        np.multiply(m, values[:, j], out=buf)
        out[:, j] = np.bincount(key, weights=buf, minlength=size)
    return out


# ---------------------------------------------------------------------- per-design sums

@dataclass(frozen=True, eq=False)
class CrossKernel:
    """``F_p' diag(a_p b_q) F_q`` over a chunk, for projections of different steps.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> pop = {k[0]: v for k, v in sd.spec.margin("sex").targets.items()}
    >>> w = sipas.poststratify(d, "sex", pop)
    >>> p = w.calibration[0]
    >>> w.backend.reduce(CrossKernel(p, p, ("sex",))).shape
    (2, 2)
    """

    p: Projection
    q: Projection
    columns: tuple[str, ...] = ()

    def __call__(self, rows: Rows) -> np.ndarray:
        fp, ap, _bp = self.p.terms(rows)
        fq, _aq, bq = self.q.terms(rows)
        ab = ap * bq
        if isinstance(self.p, CellProjection) and isinstance(self.q, CellProjection):
            return np.bincount(fp * self.q.p + fq, weights=ab,
                               minlength=self.p.p * self.q.p).reshape(self.p.p, self.q.p)
        left, right = _features(self.p, fp), _features(self.q, fq)
        scaled = left.multiply(ab[:, None]) if is_sparse(left) else left * ab[:, None]
        prod = scaled.T @ right
        return np.asarray(prod.todense() if is_sparse(prod) else prod)

    def combine(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        """The sum of the chunks' cross products."""
        return np.sum(parts, axis=0)


@dataclass(frozen=True, eq=False)
class UnitCellKernel:
    """(final units x cells) sums of the positive input weights of a cell step: with the
    cells' factors, the unit loadings of every margin of the step from one pass."""

    step: int
    n_cells: int
    n_units: int
    columns: tuple[str, ...] = ()

    def __call__(self, rows: Rows) -> np.ndarray:
        cells = rows.cells(self.step)
        w = rows.weights(before=self.step)
        keep = (cells >= 0) & (w > 0)
        key = rows.units(-1).astype(np.int64) * self.n_cells + np.maximum(cells, 0)
        return np.bincount(key, weights=np.where(keep, w, 0.0),
                           minlength=self.n_units * self.n_cells).reshape(self.n_units,
                                                                           self.n_cells)

    def combine(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        """The sum of the chunks' tables."""
        return np.sum(parts, axis=0)

    @staticmethod
    def fits(n_units: int, n_cells: int) -> bool:
        """Whether the (units x cells) table is small enough to hold densely."""
        return n_units * n_cells <= DENSE_KEYS


@dataclass(frozen=True, eq=False)
class LoadingKernel:
    """``U' diag(b) F``: per final unit, the ``b``-weighted feature sums of one projection."""

    p: Projection
    n_units: int
    columns: tuple[str, ...] = ()

    def __call__(self, rows: Rows) -> np.ndarray | sparse.csr_matrix:
        f, _a, b = self.p.terms(rows)
        units = rows.units(-1).astype(np.int64)
        if isinstance(self.p, CellProjection):
            if self.n_units * self.p.p > DENSE_KEYS:
                # one level per row: as many loadings as rows (an element design's units)
                return sparse.csr_matrix((b, (units, f)), shape=(self.n_units, self.p.p))
            return np.bincount(units * self.p.p + f, weights=b,
                               minlength=self.n_units * self.p.p).reshape(self.n_units, self.p.p)
        out = np.empty((self.n_units, self.p.p))
        for c in range(self.p.p):
            out[:, c] = np.bincount(units, weights=b * f[:, c], minlength=self.n_units)
        return out

    def combine(self, parts: Sequence[np.ndarray | sparse.csr_matrix]
                ) -> np.ndarray | sparse.csr_matrix:
        """The sum of the chunks' loadings."""
        total: Any = parts[0]
        for part in parts[1:]:
            total = total + part  # dense or sparse, as the chunks are
        return total


def _features(proj: Projection, f: np.ndarray) -> UnitTotals:
    if isinstance(proj, CellProjection):
        n = len(f)
        return sparse.csr_matrix((np.ones(n), (np.arange(n), f)), shape=(n, proj.p))
    return f


def cell_loadings(proj: CellProjection, unit_cells: np.ndarray) -> np.ndarray:
    """(units x p) loadings of a margin from its step's (units x cells) input weights.

    Examples
    --------
    >>> import numpy as np
    >>> proj = CellProjection(0, np.array([0, 1, 1]), np.array([1.0, 2.0, 1.0]), 2,
    ...                       np.ones(2), raking=True)
    >>> cell_loadings(proj, np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 3.0]])).tolist()
    [[1.0, 2.0], [0.0, 5.0]]
    """
    n_cells = len(proj.f)
    onehot = sparse.csr_matrix((proj.f, (np.arange(n_cells), proj.level_of_cell)),
                               shape=(n_cells, proj.p))
    return np.asarray(unit_cells @ onehot)


# ---------------------------------------------------------------------- the chain

def calibrated_unit_totals(t0: np.ndarray, chain: Sequence[Projection],
                           reduced: Callable[[Projection], np.ndarray],
                           cross: Callable[[Projection, Projection], np.ndarray],
                           loadings: Callable[[Projection], np.ndarray]) -> np.ndarray:
    """Apply a chain of projections to unit totals ``t0`` (units x k).

    ``reduced(p)`` gives ``F_p' diag(a_p) x0`` for the uncorrected influence ``x0``,
    ``cross(p, q)`` the cross product and ``loadings(p)`` the unit loadings. The corrections
    are carried per distinct projection (raking repeats its margins), so each step costs a
    few small matrix products, independent of the number of rows.

    Parameters
    ----------
    t0 : numpy.ndarray
        (units x k) unit totals of the influence values.
    chain : sequence of Projection
        The projections, in the order the steps applied them.
    reduced, cross, loadings : callable
        See above.

    Returns
    -------
    numpy.ndarray
        The calibrated unit totals.

    Examples
    --------
    >>> import numpy as np
    >>> p = MatrixProjection(0, np.ones((2, 1)), 1, np.array([[0.5]]))
    >>> calibrated_unit_totals(np.array([[1.0], [3.0]]), [p], lambda p: np.array([[4.0]]),
    ...                        lambda p, q: np.array([[2.0]]),
    ...                        lambda p: np.array([[1.0], [1.0]])).ravel().tolist()
    [-1.0, 1.0]
    """
    if not chain:
        return t0
    out = t0.copy()
    for p, coef in calibration_coefficients(chain, t0.shape[1], reduced, cross):
        out -= loadings(p) @ coef
    return out


def calibration_coefficients(chain: Sequence[Projection], k: int,
                             reduced: Callable[[Projection], np.ndarray],
                             cross: Callable[[Projection, Projection], np.ndarray]
                             ) -> list[tuple[Projection, np.ndarray]]:
    """Per distinct projection of ``chain``, the (p x k) coefficients ``C_p`` of the
    calibrated unit totals ``t0 - sum_p loadings(p) C_p`` of k estimates.

    Examples
    --------
    >>> import numpy as np
    >>> p = MatrixProjection(0, np.ones((2, 1)), 1, np.array([[0.5]]))
    >>> [c.tolist() for _, c in calibration_coefficients(
    ...     [p], 1, lambda p: np.array([[4.0]]), lambda p, q: np.array([[2.0]]))]
    [[[2.0]]]
    """
    unique = distinct(chain)
    red = {id(p): reduced(p) for p in unique}
    coef = {id(p): np.zeros((p.p, k)) for p in unique}
    for proj in chain:
        r = red[id(proj)].copy()
        for other in unique:
            if np.any(coef[id(other)]):
                r -= cross(proj, other) @ coef[id(other)]
        coef[id(proj)] += proj.m_inv @ r if proj.m_inv.ndim == 2 else proj.m_inv[:, None] * r
    return [(p, coef[id(p)]) for p in unique]
