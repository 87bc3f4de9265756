"""Post-stratification, raking and calibration: a design in, a new design out.

Each function adjusts the weights so that weighted totals hit population targets, records
what it did (:class:`sipas.WeightingStep`), and stores the projections that make the Taylor
variance calibration-aware exactly as R's ``svyrecvar`` does. On a
:class:`sipas.ReplicateDesign` every replicate is re-weighted (R's behaviour).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, message
from sipas.design import Design, WeightingStep
from sipas.errors import ConvergenceError, WeightingError
from sipas.replicate import ReplicateDesign
from sipas.variance import Projection
from sipas.weighting._targets import Margin, cell_codes, check_same_totals, normalise_margins

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
    cols = [by] if isinstance(by, str) else list(by)
    key = cols[0] if len(cols) == 1 else tuple(cols)
    margin = normalise_margins({key: population} if not isinstance(population, pd.DataFrame)
                               else [population], design.frame.columns)[0]
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
    step = WeightingStep("poststratify", {"by": cols, "partial": partial}, summary)
    if isinstance(design, ReplicateDesign):
        return design.with_weights(w1, _per_replicate(design, reweight), step)
    proj = _cell_projection(codes, len(levels), w0, w1)
    return design.with_weights(w1, step, calibration=proj)


def rake(design: AnyDesign, margins: Any, *, tol: float = 1e-10, max_iter: int = 100,
         partial: bool = False) -> AnyDesign:
    """Rake (iterative proportional fitting) to several margins.

    Parameters
    ----------
    margins : mapping or list
        ``{"sex": {1: N1, 2: N2}, ("sex", "age_group"): {(1, 1): ..., ...}}``, or the spec's
        margins (``spec.margins``), or tables with the variables and ``population``.
    tol : float
        Stop when the joint table of all margin variables changes by less than ``tol`` times
        the sum of the weights in a full sweep (``tol >= 1``: an absolute change), as R's
        ``rake(control=list(epsilon=))``.
    max_iter : int
        Maximum number of sweeps; not converging is a :class:`ConvergenceError` naming the
        margin that is off and by how much.

    Notes
    -----
    Iterates on the cross-tabulated cell totals, not on the rows. Variance: the residual
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
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise WeightingError(message("max_iter", "a positive integer", max_iter))
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise WeightingError(message("tol", "a positive number", tol))
    ms = normalise_margins(margins, design.frame.columns)
    check_same_totals(ms)
    w0 = design.weight_array
    coded = [cell_codes(design.frame, m, w0, partial=partial) for m in ms]
    codes = [c for c, _ in coded]
    levels = [lv for _, lv in coded]
    cells, cell_levels = _joint_cells(codes, w0 > 0)
    targets = [np.array([m.targets[lv] for lv in lvs]) for m, lvs in zip(ms, levels)]

    def run(w: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], int, bool]:
        return _ipf(w, cells, cell_levels, targets, tol, max_iter)

    f, f_last, iters, ok = run(w0)
    if not ok:
        w_try = w0 * f[cells]
        raise ConvergenceError(_rake_failure(ms, codes, levels, targets, w_try, max_iter, tol))
    w1 = np.where(w0 > 0, w0 * f[cells], 0.0)
    summary = _margin_summary(ms, codes, levels, w0, w1)
    summary.update({"iterations": iters, "converged": True, "tol": tol})
    step = WeightingStep("rake", {"margins": [m.name for m in ms], "tol": tol,
                                  "max_iter": max_iter}, summary)
    if isinstance(design, ReplicateDesign):
        def reweight(w: np.ndarray) -> np.ndarray:
            fr, _l, _i, good = run(w)
            if not good:
                raise ConvergenceError("raking a replicate did not converge in "
                                       f"{max_iter} sweeps; raise max_iter.")
            return np.where(w > 0, w * fr[cells], 0.0)
        return design.with_weights(w1, _per_replicate(design, reweight), step)
    projections = []
    for m_codes, lvs, fm in zip(codes, levels, f_last):
        psw = np.where(w0 > 0, w0 * fm[cells], 0.0)
        projections.append(_raking_projection(np.maximum(m_codes, 0), len(lvs), psw))
    chain = tuple(projections) * RAKE_PROJECTION_SWEEPS
    return design.with_weights(w1, step, calibration=chain)


def calibrate(design: AnyDesign, totals: Mapping[str, Any], *, method: CalMethod = "linear",
              bounds: tuple[float, float] | None = None, population_size: float | None = None,
              tol: float = 1e-7, max_iter: int = 50) -> AnyDesign:
    """Calibrate weights to population totals of categorical and numeric auxiliaries.

    Parameters
    ----------
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

    Notes
    -----
    Unbounded linear calibration is solved exactly: ``g = 1 + X (X'WX)^-1 (T - X'w)``.
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
    check_choice("method", method, ("linear", "raking", "logit"))
    lo, hi = (-np.inf, np.inf) if bounds is None else (float(bounds[0]), float(bounds[1]))
    if not lo < 1 < hi:
        raise WeightingError(message("bounds", "(lower, upper) with lower < 1 < upper", bounds))
    if method == "logit" and not (np.isfinite(lo) and np.isfinite(hi)):
        raise WeightingError("method='logit' needs finite bounds=(lower, upper), e.g. (0.5, 2).")
    w0 = design.weight_array
    x, target, names = _model_matrix(design.frame, totals, population_size, w0)

    def solve(w: np.ndarray) -> np.ndarray:
        return _calibration_factors(x, w, target, method, lo, hi, tol, max_iter, names)

    g = solve(w0)
    w1 = np.where(w0 > 0, w0 * g, 0.0)
    if np.any(w1 < 0):
        raise WeightingError(f"linear calibration produced {int((w1 < 0).sum())} negative "
                             "weight(s). Use bounds=(lower, upper) or method='raking'.")
    achieved = x.T @ w1
    summary = {"targets": dict(zip(names, target.tolist())),
               "achieved": dict(zip(names, achieved.tolist())),
               "g_min": float(g[w0 > 0].min()), "g_max": float(g[w0 > 0].max())}
    step = WeightingStep("calibrate", {"totals": list(totals), "method": method,
                                       "bounds": bounds, "population_size": population_size},
                         summary)
    if isinstance(design, ReplicateDesign):
        return design.with_weights(
            w1, _per_replicate(design, lambda w: np.where(w > 0, w * solve(w), 0.0)), step)
    xw = x * w0[:, None]
    proj = Projection(codes=None, matrix=x, p=x.shape[1], a=_safe_ratio(w0, w1), b=w1,
                      m_inv=np.linalg.pinv(xw.T @ x))
    return design.with_weights(w1, step, calibration=proj)


# ---------------------------------------------------------------------- raking internals

def _joint_cells(codes: list[np.ndarray], active: np.ndarray) -> tuple[np.ndarray, list]:
    """Joint cell of every row (over all margins) and each cell's level in every margin."""
    stacked = np.stack([np.maximum(c, 0) for c in codes], axis=1)
    uniq, cells = np.unique(stacked, axis=0, return_inverse=True)
    return cells.ravel(), [uniq[:, k] for k in range(len(codes))]


