"""Post-stratification and raking: weights scaled per cell so that totals hit targets.

Both are written once, on the weighting cells of the rows with positive weight (their
weighted totals come from the back end, :meth:`~sipas.backends.base.Backend.cell_table`):
post-stratification scales each cell to its target; raking (iterative proportional fitting)
runs on the joint cells of all margins. The result is a factor per cell, applied to the rows
by the back end, and the projections that make the linearization variance calibration-aware
exactly as R's ``svyrecvar`` does. On a :class:`sipas.ReplicateDesign` every replicate is
re-weighted (R's behaviour).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import as_name_list, deprecated_alias, message
from sipas.backends.base import CellFactor, CellTable
from sipas.design.protocol import Reweighting, SurveyDesign, WeightingStep
from sipas.engine.calibration import CellProjection
from sipas.errors import ConvergenceError, WeightingError
from sipas.spec import Margin
from sipas.weighting.diagnostics import weight_stats
from sipas.weighting.targets import (
    check_iteration,
    check_same_totals,
    level_codes,
    normalise_margins,
)

__all__ = ["RAKE_PROJECTION_SWEEPS", "poststratify", "rake"]

RAKE_PROJECTION_SWEEPS = 10  # R svyrecvar iterates the raking projections 10 times


def poststratify(design: SurveyDesign, cells: str | Sequence[str] | None = None,
                 population: Any = None, *, partial: bool = False,
                 by: str | Sequence[str] | None = None) -> SurveyDesign:
    """Post-stratify: weights scaled within cells so that cell totals equal the population.

    Parameters
    ----------
    design : Design or ReplicateDesign
    cells : str or list of str
        Post-stratification column(s): their combinations are the cells.
    population : mapping or DataFrame
        ``{level: N}`` (tuple levels for several columns) or a table with the ``cells``
        columns and ``population``.
    partial : bool
        Leave out population cells that have no respondent instead of failing.
    by : str or list of str, optional
        Deprecated spelling of ``cells`` (``by=`` names domains everywhere else).

    Returns
    -------
    Design or ReplicateDesign
        Weighted totals of every cell equal its population size exactly.

    Raises
    ------
    WeightingError
        A population cell without sample (unless ``partial``), a sample cell without target,
        codes that differ between data and targets, missing values in a ``by`` column.

    Notes
    -----
    ``w_i <- w_i N_c / sum_{j in c} w_j``. Variance: influence values are replaced by their
    residuals from the cell means (R ``postStratify`` / ``svyrecvar``).

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> pop = sd.spec.margin("district").targets
    >>> w = sipas.poststratify(d, "district", {k[0]: v for k, v in pop.items()})
    >>> round(float(w.weight_array.sum()))
    76934
    """
    cells = deprecated_alias("by", by, "cells", cells, default=None)
    cols = as_name_list("cells", cells)
    if not cols:
        raise WeightingError(message("cells", "a column name or a list of column names", cells))
    if population is None:
        raise WeightingError(message("population", "{level: N} or a table with 'population'",
                                     population))
    key = cols[0] if len(cols) == 1 else tuple(cols)
    margin = normalise_margins({key: population} if not isinstance(population, pd.DataFrame)
                               else [population], design.backend.columns)[0]
    if set(margin.variables) != set(cols):
        raise WeightingError(f"the population table has cells of {list(margin.variables)} but "
                             f"cells={cols}. Give the table the cell column(s) and "
                             "'population'.")
    table = design.backend.cell_table(cols)
    codes, levels = level_codes(table, margin, design.backend, partial=partial)
    targets = np.array([margin.targets[lv] for lv in levels])
    size = table.table["__w"].to_numpy()
    before = np.bincount(codes, weights=size, minlength=len(levels))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_level = np.where(before > 0, targets / before, 1.0)
        m_inv = np.where(before > 0, 1.0 / np.where(before > 0, before, 1.0), 0.0)
    f = per_level[codes]
    proj = CellProjection(design.backend.n_steps, codes, f, len(levels), m_inv, raking=False,
                          cell_rows=table.table["__n"].to_numpy(), cell_weight=size)
    summary = _margin_summary_cells([margin], [levels], [codes], size, size * f)
    step = WeightingStep("poststratify", {"cells": cols, "partial": partial}, summary)

    def replicate(w: np.ndarray) -> np.ndarray:
        row_level = _row_levels(design, table, codes)
        keep = (w > 0) & (row_level >= 0)
        sums = np.bincount(row_level[keep], weights=w[keep], minlength=len(levels))
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(sums > 0, targets / sums, 1.0)
        return np.where(keep, w * factor[np.maximum(row_level, 0)], 0.0)

    return _applied(design, Reweighting(step, CellFactor(table.lookup, f), (proj,), replicate))


def rake(design: SurveyDesign, margins: Any, *, tol: float = 1e-10, max_iter: int = 100,
         partial: bool = False) -> SurveyDesign:
    """Rake (iterative proportional fitting) to several margins.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The design to rake (on a replicate design every replicate is raked).
    margins : mapping or list
        ``{"sex": {1: N1, 2: N2}, ("sex", "age_group"): {(1, 1): ..., ...}}``, or the spec's
        margins (``spec.margins``), or tables with the variables and ``population``.
    tol : float
        Stop when the joint table of all margin variables changes by less than ``tol`` times
        the population total (the sum of the raked weights) in a full sweep, and every
        margin total is that close to its target (``tol >= 1``: an absolute amount). R's
        ``rake(control=list(epsilon=))`` checks the change only, which a cycling sweep can
        pass, and scales epsilon by the sum of the input weights, which would make the
        result depend on their scale.
    max_iter : int
        Maximum number of sweeps; not converging is a :class:`ConvergenceError` naming the
        margin that is off and by how much.
    partial : bool
        Leave out population levels that have no respondent (only if the margins still
        describe the same total).

    Returns
    -------
    Design or ReplicateDesign
        Weighted totals of every margin level equal their targets; a ``rake`` step (with
        iterations and margins before/after) is appended to the history.

    Raises
    ------
    WeightingError
        Pre-flight, before any sweep: margins with different totals, levels without sample
        or without target, codes that differ between data and targets, missing values,
        bad ``tol``/``max_iter``.
    ConvergenceError
        The margins were not met in ``max_iter`` sweeps (in a replicate: which one).

    Notes
    -----
    Each sweep multiplies the weights in each level ``l`` of each margin by
    ``N_l / sum_{i in l} w_i`` in turn. Iterates on the cross-tabulated cell totals, not on
    the rows. Variance: the residual
    projections of each margin are iterated 10 times (R ``svyrecvar`` for raked designs).
    R equivalent: ``rake(design, list(~a, ~b), list(pop_a, pop_b))``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> w = sipas.rake(d, sd.spec.margins)
    >>> w.history[-1].summary["converged"]
    True
    """
    tol, max_iter = check_iteration(tol, max_iter)
    ms = normalise_margins(margins, design.backend.columns)
    check_same_totals(ms)
    cols = list(dict.fromkeys(v for m in ms for v in m.variables))
    table = design.backend.cell_table(cols)
    coded = [level_codes(table, m, design.backend, partial=partial) for m in ms]
    cell_levels = [c for c, _ in coded]
    levels = [lv for _, lv in coded]
    if partial:
        _check_partial_totals(ms, cell_levels, levels)
    targets = [np.array([m.targets[lv] for lv in lvs]) for m, lvs in zip(ms, levels)]
    size = table.table["__w"].to_numpy()
    f, f_last, iters, ok = _ipf(size, cell_levels, targets, tol, max_iter)
    if not ok:
        raise ConvergenceError(_rake_failure(ms, cell_levels, levels, targets, size * f,
                                             max_iter, tol))
    counts = table.table["__n"].to_numpy()
    step_index = design.backend.n_steps
    projections = []
    for lev, lvs, fm in zip(cell_levels, levels, f_last):
        # rows with positive weight after the margin, per level (from the cells)
        n_level = np.bincount(lev, weights=counts * (fm > 0), minlength=len(lvs))
        with np.errstate(divide="ignore"):
            m_inv = np.where(n_level > 0, 1.0 / np.where(n_level > 0, n_level, 1.0), 0.0)
        projections.append(CellProjection(step_index, lev, fm, len(lvs), m_inv, raking=True,
                                          cell_rows=counts, cell_weight=size))
    summary = _margin_summary_cells(ms, levels, cell_levels, size, size * f)
    summary.update({"iterations": iters, "converged": True, "tol": tol})
    factor = CellFactor(table.lookup, f)
    step = WeightingStep("rake", {"margins": [m.name for m in ms], "tol": tol,
                                  "max_iter": max_iter, "partial": partial}, summary)

    def replicate(w: np.ndarray) -> np.ndarray:
        row_cell = design.backend.row_cells(table)
        keep = (w > 0) & (row_cell >= 0)
        size_r = np.bincount(row_cell[keep], weights=w[keep], minlength=len(size))
        f_r, _last, _it, ok_r = _ipf(size_r, cell_levels, targets, tol, max_iter)
        if not ok_r:
            raise ConvergenceError(_rake_failure(ms, cell_levels, levels, targets, size_r * f_r,
                                                 max_iter, tol))
        return np.where(keep, w * f_r[np.maximum(row_cell, 0)], 0.0)

    return _applied(design, Reweighting(step, factor,
                                        tuple(projections) * RAKE_PROJECTION_SWEEPS, replicate))


# ---------------------------------------------------------------------- internals

def _row_levels(design: SurveyDesign, table: CellTable, codes: np.ndarray) -> np.ndarray:
    """Every row's level (-1: in no cell), for re-weighting replicates row by row."""
    row_cell = design.backend.row_cells(table)
    return np.where(row_cell >= 0, codes[np.maximum(row_cell, 0)], -1)


