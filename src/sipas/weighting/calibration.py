"""Post-stratification, raking and calibration: a design in, a new design out.

Each function adjusts the weights so that weighted totals hit population targets, records
what it did (:class:`sipas.WeightingStep`), and stores the projections that make the Taylor
variance calibration-aware exactly as R's ``svyrecvar`` does. On a
:class:`sipas.ReplicateDesign` every replicate is re-weighted (R's behaviour).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._codes import sorted_codes
from sipas._validate import as_name_list, check_choice, message
from sipas.design import Design, WeightingStep
from sipas.errors import ConvergenceError, WeightingError
from sipas.replication import ReplicateDesign
from sipas.variance import CellLayout, Projection
from sipas.weighting._targets import (
    Margin,
    cell_codes,
    check_iteration,
    check_same_totals,
    normalise_margins,
    per_replicate,
)
from sipas.weighting.diagnostics import weight_stats

__all__ = ["calibrate", "poststratify", "rake"]

AnyDesign = Design | ReplicateDesign
CalMethod = Literal["linear", "raking", "logit"]
RAKE_PROJECTION_SWEEPS = 10  # R svyrecvar iterates the raking projections 10 times


def poststratify(design: AnyDesign, by: str | Sequence[str], population: Any, *,
                 partial: bool = False) -> AnyDesign:
    """Post-stratify: weights scaled within cells so that cell totals equal the population.

    Parameters
    ----------
    design : Design or ReplicateDesign
    by : str or list of str
        Post-stratification column(s).
    population : mapping or DataFrame
        ``{level: N}`` (tuple levels for several columns) or a table with the ``by``
        columns and ``population``.
    partial : bool
        Leave out population cells that have no respondent instead of failing.

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
    cols = as_name_list("by", by)
    if not cols:
        raise WeightingError(message("by", "a column name or a list of column names", by))
    key = cols[0] if len(cols) == 1 else tuple(cols)
    margin = normalise_margins({key: population} if not isinstance(population, pd.DataFrame)
                               else [population], design.frame.columns)[0]
    if set(margin.variables) != set(cols):
        raise WeightingError(f"the population table has cells of {list(margin.variables)} but "
                             f"by={cols}. Give the table the by column(s) and 'population'.")
    if getattr(design, "_dask", None) is not None:
        from sipas.backends import dask as dask_backend

        return dask_backend.poststratify(design, cols, margin, partial)
    w0 = design.weight_array
    codes, levels = cell_codes(design.frame, margin, w0, partial=partial)
    targets = np.array([margin.targets[lv] for lv in levels])

    def reweight(w: np.ndarray) -> np.ndarray:
        sums = np.bincount(codes[w > 0], weights=w[w > 0], minlength=len(levels))
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(sums > 0, targets / sums, 1.0)
        return np.where(w > 0, w * factor[np.maximum(codes, 0)], 0.0)

    w1 = reweight(w0)
    summary = _margin_summary([margin], [codes], [levels], w0, w1)
    step = _step("poststratify", {"by": cols, "partial": partial}, summary, w1)
    if isinstance(design, ReplicateDesign):
        return design.with_weights(w1, per_replicate(design.replicate_weights(), reweight), step)
    proj = _cell_projection(codes, len(levels), w0, w1)
    return design.with_weights(w1, step, calibration=proj)


