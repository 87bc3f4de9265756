"""Fitting ratios on a design: one reduction, then estimates, variance basis and counts.

:func:`fit_ratios` reduces a :class:`~sipas.variance.RatioSource` once to sums per
(sampling unit, domain) and :func:`finish_fit` builds the estimates, the variance basis of
the design (Taylor, calibration-aware, or replicate) and the counts behind them; the Dask back
end calls :func:`finish_fit` on the sums it gathers from the workers.

Examples
--------
>>> import numpy as np, sipas
>>> from sipas.variance import RatioSource
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> y = d.frame[["p03"]].to_numpy(dtype=float)
>>> ok = ~np.isnan(y)
>>> fit = fit_ratios(d, RatioSource(np.where(ok, y, 0), ok * 1.0, np.zeros(d.n, int), 1))
>>> round(float(fit.basis.full[0]), 2)
3.77
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from sipas._codes import sorted_codes
from sipas._validate import (
    as_name_list,
    message,
)
from sipas.design import Design
from sipas.errors import DesignError
from sipas.reduction import UnitSums, unit_sums
from sipas.replication import ReplicateDesign
from sipas.variance import RatioSource, TaylorEngine, VarBasis, calibrated_unit_totals

__all__ = ["RatioFit", "calibration_chain", "design_basis", "domain_dfs", "domains",
           "finish_fit", "fit_ratios", "join_sums", "taylor_engine"]

AnyDesign = Design | ReplicateDesign


#: variables reduced together; the rows' working arrays are (n x BLOCK), which bounds memory
BLOCK = 4


def _fit_in_memory(design: AnyDesign, recipe: Any, codes: np.ndarray, n_domains: int,
                   second_moment: bool, binary: bool, keep_rows: bool) -> RatioFit:
    """Fit in memory; variables in blocks when nothing later needs the rows themselves."""
    w = design.weight_array
    blocks = recipe.split(BLOCK) if hasattr(recipe, "split") else [recipe]
    rows_needed = keep_rows or len(blocks) == 1 or (
        isinstance(design, Design) and design.calibrated) or (
        isinstance(design, ReplicateDesign) and design._factors is None)
    if rows_needed:
        num, den, valid = recipe(design.frame, w)
        return fit_ratios(design, RatioSource(num, den, codes, n_domains), valid=valid,
                          second_moment=second_moment, binary=binary)
    parts = []
    for block in blocks:
        num, den, valid = block(design.frame, w)
        source = RatioSource(num, den, codes, n_domains)
        parts.append(fit_ratios(design, source, valid=valid, second_moment=second_moment,
                                binary=binary).sums)
        del num, den, valid, source
    return finish_fit(design, join_sums(parts), None)


def join_sums(parts: list[UnitSums]) -> UnitSums:
    """Sums of variable blocks over the same rows, side by side."""
    first = parts[0]
    joined = {f: None if getattr(first, f) is None else
              np.hstack([getattr(p, f) for p in parts])
              for f in ("wnum", "wden", "pden", "wval", "wnum2")}
    return replace(first, **joined)


def _mask_columns(values: Any, mask: np.ndarray) -> Any:
    if sparse.issparse(values):
        return values  # the NaN estimate masks the variance of those columns
    return np.where(mask, np.nan, values)


@dataclass(frozen=True, eq=False)
class RatioFit:
    """Estimates of a ratio source on a design, their variance basis and the counts behind
    them, all from one reduction of the data (:func:`sipas.reduction.unit_sums`)."""

    design: Any
    source: RatioSource
    sums: UnitSums
    basis: VarBasis
    denom: np.ndarray | None

    @property
    def n(self) -> np.ndarray:
        """Positive-weight respondents with a valid value, per (domain, variable)."""
        return self.sums.by_domain(self.sums.pden).ravel()

    @property
    def rows(self) -> np.ndarray:
        """Positive-weight rows per domain."""
        return self.sums.by_domain(self.sums.prow)

    def domain_df(self) -> np.ndarray:
        """Degrees of freedom of each domain (PSUs with rows in it minus their strata)."""
        return domain_dfs(self.design, self.sums, self.source)

    def deff(self, var: np.ndarray, statistic: str) -> tuple[np.ndarray, np.ndarray]:
        """Design effects against SRS without and with replacement (R ``deff=TRUE`` and
        ``deff="replace"``): ``v_srs = s^2 (N - n)/(N n)`` (or ``s^2/n``) for a mean, times
        ``N^2`` for a total, ``s^2`` the weighted element variance (n - 1 divisor)."""
        s = self.sums
        wnum, wval = s.by_domain(s.wnum).ravel(), s.by_domain(s.wval).ravel()
        wnum2, n = s.by_domain(s.wnum2).ravel(), self.n
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = (wnum2 - wnum**2 / wval) / wval * n / (n - 1)
            v_rep, v_wor = s2 / n, s2 * (wval - n) / (wval * n)
            if statistic == "total":
                v_rep, v_wor = v_rep * wval**2, v_wor * wval**2
            return var / v_wor, var / v_rep


def fit_ratios(design: AnyDesign, source: RatioSource, *, valid: np.ndarray | None = None,
               second_moment: bool = False, binary: bool = False) -> RatioFit:
    """Reduce the data once and build the estimates and their variance basis."""
    w = design.weight_array
    d = source.n_domains
    if isinstance(design, ReplicateDesign) and design._factors is not None:
        unit, n_units = design._units, design._factors.shape[1]
    elif isinstance(design, ReplicateDesign):
        unit, n_units = None, 1
    else:
        final = design.stages[-1]
        unit, n_units = final.unit, final.n_units
    sums = unit_sums(source.num, source.den, source.domain, d, w, unit, n_units, valid=valid,
                     second_moment=second_moment, binary=binary)
    chain_reduce = None
    if isinstance(design, Design) and calibration_chain(design):
        cache: dict = {}  # per-cell sums shared by the margins of a raking step

        def chain_reduce(p: Any, est: np.ndarray, denom: np.ndarray | None) -> np.ndarray:
            return p.reduce(source, w, est, denom, cache)
    return finish_fit(design, sums, source, chain_reduce)


def finish_fit(design: AnyDesign, sums: UnitSums, source: RatioSource | None,
               chain_reduce: Any = None) -> RatioFit:
    """Estimates and variance basis from the reduced sums (either back end)."""
    num = sums.by_domain(sums.wnum)
    den = None if sums.wden is None else sums.by_domain(sums.wden)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = num if den is None else np.where(den > 0, num / den, np.nan)
    denom = None if den is None else den.ravel()
    if isinstance(design, ReplicateDesign):
        basis = VarBasis(_replicate_estimates(design, source, sums), est.ravel(),
                         design.engine)
        return RatioFit(design, source, sums, basis, denom)
    kd = sums.key_domain()
    if den is None:
        per_key = sums.wnum
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            per_key = (sums.wnum - est[kd] * sums.wden) / den[kd]
        per_key = np.where(den[kd] > 0, per_key, 0.0)
    t = sums.unit_matrix(per_key)
    chain = calibration_chain(design)
    if chain:
        t = t.toarray() if sparse.issparse(t) else t
        t = calibrated_unit_totals(t, chain, lambda p: chain_reduce(p, est.ravel(), denom),
                                   design.stages[-1].rows_to_units)
    return RatioFit(design, source, sums, VarBasis(t, est.ravel(), taylor_engine(design)),
                    denom)


def _replicate_estimates(design: ReplicateDesign, source: RatioSource,
                         sums: UnitSums) -> np.ndarray:
    if design._factors is not None:
        rnum = np.asarray(design._factors @ sums.unit_matrix(sums.wnum))
        rden = None if sums.wden is None else np.asarray(
            design._factors @ sums.unit_matrix(sums.wden))
    else:
        rnum, rden = design.replicate_sums(source)
    with np.errstate(divide="ignore", invalid="ignore"):
        return rnum if rden is None else rnum / rden


def domain_dfs(design: AnyDesign, sums: UnitSums, source: RatioSource) -> np.ndarray:
    """Design df counted within each domain: PSUs with a positive-weight row in the domain
    minus the strata of those PSUs (R ``degf(subset(design, ...))``)."""
    d = sums.n_domains
    if isinstance(design, ReplicateDesign) and design._factors is not None:
        if design.degf is not None:
            return np.full(d, float(design.degf))
        present = sums.prow > 0
        units, doms = sums.key_unit()[present], sums.key_domain()[present]
        return np.array([_rank(design._factors[:, units[doms == k]]) - 1 for k in range(d)],
                        dtype=float)
    if isinstance(design, ReplicateDesign):
        pos = design.weight_array > 0
        return np.array([design.domain_df(pos & (source.domain == k)) for k in range(d)],
                        dtype=float)
    s1 = design.stages[0]
    psu_of_final = s1.unit[_first_rows(design)]
    present = sums.prow > 0
    pairs = np.unique(psu_of_final[sums.key_unit()[present]] * d + sums.key_domain()[present])
    n_psu = np.bincount(pairs % d, minlength=d)
    strata = np.unique(s1.group[pairs // d] * d + pairs % d)
    return (n_psu - np.bincount(strata % d, minlength=d)).astype(float)


def _rank(mat: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(mat)) if mat.size else 0


def _first_rows(design: Design) -> np.ndarray:
    """First row of every final-stage unit (cached on the design)."""
    first = design.__dict__.get("_first_rows")
    if first is None:
        final = design.stages[-1]
        first = np.full(final.n_units, len(final.unit), dtype=np.int64)
        np.minimum.at(first, final.unit, np.arange(len(final.unit)))
        object.__setattr__(design, "_first_rows", first)
    return first


def design_basis(design: AnyDesign, source: RatioSource) -> tuple[VarBasis, np.ndarray | None]:
    """Full-sample estimates and their variance basis for a ratio source on a design."""
    fit = fit_ratios(design, source)
    return fit.basis, fit.denom


def taylor_engine(design: Design) -> TaylorEngine:
    """The design's linearization engine (one object per design, so covariances match)."""
    engine = design.__dict__.get("_engine")
    if engine is None:
        engine = TaylorEngine(design.stages, design.lonely_psu)
        object.__setattr__(design, "_engine", engine)
    return engine


