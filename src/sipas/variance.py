"""Variance engines: linearization (stratified multistage, fpc) and replicate weights.

Every estimator in sipas is, or is linearized as, a ratio of weighted sums within domains.
The data are reduced once to sums per (key, domain, variable) with ``np.bincount`` (the key is
the sampling unit, a post-stratum, ...), and everything after that works on those small
arrays. A :class:`VarBasis` holds what the variance needs for a set of estimates:

* Taylor designs: the totals of the influence values per final-stage sampling unit; the
  variance is the multistage formula of R's ``svyrecvar`` applied to them, after the
  calibration projections of any weighting steps.
* Replicate designs: the replicate estimates; the variance is
  ``scale * sum_r rscales_r (theta_r - centre)^2``.

Linear combinations (contrasts, composite indices) are linear maps of the basis, so every
derived quantity gets its variance, and covariances between estimates of the same design come
for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from sipas.errors import EstimationError

__all__ = ["CellLayout", "Projection", "RatioSource", "ReplicateEngine", "TaylorEngine",
           "VarBasis"]


# ---------------------------------------------------------------------- reduction

@dataclass(frozen=True, eq=False)
class RatioSource:
    """Ratios of weighted sums, per domain and variable: ``sum w num / sum w den``.

    ``num`` and ``den`` are (n x J) arrays (zero where a value is missing); ``den`` is
    ``None`` for totals. ``domain`` gives each row's domain code (-1: in no domain).
    Columns of every result are ordered domain-major: ``d * J + j``.

    Attributes
    ----------
    num : numpy.ndarray
        Numerators, (n x J).
    den : numpy.ndarray or None
        Denominators, (n x J); ``None`` for totals.
    domain : numpy.ndarray of int
        Domain code of every row (-1: in no domain).
    n_domains : int
        Number of domains ``D``.

    Examples
    --------
    >>> import numpy as np
    >>> src = RatioSource(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)),
    ...                   np.array([0, 1, 1]), 2)
    >>> src.n_vars, src.k
    (1, 2)
    """

    num: np.ndarray
    den: np.ndarray | None
    domain: np.ndarray
    n_domains: int

    @property
    def n_vars(self) -> int:
        """Number of variables ``J`` (columns of ``num``).

        Examples
        --------
        >>> import numpy as np
        >>> src = RatioSource(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)),
        ...                   np.array([0, 1, 1]), 2)
        >>> src.n_vars
        1
        """
        return self.num.shape[1]

    @property
    def k(self) -> int:
        """Number of estimates ``D * J`` (columns of every result).

        Examples
        --------
        >>> import numpy as np
        >>> src = RatioSource(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)),
        ...                   np.array([0, 1, 1]), 2)
        >>> src.k
        2
        """
        return self.n_domains * self.n_vars

    def sums(self, mult: np.ndarray, key: np.ndarray | None, n_keys: int,
             values: np.ndarray | None = None) -> np.ndarray:
        """``S[c, d*J+j] = sum_{i: key_i=c, domain_i=d} mult_i values_ij`` (values = num).

        Parameters
        ----------
        mult : numpy.ndarray
            Row multipliers (usually the weights), length n.
        key : numpy.ndarray of int or None
            Key of every row (sampling unit, cell, ...); ``None`` puts every row in key 0.
        n_keys : int
            Number of keys.
        values : numpy.ndarray, optional
            (n x J) values to sum; default ``num``.

        Returns
        -------
        numpy.ndarray
            (n_keys x k) sums, columns domain-major. Rows in no domain add nothing.

        Examples
        --------
        >>> import numpy as np
        >>> src = RatioSource(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)),
        ...                   np.array([0, 1, 1]), 2)
        >>> src.sums(np.array([2.0, 1.0, 1.0]), None, 1).tolist()
        [[2.0, 1.0]]
        """
        values = self.num if values is None else values
        inside = self.domain >= 0
        dom = self.domain if inside.all() else np.where(inside, self.domain, 0)
        m = mult if inside.all() else np.where(inside, mult, 0.0)
        combined = dom if key is None else key * self.n_domains + dom
        size = n_keys * self.n_domains
        out = np.empty((size, values.shape[1]))
        for j in range(values.shape[1]):
            out[:, j] = np.bincount(combined, weights=m * values[:, j], minlength=size)
        return out.reshape(n_keys, self.n_domains * values.shape[1])

    def raw(self, mult: np.ndarray, key: np.ndarray | None = None,
            n_keys: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
        """Weighted sums of numerator and denominator per key (n_keys x k).

        Parameters
        ----------
        mult : numpy.ndarray
            Row multipliers (usually the weights).
        key : numpy.ndarray of int, optional
            Key of every row; default every row in one key.
        n_keys : int
            Number of keys.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray or None)
            ``sum mult num`` and ``sum mult den`` (``None`` for totals).

        Examples
        --------
        >>> import numpy as np
        >>> src = RatioSource(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)),
        ...                   np.array([0, 1, 1]), 2)
        >>> num, den = src.raw(np.array([2.0, 1.0, 1.0]))
        >>> num.tolist(), den.tolist()
        ([[2.0, 1.0]], [[2.0, 2.0]])
        """
        num = self.sums(mult, key, n_keys)
        den = None if self.den is None else self.sums(mult, key, n_keys, self.den)
        return num, den

    def influence_sums(self, mult: np.ndarray, key: np.ndarray | None, n_keys: int,
                       est: np.ndarray, denom_total: np.ndarray | None) -> np.ndarray:
        """Sums of influence values ``z = (num - est*den)/denom_total`` per key.

        Parameters
        ----------
        mult : numpy.ndarray
            Row multipliers (usually the weights).
        key : numpy.ndarray of int or None
            Key of every row (``None``: one key).
        n_keys : int
            Number of keys.
        est : numpy.ndarray
            The k ratio estimates.
        denom_total : numpy.ndarray or None
            The k weighted denominator totals.

        Returns
        -------
        numpy.ndarray
            (n_keys x k) sums of ``mult z``; for totals (no denominator) ``sum mult num``.

        Notes
        -----
        The linearization of a ratio ``R = sum w y / sum w x`` has influence
        ``z_i = (y_i - R x_i) / sum w x`` (R ``svyratio``).

        Examples
        --------
        >>> import numpy as np
        >>> src = RatioSource(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)),
        ...                   np.array([0, 1, 1]), 2)
        >>> z = src.influence_sums(np.array([2.0, 1.0, 1.0]), np.arange(3), 3,
        ...                        np.array([1.0, 0.5]), np.array([2.0, 2.0]))
        >>> z.tolist()  # one key per row
        [[0.0, 0.0], [0.0, -0.25], [0.0, 0.25]]
        """
        return _influence(*self.raw(mult, key, n_keys), est, denom_total)


def _influence(num: np.ndarray, den: np.ndarray | None, est: np.ndarray,
               denom_total: np.ndarray | None) -> np.ndarray:
    """Influence totals ``(num - est den) / denom_total`` from weighted sums (totals: num)."""
    if den is None:
        return num
    with np.errstate(divide="ignore", invalid="ignore"):
        return (num - est * den) / denom_total


# ---------------------------------------------------------------------- calibration

@dataclass(frozen=True, eq=False)
class CellLayout:
    """The joint cells of a raking step, shared by the projections of its margins.

    The row factors of every margin's projection are a function of the row's cell and of
    the step's input weights ``w0`` (``a_i = cell_a[c_i] / w0_i``, ``b_i = w0_i cell_b[c_i]``
    where ``w0_i > 0``), so the variance works on per-cell sums: one pass over the rows per
    estimate for all margins, and cross products over cells instead of rows.

    Attributes
    ----------
    cells : numpy.ndarray of int
        Joint cell of every row.
    n_cells : int
        Number of cells.
    w0 : numpy.ndarray
        The step's input weights.
    rows : numpy.ndarray
        Rows with ``w0 > 0`` per cell.

    Examples
    --------
    >>> import numpy as np
    >>> lay = CellLayout(np.array([0, 1, 1]), 2, np.array([2.0, 1.0, 3.0]), np.array([1.0, 2.0]))
    >>> lay.n_cells, lay.rows.tolist()
    (2, [1.0, 2.0])
    """

    cells: np.ndarray
    n_cells: int
    w0: np.ndarray
    rows: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False)

    def unit_weights(self, rows_to_units: sparse.csr_matrix) -> np.ndarray | None:
        """(units x cells) sums of the positive ``w0`` (cached per indicator); ``None`` when
        too large to hold densely.

        Parameters
        ----------
        rows_to_units : scipy.sparse.csr_matrix
            The (units x rows) indicator ``U'`` (:attr:`sipas.design.Stage.rows_to_units`).

        Returns
        -------
        numpy.ndarray or None

        Examples
        --------
        >>> import numpy as np
        >>> from scipy import sparse
        >>> lay = CellLayout(np.array([0, 1, 1]), 2, np.array([2.0, 1.0, 3.0]),
        ...                  np.array([1.0, 2.0]))
        >>> u = sparse.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
        >>> lay.unit_weights(u).tolist()
        [[2.0, 1.0], [0.0, 3.0]]
        """
        key = id(rows_to_units)
        if key not in self._cache:
            n_units = rows_to_units.shape[0]
            size = n_units * self.n_cells
            if size > 4_000_000:
                self._cache[key] = None
            else:
                # every row is in exactly one unit: the column-major indices are the units
                units = sparse.csc_matrix(rows_to_units).indices
                self._cache[key] = np.bincount(
                    units * self.n_cells + self.cells,
                    weights=np.where(self.w0 > 0, self.w0, 0.0),
                    minlength=size).reshape(n_units, self.n_cells)
        return self._cache[key]

    def sums(self, source: RatioSource, w: np.ndarray,
             cache: dict) -> tuple[np.ndarray, np.ndarray | None]:
        """Per (cell, estimate) sums of ``(w / w0) num`` and ``(w / w0) den``, once per
        ``cache`` (one estimate's reductions) for all the margins of the step."""
        key = (id(self), id(source), id(w))
        if key not in cache:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(self.w0 > 0, w / self.w0, 0.0)
            cache[key] = source.raw(ratio, self.cells, self.n_cells)
        return cache[key]


@dataclass(frozen=True, eq=False)
class Projection:
    """One linear step of calibration-aware linearization (R ``svyrecvar`` postStrata).

    Maps row influence ``x`` (already multiplied by the weights) to
    ``x - diag(b) F M^-1 F' diag(a) x``. ``F`` is either integer cell codes (an indicator
    matrix with ``p`` columns) or a dense (n x p) model matrix. Post-stratification, each
    margin of raking, and GREG calibration are all of this form.

    Attributes
    ----------
    codes : numpy.ndarray of int or None
        Cell code of every row (indicator features), or ``None`` with ``matrix``.
    matrix : numpy.ndarray or None
        Dense (n x p) model matrix, or ``None`` with ``codes``.
    p : int
        Number of features.
    a, b : numpy.ndarray
        Row factors of the projection (weight ratios and calibrated weights).
    m_inv : numpy.ndarray
        ``M^-1``: a (p x p) matrix, or its diagonal (p,) for cells.

    Examples
    --------
    >>> import numpy as np
    >>> proj = Projection(codes=np.array([0, 0, 1]), matrix=None, p=2, a=np.ones(3),
    ...                   b=np.ones(3), m_inv=np.array([0.5, 1.0]))
    >>> proj.features().toarray().tolist()
    [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    """

    codes: np.ndarray | None
    matrix: np.ndarray | None
    p: int
    a: np.ndarray | None
    b: np.ndarray | None
    m_inv: np.ndarray
    rows: Any = None
    layout: CellLayout | None = None
    cell_level: np.ndarray | None = None
    cell_a: np.ndarray | None = None
    cell_b: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def _by_level(self, values: np.ndarray, factor: np.ndarray) -> np.ndarray:
        """(p x k) sums over cells of ``factor[c] values[c]`` per level of this margin."""
        matrix = sparse.csr_matrix((factor, (self.cell_level, np.arange(len(factor)))),
                                   shape=(self.p, len(factor)))
        return np.asarray(matrix @ values)

    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """The row factors ``(a, b)``; with ``a = b = None`` they come from ``rows()`` on
        first use (raking: a weighting step does not pay for the variance until a variance
        is asked for).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)

        Examples
        --------
        >>> import numpy as np
        >>> proj = Projection(codes=np.array([0, 1]), matrix=None, p=2, a=None, b=None,
        ...                   m_inv=np.ones(2), rows=lambda: (np.ones(2), np.full(2, 3.0)))
        >>> proj.factors()[1].tolist()
        [3.0, 3.0]
        """
        if self.a is not None:
            return self.a, self.b
        if "rows" not in self._cache:
            self._cache["rows"] = self.rows()
        return self._cache["rows"]

    def features(self) -> sparse.csr_matrix | np.ndarray:
        """The feature matrix ``F`` (n x p): sparse indicators of ``codes``, or ``matrix``.

        Returns
        -------
        scipy.sparse.csr_matrix or numpy.ndarray

        Examples
        --------
        >>> import numpy as np
        >>> proj = Projection(codes=np.array([0, 0, 1]), matrix=None, p=2, a=np.ones(3),
        ...                   b=np.ones(3), m_inv=np.array([0.5, 1.0]))
        >>> proj.features().shape
        (3, 2)
        """
        if self.codes is not None:
            n = len(self.codes)
            return sparse.csr_matrix((np.ones(n), (np.arange(n), self.codes)),
                                     shape=(n, self.p))
        return self.matrix

    def cross(self, other: Projection) -> np.ndarray:
        """``F_self' diag(a_self b_other) F_other`` (cached).

        Parameters
        ----------
        other : Projection
            Another projection on the same rows (or this one).

        Returns
        -------
        numpy.ndarray
            (p_self x p_other) dense matrix.

        Examples
        --------
        >>> import numpy as np
        >>> proj = Projection(codes=np.array([0, 0, 1]), matrix=None, p=2, a=np.ones(3),
        ...                   b=np.ones(3), m_inv=np.array([0.5, 1.0]))
        >>> proj.cross(proj).tolist()
        [[2.0, 0.0], [0.0, 1.0]]
        """
        key = id(other)
        if key not in self._cache and self.layout is not None and other.layout is self.layout:
            # the same joint cells: a_i b_i is a cell's value, so one count per pair of levels
            lay = self.layout
            pairs = self.cell_level * other.p + other.cell_level
            counts = np.bincount(pairs, weights=lay.rows * self.cell_a * other.cell_b,
                                 minlength=self.p * other.p)
            self._cache[key] = counts.reshape(self.p, other.p)
        if key not in self._cache and self.codes is not None and other.codes is not None:
            # two indicator matrices: one weighted count per pair of cells, O(n)
            pairs = self.codes * other.p + other.codes
            counts = np.bincount(pairs, weights=self.factors()[0] * other.factors()[1],
                                 minlength=self.p * other.p)
            self._cache[key] = counts.reshape(self.p, other.p)
        if key not in self._cache:
            left = self.features()
            right = other.features()
            ab = self.factors()[0] * other.factors()[1]
            scaled = left.multiply(ab[:, None]) if sparse.issparse(left) else left * ab[:, None]
            prod = scaled.T @ right
            self._cache[key] = np.asarray(prod.todense() if sparse.issparse(prod) else prod)
        return self._cache[key]

    def unit_loadings(self, rows_to_units: sparse.csr_matrix) -> np.ndarray:
        """``U' diag(b) F``: per final unit, the b-weighted feature sums.

        Parameters
        ----------
        rows_to_units : scipy.sparse.csr_matrix
            The (units x rows) indicator ``U'`` (:attr:`sipas.design.Stage.rows_to_units`).

        Returns
        -------
        numpy.ndarray
            (units x p) dense matrix (cached per indicator).

        Examples
        --------
        >>> import numpy as np
        >>> proj = Projection(codes=np.array([0, 0, 1]), matrix=None, p=2, a=np.ones(3),
        ...                   b=np.ones(3), m_inv=np.array([0.5, 1.0]))
        >>> from scipy import sparse
        >>> proj.unit_loadings(sparse.identity(3, format="csr")).tolist()
        [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
        """
        key = ("units", id(rows_to_units))
        if key not in self._cache and self.layout is not None:
            per_cell = self.layout.unit_weights(rows_to_units)
            if per_cell is not None:  # sum over cells of w0 cell_b, per (unit, level)
                self._cache[key] = self._by_level(per_cell.T, self.cell_b).T
        if key not in self._cache and self.codes is not None:
            # every row is in exactly one unit: the column-major indices are the row's unit
            units = sparse.csc_matrix(rows_to_units).indices
            n_units = rows_to_units.shape[0]
            flat = np.bincount(units * self.p + self.codes, weights=self.factors()[1],
                               minlength=n_units * self.p)
            self._cache[key] = flat.reshape(n_units, self.p)
        if key not in self._cache:
            f = self.features()
            b = self.factors()[1]
            scaled = f.multiply(b[:, None]) if sparse.issparse(f) else f * b[:, None]
            prod = rows_to_units @ scaled
            self._cache[key] = np.asarray(prod.todense() if sparse.issparse(prod) else prod)
        return self._cache[key]

    def reduce(self, source: RatioSource, w: np.ndarray, est: np.ndarray,
               denom_total: np.ndarray | None, cache: dict | None = None) -> np.ndarray:
        """``F' diag(a) x0`` for the influence ``x0 = w z`` of ``source`` (p x k).

        Parameters
        ----------
        source : RatioSource
            The estimates' numerators, denominators and domains.
        w : numpy.ndarray
            Row weights.
        est : numpy.ndarray
            The k estimates.
        denom_total : numpy.ndarray or None
            Their weighted denominator totals (``None`` for totals).

        Returns
        -------
        numpy.ndarray
            (p x k) feature sums of the uncorrected influence values.

        Examples
        --------
        >>> import numpy as np
        >>> proj = Projection(codes=np.array([0, 0, 1]), matrix=None, p=2, a=np.ones(3),
        ...                   b=np.ones(3), m_inv=np.array([0.5, 1.0]))
        >>> src = RatioSource(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)),
        ...                   np.array([0, 1, 1]), 2)
        >>> proj.reduce(src, np.array([2.0, 1.0, 1.0]), np.array([1.0, 0.5]),
        ...             np.array([2.0, 2.0])).tolist()
        [[0.0, -0.25], [0.0, 0.25]]
        """
        if self.layout is not None:
            # a_i w_i = cell_a[c_i] (w_i / w0_i): the step's per-cell sums, then the levels
            num, den = self.layout.sums(source, w, {} if cache is None else cache)
            return _influence(self._by_level(num, self.cell_a),
                              None if den is None else self._by_level(den, self.cell_a),
                              est, denom_total)
        a = self.factors()[0]
        if self.codes is not None:
            return source.influence_sums(a * w, self.codes, self.p, est, denom_total)
        rows = [source.influence_sums(a * w * self.matrix[:, c], None, 1, est, denom_total)
                for c in range(self.p)]
        return np.vstack(rows)


def calibrated_unit_totals(t0: np.ndarray, chain: Sequence[Projection],
                           reduce: Any, rows_to_units: sparse.csr_matrix) -> np.ndarray:
    """Apply a chain of projections to unit totals ``t0``.

    ``reduce(proj)`` returns ``F' diag(a) x0`` for the uncorrected influence ``x0``. The
    corrections are carried per distinct projection (raking repeats its margins), so each
    step costs a few small matrix products, independent of the number of rows.
    """
    if not chain:
        return t0
    distinct: list[Projection] = []
    for proj in chain:
        if all(proj is not d for d in distinct):
            distinct.append(proj)
    reduced = {id(p): reduce(p) for p in distinct}
    coef = {id(p): np.zeros((p.p, t0.shape[1])) for p in distinct}
    for proj in chain:
        r = reduced[id(proj)].copy()
        for other in distinct:
            if np.any(coef[id(other)]):
                r -= proj.cross(other) @ coef[id(other)]
        coef[id(proj)] += proj.m_inv @ r if proj.m_inv.ndim == 2 else proj.m_inv[:, None] * r
    out = t0.copy()
    for p in distinct:
        out -= p.unit_loadings(rows_to_units) @ coef[id(p)]
    return out


# ---------------------------------------------------------------------- engines

@dataclass(frozen=True, eq=False)
class TaylorEngine:
    """Multistage linearization variance of unit totals (R ``svyrecvar``).

    Attributes
    ----------
    stages : tuple of Stage
        The stages that enter the variance (:attr:`sipas.Design.stages`).
    lonely_psu : str
        The design's rule for strata with one PSU (``adjust`` and ``average`` act here).

    Notes
    -----
    ``V = sum_k sum_g s_g sum_{u in g} (t_u - mean_g t)^2`` over the stages ``k``, with
    ``t_u`` the unit totals of the influence values and ``s_g`` the stage scale (fpc,
    ``n/(n-1)``, earlier sampling fractions); see :class:`sipas.Design`.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sipas
    >>> df = pd.DataFrame({"h": [1, 1, 2, 2], "psu": [1, 2, 3, 4], "w": [10.0] * 4})
    >>> d = sipas.Design(df, ids="psu", strata="h", weights="w")
    >>> eng = TaylorEngine(d.stages, d.lonely_psu)
    >>> t = np.array([[1.0], [2.0], [3.0], [5.0]])  # influence totals of the 4 PSUs
    >>> eng.var(t).round(6).tolist()
    [5.0]
    """

    stages: tuple[Any, ...]
    lonely_psu: str

    @property
    def final(self) -> Any:
        """The final stage (whose units index the rows of unit totals).

        Examples
        --------
        >>> import numpy as np, pandas as pd, sipas
        >>> df = pd.DataFrame({"h": [1, 1, 2, 2], "psu": [1, 2, 3, 4], "w": [10.0] * 4})
        >>> d = sipas.Design(df, ids="psu", strata="h", weights="w")
        >>> eng = TaylorEngine(d.stages, d.lonely_psu)
        >>> t = np.array([[1.0], [2.0], [3.0], [5.0]])  # influence totals of the 4 PSUs
        >>> eng.final.n_units
        4
        """
        return self.stages[-1]

    def _stage_rows(self, k: int) -> sparse.csr_matrix:
        """(stage-k units x final units) indicator."""
        final = self.final
        first = np.full(final.n_units, -1, dtype=np.int64)
        first[final.unit] = np.arange(len(final.unit))
        stage = self.stages[k]
        codes = stage.unit[first]
        return sparse.csr_matrix((np.ones(final.n_units), (codes, np.arange(final.n_units))),
                                 shape=(stage.n_units, final.n_units))

    def factors(self, t: np.ndarray) -> list[np.ndarray]:
        """Matrices ``A_k`` with ``V = sum_k A_k' A_k`` (one per stage).

        Parameters
        ----------
        t : numpy.ndarray
            (final units x k) totals of influence values.

        Returns
        -------
        list of numpy.ndarray
            Per stage, the scaled deviations ``sqrt(s_g) (t_u - centre_g)`` of its unit
            totals (the lonely-PSU rule sets the centre and scale of lonely strata).

        Examples
        --------
        >>> import numpy as np, pandas as pd, sipas
        >>> df = pd.DataFrame({"h": [1, 1, 2, 2], "psu": [1, 2, 3, 4], "w": [10.0] * 4})
        >>> d = sipas.Design(df, ids="psu", strata="h", weights="w")
        >>> eng = TaylorEngine(d.stages, d.lonely_psu)
        >>> t = np.array([[1.0], [2.0], [3.0], [5.0]])  # influence totals of the 4 PSUs
        >>> [a.round(4).ravel().tolist() for a in eng.factors(t)]
        [[-0.7071, 0.7071, -1.4142, 1.4142]]
        """
        out = []
        for k, stage in enumerate(self.stages):
            tk = t if k == len(self.stages) - 1 else self._stage_rows(k) @ t
            gsum = stage.units_to_groups @ tk
            mean = gsum / stage.n_in_group[:, None]
            centre = mean[stage.group]
            lonely_units = stage.lonely[stage.group]
            scale = stage.scale.copy()
            if lonely_units.any():
                if self.lonely_psu == "adjust" and k == 0:
                    grand = tk.sum(axis=0) / stage.n_units
                    centre = np.where(lonely_units[:, None], grand[None, :], centre)
                elif self.lonely_psu == "average" and k == 0:
                    ok = stage.n_groups - int(stage.lonely.sum())
                    scale = np.where(lonely_units, 0.0, scale) * (stage.n_groups / ok if ok
                                                                    else np.nan)
            out.append((tk - centre) * np.sqrt(scale)[:, None])
        return out

    def var(self, t: np.ndarray | sparse.spmatrix) -> np.ndarray:
        """Variances of the k estimates whose unit totals of influence values are ``t``.

        Parameters
        ----------
        t : numpy.ndarray or scipy.sparse matrix
            (final units x k) totals of influence values (sparse for many domains).

        Returns
        -------
        numpy.ndarray
            The k variances (R ``svyrecvar`` diagonal).

        Examples
        --------
        >>> import numpy as np, pandas as pd, sipas
        >>> df = pd.DataFrame({"h": [1, 1, 2, 2], "psu": [1, 2, 3, 4], "w": [10.0] * 4})
        >>> d = sipas.Design(df, ids="psu", strata="h", weights="w")
        >>> eng = TaylorEngine(d.stages, d.lonely_psu)
        >>> t = np.array([[1.0], [2.0], [3.0], [5.0]])  # influence totals of the 4 PSUs
        >>> eng.var(t).round(6).tolist()  # 2 * (0.25 + 0.25) + 2 * (1 + 1)
        [5.0]
        """
        if sparse.issparse(t):
            return self._grouped(t, t, diagonal=True)
        return sum(np.einsum("ij,ij->j", a, a) for a in self.factors(t))

    def cov(self, t1: np.ndarray | sparse.spmatrix,
            t2: np.ndarray | sparse.spmatrix | None = None) -> np.ndarray:
        """Covariance matrix between the estimates of two sets of unit totals.

        Parameters
        ----------
        t1 : numpy.ndarray or scipy.sparse matrix
            (final units x k1) totals of influence values.
        t2 : numpy.ndarray or scipy.sparse matrix, optional
            (final units x k2) totals; default ``t1``.

        Returns
        -------
        numpy.ndarray
            (k1 x k2) covariances.

        Examples
        --------
        >>> import numpy as np, pandas as pd, sipas
        >>> df = pd.DataFrame({"h": [1, 1, 2, 2], "psu": [1, 2, 3, 4], "w": [10.0] * 4})
        >>> d = sipas.Design(df, ids="psu", strata="h", weights="w")
        >>> eng = TaylorEngine(d.stages, d.lonely_psu)
        >>> t = np.array([[1.0], [2.0], [3.0], [5.0]])  # influence totals of the 4 PSUs
        >>> eng.cov(t).round(6).tolist()
        [[5.0]]
        """
        t2 = t1 if t2 is None else t2
        if sparse.issparse(t1) or sparse.issparse(t2):
            return self._grouped(sparse.csr_matrix(t1), sparse.csr_matrix(t2), diagonal=False)
        f1 = self.factors(t1)
        f2 = f1 if t2 is t1 else self.factors(t2)
        return sum(a.T @ b for a, b in zip(f1, f2))

    def _grouped(self, t1: sparse.csr_matrix, t2: sparse.csr_matrix,
                 diagonal: bool) -> np.ndarray:
        """The variance of :meth:`factors` from group sums, for sparse unit totals (element
        samples with many domains): per group ``s_g sum_u (a_u - c_a)(b_u - c_b)`` written as
        ``s_g (sum_u a_u b_u - Q_g)``; ``Q_g = S_a S_b / n_g`` with the group means as
        centres, or ``c_b S_a + c_a S_b - c_a c_b`` for a lonely PSU centred at the grand
        mean (``adjust``)."""
        total = 0.0
        for k, stage in enumerate(self.stages):
            last = k == len(self.stages) - 1
            a = t1 if last else sparse.csr_matrix(self._stage_rows(k) @ t1)
            b = a if t2 is t1 else (t2 if last else sparse.csr_matrix(self._stage_rows(k) @ t2))
            first = np.zeros(stage.n_groups, dtype=np.int64)
            first[stage.group[::-1]] = np.arange(stage.n_units)[::-1]
            gscale = stage.scale[first].astype("float64")
            lonely = stage.lonely if k == 0 else np.zeros(stage.n_groups, dtype=bool)
            adjust = lonely & (self.lonely_psu == "adjust")
            if lonely.any() and self.lonely_psu == "average":
                ok = stage.n_groups - int(lonely.sum())
                gscale = np.where(lonely, 0.0, gscale) * (stage.n_groups / ok if ok else np.nan)
            sa = np.asarray((stage.units_to_groups @ a).todense())
            sb = sa if b is a else np.asarray((stage.units_to_groups @ b).todense())
            wn = np.where(adjust, 0.0, gscale / stage.n_in_group)
            unit_scale = gscale[stage.group]
            if diagonal:
                q = np.einsum("g,gj,gj->j", wn, sa, sb)
                prod = np.asarray(a.multiply(b).T @ unit_scale).ravel()
            else:
                q = (sa * wn[:, None]).T @ sb
                prod = np.asarray((a.T @ sparse.diags(unit_scale) @ b).todense())
            if adjust.any():
                q = q + self._adjust_terms(a, b, sa, sb, gscale * adjust, stage.n_units,
                                           diagonal)
            total = total + prod - q
        return np.asarray(total)

    @staticmethod
    def _adjust_terms(a, b, sa, sb, ws, n_units, diagonal) -> np.ndarray:
        ca = np.asarray(a.sum(axis=0)).ravel() / n_units
        cb = ca if b is a else np.asarray(b.sum(axis=0)).ravel() / n_units
        wa, wb, w = ws @ sa, ws @ sb, ws.sum()
        if diagonal:
            return wa * cb + ca * wb - w * ca * cb
        return np.outer(wa, cb) + np.outer(ca, wb) - w * np.outer(ca, cb)


@dataclass(frozen=True, eq=False)
class ReplicateEngine:
    """Replicate-weight variance: ``scale * sum_r rscales_r (theta_r - centre)^2``.

    Attributes
    ----------
    scale : float
        Overall multiplier.
    rscales : numpy.ndarray
        Multiplier of each replicate.
    mse : bool
        Centre at the full-sample estimate (True) or at the mean of the replicates.

    Notes
    -----
    R equivalent: ``svrVar(thetas, scale, rscales, mse=, coef=)``.

    Examples
    --------
    >>> import numpy as np
    >>> eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
    >>> reps = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
    >>> full = np.array([2.5, 3.0])
    >>> eng.var(reps, full).round(4).tolist()
    [3.75, 4.5]
    """

    scale: float
    rscales: np.ndarray
    mse: bool

    def _dev(self, reps: np.ndarray, full: np.ndarray) -> np.ndarray:
        centre = full if self.mse else reps.mean(axis=0)
        return (reps - centre) * np.sqrt(self.scale * self.rscales)[:, None]

    def var(self, reps: np.ndarray, full: np.ndarray) -> np.ndarray:
        """Variances of k estimates from their replicate estimates.

        Parameters
        ----------
        reps : numpy.ndarray
            (R x k) replicate estimates.
        full : numpy.ndarray
            The k full-sample estimates (the centre when ``mse``).

        Returns
        -------
        numpy.ndarray
            ``scale * sum_r rscales_r (reps_r - centre)^2`` per estimate.

        Examples
        --------
        >>> import numpy as np
        >>> eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
        >>> reps = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
        >>> full = np.array([2.5, 3.0])
        >>> eng.var(reps, full).round(4).tolist()  # 0.75 * (2.25 + 0.25 + 0.25 + 2.25)
        [3.75, 4.5]
        """
        d = self._dev(reps, full)
        return np.einsum("ij,ij->j", d, d)

    def cov(self, reps1: np.ndarray, full1: np.ndarray, reps2: np.ndarray | None = None,
            full2: np.ndarray | None = None) -> np.ndarray:
        """Covariance matrix between two sets of replicate estimates of the same design.

        Parameters
        ----------
        reps1 : numpy.ndarray
            (R x k1) replicate estimates.
        full1 : numpy.ndarray
            Their full-sample estimates.
        reps2 : numpy.ndarray, optional
            (R x k2) replicate estimates; default ``reps1``.
        full2 : numpy.ndarray, optional
            Their full-sample estimates.

        Returns
        -------
        numpy.ndarray
            (k1 x k2) covariances.

        Examples
        --------
        >>> import numpy as np
        >>> eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
        >>> reps = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
        >>> full = np.array([2.5, 3.0])
        >>> eng.cov(reps, full).round(4).tolist()
        [[3.75, 2.25], [2.25, 4.5]]
        """
        d1 = self._dev(reps1, full1)
        d2 = d1 if reps2 is None else self._dev(reps2, full2)
        return d1.T @ d2


@dataclass(frozen=True, eq=False)
class VarBasis:
    """What the variance of k estimates needs; linear maps of it are linear combinations.

    ``values`` are influence totals per final sampling unit (Taylor) or replicate estimates
    (replicate designs); ``full`` the full-sample estimates.

    Attributes
    ----------
    values : numpy.ndarray or scipy.sparse matrix
        (final units x k) influence totals, or (R x k) replicate estimates.
    full : numpy.ndarray
        The k full-sample estimates.
    engine : TaylorEngine or ReplicateEngine
        The design's engine; bases with the same engine have covariances.

    Examples
    --------
    >>> import numpy as np
    >>> eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
    >>> reps = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
    >>> full = np.array([2.5, 3.0])
    >>> basis = VarBasis(reps, full, eng)
    >>> basis.k, basis.var().round(4).tolist()
    (2, [3.75, 4.5])
    """

    values: np.ndarray
    full: np.ndarray
    engine: TaylorEngine | ReplicateEngine

    @property
    def k(self) -> int:
        """Number of estimates.

        Examples
        --------
        >>> import numpy as np
        >>> eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
        >>> reps = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
        >>> full = np.array([2.5, 3.0])
        >>> basis = VarBasis(reps, full, eng)
        >>> basis.k
        2
        """
        return self.values.shape[1]

    def var(self) -> np.ndarray:
        """Variances of the k estimates (NaN where the estimate is NaN).

        Returns
        -------
        numpy.ndarray
            Taylor: the multistage variance of the influence totals; replicate:
            ``scale * sum_r rscales_r (theta_r - centre)^2``.

        Examples
        --------
        >>> import numpy as np
        >>> eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
        >>> reps = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
        >>> full = np.array([2.5, 3.0])
        >>> basis = VarBasis(reps, full, eng)
        >>> basis.var().round(4).tolist()
        [3.75, 4.5]
        """
        if isinstance(self.engine, TaylorEngine):
            v = self.engine.var(_finite(self.values))
        else:
            v = self.engine.var(self.values, self.full)
        return np.where(np.isnan(self.full), np.nan, v)

    def cov(self, other: VarBasis | None = None) -> np.ndarray:
        """Covariance matrix with the estimates of ``other`` (default: with themselves).

        Parameters
        ----------
        other : VarBasis, optional
            A basis from the same design (the same engine object).

        Returns
        -------
        numpy.ndarray
            (k x k_other) covariances; NaN in the rows and columns of NaN estimates.

        Raises
        ------
        ValueError
            The two bases come from different designs.

        Examples
        --------
        >>> import numpy as np
        >>> eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
        >>> reps = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
        >>> full = np.array([2.5, 3.0])
        >>> basis = VarBasis(reps, full, eng)
        >>> basis.cov().round(4).tolist()
        [[3.75, 2.25], [2.25, 4.5]]
        """
        other = self if other is None else other
        if other.engine is not self.engine:
            raise EstimationError("estimates come from different designs; they have no covariance "
                             "in sipas (treat them as independent samples)")
        if isinstance(self.engine, TaylorEngine):
            c = self.engine.cov(_finite(self.values), _finite(other.values))
        else:
            c = self.engine.cov(self.values, self.full, other.values, other.full)
        bad = np.isnan(self.full)[:, None] | np.isnan(other.full)[None, :]
        return np.where(bad, np.nan, c)

    def combine(self, weights: np.ndarray) -> VarBasis:
        """The basis of ``L' theta`` for a (k x q) matrix ``L``.

        An estimate with a zero coefficient does not enter, even when it is NaN (an empty
        domain): ``NaN * 0`` would otherwise spoil every combination.

        Parameters
        ----------
        weights : numpy.ndarray
            (k x q) coefficients ``L``.

        Returns
        -------
        VarBasis
            The basis of the q combinations (same engine), so ``var(L' theta) = L' V L``.

        Examples
        --------
        >>> import numpy as np
        >>> eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
        >>> reps = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
        >>> full = np.array([2.5, 3.0])
        >>> basis = VarBasis(reps, full, eng)
        >>> diff = basis.combine(np.array([[1.0], [-1.0]]))
        >>> diff.full.tolist(), diff.var().round(4).tolist()  # 3.75 + 4.5 - 2 * 2.25
        ([-0.5], [3.75])
        """
        weights = np.asarray(weights, dtype="float64")
        return VarBasis(_combine(self.values, weights), _combine(self.full, weights),
                        self.engine)

    def take(self, index: Sequence[int] | np.ndarray) -> VarBasis:
        """The basis of a subset of the estimates.

        Parameters
        ----------
        index : sequence of int
            Positions of the estimates to keep, in the order wanted.

        Returns
        -------
        VarBasis
            Same engine, so covariances with the full basis remain available.

        Examples
        --------
        >>> import numpy as np
        >>> eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
        >>> reps = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
        >>> full = np.array([2.5, 3.0])
        >>> basis = VarBasis(reps, full, eng)
        >>> basis.take([1]).var().round(4).tolist()
        [4.5]
        """
        index = np.asarray(index, dtype=np.int64)
        values = self.values.tocsc()[:, index].tocsr() if sparse.issparse(self.values) \
            else self.values[:, index]
        return VarBasis(values, self.full[index], self.engine)

    @staticmethod
    def concat(bases: Sequence[VarBasis]) -> VarBasis:
        """Stack the estimates of several bases of the same design side by side.

        Parameters
        ----------
        bases : sequence of VarBasis
            Bases sharing one engine.

        Returns
        -------
        VarBasis
            All their estimates, in order.

        Raises
        ------
        ValueError
            The bases come from different designs.

        Examples
        --------
        >>> import numpy as np
        >>> eng = ReplicateEngine(scale=0.75, rscales=np.ones(4), mse=False)
        >>> reps = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 5.0], [4.0, 3.0]])
        >>> full = np.array([2.5, 3.0])
        >>> basis = VarBasis(reps, full, eng)
        >>> VarBasis.concat([basis.take([1]), basis.take([0])]).full.tolist()
        [3.0, 2.5]
        """
        engines = {id(b.engine) for b in bases}
        if len(engines) != 1:
            raise EstimationError("cannot stack estimates from different designs; compare "
                                  "independent samples with sipas.compare.compare_waves")
        if any(sparse.issparse(b.values) for b in bases):
            values = sparse.hstack([sparse.csr_matrix(b.values) for b in bases]).tocsr()
        else:
            values = np.hstack([b.values for b in bases])
        return VarBasis(values, np.concatenate([b.full for b in bases]), bases[0].engine)


def _finite(values: np.ndarray | sparse.spmatrix) -> np.ndarray | sparse.spmatrix:
    if sparse.issparse(values):
        values = values.tocsr(copy=True)
        values.data = np.nan_to_num(values.data)
        return values
    return np.nan_to_num(values)


def _combine(a: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``a @ weights`` where a NaN in ``a`` only spoils the columns that use it."""
    if sparse.issparse(a):
        out = a @ weights
        return sparse.csr_matrix(out) if weights.ndim == 2 and weights.shape[1] > 64 else \
            np.asarray(out)
    nan = np.isnan(a)
    if not nan.any():
        return a @ weights
    out = np.where(nan, 0.0, a) @ weights
    spoiled = nan.astype("float64") @ (weights != 0).astype("float64") > 0
    return np.where(spoiled, np.nan, out)