def rake(design: AnyDesign, margins: Any, *, tol: float = 1e-10, max_iter: int = 100,
         partial: bool = False) -> AnyDesign:
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
    ms = normalise_margins(margins, design.frame.columns)
    check_same_totals(ms)
    if getattr(design, "_dask", None) is not None:
        from sipas.backends import dask as dask_backend

        return dask_backend.rake(design, ms, tol, max_iter, partial)
    w0 = design.weight_array
    coded = [cell_codes(design.frame, m, w0, partial=partial) for m in ms]
    codes = [c for c, _ in coded]
    levels = [lv for _, lv in coded]
    if partial:
        _check_partial_totals(ms, codes, levels, w0 > 0)
    cells, cell_levels, cell_rows = _joint_cells(codes)
    n_cells = len(cell_levels[0])
    targets = [np.array([m.targets[lv] for lv in lvs]) for m, lvs in zip(ms, levels)]

    def reweight(w: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, int]:
        positive = w > 0
        every = bool(positive.all())
        size = np.bincount(cells, weights=w if every else np.where(positive, w, 0.0),
                           minlength=n_cells)
        f, f_last, iters, ok = _ipf(size, cell_levels, targets, tol, max_iter)
        w_new = w * f[cells] if every else np.where(positive, w * f[cells], 0.0)
        if not ok:
            raise ConvergenceError(_rake_failure(ms, codes, levels, targets, w_new, max_iter,
                                                 tol))
        return w_new, f_last, size, iters

    w1, f_last, size, iters = reweight(w0)
    summary = _margin_summary_cells(ms, levels, cell_levels, size, size * f_last[-1])
    summary.update({"iterations": iters, "converged": True, "tol": tol})
    step = _step("rake", {"margins": [m.name for m in ms], "tol": tol, "max_iter": max_iter,
                          "partial": partial}, summary, w1)
    if isinstance(design, ReplicateDesign):
        return design.with_weights(
            w1, per_replicate(design.replicate_weights(), lambda w: reweight(w)[0]), step)
    active = w0 > 0
    rows_per_cell = cell_rows if active.all() else np.bincount(
        cells[active], minlength=n_cells).astype("float64")
    layout = CellLayout(cells, n_cells, w0, rows_per_cell)
    projections = [_raking_projection(m_codes, lev, fm, layout, len(lvs))
                   for m_codes, lev, lvs, fm in zip(codes, cell_levels, levels, f_last)]
    chain = tuple(projections) * RAKE_PROJECTION_SWEEPS
    return design.with_weights(w1, step, calibration=chain)


def calibrate(design: AnyDesign, totals: Mapping[str, Any], *, method: CalMethod = "linear",
              bounds: tuple[float, float] | None = None, population_size: float | None = None,
              tol: float = 1e-7, max_iter: int = 50) -> AnyDesign:
    """Calibrate weights to population totals of categorical and numeric auxiliaries.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The design to calibrate (on a replicate design every replicate is calibrated).
    totals : mapping
        A categorical column maps to ``{level: N}`` (every level of the sample must have a
        target); a numeric column maps to its population total.
    method : {"linear", "raking", "logit"}
        Distance function: linear (GREG), raking (multiplicative), logit (needs ``bounds``).
    bounds : (lower, upper), optional
        Bounds on ``g = w_cal / w`` (R ``calibrate(bounds=)``).
    population_size : float, optional
        Calibrate the total of a constant too (an intercept), if no categorical margin
        already implies it.
    tol, max_iter : float, int
        Newton iterations stop when every ``|misfit| / (1 + |target|) < tol`` (R's rule).

    Returns
    -------
    Design or ReplicateDesign
        Weights ``w g`` whose weighted totals of the auxiliaries equal ``totals``; a
        ``calibrate`` step (targets, achieved totals, range of ``g``) is appended to the
        history.

    Raises
    ------
    WeightingError
        Pre-flight: categorical totals (and ``population_size``) that imply different
        population sizes, levels without target or without sample, missing values, bad
        ``bounds``/``tol``/``max_iter``, logit without finite bounds; afterwards negative
        weights (linear) or totals that collinear auxiliaries cannot all meet.
    ConvergenceError
        Newton-Raphson did not meet ``tol`` (names the total that is furthest off).

    Notes
    -----
    Unbounded linear calibration is solved exactly: ``g = 1 + X (X'WX)^+ (T - X'w)``, with a
    generalised inverse as R's ``grake`` (full sets of levels of several variables are
    collinear through the intercept).
    Otherwise Newton-Raphson from ``g = 1`` with a generalised inverse and step halving, as
    R's ``grake``. Variance: residuals of the design-weighted regression of the influence
    values on the auxiliaries (GREG). R equivalent: ``calibrate(design, ~x1 + x2, pop,
    calfun=, bounds=)``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> sex = {k[0]: v for k, v in sd.spec.margin("sex").targets.items()}
    >>> w = sipas.calibrate(d, {"sex": sex})
    >>> round(float(w.weight_array.sum()))
    76934
    """
    check_choice("method", method, ("linear", "raking", "logit"), WeightingError)
    lo, hi = _check_bounds(bounds)
    if method == "logit" and not (np.isfinite(lo) and np.isfinite(hi)):
        raise WeightingError(message("bounds", "finite (lower, upper) for method='logit'",
                                     bounds, "For example bounds=(0.5, 2)."))
    tol, max_iter = check_iteration(tol, max_iter)
    w0 = design.weight_array
    x, target, names, rows = _model_matrix(design.frame, totals, population_size, w0)

    def solve(w: np.ndarray) -> np.ndarray:
        g = _calibration_factors(x, w, target, method, lo, hi, tol, max_iter, names)
        w_new = np.where(w > 0, w * g, 0.0)
        if np.any(w_new < 0):
            raise WeightingError(f"{method} calibration produced {int((w_new < 0).sum())} "
                                 "negative weight(s) (rows "
                                 f"{np.flatnonzero(w_new < 0)[:10].tolist()}). Use "
                                 "bounds=(lower, upper) with lower >= 0, or method='raking'.")
        return w_new

    w1 = solve(w0)
    g = _safe_ratio(w1, w0)
    summary: dict[str, Any] = {
        "targets": dict(zip(names, target.tolist())),
        "achieved": dict(zip(names, (x.T @ w1).tolist())),
        "margins": [{**r, "before": float(x[:, j] @ w0), "achieved": float(x[:, j] @ w1)}
                    for j, r in enumerate(rows)],
        "g_min": float(g[w0 > 0].min()), "g_max": float(g[w0 > 0].max())}
    step = _step("calibrate", {"totals": list(totals), "method": method, "bounds": bounds,
                               "population_size": population_size}, summary, w1)
    if isinstance(design, ReplicateDesign):
        return design.with_weights(w1, per_replicate(design.replicate_weights(), solve), step)
    xw = x * w0[:, None]
    proj = Projection(codes=None, matrix=x, p=x.shape[1], a=_safe_ratio(w0, w1), b=w1,
                      m_inv=np.linalg.pinv(xw.T @ x))
    return design.with_weights(w1, step, calibration=proj)


