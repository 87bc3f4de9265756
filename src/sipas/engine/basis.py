"""The variance basis: what the variance of k estimates needs, and linear maps of it.

Estimators hand a :class:`VarBasis` to the result builder; contrasts, composite indices and PAR
points are linear combinations of it (:meth:`VarBasis.combine`), so every derived quantity gets
its variance and its covariance with the others from the same design.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
from scipy import sparse

from sipas.engine.calibrated import Calibrated
from sipas.engine.domainrows import DomainRows
from sipas.engine.variance import ReplicateEngine, Support, TaylorEngine, UnitTotals, is_sparse
from sipas.errors import EstimationError

__all__ = ["VarBasis"]

#: combinations of sparse unit totals up to this many values are made dense
DENSE_VALUES = 4_000_000


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
    support : numpy.ndarray or scipy.sparse matrix, optional
        Taylor: (final units x k) true where the unit has a row in the estimate's domain,
        which the ``adjust`` and ``average`` lonely-PSU rules read; ``None``: every unit.

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

    values: UnitTotals
    full: np.ndarray
    engine: TaylorEngine | ReplicateEngine
    support: Support = None

    def __post_init__(self) -> None:
        # read-only, so a result cannot be changed through its basis (the arrays are as
        # large as the data for element designs: they are not copied)
        for arr in (self.values, self.full, self.support):
            for part in (arr.data,) if sparse.issparse(arr) or isinstance(
                    arr, DomainRows | Calibrated) else (arr,):
                if isinstance(part, np.ndarray):
                    part.flags.writeable = False

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
            v = self.engine.var(_finite(self.values), self.support)
        else:
            v = self.engine.var(_dense(self.values), self.full)
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
            c = self.engine.cov(_finite(self.values), _finite(other.values), self.support,
                                other.support)
        else:
            c = self.engine.cov(_dense(self.values), self.full, _dense(other.values),
                                other.full)
        bad = np.isnan(self.full)[:, None] | np.isnan(other.full)[None, :]
        return np.where(bad, np.nan, c)

    def effective_df(self, contrasts: np.ndarray | None = None) -> np.ndarray | None:
        """Satterthwaite degrees of freedom of each estimate, or of each contrast of them
        (Taylor designs; None for replicate designs).

        The variance is a sum over strata, ``V = sum_h V_h`` (every stage of stratum ``h`` in
        ``V_h``), each with ``n_h - 1`` df for its ``n_h`` PSUs; the effective df is
        ``V^2 / sum_h V_h^2 / (n_h - 1)`` (Satterthwaite). A difference of two
        districts that are strata of 4 communes each gets about 6 df when their variances
        are alike, and close to 3 when one dominates; a district against the mean of all
        districts keeps close to its own 3.

        Parameters
        ----------
        contrasts : numpy.ndarray, optional
            (k x m) coefficients: the df of the m combinations ``contrasts' theta``.

        Returns
        -------
        numpy.ndarray or None

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> est = sipas.mean(d, "p03", by="district")
        >>> est.basis.effective_df()[:2].round(2).tolist(), est.to_frame()["df"][:2].tolist()
        ([3.0, 3.0], [3.0, 3.0])
        """
        if not isinstance(self.engine, TaylorEngine):
            return None
        first = self.engine.stages[0]
        to_psu = sparse.csc_matrix(self.engine._stage_rows(0))
        stratum = first.group[to_psu.indices]  # of each final unit (one PSU per column)
        t = _finite(self.values)
        k = self.k
        coef = np.eye(k) if contrasts is None else np.asarray(contrasts, dtype="float64")
        n_units, n_strata = len(stratum), first.n_groups
        df_h = (first.n_in_group - 1).astype("float64")
        out = np.empty(coef.shape[1])
        for m in range(coef.shape[1]):
            z = _times(t, coef[:, m])
            # the variance of the combination stratum by stratum, every stage included
            split = sparse.csr_matrix((z, (np.arange(n_units), stratum)),
                                      shape=(n_units, n_strata))
            v_h = np.maximum(self.engine.var(split), 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                denom = np.where(df_h > 0, v_h**2 / df_h, 0.0).sum()
                out[m] = v_h.sum() ** 2 / denom if denom > 0 else 0.0
        if contrasts is None:
            out = np.where(np.isnan(self.full), np.nan, out)
        return out

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
        support = None
        if self.support is not None:
            # a combination has a row wherever one of the estimates it uses has
            used = sparse.csr_matrix((weights != 0).reshape(len(weights), -1)
                                     .astype("float64"))
            support = (sparse.csr_matrix(self.support,  # type: ignore[arg-type]
                                         dtype="float64") @ used) > 0
        return VarBasis(_combine(self.values, weights), _combine(self.full, weights),
                        self.engine, support)

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
        values: UnitTotals
        if isinstance(self.values, Calibrated):
            values = Calibrated(_take(_matrix(self.values.base), index), self.values.loads,
                                self.values.coef[:, index])
        else:
            values = _take(_matrix(self.values), index)
        support = None if self.support is None else \
            sparse.csc_matrix(self.support)[:, index].tocsr()
        return VarBasis(values, self.full[index], self.engine, support)

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
        values: UnitTotals
        loads = [b.values.loads for b in bases if isinstance(b.values, Calibrated)]
        if loads and len(loads) == len(bases) and all(g is loads[0] for g in loads):
            # calibrated totals of one design: stack the parts, keep the loadings
            parts = [b.values for b in bases if isinstance(b.values, Calibrated)]
            base = VarBasis.concat([VarBasis(p.base, b.full, b.engine)
                                    for p, b in zip(parts, bases)]).values
            values = Calibrated(_matrix(base), loads[0],
                                np.hstack([p.coef for p in parts]))
        elif any(is_sparse(_matrix(b.values)) for b in bases):
            values = sparse.hstack([sparse.csr_matrix(_matrix(b.values))
                                    for b in bases]).tocsr()
        else:
            values = np.hstack([_dense(b.values) for b in bases])
        support = None
        if any(b.support is not None for b in bases):
            support = sparse.hstack([
                sparse.csr_matrix(np.ones((b.values.shape[0], b.k), dtype=bool))
                if b.support is None else sparse.csr_matrix(b.support)  # type: ignore[arg-type]
                for b in bases]).tocsr()
        return VarBasis(values, np.concatenate([b.full for b in bases]), bases[0].engine,
                        support)


def _matrix(values: UnitTotals) -> np.ndarray | sparse.csr_matrix:
    """Unit totals as a matrix (the sparse one of units in one domain each; calibrated ones
    made dense)."""
    if isinstance(values, Calibrated):
        return values.toarray()
    return values.tocsr() if isinstance(values, DomainRows) else values


def _take(matrix: np.ndarray | sparse.csr_matrix, index: np.ndarray
          ) -> np.ndarray | sparse.csr_matrix:
    return matrix.tocsc()[:, index].tocsr() if is_sparse(matrix) else matrix[:, index]


def _times(values: UnitTotals, weights: np.ndarray) -> np.ndarray:
    """``values @ weights`` (a vector) as a dense array."""
    if isinstance(values, Calibrated):
        return values.times(weights)
    return np.asarray(_matrix(values) @ weights).ravel()


def _dense(values: UnitTotals) -> np.ndarray:
    """Replicate estimates, which are never sparse."""
    if isinstance(values, DomainRows | Calibrated) or is_sparse(values):
        raise EstimationError("replicate estimates must be a dense array, not a sparse matrix")
    return values


def _finite(values: UnitTotals) -> UnitTotals:
    if isinstance(values, Calibrated):
        base = _finite(values.base)
        return values if base is values.base else Calibrated(
            base, values.loads, values.coef)  # type: ignore[arg-type]
    if isinstance(values, DomainRows):
        return values.finite()
    if is_sparse(values):
        if np.isfinite(values.data).all():
            return values
        values = values.tocsr(copy=True)
        values.data = np.nan_to_num(values.data)
        return values
    return values if np.isfinite(values).all() else np.nan_to_num(values)


@overload
def _combine(a: np.ndarray, weights: np.ndarray) -> np.ndarray: ...
@overload
def _combine(a: UnitTotals, weights: np.ndarray) -> UnitTotals: ...
def _combine(a: UnitTotals, weights: np.ndarray) -> UnitTotals:
    """``a @ weights`` where a NaN in ``a`` only spoils the columns that use it."""
    if isinstance(a, Calibrated):
        return Calibrated(_combine(a.base, weights), a.loads,  # type: ignore[arg-type]
                          a.coef @ weights.reshape(len(weights), -1))
    if isinstance(a, DomainRows):
        kept = a.combine(weights) if np.isfinite(a.values).all() else None
        if kept is not None:
            return kept
        a = a.tocsr()
    if is_sparse(a):
        if weights.ndim == 1:
            return np.asarray(a @ weights)
        out = sparse.csr_matrix(a @ sparse.csr_matrix(weights))
        # dense when it is small or mostly filled; sparse totals of an element design stay
        # sparse (a dense (units x q) copy would be q values per row of the data)
        size = out.shape[0] * out.shape[1]
        return out.toarray() if size <= DENSE_VALUES or out.nnz > size // 4 else out
    nan = np.isnan(a)
    if not nan.any():
        return a @ weights
    out = np.where(nan, 0.0, a) @ weights
    spoiled = nan.astype("float64") @ (weights != 0).astype("float64") > 0
    return np.where(spoiled, np.nan, out)
