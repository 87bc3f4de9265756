"""Weight diagnostics and the weighting report: what each step did to the weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import as_name_list
from sipas.design import Design, WeightingStep
from sipas.errors import WeightingError
from sipas.replicate import ReplicateDesign

__all__ = ["WeightingReport", "weight_diagnostics", "weighting_report"]

STAT_COLUMNS = ("n", "sum", "mean", "min", "p05", "p25", "median", "p75", "p95", "max",
                "max_min_ratio", "cv", "kish_deff", "ess")


def _stats(w: np.ndarray) -> dict[str, float]:
    w = w[w > 0]
    if len(w) == 0:
        return dict.fromkeys(STAT_COLUMNS, np.nan) | {"n": 0}
    mean = w.mean()
    cv = w.std(ddof=0) / mean
    q = np.quantile(w, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {"n": len(w), "sum": w.sum(), "mean": mean, "min": w.min(), "p05": q[0],
            "p25": q[1], "median": q[2], "p75": q[3], "p95": q[4], "max": w.max(),
            "max_min_ratio": w.max() / w.min(), "cv": cv,
            "kish_deff": len(w) * np.sum(w**2) / w.sum() ** 2,
            "ess": w.sum() ** 2 / np.sum(w**2)}


def weight_diagnostics(design: Design | ReplicateDesign | np.ndarray,
                       by: str | list[str] | None = None) -> pd.DataFrame:
    """Distribution of the positive weights: n, sum, quantiles, cv, Kish deff, ESS.

    ``kish_deff = n sum(w^2) / (sum w)^2 = 1 + cv^2`` is the variance inflation due to
    unequal weights alone; ``ess = (sum w)^2 / sum(w^2) = n / kish_deff``.

    Examples
    --------
    >>> import numpy as np
    >>> weight_diagnostics(np.array([1.0, 1.0, 2.0, 4.0]))[["n", "kish_deff", "ess"]].round(4)
       n  kish_deff     ess
    0  4     1.5556  2.5714
    """
    if isinstance(design, np.ndarray):
        return pd.DataFrame([_stats(np.asarray(design, dtype="float64"))])
    w = design.weight_array
    cols = as_name_list("by", by)
    if not cols:
        return pd.DataFrame([_stats(w)])
    missing = [c for c in cols if c not in design.frame.columns]
    if missing:
        raise WeightingError(f"by column(s) {missing} are not in the data.")
    rows = []
    for key, idx in design.frame.groupby(cols, sort=True, dropna=False).indices.items():
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(cols, key)), **_stats(w[idx])})
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
    """

    steps: pd.DataFrame
    margins: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The steps table."""
        return self.steps.copy()

    def __repr__(self) -> str:
        cols = ["step", "name", "n", "sum", "min", "max", "kish_deff", "ess"]
        return "<WeightingReport>\n" + self.steps[cols].to_string(index=False)


def weighting_report(design: Design | ReplicateDesign,
                     before: Design | ReplicateDesign | None = None) -> WeightingReport:
    """Report of the weighting steps that made ``design`` (optionally from ``before``)."""
    rows: list[dict[str, Any]] = []
    margins: list[dict[str, Any]] = []
    if before is not None:
        rows.append({"step": 0, "name": "input", "options": "", **_stats(before.weight_array)})
    steps: tuple[WeightingStep, ...] = design.history
    for i, step in enumerate(steps, start=1):
        summary = {k: v for k, v in step.summary.items() if k != "margins"}
        stats = step.summary.get("weights") or {}
        rows.append({"step": i, "name": step.name, "options": _fmt(step.options),
                     "summary": _fmt(summary), **stats})
        for m in step.summary.get("margins", []):
            margins.append({"step": i, "name": step.name, **m})
    rows.append({"step": len(steps) + 1, "name": "final", "options": "",
                 **_stats(design.weight_array)})
    return WeightingReport(pd.DataFrame(rows), pd.DataFrame(margins))


def _fmt(mapping: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in mapping.items() if v not in (None, [], {}))
