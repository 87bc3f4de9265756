"""Variance engines: linearization (stratified multistage, fpc) and replicate weights.

Every estimator in sipas is, or is linearized as, a ratio of weighted sums within domains.
The data are reduced once to sums per (key, domain, variable) with ``np.bincount`` (the key is
the sampling unit, a post-stratum, ...), and everything after that works on those small
arrays. A :class:`~sipas.engine.basis.VarBasis` holds what the variance needs for a set of
estimates:

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

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, TypeAlias, cast

import numpy as np
from scipy import sparse

from sipas.engine.calibrated import Calibrated
from sipas.engine.domainrows import DomainRows, products
from sipas.engine.lonely import LonelyRule, StageTerms, stage_terms
from sipas.errors import EstimationError

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs is Python 3.13

__all__ = ["ReplicateEngine", "Stage", "Support", "TaylorEngine", "UnitTotals", "is_sparse"]

#: totals per final sampling unit: dense, sparse (CSR) for many domains, or one domain's
#: block per unit (element designs)
UnitTotals: TypeAlias = np.ndarray | sparse.csr_matrix | DomainRows | Calibrated


def is_sparse(t: UnitTotals) -> TypeIs[sparse.csr_matrix]:
    """Whether unit totals are a sparse matrix (``scipy.sparse.issparse``).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> is_sparse(np.eye(2)), is_sparse(sparse.csr_matrix(np.eye(2)))
    (False, True)
    """
    return sparse.issparse(t)

#: which final units have a row in each estimate's domain: (units x k) boolean, dense or
#: sparse; ``None`` means every unit
Support = np.ndarray | sparse.spmatrix | None


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
    lonely_domain : bool
        R ``survey.adjust.domain.lonely``: apply the rule to a stratum with one PSU in the
        domain (:class:`~sipas.engine.lonely.LonelyRule`).
    lonely_corrected : bool
        The corrected rules where R 4.1-1 is wrong (:class:`~sipas.engine.lonely.LonelyRule`).

    Notes
    -----
    ``V = sum_k sum_g s_g sum_{u in g} (t_u - mean_g t)^2`` over the stages ``k``, with
    ``t_u`` the unit totals of the influence values and ``s_g`` the stage scale (fpc,
    ``n/(n-1)``, earlier sampling fractions); see :class:`sipas.Design`. The lonely-PSU rule
    changes the centre and weight of some groups per estimate
    (:func:`~sipas.engine.lonely.stage_terms`); it needs to know which units have a row in
    each estimate's domain (``support``; ``None``: every unit).

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
    lonely_domain: bool = False
    lonely_corrected: bool = False

    @property
    def rule(self) -> LonelyRule:
        """The lonely-PSU rule as one object.

        Examples
        --------
        >>> import pandas as pd, sipas
        >>> df = pd.DataFrame({"h": [1, 1, 2], "psu": [1, 2, 3], "w": [10.0] * 3})
        >>> d = sipas.Design(df, ids="psu", strata="h", weights="w", lonely_psu="adjust")
        >>> d.engine.rule
        LonelyRule(psu='adjust', domain=False, corrected=False)
        """
        return LonelyRule(self.lonely_psu, self.lonely_domain, self.lonely_corrected)

    @property
    def final(self) -> Stage:
        """The final stage (whose units index the rows of unit totals).

        Examples
        --------
        >>> import numpy as np, pandas as pd, sipas
        >>> df = pd.DataFrame({"h": [1, 1, 2, 2], "psu": [1, 2, 3, 4], "w": [10.0] * 4})
        >>> d = sipas.Design(df, ids="psu", strata="h", weights="w")
        >>> eng = TaylorEngine(d.stages, d.lonely_psu)
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

    def _terms(self, k: int, gsum: np.ndarray, support: Support) -> StageTerms | None:
        """The lonely-PSU centres and multipliers of stage ``k`` (None: group means, 1)."""
        stage, rule = self.stages[k], self.rule
        if not rule.acts or not (rule.domain or stage.lonely.any()):
            return None
        if support is None:
            present = np.broadcast_to(stage.n_in_group[:, None], gsum.shape)
        else:
            s = sparse.csr_matrix(support, dtype="float64")  # type: ignore[arg-type]
            if k < len(self.stages) - 1:
                s = sparse.csr_matrix(self._stage_rows(k) @ s)
            s.data = (s.data > 0).astype("float64")
            present = np.asarray((stage.units_to_groups @ s).todense())
        return stage_terms(rule, k == 0, stage.n_in_group, stage.lonely, stage.certainty,
                           gsum, present)

    def factors(self, t: np.ndarray, support: Support = None) -> list[np.ndarray]:
        """Matrices ``A_k`` with ``V = sum_k A_k' A_k`` (one per stage).

        Parameters
        ----------
        t : numpy.ndarray
            (final units x k) totals of influence values.
        support : numpy.ndarray or scipy.sparse matrix, optional
            (final units x k) true where the unit has a row in the estimate's domain;
            ``None``: every unit (only ``adjust`` and ``average`` read it).

        Returns
        -------
        list of numpy.ndarray
            Per stage, the scaled deviations ``sqrt(s_g) (t_u - centre_g)`` of its unit
            totals (the lonely-PSU rule sets the centre and weight of lonely strata).

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
            terms = self._terms(k, gsum, support)
            if terms is None:
                dev = tk - (gsum / stage.n_in_group[:, None])[stage.group]
            else:
                dev = (tk - terms.centre[stage.group]) * terms.mult[stage.group]
            out.append(dev * np.sqrt(stage.scale)[:, None])
        return out

    def var(self, t: UnitTotals, support: Support = None) -> np.ndarray:
        """Variances of the k estimates whose unit totals of influence values are ``t``.

        Parameters
        ----------
        t : numpy.ndarray or scipy.sparse matrix
            (final units x k) totals of influence values (sparse for many domains).
        support : numpy.ndarray or scipy.sparse matrix, optional
            (final units x k) units with a row in each estimate's domain (see
            :meth:`factors`).

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
        if isinstance(t, Calibrated):
            # V(b - G C) = V(b) - 2 diag(Cov(b, G) C) + diag(C' V(G) C)
            cross = self.cov(t.base, t.loads, support, None)
            return (self.var(t.base, support) - 2 * np.einsum("kl,lk->k", cross, t.coef)
                    + np.einsum("lk,lm,mk->k", t.coef, self.cov(t.loads), t.coef))
        if isinstance(t, DomainRows):
            fast = self._domain_rows_var(t, support)
            if fast is not None:
                return fast
            t = t.tocsr()
        if is_sparse(t):
            return self._grouped(t, None, support, support, diagonal=True)
        # cast: typeshed's sum() adds the start value 0 to the type (there is a stage)
        return cast(np.ndarray, sum(np.einsum("ij,ij->j", a, a)
                                    for a in self.factors(t, support)))

    def cov(self, t1: UnitTotals, t2: UnitTotals | None = None, support1: Support = None,
            support2: Support = None) -> np.ndarray:
        """Covariance matrix between the estimates of two sets of unit totals.

        Parameters
        ----------
        t1 : numpy.ndarray or scipy.sparse matrix
            (final units x k1) totals of influence values.
        t2 : numpy.ndarray or scipy.sparse matrix, optional
            (final units x k2) totals; default ``t1`` (and ``support1``).
        support1, support2 : numpy.ndarray or scipy.sparse matrix, optional
            Units with a row in each estimate's domain (see :meth:`factors`).

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
        if isinstance(t1, Calibrated) or isinstance(t2, Calibrated):
            return self._calibrated_cov(t1, t2, support1, support2)
        if isinstance(t1, DomainRows) and t2 is not None and not isinstance(t2, DomainRows):
            fast = self._domain_rows_cross(t1, t2, support1, support2)
            if fast is not None:
                return fast
        if isinstance(t2, DomainRows) and not isinstance(t1, DomainRows):
            fast = self._domain_rows_cross(t2, t1, support2, support1)
            if fast is not None:
                return fast.T
        same = t2 is None or (t2 is t1 and support2 is support1)
        m1 = t1.tocsr() if isinstance(t1, DomainRows) else t1
        m2, support2 = (m1, support1) if same else (
            t2.tocsr() if isinstance(t2, DomainRows) else t2, support2)
        if m2 is None:
            raise ValueError("unreachable: t2 is given when the sets differ")
        if is_sparse(m1) or is_sparse(m2):
            return self._grouped(sparse.csr_matrix(m1), None if same else sparse.csr_matrix(m2),
                                 support1, support2, diagonal=False)
        f1 = self.factors(m1, support1)
        f2 = f1 if same else self.factors(m2, support2)
        return cast(np.ndarray, sum(a.T @ b for a, b in zip(f1, f2)))

    def _calibrated_cov(self, t1: UnitTotals, t2: UnitTotals | None, support1: Support,
                        support2: Support) -> np.ndarray:
        """Cov(b1 - G1 C1, b2 - G2 C2), term by term (the multistage variance is a
        quadratic form, so its cross products are bilinear)."""
        same = t2 is None
        b1, g1, c1 = _parts(t1)
        b2, g2, c2 = (b1, g1, c1) if same else _parts(t2)  # type: ignore[arg-type]
        s2 = support1 if same else support2
        out = self.cov(b1, None if same else b2, support1, s2)
        if g2 is not None and c2 is not None:
            out = out - self.cov(b1, g2, support1, None) @ c2
        if g1 is not None and c1 is not None:
            out = out - c1.T @ self.cov(g1, b2, None, s2)
            if g2 is not None and c2 is not None:
                out = out + c1.T @ self.cov(g1, g2) @ c2
        return np.asarray(out)

    def _one_stage_plain(self, *supports: Support) -> bool:
        """One stage, no support and no lonely-PSU rule acting: the plain formula holds."""
        stage = self.stages[0]
        return len(self.stages) == 1 and all(s is None for s in supports) and not (
            self.rule.acts and (self.rule.domain or bool(stage.lonely.any())))

    def _per_group(self) -> np.ndarray:
        """``s_g / n_g`` of the one stage's groups."""
        stage = self.stages[0]
        first = np.zeros(stage.n_groups, dtype=np.int64)
        first[stage.group[::-1]] = np.arange(stage.n_units)[::-1]
        return stage.scale[first] / stage.n_in_group

    def _domain_rows_var(self, t: DomainRows, support: Support) -> np.ndarray | None:
        """The variance of one-stage totals of units in one domain each, from their sums
        and sums of squares per (stratum, domain); None when a lonely-PSU rule needs more."""
        if not self._one_stage_plain(support):
            return None
        stage = self.stages[0]
        sums, squares = t.moments(stage.group, stage.n_groups, stage.scale)
        shape = (stage.n_groups, t.n_domains, t.values.shape[1])
        centre = np.einsum("g,gdj->dj", self._per_group(), sums.reshape(shape) ** 2)
        return (squares.reshape(shape).sum(axis=0) - centre).ravel()

    def _domain_rows_cross(self, t: DomainRows, other: UnitTotals, support: Support,
                           other_support: Support) -> np.ndarray | None:
        """Cov(t, other) for one-stage blocks and a (units x L) matrix (calibration
        loadings), without the sparse matrix of the blocks; None when it does not apply."""
        if isinstance(other, Calibrated | DomainRows) or not self._one_stage_plain(
                support, other_support):
            return None
        stage = self.stages[0]
        sums, _ = t.moments(stage.group, stage.n_groups, stage.scale)
        shape = (stage.n_groups, t.n_domains, t.values.shape[1])
        summed = stage.units_to_groups @ other
        group_sums = summed.toarray() if sparse.issparse(summed) else np.asarray(summed)
        if group_sums.ndim == 1:
            group_sums = group_sums[:, None]
        centre = np.einsum("g,gdj,gl->djl", self._per_group(), sums.reshape(shape),
                           group_sums).reshape(-1, group_sums.shape[1])
        return products(t, other, stage.scale) - centre

    def _grouped(self, t1: sparse.csr_matrix, t2: sparse.csr_matrix | None,
                 support1: Support, support2: Support, diagonal: bool) -> np.ndarray:
        """The variance of :meth:`factors` from group sums, for sparse unit totals (element
        samples with many domains): per group ``s_g sum_u (a_u - c_a)(b_u - c_b)`` written as
        ``s_g (sum_u a_u b_u - c_b S_a - c_a S_b + n_g c_a c_b)`` with ``S`` the group sums
        and ``c`` the centres (group means unless a lonely-PSU rule says otherwise); a
        multiplier of the lonely-PSU rule scales ``a`` (and so ``S_a`` and ``c_a``)."""
        total = 0.0
        for k, stage in enumerate(self.stages):
            last = k == len(self.stages) - 1
            a = self._side(k, last, t1, support1)
            b = a if t2 is None else self._side(k, last, t2, support2)
            first = np.zeros(stage.n_groups, dtype=np.int64)
            first[stage.group[::-1]] = np.arange(stage.n_units)[::-1]
            gscale = stage.scale[first].astype("float64")
            (ua, sa, ca), (ub, sb, cb) = a, b
            unit_scale = gscale[stage.group]
            n = stage.n_in_group.astype("float64")
            if diagonal:
                q = np.einsum("g,gj,gj->j", gscale, cb, sa) \
                    + np.einsum("g,gj,gj->j", gscale, ca, sb) \
                    - np.einsum("g,gj,gj->j", gscale * n, ca, cb)
            else:
                q = (sa * gscale[:, None]).T @ cb + (ca * gscale[:, None]).T @ sb \
                    - (ca * (gscale * n)[:, None]).T @ cb
            total = total + _scaled_products(ua, ub, unit_scale, diagonal) - q
        return np.asarray(total)

    def _side(self, k: int, last: bool, t: sparse.csr_matrix, support: Support
              ) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        """Stage-k unit totals (weighted by the lonely-PSU multiplier), their group sums and
        the groups' centres."""
        stage = self.stages[k]
        u = t if last else sparse.csr_matrix(self._stage_rows(k) @ t)
        s = np.asarray((stage.units_to_groups @ u).todense())
        terms = self._terms(k, s, support)
        if terms is None:
            return u, s, s / stage.n_in_group[:, None]
        coo = u.tocoo()
        weighted = sparse.csr_matrix((coo.data * terms.mult[stage.group[coo.row], coo.col],
                                      (coo.row, coo.col)), shape=u.shape)
        return weighted, s * terms.mult, terms.centre * terms.mult


