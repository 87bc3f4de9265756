"""Weight diagnostics and the weighting report: what each step did to the weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import as_name_list
from sipas.design.protocol import SurveyDesign, WeightingStep
from sipas.errors import DesignError

__all__ = ["WeightingReport", "weight_diagnostics", "weighting_report"]

STAT_COLUMNS = ("n", "sum", "mean", "min", "p05", "p25", "median", "p75", "p95", "max",
                "max_min_ratio", "cv", "kish_deff", "ess")


def weight_stats(w: np.ndarray) -> dict[str, float]:
    """Distribution of the positive weights (one row of :func:`weight_diagnostics`)."""
    positive = w > 0
    w = w if positive.all() else w[positive]
    if len(w) == 0:
        return dict.fromkeys(STAT_COLUMNS, np.nan) | {"n": 0}
    total, sq = w.sum(), np.dot(w, w)
    mean = total / len(w)
    low, *q, high = _quantiles(w, (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0))
    stats = {"sum": total, "mean": mean, "min": low, "p05": q[0], "p25": q[1],
             "median": q[2], "p75": q[3], "p95": q[4], "max": high,
             "max_min_ratio": high / low, "cv": w.std(ddof=0) / mean,
             "kish_deff": len(w) * sq / total**2, "ess": total**2 / sq}
    return {"n": len(w)} | {k: float(v) for k, v in stats.items()}


def _quantiles(w: np.ndarray, probs: tuple[float, ...]) -> list[float]:
    """``np.quantile(w, probs)`` (its default linear method), from a few partitions of
    shrinking slices: numpy partitions a whole array once per order statistic, several
    times slower at a million weights."""
    n = len(w)
    pos = [q * (n - 1) for q in probs]
    below = [int(np.floor(p)) for p in pos]
    ks = sorted({k for b in below for k in (b, min(b + 1, n - 1))})
    a = w.copy()

    def select(lo: int, hi: int, ks: list[int]) -> None:
        # a[lo:hi] holds the order statistics ks; put the middle one in place, then recurse
        if not ks:
            return
        mid = len(ks) // 2
        a[lo:hi].partition(ks[mid] - lo)
        select(lo, ks[mid], ks[:mid])
        select(ks[mid] + 1, hi, ks[mid + 1:])

    select(0, n, ks)
    out = []
    for p, b in zip(pos, below):
        t, lo, hi = p - b, a[b], a[min(b + 1, n - 1)]
        diff = hi - lo
        # numpy's _lerp: from the nearer end, so the result is exact at t = 0 and t = 1
        out.append(float(hi - diff * (1 - t) if t >= 0.5 else lo + diff * t))
    return out


def weight_diagnostics(design: SurveyDesign | np.ndarray,
                       by: str | list[str] | None = None) -> pd.DataFrame:
    """Distribution of the positive weights: n, sum, quantiles, cv, Kish deff, ESS.

    Parameters
    ----------
    design : Design, ReplicateDesign or numpy.ndarray
        A design (its final weights) or an array of weights.
    by : str or list of str, optional
        Columns of the design's data: one row per observed combination (not for arrays).

    Returns
    -------
    pandas.DataFrame
        One row (or one per group): the ``by`` columns, then ``n, sum, mean, min, p05, p25,
        median, p75, p95, max, max_min_ratio, cv, kish_deff, ess`` of the positive weights.

    Raises
    ------
    WeightingError
        A ``by`` column is not in the data.

    Notes
    -----
    ``kish_deff = n sum(w^2) / (sum w)^2 = 1 + cv^2`` is the variance inflation due to
    unequal weights alone; ``ess = (sum w)^2 / sum(w^2) = n / kish_deff``; ``cv`` uses the
    population SD (divisor n). R equivalent: ``survey::deff`` has no Kish term;
    ``PracTools::deffK(w)`` gives ``kish_deff``.

    Examples
    --------
    >>> import numpy as np
    >>> weight_diagnostics(np.array([1.0, 1.0, 2.0, 4.0]))[["n", "kish_deff", "ess"]].round(4)
       n  kish_deff     ess
    0  4      1.375  2.9091
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> weight_diagnostics(d, by="urban")[["urban", "n"]].values.tolist()
    [[1.0, 97.0], [2.0, 614.0]]
    """
    if isinstance(design, np.ndarray):
        return pd.DataFrame([weight_stats(np.asarray(design, dtype="float64"))])
    w = design.weight_array
    cols = as_name_list("by", by)
    if not cols:
        return pd.DataFrame([weight_stats(w)])
    missing = [c for c in cols if c not in design.frame.columns]
    if missing:
        raise DesignError(f"by column(s) {missing} are not in the data.")
    rows = []
    for key, idx in design.frame.groupby(cols, sort=True, dropna=False).indices.items():
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(cols, key)), **weight_stats(w[idx])})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class WeightingReport:
    """What each weighting step did (from ``design.history``).

    Attributes
    ----------
    steps : DataFrame
        One row per step: name, options, and the weight distribution after it.
    margins : DataFrame
        Targets, totals before and achieved after, per margin level and step.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> r = sipas.weighting_report(sipas.rake(d, sd.spec.margins), before=d)
    >>> r.margins[["margin", "level", "target"]].values.tolist()[:2]
    [['sex', 1, 36831.0], ['sex', 2, 40103.0]]
    """

    steps: pd.DataFrame
    margins: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """A copy of the steps table.

        Returns
        -------
        pandas.DataFrame
            One row per step (``input``, the steps, ``final``): ``step, name, options``,
            the weight distribution (as :func:`weight_diagnostics`) and ``summary``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> steps = sipas.weighting_report(sipas.rake(d, sd.spec.margins)).to_frame()
        >>> steps["name"].tolist(), round(float(steps["sum"].iloc[-1]))
        (['rake', 'final'], 76934)
        """
        return self.steps.copy()

    def __repr__(self) -> str:
        cols = ["step", "name", "n", "sum", "min", "max", "kish_deff", "ess"]
        return "<WeightingReport>\n" + self.steps[cols].to_string(index=False)


def weighting_report(design: SurveyDesign,
                     before: SurveyDesign | None = None) -> WeightingReport:
    """Report of the weighting steps that made ``design`` (optionally from ``before``).

    Parameters
    ----------
    design : Design or ReplicateDesign
        The weighted design; its ``history`` lists the steps.
    before : Design or ReplicateDesign, optional
        The design the weighting started from (e.g. the base-weighted respondents). It adds
        an ``input`` row, and steps already in its own history are not repeated.

    Returns
    -------
    WeightingReport
        ``steps``: one row per step with its options, summary and the weight distribution
        after it (``n``, ``sum``, ``min``, ``max``, ``cv``, ``kish_deff``, ``ess``, ...);
        ``margins``: target, total before and achieved, per level of every margin of every
        post-stratification, raking or calibration step.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> r = sipas.weighting_report(sipas.rake(d, sd.spec.margins), before=d)
    >>> r.steps["name"].tolist()
    ['input', 'rake', 'final']
    """
    rows: list[dict[str, Any]] = []
    margins: list[dict[str, Any]] = []
    steps: tuple[WeightingStep, ...] = design.history
    first = 1
    if before is not None:
        rows.append({"step": 0, "name": "input", "options": "",
                     **weight_stats(before.weight_array)})
        done = before.history
        if len(done) <= len(steps) and all(a is b for a, b in zip(done, steps)):
            first = len(done) + 1
    for i, step in enumerate(steps[first - 1:], start=first):
        summary = {k: v for k, v in step.summary.items() if k not in ("margins", "weights")}
        stats = step.summary.get("weights") or {}
        rows.append({"step": i, "name": step.name, "options": _fmt(step.options),
                     "summary": _fmt(summary), **stats})
        for m in step.summary.get("margins", []):
            margins.append({"step": i, "name": step.name, **m})
    rows.append({"step": len(steps) + 1, "name": "final", "options": "",
                 **weight_stats(design.weight_array)})
    margin_cols = ["step", "name", "margin", "level", "target", "before", "achieved"]
    return WeightingReport(pd.DataFrame(rows), pd.DataFrame(margins, columns=margin_cols))


def _fmt(mapping: Any) -> str:
    return "; ".join(f"{k}={v}" for k, v in mapping.items()
                     if v is not None and not (isinstance(v, (list, tuple, dict)) and not v))
