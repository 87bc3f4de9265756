"""Precision from last wave: the design effect split into clustering and unequal weighting.

Gabler, Haeder & Lahiri (1999) model the design effect of a weighted cluster sample as

``deff = kish * (1 + (b - 1) * icc)``,  ``kish = n sum w^2 / (sum w)^2 = 1 + cv^2``,
``b = sum_c (sum_{j in c} w_j)^2 / sum w^2``

(``b`` is the weighted mean cluster take; with equal weights it is ``sum m_c^2 / n``). From the
design effect an estimator reports and the weights and clusters of each domain, the table gives
Kish's weighting effect, the clustering effect ``deff / kish`` and the intra-cluster correlation
it implies, ``icc = (deff / kish - 1) / (b - 1)``: what a planner needs to size next wave with
another take (:func:`sipas.plan.sample_size` with ``icc=``, ``take=``, ``kish=``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import as_name_list
from sipas.design.protocol import SurveyDesign
from sipas.errors import PlanError

__all__ = ["Precision", "precision"]

ID_COLUMNS = ("variable", "value", "name", "index_level")


@dataclass(frozen=True)
class Precision:
    """The precision table: one row per domain and estimate.

    Columns: the domains, the estimate's identity (``variable``/``value`` or ``name``), then
    ``estimate, se, n, clusters, take, take_weighted, kish, deff_cluster, icc, deff``.
    """

    table: pd.DataFrame
    by: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        """The precision table (a copy)."""
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """Median of each component over the rows, per domain."""
        cols = ["n", "clusters", "take", "kish", "deff_cluster", "icc", "deff"]
        if not self.by:
            return self.table[cols].median().to_frame().T
        return self.table.groupby(list(self.by), sort=True)[cols].median().reset_index()

    def __repr__(self) -> str:
        return f"Precision(rows={len(self.table)}, by={list(self.by)})"


def precision(design: SurveyDesign, result: Any, *, by: str | Sequence[str] | None = None
              ) -> Precision:
    """Split each estimate's design effect into clustering (icc × take) and weighting (Kish).

    Parameters
    ----------
    design : Design
        The design the estimates were made on (last wave).
    result : Estimate, IndexResult or pandas.DataFrame
        Estimates with a ``deff`` column (``to_frame()`` of :func:`sipas.proportion`,
        :func:`sipas.mean`, :func:`sipas.satisfaction_index`...), made with the same ``by``.
    by : str or list of str, optional
        The domains of ``result``.

    Returns
    -------
    Precision

    Raises
    ------
    PlanError
        A ``by`` column missing from the design or the result, or a result without ``deff``.

    Notes
    -----
    ``icc`` is NaN where every cluster holds one respondent (``take_weighted == 1``); it can
    be negative when clustering lowers the variance (then use 0 when planning).

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> p = precision(d, sipas.proportion(d, "p01", value=1, by="district"), by="district")
    >>> t = p.to_frame()
    >>> bool(((t["kish"] * t["deff_cluster"] - t["deff"]).abs() < 1e-12).all())
    True
    """
    cols = as_name_list("by", by)
    table = result.to_frame() if hasattr(result, "to_frame") else pd.DataFrame(result)
    missing = [c for c in [*cols, "deff", "estimate", "se"] if c not in table.columns]
    if missing:
        raise PlanError(f"the result has no column {missing[0]!r}; give estimates made with "
                        f"by={cols or None} that report a design effect.")
    frame = design.frame
    absent = [c for c in cols if c not in frame.columns]
    if absent:
        raise PlanError(f"by column {absent[0]!r} is not in the design's data.")
    parts = _parts(design, frame, cols)
    keep = [*cols, *(c for c in ID_COLUMNS if c in table.columns), "estimate", "se", "n",
            "deff"]
    out = table[[c for c in keep if c in table.columns]]
    out = out.merge(parts, on=cols, how="left") if cols else out.assign(**parts.iloc[0])
    out["deff_cluster"] = out["deff"] / out["kish"]
    with np.errstate(divide="ignore", invalid="ignore"):
        icc = (out["deff_cluster"] - 1) / (out["take_weighted"] - 1)
    out["icc"] = icc.where(out["take_weighted"] > 1 + 1e-12)
    order = [c for c in out.columns if c != "deff"] + ["deff"]
    return Precision(out[order].reset_index(drop=True), tuple(cols))


def _parts(design: SurveyDesign, frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Per domain: respondents, clusters, mean take, weighted take and Kish's effect."""
    w = np.asarray(design.weight_array, dtype="float64")
    stages = getattr(design, "stages", ())  # a replicate design has no stages: rows as units
    psu = stages[0].unit if stages else np.arange(len(w))
    rows = []
    groups = frame.groupby(cols, sort=True, dropna=False).indices.items() if cols \
        else [((), np.arange(len(w)))]
    for key, idx in groups:
        ww, cl = w[idx], np.asarray(psu)[idx]
        pos = ww > 0
        ww, cl = ww[pos], cl[pos]
        if len(ww) == 0:
            continue
        key = key if isinstance(key, tuple) else (key,)
        _, code = np.unique(cl, return_inverse=True)
        cluster_w = np.bincount(code, weights=ww)
        sq = float(np.dot(ww, ww))
        rows.append({**dict(zip(cols, key)), "clusters": len(cluster_w),
                     "take": len(ww) / len(cluster_w),
                     "take_weighted": float(np.dot(cluster_w, cluster_w)) / sq,
                     "kish": len(ww) * sq / ww.sum() ** 2})
    return pd.DataFrame(rows)