# ---------------------------------------------------------------------- raking internals

def _joint_cells(codes: list[np.ndarray]) -> tuple[np.ndarray, list, np.ndarray]:
    """Joint cell of every row (over all margins), each cell's level in every margin, and
    the rows per cell."""
    sizes = [int(c.max()) + 1 for c in codes]
    mixed = np.maximum(codes[0], 0)
    for c, size in zip(codes[1:], sizes[1:]):
        mixed *= size
        mixed += np.maximum(c, 0) if c.min() < 0 else c
    space = int(np.prod(sizes, dtype=np.float64))
    if space <= max(4 * len(mixed), 1 << 16):
        # one count per combination gives the occupied cells and their rows (no hashing)
        rows = np.bincount(mixed, minlength=space)
        occupied = rows > 0
        cells = (np.cumsum(occupied) - 1)[mixed]
        uniq, rows = np.flatnonzero(occupied), rows[occupied]
    else:
        cells, uniq = sorted_codes(mixed)
        rows = np.bincount(cells, minlength=len(uniq))
    levels = []
    rest = np.asarray(uniq, dtype=np.int64)
    for size in reversed(sizes):
        levels.append(rest % size)
        rest = rest // size
    return cells, levels[::-1], rows.astype("float64")


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


def _rake_failure(ms: list[Margin], codes, levels, targets, w, max_iter, tol) -> str:
    worst, gap = [], 0.0
    for m, c, lvs, t in zip(ms, codes, levels, targets):
        got = np.bincount(np.maximum(c, 0)[w > 0], weights=w[w > 0], minlength=len(lvs))
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


def _raking_projection(codes: np.ndarray, cell_level: np.ndarray, fm: np.ndarray,
                       layout: CellLayout, p: int) -> Projection:
    """One margin's projection, with the weights as they were after that margin in the last
    sweep (``w0`` times the cell factors ``fm``): ``b = w0 fm[cell]``, ``a = 1 / b``, both
    functions of the joint cell (see :class:`sipas.variance.CellLayout`); the per-row
    factors are made only if a variance needs them row by row."""
    positive = fm > 0
    # rows with positive weight after the margin, per level (from the cells: no pass over rows)
    counts = np.bincount(cell_level, weights=layout.rows * positive, minlength=p)
    with np.errstate(divide="ignore"):
        m_inv = np.where(counts > 0, 1.0 / counts, 0.0)
        cell_a = np.where(positive, 1.0 / np.where(positive, fm, 1.0), 0.0)
    return Projection(codes=codes if codes.min() >= 0 else np.maximum(codes, 0), matrix=None,
                      p=p, a=None, b=None, m_inv=m_inv,
                      rows=functools.partial(_raking_rows, layout.w0, fm, layout.cells),
                      layout=layout, cell_level=cell_level, cell_a=cell_a, cell_b=fm)


