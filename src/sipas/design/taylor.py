"""The linearization services of one design: calibration-aware influence totals and
domain degrees of freedom.

A :class:`Design` holds one :class:`Linearization` (built on first use and cached): it turns
the sums an estimator asked for into the influence totals per final sampling unit, applies
the calibration projections of every weighting step (R's ``svyrecvar`` after
``calibrate``/``rake``/``postStratify``), and counts degrees of freedom within domains. The
sums it needs beyond the estimator's (cross products of projections, loadings per unit) are
asked of the back end once and kept.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd)
>>> d.reduction().n_units == d.stages[-1].n_units
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from sipas.backends.base import Backend
from sipas.design.protocol import Reduction, RowInfluence
from sipas.engine.basis import VarBasis
from sipas.engine.calibrated import Calibrated
from sipas.engine.calibration import (
    CellProjection,
    CrossKernel,
    LoadingKernel,
    Projection,
    UnitCellKernel,
    calibrated_unit_totals,
    calibration_coefficients,
    cell_loadings,
    distinct,
    level_influence,
)
from sipas.engine.domainrows import DomainRows
from sipas.engine.sums import DENSE_KEYS, Reduced, UnitSums
from sipas.engine.variance import Stage, TaylorEngine, UnitTotals

__all__ = ["Linearization"]


class Linearization:
    """Influence totals and domain df for one design (its back end, stages and steps).

    Parameters
    ----------
    backend : Backend
        Where the rows are.
    stages : tuple of Stage
        The design's stages (the first gives PSUs and strata, the last the final units).
    calibration : tuple of Projection
        The calibration projections of the weighting steps, in the order applied.
    engine : TaylorEngine
        The design's engine (so that bases of the same design have covariances).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> lin = Linearization(d.backend, d.stages, d.calibration, d.engine)
    >>> len(lin.reduction().groups)
    0
    """

    __slots__ = ("_backend", "_cache", "_calibration", "_engine", "_stages")

    def __init__(self, backend: Backend, stages: Sequence[Stage],
                 calibration: Sequence[Projection], engine: TaylorEngine) -> None:
        self._backend = backend
        self._stages = tuple(stages)
        self._calibration = tuple(calibration)
        self._engine = engine
        self._cache: dict[Any, Any] = {}

    def reduction(self) -> Reduction:
        """Sums per final-stage unit, and per level of every calibration projection."""
        groups: dict[int, list[Projection]] = {}
        for p in distinct(self._calibration):
            groups.setdefault(p.step, []).append(p)
        return Reduction(-1, self._stages[-1].n_units, tuple(tuple(g) for g in groups.values()),
                         defer=True)

    def variance_basis(self, sums: Reduced, est: np.ndarray, denom: np.ndarray | None,
                       again: RowInfluence | None = None) -> VarBasis:
        """Influence totals per final unit (calibration-aware) with the Taylor engine.

        Parameters
        ----------
        sums : Reduced
            The sums per final unit and per projection level the estimator asked for.
        est : numpy.ndarray
            The estimates (ratios) per domain and variable.
        denom : numpy.ndarray or None
            Their denominators (None for totals).
        again : RowInfluence, optional
            Reads the rows again, for sums kept as domain totals (units of one row each).

        Returns
        -------
        VarBasis
        """
        u = sums.units
        ratio = scale = None
        if u.wden is not None:
            if denom is None:
                raise ValueError("a ratio's influence needs its denominators")
            d = denom.reshape(u.n_domains, -1)
            # (wnum - ratio * wden) / den, zero in domains without a denominator
            has = d > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(has, est.reshape(u.n_domains, -1), 0.0)
                scale = np.where(has, 1.0 / d, 0.0)
        acts = self._engine.rule.acts and not self._calibration
        support = None
        t: UnitTotals
        if u.domain_totals:
            if again is None:
                raise ValueError("sums kept as domain totals need the rows read again")
            shape = (u.n_domains, u.n_vars)
            blocks = not acts and u.n_units * u.n_domains > DENSE_KEYS
            stage = self._stages[-1]
            # one stage: its variance sums are made with the values (one pass fewer)
            ask = (stage.group, stage.n_groups, stage.scale) \
                if blocks and len(self._stages) == 1 else None
            per_unit, valid, made = self._backend.reduce(again(
                np.zeros(shape) if ratio is None else ratio,
                np.ones(shape) if scale is None else scale, acts, ask))
            if blocks:
                # a block of values per unit and its domain: no index beside every value
                t = DomainRows(per_unit, u.key_domain(), u.n_domains,
                               None if made is None or ask is None else
                               (ask[0], ask[2], made[0], made[1]))
            else:
                t = u.unit_matrix(per_unit)
            if valid is not None:
                support = u.unit_matrix(valid)
        else:
            per_key = u.wnum
            if ratio is not None and scale is not None and u.wden is not None:
                kd = u.key_domain()
                per_key = np.multiply(u.wden, ratio[kd])
                np.subtract(u.wnum, per_key, out=per_key)
                per_key *= scale[kd]
            t = u.unit_matrix(per_key)
            if acts:
                # R subsets an uncalibrated design by dropping rows, so a unit is in a domain
                # when it has a positive-weight row there with a value; a calibrated design
                # keeps every row (weight zero outside), so every unit stays (None)
                support = u.unit_matrix((u.pden > 0).astype("float64"))
        if self._calibration:
            group_of = {id(p): i for i, g in enumerate(self.reduction().groups) for p in g}

            def reduced(p: Projection) -> np.ndarray:
                return level_influence(p, sums.projections[group_of[id(p)]], u.n_domains, est,
                                       denom)

            if isinstance(t, np.ndarray):
                t = calibrated_unit_totals(t, self._calibration, reduced, self._cross,
                                           self._loadings)
            else:
                # sparse totals (many units by many domains): the calibrated ones would be
                # dense, units x estimates; they are kept as base - loadings x coefficients
                coefs = calibration_coefficients(self._calibration, t.shape[1], reduced,
                                                 self._cross)
                loads = [self._loadings(p) for p, _ in coefs]
                t = Calibrated(t, sparse.hstack([sparse.csr_matrix(g) for g in loads]).tocsr()
                               if any(sparse.issparse(g) for g in loads) else np.hstack(loads),
                               np.vstack([c for _, c in coefs]))
        return VarBasis(t, est, self._engine, support)

    def domain_dfs(self, sums: UnitSums) -> np.ndarray:
        """PSUs with a positive-weight row in each domain minus the strata of those PSUs
        (R ``degf(subset(design, ...))``), one value per domain of ``sums``."""
        d = sums.n_domains
        s1, final = self._stages[0], self._stages[-1]
        present = sums.prow > 0
        if len(self._stages) == 1:
            # one stage: the final units are the PSUs, and a key a (PSU, domain) pair
            dom = sums.key_domain()[present]
            cells = np.bincount(s1.group[sums.key_unit()[present]] * d + dom,
                                minlength=s1.n_groups * d)
            n_strata = np.count_nonzero(cells.reshape(s1.n_groups, d), axis=0)
            return (np.bincount(dom, minlength=d) - n_strata).astype(float)
        if "psu_of_final" not in self._cache:
            first = np.empty(final.n_units, dtype=np.int64)
            # reversed, so the last write of each unit is its first row
            first[final.unit[::-1]] = np.arange(len(final.unit))[::-1]
            self._cache["psu_of_final"] = s1.unit[first]
        psu_of_final = self._cache["psu_of_final"]
        psu, dom = psu_of_final[sums.key_unit()[present]], sums.key_domain()[present]
        pairs = np.unique(psu * d + dom)
        psu, dom = pairs // d, pairs % d
        n_psu = np.bincount(dom, minlength=d)
        cells = np.bincount(s1.group[psu] * d + dom, minlength=s1.n_groups * d)
        n_strata = np.count_nonzero(cells.reshape(s1.n_groups, d), axis=0)
        return (n_psu - n_strata).astype(float)

    def _cross(self, p: Projection, q: Projection) -> np.ndarray:
        key = ("cross", id(p), id(q))
        if key not in self._cache:
            if (isinstance(p, CellProjection) and isinstance(q, CellProjection)
                    and p.step == q.step and p.cell_rows is not None):
                self._cache[key] = p.within_step(q)
            else:
                self._cache[key] = self._backend.reduce(CrossKernel(p, q))
        return self._cache[key]

    def _loadings(self, p: Projection) -> np.ndarray:
        key = ("loadings", id(p))
        if key not in self._cache:
            n_units = self._stages[-1].n_units
            if (isinstance(p, CellProjection) and p.cell_rows is not None
                    and UnitCellKernel.fits(n_units, len(p.f))):
                step_key = ("unit_cells", p.step)
                if step_key not in self._cache:  # one pass for all margins of the step
                    self._cache[step_key] = self._backend.reduce(
                        UnitCellKernel(p.step, len(p.f), n_units))
                self._cache[key] = cell_loadings(p, self._cache[step_key])
            else:
                self._cache[key] = self._backend.reduce(LoadingKernel(p, n_units))
        return self._cache[key]