def _applied(design: SurveyDesign, change: Reweighting) -> SurveyDesign:
    """The re-weighted design; its history record gets the distribution of the new weights
    when the rows are in memory (the record is filled before anyone else sees it)."""
    new = design.reweight(change)
    if design.backend.in_memory:
        change.step.summary["weights"] = weight_stats(new.weight_array)  # type: ignore[index]
    else:
        change.step.options["backend"] = design.backend.kind  # type: ignore[index]
    return new


def _ipf(size: np.ndarray, cell_levels: list[np.ndarray], targets: list[np.ndarray],
         tol: float, max_iter: int):
    """Iterative proportional fitting of the cell totals ``size`` (weights summed per joint
    cell): the cell factors, the factors after each margin of the last sweep, the number of
    sweeps and whether it converged."""
    eps = tol * float(targets[0].sum()) if tol < 1 else tol
    f = np.ones_like(size)
    old = size.copy()
    f_last: list[np.ndarray] = []
    for it in range(1, max_iter + 1):
        f_last = []
        for lev, target in zip(cell_levels, targets):
            tot = np.bincount(lev, weights=size * f, minlength=len(target))
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(tot > 0, target / tot, 1.0)
            f = f * factor[lev]
            f_last.append(f.copy())
        new = size * f
        # R stops on the change of the table alone; a sweep can also return to the same
        # table while an earlier margin is still off (margins the sample cannot meet jointly),
        # so every margin must be within eps too.
        if np.max(np.abs(new - old)) < eps and _margin_misfit(new, cell_levels, targets) < eps:
            return f, f_last, it, True
        old = new
    return f, f_last, max_iter, False