def _ipf(w: np.ndarray, cells: np.ndarray, cell_levels: list[np.ndarray],
         targets: list[np.ndarray], tol: float, max_iter: int):
    size = np.bincount(cells, weights=np.where(w > 0, w, 0.0), minlength=len(cell_levels[0]))
    eps = tol * w.sum() if tol < 1 else tol
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
        if np.max(np.abs(new - old)) < eps:
            return f, f_last, it, True
        old = new
    return f, f_last, max_iter, False


def _rake_failure(ms: list[Margin], codes, levels, targets, w, max_iter, tol) -> str:
    worst = []
    for m, c, lvs, t in zip(ms, codes, levels, targets):
        got = np.bincount(np.maximum(c, 0)[w > 0], weights=w[w > 0], minlength=len(lvs))
        rel = np.abs(got - t) / np.maximum(t, 1)
        i = int(np.argmax(rel))
        worst.append((rel[i], m.name, lvs[i], got[i], t[i]))
    rel, name, level, got, want = max(worst, key=lambda r: r[0])
    return (f"raking did not converge in {max_iter} sweeps (tol {tol:g}): margin {name!r}, "
            f"level {level!r} is at {got:,.6g} instead of {want:,.6g} ({100 * rel:.3g}% off). "
            "Check that the margins are consistent (cross-classified cells with no sample "
            "can make them unattainable), collapse sparse levels, or raise max_iter.")


def _raking_projection(codes: np.ndarray, p: int, psw: np.ndarray) -> Projection:
    active = psw > 0
    counts = np.bincount(codes[active], minlength=p).astype("float64")
    with np.errstate(divide="ignore"):
        m_inv = np.where(counts > 0, 1.0 / counts, 0.0)
    return Projection(codes=codes, matrix=None, p=p, a=_safe_ratio(np.ones_like(psw), psw),
                      b=psw, m_inv=m_inv)


def _cell_projection(codes: np.ndarray, p: int, w0: np.ndarray, w1: np.ndarray) -> Projection:
    codes = np.maximum(codes, 0)
    sums = np.bincount(codes, weights=w0, minlength=p)
    with np.errstate(divide="ignore"):
        m_inv = np.where(sums > 0, 1.0 / sums, 0.0)
    return Projection(codes=codes, matrix=None, p=p, a=_safe_ratio(w0, w1), b=w1, m_inv=m_inv)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 0.0)


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


def _per_replicate(design: ReplicateDesign, reweight) -> np.ndarray:
    reps = design.replicate_weights()
    return np.column_stack([reweight(reps[:, r]) for r in range(reps.shape[1])])


# ---------------------------------------------------------------------- calibration internals

def _model_matrix(frame: pd.DataFrame, totals: Mapping[str, Any], size: float | None,
                  w: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if not isinstance(totals, Mapping) or not totals:
        raise WeightingError(message("totals", "a non-empty mapping {column: total or "
                                     "{level: total}}", totals))
    cols, target, names = [], [], []
    if size is not None:
        cols.append(np.ones(len(frame)))
        target.append(float(size))
        names.append("(population size)")
    for key, value in totals.items():
        if key not in frame.columns:
            raise WeightingError(f"calibration variable {key!r} is not in the data.")
        if isinstance(value, Mapping):
            margin = normalise_margins({key: value}, frame.columns)[0]
            codes, levels = cell_codes(frame, margin, w)
            for i, lv in enumerate(levels):
                cols.append((codes == i).astype("float64"))
                target.append(margin.targets[lv])
                names.append(f"{key}={lv[0]}")
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
            target.append(float(value))
            names.append(key)
    return np.column_stack(cols), np.array(target), names


def _calibration_factors(x, w, target, method, lo, hi, tol, max_iter, names) -> np.ndarray:
    active = w > 0
    xa, wa = x[active], w[active]
    g = np.ones(len(w))
    if method == "linear" and not np.isfinite(lo) and not np.isfinite(hi):
        lam = np.linalg.solve((xa * wa[:, None]).T @ xa, target - xa.T @ wa)
        g[active] = 1 + xa @ lam
        return g
    g[active] = _grake(xa, wa, target, method, lo, hi, tol, max_iter, names)
    return g


def _distance(method: str, u: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """R's calfun: ``F^-1(u) - 1`` and its derivative."""
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