#: rows of sparse unit totals multiplied at a time: the temporary products of an element
#: design's totals (as many rows as the data) stay a few dozen MB
CHUNK = 1 << 15


def _scaled_products(a: sparse.csr_matrix, b: sparse.csr_matrix, scale: np.ndarray,
                     diagonal: bool) -> np.ndarray:
    """``sum_u scale_u a_u' b_u`` over the rows ``u``: its diagonal (k,) or the (k1 x k2)
    matrix, a chunk of rows at a time."""
    k = a.shape[1]
    total: np.ndarray = np.zeros(k) if diagonal else np.zeros((k, b.shape[1]))
    for lo in range(0, a.shape[0], CHUNK):
        s = scale[lo: lo + CHUNK]
        if diagonal and b is a:
            # the squares of the stored values, by column (views of the chunk's entries)
            ptr = a.indptr[lo: lo + CHUNK + 1]
            data = a.data[ptr[0]: ptr[-1]]
            per = np.repeat(s, np.diff(ptr)) * data * data
            total += np.bincount(a.indices[ptr[0]: ptr[-1]], weights=per, minlength=k)
            continue
        ca, cb = a[lo: lo + CHUNK], b[lo: lo + CHUNK]
        if diagonal:
            total += np.asarray(ca.multiply(cb).T @ s).ravel()
        else:
            total += (ca.T @ sparse.diags(s) @ cb).toarray()
    return total


def _parts(t: UnitTotals) -> tuple[UnitTotals, UnitTotals | None, np.ndarray | None]:
    """(base, loadings, coefficients) of unit totals (no loadings when not calibrated)."""
    if isinstance(t, Calibrated):
        return t.base, t.loads, t.coef
    return t, None, None


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

    def _dev(self, reps: np.ndarray, full: np.ndarray | None) -> np.ndarray:
        if self.mse and full is None:
            raise EstimationError("an mse variance is centred at the full-sample estimates: "
                                  "give them with the replicate estimates")
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
