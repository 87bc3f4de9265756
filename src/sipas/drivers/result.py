"""The result of a key-driver analysis: :class:`DriverResult` (read-only).

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> res = sipas.drivers(d, "q23", ["access", "results"], spec=sd.spec, replicates=20, rng=1)
>>> res.matrix().columns.tolist()[:3]
['driver', 'label', 'importance']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sipas.engine.variance import ReplicateEngine

__all__ = ["COLUMNS", "MEASURES", "QUADRANTS", "DriverResult", "build_driver_result"]

COLUMNS = ("driver", "label", "measure", "estimate", "se", "ci_low", "ci_high", "df")
#: the statistics of every driver, in the order of ``to_frame()``
MEASURES = ("coefficient", "standardised", "importance", "share", "impact", "performance")
#: quadrant names (Martilla & James 1977), keyed by (high importance, high performance)
QUADRANTS = {(True, False): "concentrate here", (True, True): "keep up the good work",
             (False, False): "low priority", (False, True): "possible overkill"}


class DriverResult:
    """Key drivers of an outcome: coefficients, importance, impact, performance.

    Built only by :func:`sipas.drivers`; it cannot change.

    Attributes
    ----------
    outcome : str
        The outcome column.
    drivers, labels : tuple of str
        Driver names and their labels.
    importance_method : str
        ``"lmg"`` or ``"relative_weights"``.
    r2, r2_se : float
        R² of the weighted regression and its replicate SE.
    n : int
        Respondents used.
    df : float
        Design df of the intervals.
    level : float
        Confidence level.
    replicates : int
        Replicates behind the SEs.
    measure : str
        The performance measure (factor index).
    split : str
        ``"mean"`` or ``"median"``: where the matrix is cut.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> res = sipas.drivers(d, "q23", ["access", "results"], spec=sd.spec, replicates=20,
    ...                     rng=1)
    >>> res.replicates, res.importance_method
    (20, 'lmg')
    """

    __slots__ = ("_perf", "_table", "df", "drivers", "importance_method", "labels", "level",
                 "measure", "n", "outcome", "r2", "r2_se", "replicates", "split")
    _perf: pd.DataFrame
    _table: pd.DataFrame
    df: float
    drivers: tuple[str, ...]
    importance_method: str
    labels: tuple[str, ...]
    level: float
    measure: str
    n: int
    outcome: str
    r2: float
    r2_se: float
    replicates: int
    split: str

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a DriverResult cannot be changed; run sipas.drivers again")

    def to_frame(self) -> pd.DataFrame:
        """One row per (driver, measure): ``driver, label, measure, estimate, se, ci_low,
        ci_high, df``. Measures: ``coefficient`` (outcome codes per driver code),
        ``standardised``, ``importance`` (share of R²; they add up to R²), ``share``
        (importance / R²), ``impact`` (0-100 points of the outcome per point of the driver)
        and ``performance`` (the driver's index).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> res = sipas.drivers(d, "q23", ["q01", "q10"], replicates=20, rng=1)
        >>> res.to_frame()["measure"].unique().tolist()[:3]
        ['coefficient', 'standardised', 'importance']
        """
        return self._table.copy()

    def matrix(self) -> pd.DataFrame:
        """The importance-performance matrix: one row per driver with ``importance`` (share
        of R², in [0, 1]) and ``performance`` (the driver's index), both with intervals,
        the ``quadrant`` and ``clear`` (both intervals lie on one side of the cuts).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> res = sipas.drivers(d, "q23", ["access", "results"], spec=sd.spec,
        ...                     replicates=20, rng=1)
        >>> sorted(res.matrix()["quadrant"]) != []
        True
        """
        t = self._table
        imp = t[t["measure"] == "share"].reset_index(drop=True)
        perf = t[t["measure"] == "performance"].reset_index(drop=True)
        cut = np.mean if self.split == "mean" else np.median
        ci, cp = float(cut(imp["estimate"])), float(cut(perf["estimate"]))
        high_i, high_p = imp["estimate"] >= ci, perf["estimate"] >= cp
        clear = (((imp["ci_low"] > ci) | (imp["ci_high"] < ci))
                 & ((perf["ci_low"] > cp) | (perf["ci_high"] < cp)))
        return pd.DataFrame({
            "driver": imp["driver"], "label": imp["label"], "importance": imp["estimate"],
            "importance_ci_low": imp["ci_low"], "importance_ci_high": imp["ci_high"],
            "performance": perf["estimate"], "performance_ci_low": perf["ci_low"],
            "performance_ci_high": perf["ci_high"],
            "quadrant": [QUADRANTS[(bool(a), bool(b))] for a, b in zip(high_i, high_p)],
            "clear": clear.to_numpy(), "importance_cut": ci, "performance_cut": cp})

    def summary(self) -> str:
        """A text summary: the model, then each driver's importance, impact and quadrant.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> res = sipas.drivers(d, "q23", ["access"], spec=sd.spec, replicates=20, rng=1)
        >>> "access" in res.summary()
        True
        """
        m = self.matrix()
        t = self._table.set_index(["driver", "measure"])
        lines = [f"Key drivers of {self.outcome!r}: {len(self.drivers)} drivers, "
                 f"{self.importance_method} importance, n = {self.n}, R² = {self.r2:.3f} "
                 f"(se {self.r2_se:.3f}), {self.replicates} replicates, df = {self.df:g}",
                 f"{'driver':<16}{'share':>8}{'[low':>8}{'high]':>8}{'std coef':>10}"
                 f"{'impact':>8}{'perf':>8}  quadrant"]
        for _, row in m.iterrows():
            d = row["driver"]
            lines.append(f"{str(d)[:15]:<16}{row['importance']:>8.3f}"
                         f"{row['importance_ci_low']:>8.3f}{row['importance_ci_high']:>8.3f}"
                         f"{t.loc[(d, 'standardised'), 'estimate']:>10.3f}"
                         f"{t.loc[(d, 'impact'), 'estimate']:>8.3f}"
                         f"{row['performance']:>8.3f}  {row['quadrant']}"
                         + ("" if row["clear"] else " (not clear)"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"DriverResult(outcome={self.outcome!r}, drivers={len(self.drivers)}, "
                f"importance={self.importance_method!r}, r2={self.r2:.4f}, n={self.n})")

    def _repr_html_(self) -> str:
        return self.matrix().to_html(float_format=lambda v: f"{v:.4g}")


def build_driver_result(*, outcome: str, drivers: tuple[str, ...], labels: tuple[str, ...],
                        full: Mapping[str, np.ndarray], reps: Mapping[str, np.ndarray],
                        engine: ReplicateEngine, df: float, level: float, n: int,
                        importance: str, performance: pd.DataFrame, split: str,
                        replicates: int, measure: str) -> DriverResult:
    """The one place a :class:`DriverResult` is made (replicate SEs, t intervals)."""
    q = stats.t.ppf(0.5 + level / 2, df) if df > 0 else np.nan
    parts = []
    for name in MEASURES[:-1]:
        est = np.asarray(full[name][0], dtype=float)
        se = np.sqrt(engine.var(np.asarray(reps[name], dtype=float), est))
        parts.append(pd.DataFrame({"driver": drivers, "label": labels, "measure": name,
                                   "estimate": est, "se": se, "ci_low": est - q * se,
                                   "ci_high": est + q * se, "df": df}))
    perf = performance.reset_index(drop=True)
    parts.append(pd.DataFrame({"driver": drivers, "label": labels, "measure": "performance",
                               "estimate": perf["estimate"].to_numpy(dtype=float),
                               "se": perf["se"].to_numpy(dtype=float),
                               "ci_low": perf["ci_low"].to_numpy(dtype=float),
                               "ci_high": perf["ci_high"].to_numpy(dtype=float),
                               "df": perf["df"].to_numpy(dtype=float)}))
    table = pd.concat(parts, ignore_index=True)
    r2 = float(full["r2"][0, 0])
    r2_se = float(np.sqrt(engine.var(np.asarray(reps["r2"]), np.array([r2]))[0]))
    res = object.__new__(DriverResult)
    for key, value in (("_table", table), ("_perf", perf), ("df", float(df)),
                       ("drivers", tuple(drivers)), ("importance_method", importance),
                       ("labels", tuple(labels)), ("level", float(level)),
                       ("measure", measure), ("n", int(n)), ("outcome", outcome),
                       ("r2", r2), ("r2_se", r2_se), ("replicates", int(replicates)),
                       ("split", split)):
        object.__setattr__(res, key, value)
    return res
