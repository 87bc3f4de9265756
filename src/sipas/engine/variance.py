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
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

from sipas.errors import EstimationError

__all__ = ["ReplicateEngine", "Stage", "TaylorEngine", "VarBasis"]


# ---------------------------------------------------------------------- stages

@dataclass(frozen=True, eq=False)
class Stage:
    """One sampling stage as the variance engine sees it.

    ``unit`` gives each row's unit code at this stage (the rows of the data, or of the
    table of sampling units of a Dask design); ``group`` each unit's group (the stratum at
    stage 1, the parent unit later); ``scale`` the factor that multiplies the squared
    deviations of the unit totals from their group mean (fpc, n/(n-1), and the sampling
    fractions of the earlier stages).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> [(s.n_units, s.n_groups) for s in d.stages]  # communes in districts, users in communes
    [(40, 10), (800, 40)]
    """

    unit: np.ndarray
    n_units: int
    group: np.ndarray
    n_groups: int
    n_in_group: np.ndarray
    scale: np.ndarray
    lonely: np.ndarray
    group_labels: np.ndarray
    certainty: np.ndarray
    fraction: np.ndarray

    def __post_init__(self) -> None:
        for name in ("unit", "group", "n_in_group", "scale", "lonely", "certainty",
                     "fraction"):
            getattr(self, name).flags.writeable = False

    @cached_property
    def units_to_groups(self) -> sparse.csr_matrix:
        """Sparse (groups x units) indicator that sums unit totals into group totals.

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> d.stages[0].units_to_groups.shape
        (10, 40)
        """
        return sparse.csr_matrix((np.ones(self.n_units), (self.group, np.arange(self.n_units))),
                                 shape=(self.n_groups, self.n_units))


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

    stages: tuple[Stage, ...]
    lonely_psu: str

    @property
    def final(self) -> Stage:
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