def _margin_misfit(table: np.ndarray, cell_levels: list[np.ndarray],
                   targets: list[np.ndarray]) -> float:
    """Largest |total - target| over the levels of every margin that have sample."""
    worst = 0.0
    for lev, target in zip(cell_levels, targets):
        tot = np.bincount(lev, weights=table, minlength=len(target))
        worst = max(worst, float(np.max(np.abs(tot - target), where=tot > 0, initial=0.0)))
    return worst


def _rake_failure(ms: list[Margin], cell_levels: list[np.ndarray], levels: list[list],
                  targets: list[np.ndarray], table: np.ndarray, max_iter: int,
                  tol: float) -> str:
    """Which margin is furthest from its target after the last sweep, in words."""
    worst, gap = [], 0.0
    for m, lev, lvs, t in zip(ms, cell_levels, levels, targets):
        got = np.bincount(lev, weights=table, minlength=len(lvs))
        rel = np.where(got > 0, np.abs(got - t) / np.maximum(t, 1), 0.0)  # not partial's
        i = int(np.argmax(rel))
        worst.append((rel[i], m.name, lvs[i], got[i], t[i]))
        gap = max(gap, float(np.max(np.abs(got - t), where=got > 0, initial=0.0)))
    rel, name, level, got, want = max(worst, key=lambda r: r[0])
    if gap < (tol * float(targets[0].sum()) if tol < 1 else tol):
        return (f"raking did not converge in {max_iter} sweeps (tol {tol:g}): every margin is "
                "within the tolerance, but the weights were still changing in the last sweep. "
                "Raise max_iter (the default is 100).")
    return (f"raking did not converge in {max_iter} sweeps (tol {tol:g}): margin {name!r}, "
            f"level {level!r} is at {got:,.6g} instead of {want:,.6g} ({100 * rel:.3g}% off). "
            "Check that the margins are consistent (cross-classified cells with no sample "
            "can make them unattainable), collapse sparse levels, or raise max_iter.")


def _margin_summary_cells(ms: list[Margin], levels, cell_levels, before: np.ndarray,
                          after: np.ndarray) -> dict[str, Any]:
    """:func:`_margin_summary` from the weight totals per joint cell before and after (no
    pass over the rows)."""
    rows = []
    for m, lvs, lev in zip(ms, levels, cell_levels):
        b = np.bincount(lev, weights=before, minlength=len(lvs))
        a = np.bincount(lev, weights=after, minlength=len(lvs))
        for i, lv in enumerate(lvs):
            rows.append({"margin": m.name, "level": lv if len(lv) > 1 else lv[0],
                         "target": m.targets[lv], "before": float(b[i]),
                         "achieved": float(a[i])})
    return {"margins": rows}


def _check_partial_totals(ms: list[Margin], cell_levels: list[np.ndarray],
                          levels: list[list]) -> None:
    """With ``partial=True`` the dropped levels must not leave the margins inconsistent."""
    if len(ms) < 2:
        return
    kept, dropped = {}, []
    for m, lev, lvs in zip(ms, cell_levels, levels):
        present = np.bincount(lev, minlength=len(lvs)) > 0
        kept[m.name] = float(sum(m.targets[lv] for lv, p in zip(lvs, present) if p))
        dropped += [f"{m.name}={lv if len(lv) > 1 else lv[0]}" for lv, p in zip(lvs, present)
                    if not p and m.targets[lv] > 0]
    if dropped:
        try:
            check_same_totals(kept)
        except WeightingError:
            shown = ", ".join(f"{k}={v:,.6g}" for k, v in kept.items())
            raise WeightingError(
                f"partial=True left out population level(s) {dropped[:8]} that have no sample, "
                f"so the margins no longer sum to the same total ({shown}) and raking cannot "
                "hit them all. Collapse the empty levels with a neighbouring level instead."
            ) from None
