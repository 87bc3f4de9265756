"""From last wave to next wave's plan: precision table, sizes per domain, allocation.

This is what ``sipas plan`` runs: last wave's design and one share, the design effect of
each domain split into its parts, the respondents each domain needs for the target margin
(with the domain's own design effect, at least ``minimum``), and an allocation of a fixed
total when one is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sipas.design.protocol import SurveyDesign
from sipas.errors import PlanError
from sipas.estimation.estimators import proportion
from sipas.plan.allocation import Method, allocate
from sipas.plan.precision import precision
from sipas.plan.size import sample_size

__all__ = ["SamplePlan", "plan_sample"]


@dataclass(frozen=True)
class SamplePlan:
    """The three tables of a plan: ``precision``, ``sizes`` and ``allocation``."""

    precision: pd.DataFrame
    sizes: pd.DataFrame
    allocation: pd.DataFrame | None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by file stem (``plan_precision``, ``plan_sizes``, ``plan_allocation``)."""
        out = {"plan_precision": self.precision.copy(), "plan_sizes": self.sizes.copy()}
        if self.allocation is not None:
            out["plan_allocation"] = self.allocation.copy()
        return out

    def to_frame(self) -> pd.DataFrame:
        """The sizes table (one row per domain)."""
        return self.sizes.copy()

    def summary(self) -> pd.DataFrame:
        """Totals: domains, respondents and selected people needed."""
        return pd.DataFrame({"domains": [len(self.sizes)],
                             "respondents": [int(self.sizes["respondents"].sum())],
                             "selected": [int(self.sizes["selected"].sum())]})


def plan_sample(design: SurveyDesign, variable: str, *, by: str, value: Any = 1,
                margin: float = 0.05, level: float = 0.95, response_rate: float = 1.0,
                take: float | None = None, minimum: int = 0, n: int | None = None,
                method: Method = "proportional") -> SamplePlan:
    """Plan next wave from last wave's design: precision, sizes per domain, allocation.

    Parameters
    ----------
    design : Design
        Last wave (respondents only, e.g. ``design.subset(response == 1)``).
    variable, value : str, any
        The share that drives the plan: ``proportion(design, variable, value=value)``.
    by : str
        The domains that each need the margin (districts, communes).
    margin, level, response_rate : float
        Target margin of error, confidence level, expected response rate.
    take : float, optional
        Respondents per cluster next wave (default last wave's mean take); the design effect
        is rebuilt as ``kish (1 + (take - 1) icc)`` with each domain's icc (negative ones as 0).
    minimum : int
        Respondents every domain gets at least.
    n : int, optional
        A fixed total to allocate across the domains with ``method`` (the table
        ``allocation``); the population of a domain is its sum of weights.
    method : {"proportional", "neyman", "power", "equal"}
        The allocation method for ``n``.

    Returns
    -------
    SamplePlan

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> plan = plan_sample(d, "p01", by="district", margin=0.08, response_rate=0.9)
    >>> len(plan.sizes), bool((plan.sizes["selected"] >= plan.sizes["respondents"]).all())
    (10, True)
    """
    est = proportion(design, variable, value=value, by=by)
    table = precision(design, est, by=by).to_frame()
    frame = design.frame
    w = np.asarray(design.weight_array, dtype="float64")
    totals = pd.Series(w, index=frame.index).groupby(frame[by].to_numpy()).sum()
    population = totals.reindex(table[by].to_numpy()).to_numpy()
    icc = table["icc"].fillna(0.0).clip(lower=0.0).to_numpy()
    m = table["take"].to_numpy() if take is None else np.full(len(table), float(take))
    p = table["estimate"].clip(0.02, 0.98).to_numpy()
    sizes = sample_size(p=p, margin=margin, level=level, response_rate=response_rate,
                        population=population, icc=np.minimum(icc, 0.999), take=m,
                        kish=table["kish"].to_numpy(), domains=table[by].tolist()).to_frame()
    sizes = sizes.rename(columns={"domain": by})
    sizes.insert(1, "estimate", table["estimate"].to_numpy())
    sizes.insert(2, "icc", icc)
    if minimum:
        low = sizes["respondents"] < minimum
        sizes.loc[low, "respondents"] = int(minimum)
        sizes["selected"] = np.ceil(sizes["respondents"] / response_rate - 1e-9).astype(int)
        sizes["clusters"] = np.ceil(sizes["respondents"] / m - 1e-9)
    allocation = None
    if n is not None:
        if n < 1:
            raise PlanError(f"n must be a positive integer; got {n!r}.")
        sd = np.sqrt(p * (1 - p))
        alloc = allocate(pd.Series(population, index=table[by].to_numpy()), int(n), method,
                         sd=sd, minimum=minimum or None,
                         deff=sizes["deff"].to_numpy())
        allocation = alloc.to_frame().rename(columns={"stratum": by})
    return SamplePlan(table, sizes, allocation)
