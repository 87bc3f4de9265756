"""Calibration (GREG and its bounded variants): weights that reproduce population totals of
categorical and numeric auxiliaries.

Calibration gives every row its own factor, so it needs the rows in memory. The projection
it stores makes the linearization variance calibration-aware (the residuals of the
design-weighted regression of the influence values on the auxiliaries, R's ``calibrate``).
On a :class:`sipas.ReplicateDesign` every replicate is calibrated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, message
from sipas.backends.base import RowWeights, needs_memory
from sipas.design.protocol import Reweighting, SurveyDesign, WeightingStep
from sipas.engine.calibration import MatrixProjection
from sipas.errors import ConvergenceError, DesignError, WeightingError
from sipas.weighting.diagnostics import weight_stats
from sipas.weighting.targets import (
    check_iteration,
    check_same_totals,
    level_codes,
    margin_total,
    normalise_margins,
)

__all__ = ["CalMethod", "calibrate"]

CalMethod = Literal["linear", "raking", "logit"]


def calibrate(design: SurveyDesign, totals: Mapping[str, Any], *, method: CalMethod = "linear",
              bounds: tuple[float, float] | None = None, population_size: float | None = None,
              tol: float = 1e-7, max_iter: int = 50) -> SurveyDesign:
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
    needs_memory(design.backend, "calibration (GREG)")
    w0 = design.weight_array
    x, target, names, rows = _model_matrix(design, totals, population_size, w0)

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
        "g_min": float(g[w0 > 0].min()), "g_max": float(g[w0 > 0].max()),
        "weights": weight_stats(w1)}
    step = WeightingStep("calibrate", {"totals": list(totals), "method": method,
                                       "bounds": bounds, "population_size": population_size},
                         summary)
    xw = x * w0[:, None]
    proj = MatrixProjection(design.backend.n_steps, x, x.shape[1], np.linalg.pinv(xw.T @ x))
    return design.reweight(Reweighting(step, RowWeights(w1), (proj,), solve))


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 0.0)


# ---------------------------------------------------------------------- internals

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


def _model_matrix(design: SurveyDesign, totals: Mapping[str, Any], size: float | None,
                  w: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str], list[dict]]:
    frame = design.backend.rows().frame
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
            raise DesignError(f"calibration variable {key!r} is not in the data. Check the "
                                 "spelling of the keys of totals.")
        if isinstance(value, pd.Series):
            value = value.to_dict()
        if isinstance(value, Mapping):
            margin = normalise_margins({key: value}, frame.columns)[0]
            cells = design.backend.cell_table([key])
            cell_level, levels = level_codes(cells, margin, design.backend)
            row_cell = design.backend.row_cells(cells)
            codes = np.where(row_cell >= 0, cell_level[np.maximum(row_cell, 0)], -1)
            for i, lv in enumerate(levels):
                cols.append((codes == i).astype("float64"))
                target.append(margin.targets[lv])
                names.append(f"{key}={lv[0]}")
                rows.append({"margin": str(key), "level": lv[0], "target": target[-1]})
            implied[str(key)] = margin_total(margin)
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