def _raking_rows(w0: np.ndarray, fm: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(a, b)`` of a raking projection: ``b`` the weights after the margin, ``a = 1/b``."""
    psw = w0 * fm[cells]
    if (fm > 0).all() and (w0 > 0).all():
        return 1.0 / psw, psw
    psw = np.where(w0 > 0, psw, 0.0)
    return _safe_ratio(np.ones_like(psw), psw), psw


def _cell_projection(codes: np.ndarray, p: int, w0: np.ndarray, w1: np.ndarray) -> Projection:
    codes = np.maximum(codes, 0)
    sums = np.bincount(codes, weights=w0, minlength=p)
    with np.errstate(divide="ignore"):
        m_inv = np.where(sums > 0, 1.0 / sums, 0.0)
    return Projection(codes=codes, matrix=None, p=p, a=_safe_ratio(w0, w1), b=w1, m_inv=m_inv)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 0.0)


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


def _margin_summary(ms: list[Margin], codes, levels, w0, w1) -> dict[str, Any]:
    rows = []
    for m, c, lvs in zip(ms, codes, levels):
        c = np.maximum(c, 0)
        before = np.bincount(c[w0 > 0], weights=w0[w0 > 0], minlength=len(lvs))
        after = np.bincount(c[w1 > 0], weights=w1[w1 > 0], minlength=len(lvs))
        for i, lv in enumerate(lvs):
            rows.append({"margin": m.name, "level": lv if len(lv) > 1 else lv[0],
                         "target": m.targets[lv], "before": float(before[i]),
                         "achieved": float(after[i])})
    return {"margins": rows}


def _step(name: str, options: dict[str, Any], summary: dict[str, Any],
          w: np.ndarray) -> WeightingStep:
    """The history record of a step, with the weight distribution after it."""
    return WeightingStep(name, options, {**summary, "weights": weight_stats(w)})


def _check_partial_totals(ms: list[Margin], codes, levels, active: np.ndarray) -> None:
    """With ``partial=True`` the dropped levels must not leave the margins inconsistent."""
    if len(ms) < 2:
        return
    kept, dropped = {}, []
    for m, c, lvs in zip(ms, codes, levels):
        present = np.bincount(c[active & (c >= 0)], minlength=len(lvs)) > 0
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


# ---------------------------------------------------------------------- calibration internals

def _check_bounds(bounds: Any) -> tuple[float, float]:
    if bounds is None:
        return -np.inf, np.inf
    expect = "(lower, upper) with lower < 1 < upper"
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise WeightingError(message("bounds", expect, bounds, "For example (0.5, 2).")) from None
    if not lo < 1 < hi:
        raise WeightingError(message("bounds", expect, bounds,
                                     "The bounds apply to g = w_calibrated / w."))
    return lo, hi


def _model_matrix(frame: pd.DataFrame, totals: Mapping[str, Any], size: float | None,
                  w: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str], list[dict]]:
    if not isinstance(totals, Mapping) or not totals:
        raise WeightingError(message("totals", "a non-empty mapping {column: total or "
                                     "{level: total}}", totals))
    cols, target, names, rows = [], [], [], []
    implied: dict[str, float] = {}
    if size is not None:
        cols.append(np.ones(len(frame)))
        target.append(_number("population_size", size))
        names.append("(population size)")
        rows.append({"margin": "(population size)", "level": "(total)", "target": target[-1]})
        implied["population_size"] = target[-1]
    for key, value in totals.items():
        if key not in frame.columns:
            raise WeightingError(f"calibration variable {key!r} is not in the data. Check the "
                                 "spelling of the keys of totals.")
        if isinstance(value, pd.Series):
            value = value.to_dict()
        if isinstance(value, Mapping):
            margin = normalise_margins({key: value}, frame.columns)[0]
            codes, levels = cell_codes(frame, margin, w)
            for i, lv in enumerate(levels):
                cols.append((codes == i).astype("float64"))
                target.append(margin.targets[lv])
                names.append(f"{key}={lv[0]}")
                rows.append({"margin": str(key), "level": lv[0], "target": target[-1]})
            implied[str(key)] = margin.total
        else:
            col = frame[key]
            if not pd.api.types.is_numeric_dtype(col):
                raise WeightingError(f"calibration variable {key!r} has a single total, so it "
                                     f"must be numeric; got dtype {col.dtype}. For categories "
                                     "give {level: total}.")
            v = col.to_numpy(dtype="float64")
            bad = np.isnan(v) & (w > 0)
            if bad.any():
                raise WeightingError(f"calibration variable {key!r} is missing in "
                                     f"{int(bad.sum())} weighted row(s) (rows "
                                     f"{np.flatnonzero(bad)[:10].tolist()}).")
            cols.append(np.nan_to_num(v))
            target.append(_number(f"the total of {key!r}", value))
            names.append(key)
            rows.append({"margin": str(key), "level": "(total)", "target": target[-1]})
    check_same_totals(implied, what="Calibration")
    return np.column_stack(cols), np.array(target), names, rows


def _number(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = np.nan
    if not np.isfinite(number):
        raise WeightingError(message(name, "a finite number", value, "A categorical variable "
                                     "takes {level: total}."))
    return number


def _calibration_factors(x, w, target, method, lo, hi, tol, max_iter, names) -> np.ndarray:
    active = w > 0
    xa, wa = x[active], w[active]
    g = np.ones(len(w))
    if method == "linear" and not np.isfinite(lo) and not np.isfinite(hi):
        # pinv, as R's grake (ginv): full dummy sets of several categorical variables are
        # collinear, and a replicate can leave a column empty.
        lam = np.linalg.pinv((xa * wa[:, None]).T @ xa) @ (target - xa.T @ wa)
        g[active] = 1 + xa @ lam
        misfit = target - xa.T @ (wa * g[active])
        rel = np.abs(misfit) / (1 + np.abs(target))
        if not np.all(rel < tol):
            i = int(np.argmax(rel))
            raise WeightingError(f"the calibration totals cannot all be met: the total of "
                                 f"{names[i]!r} stays {misfit[i]:,.6g} off. Its variable is "
                                 "collinear with others whose totals disagree, or has no "
                                 "sample; check the totals.")
        return g
    g[active] = _grake(xa, wa, target, method, lo, hi, tol, max_iter, names)
    return g


def _distance(method: str, u: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """R's calfun: ``F^-1(u) - 1`` and its derivative.

    A Newton step can overshoot into overflow; the non-finite values that follow are what
    :func:`_grake` halves the step on (as R), so numpy's warnings about them are muted.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _distance_values(method, u, lo, hi)


def _distance_values(method: str, u: np.ndarray, lo: float,
                     hi: float) -> tuple[np.ndarray, np.ndarray]:
    inside = (u < hi - 1) & (u > lo - 1)
    if method == "linear":
        return np.minimum(np.maximum(u + 1, lo), hi) - 1, inside.astype("float64")
    if method == "raking":
        e = np.exp(u)
        return np.minimum(np.maximum(e, lo), hi) - 1, np.where(inside, e, 0.0)
    a = (hi - lo) / ((hi - 1) * (1 - lo))
    e = np.exp(a * u)
    den = hi - 1 + (1 - lo) * e
    value = (lo * (hi - 1) + hi * (1 - lo) * e) / den - 1
    deriv = hi * (1 - lo) * e * a / den - ((lo * (hi - 1) + hi * (1 - lo) * e)
                                           * ((1 - lo) * e * a)) / den**2
    return value, deriv


def _grake(x, w, target, method, lo, hi, tol, max_iter, names) -> np.ndarray:
    """Newton-Raphson for the calibration equations, step for step as R's ``grake``."""
    sample = x.T @ w
    eta = np.zeros(x.shape[1])
    fm1, deriv = _distance(method, x @ eta, lo, hi)
    it = 1
    while True:
        tmat = (x * (w * deriv)[:, None]).T @ x
        misfit = target - sample - x.T @ (w * fm1)
        step = np.linalg.pinv(tmat, rcond=256 * np.finfo(float).eps) @ misfit
        eta = eta + step
        fm1, deriv = _distance(method, x @ eta, lo, hi)
        while it < max_iter and not (np.all(np.isfinite(fm1)) and np.all(np.isfinite(deriv))):
            it += 1
            step = step / 2
            eta = eta - step
            fm1, deriv = _distance(method, x @ eta, lo, hi)
        misfit = target - sample - x.T @ (w * fm1)
        rel = np.abs(misfit) / (1 + np.abs(target))
        if np.all(rel < tol):
            return 1 + fm1
        it += 1
        if it > max_iter:
            i = int(np.argmax(rel))
            raise ConvergenceError(
                f"calibration ({method}, bounds {lo:g}..{hi:g}) did not converge in {max_iter} "
                f"iterations: total of {names[i]!r} is off by {misfit[i]:,.6g} "
                f"({100 * rel[i]:.3g}% of its target). Widen the bounds, check the totals, or "
                "raise max_iter.")