def calibration_chain(design: Design) -> list[Any]:
    """Projections of all calibration steps, in the order they were applied."""
    chain: list[Any] = []
    for step in design._calibration:
        chain.extend(step if isinstance(step, (list, tuple)) else [step])
    return chain


def domains(design: AnyDesign, by: str | Sequence[str] | None) -> tuple[np.ndarray, pd.DataFrame]:
    """Domain code per row and the table of domain labels (sorted)."""
    cols = as_name_list("by", by)
    if not cols:
        return np.zeros(design.n, dtype=np.int64), pd.DataFrame(index=range(1))
    _require(design, cols)
    frame = design.frame[cols]
    bad = frame.isna().any(axis=1).to_numpy()
    if bad.any():
        which = [c for c in cols if frame[c].isna().any()]
        raise DesignError(f"by column(s) {which} have {int(bad.sum())} missing value(s) (rows "
                          f"{np.flatnonzero(bad)[:10].tolist()}). Give them a level of their own "
                          "(e.g. fillna('unknown')) so no respondent is dropped silently.")
    if len(cols) == 1 and isinstance(frame[cols[0]].dtype, pd.CategoricalDtype):
        cat = frame[cols[0]].cat
        return cat.codes.to_numpy().astype(np.int64), pd.DataFrame({cols[0]: cat.categories})
    key_codes = [sorted_codes(frame[c]) for c in cols]
    if len(cols) == 1:
        codes, uniques = key_codes[0]
        return codes, pd.DataFrame({cols[0]: uniques})
    mixed = key_codes[0][0]
    for codes, uniques in key_codes[1:]:
        mixed = mixed * len(uniques) + codes
    codes, uniq = sorted_codes(mixed)
    labels = {}
    rem = np.asarray(uniq)
    for c, (_codes, uniques) in reversed(list(zip(cols, key_codes))):
        labels[c] = np.asarray(uniques)[rem % len(uniques)]
        rem = rem // len(uniques)
    return codes, pd.DataFrame({c: labels[c] for c in cols})


def _check_design(design: Any) -> None:
    if not isinstance(design, (Design, ReplicateDesign)):
        raise DesignError(message("design", "a sipas.Design or sipas.ReplicateDesign",
                                  type(design).__name__,
                                  "Build one with sipas.Design(frame, ids=..., weights=...)."))


def _require(design: AnyDesign, cols: list[str]) -> None:
    _check_design(design)
    missing = [c for c in cols if c not in design.frame.columns]
    if missing:
        raise DesignError(f"column(s) {missing} not found in the design's data. Available: "
                          f"{list(design.frame.columns)[:15]}"
                          f"{' ...' if design.frame.shape[1] > 15 else ''}")
