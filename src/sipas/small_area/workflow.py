"""From a survey design to small-area estimates: what the ``[small_area]`` section runs.

The direct estimates come from the design itself, by the area column: an index of the spec
(``overall``, a factor, a node of the index tree: the ``satisfaction_index`` by the areas)
or the share of a data column's answers equal to ``value`` (``proportion``); their design
SEs are the Fay–Herriot model's variances, optionally smoothed. Area covariates come from
a table (a file or a frame) with one row per area. Benchmarking uses the direct estimate of
the whole survey.

Examples
--------
>>> import pandas as pd
>>> import sipas
>>> sd = sipas.datasets.load_demo()          # SYNTHETIC demo survey
>>> design = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> cov = (sd.frame.groupby("district")["urban"].apply(lambda u: float((u == 1).mean()))
...        .reset_index())
>>> res = area_estimates(design, "p01", by="district", covariates=cov)
>>> sorted(res.tables()), len(res.to_frame())
(['small_area_by_district', 'small_area_model'], 10)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas.design.protocol import SurveyDesign
from sipas.errors import SmallAreaError
from sipas.estimation.estimators import proportion
from sipas.small_area.fay_herriot import FayHerriot, FitMethod, MseMethod, fay_herriot
from sipas.small_area.smoothing import Smoothing

__all__ = ["AreaEstimates", "area_estimates"]

#: columns of the area table, in order (those a fit does not have are left out)
COLUMNS = ("variable", "value", "meaning", "n", "direct", "direct_se", "direct_ci_low",
           "direct_ci_high", "smoothed_se", "estimate", "se", "ci_low", "ci_high", "gamma",
           "model_share", "synthetic", "benchmarked")


@dataclass(frozen=True)
class AreaEstimates:
    """Small-area estimates of one index or share by one area column.

    Attributes
    ----------
    fit : FayHerriot
        The fitted model.
    by : str
        The area column.
    variable : str
        The index or column estimated.
    table : pandas.DataFrame
        One row per area: the direct estimate with its design interval beside the EBLUP
        with its root-MSE interval (columns :data:`COLUMNS`).
    """

    fit: FayHerriot
    by: str
    variable: str
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The area table (one row per area)."""
        return self.table.copy()

    def model(self) -> pd.DataFrame:
        """The coefficients (``term, estimate, se, z, p_value``) and, as the last row, the
        random-effect variance (on the scale the model was fitted on)."""
        s = self.fit.summary().rename_axis("term").reset_index()
        return s.rename(columns={"p": "p_value"})

    def describe(self) -> dict[str, Any]:
        """How the model was fitted: method, MSE, replicates, smoothing, transform, areas."""
        return {"method": self.fit.method, "mse": self.fit.mse_method,
                "replicates": self.fit.replicates,
                "smooth": self.fit.smoothing.get("method"), "transform": self.fit.transform,
                "areas": len(self.table), "variance": self.fit.variance,
                "benchmarked": "benchmarked" in self.table.columns}

    def tables(self) -> dict[str, pd.DataFrame]:
        """The pipeline tables: ``small_area_by_<by>`` and ``small_area_model``."""
        return {f"small_area_by_{self.by}": self.to_frame(), "small_area_model": self.model()}


def area_estimates(design: SurveyDesign, variable: str, *, by: str,
                   covariates: pd.DataFrame | str | Path, spec: Any = None, value: Any = 1,
                   x: list[str] | None = None, method: FitMethod = "REML",
                   mse: MseMethod = "prasad-rao", replicates: int = 200,
                   rng: int | np.random.Generator | None = None,
                   transform: Literal["auto", "arcsin", "none"] = "auto",
                   smooth: Smoothing | None = None, benchmark: bool = False,
                   population: str | None = None, level: float = 0.95) -> AreaEstimates:
    """Direct estimates by area from ``design``, then the Fay–Herriot model on them.

    Parameters
    ----------
    design : Design
        The survey design (weighted as published).
    variable : str
        A node of the spec's index tree (``"overall"``, a factor, a sub-index; needs
        ``spec``), or a data column whose share of answers equal to ``value`` is estimated.
    by : str
        The area column (districts, communes); the covariates table has a column of the same
        name.
    covariates : pandas.DataFrame, str or Path
        One row per area: the ``by`` column and numeric covariates; a file (CSV, Excel,
        Parquet, read with :func:`sipas.read_survey`'s cell rules) or a frame.
    spec : Spec, optional
        The questionnaire spec, for an index.
    value : any
        The answer counted in a share of a column.
    x : list of str, optional
        Covariate columns (default every numeric column but ``by`` and ``population``).
    method, mse, replicates, rng, smooth
        As in :func:`sipas.small_area.fay_herriot`.
    transform : {"auto", "arcsin", "none"}
        ``auto``: the arcsine transformation for shares, none for means.
    benchmark : bool
        Ratio-benchmark the EBLUPs to the direct estimate of the whole survey, weighting the
        areas by ``population``.
    population : str, optional
        Column of the covariates table with the population of each area.
    level : float
        Confidence level of both intervals.

    Returns
    -------
    AreaEstimates

    Raises
    ------
    SmallAreaError
        ``variable`` is neither an index of the spec nor a column; the covariates file
        cannot be read or misses an area; any error of :func:`fay_herriot`.
    """
    from sipas.io import read_survey

    if isinstance(covariates, (str, Path)):
        covariates = read_survey(covariates).frame
    if by not in covariates.columns:
        raise SmallAreaError(f"the covariates table has no area column {by!r}; its columns: "
                             f"{list(covariates.columns)[:12]}. Name the areas' column as in "
                             "the survey data.")
    direct, whole, share, extra = _direct(design, variable, by, spec, value, level)
    if x is None:
        x = [c for c in covariates.columns if c not in (by, population)
             and pd.api.types.is_numeric_dtype(covariates[c])]
    fit = fay_herriot(direct, covariates, area=by, x=x, method=method,
                      transform=None if transform == "none" or (transform == "auto"
                                                                and not share) else "arcsin",
                      smooth=smooth, mse=mse, replicates=replicates, rng=rng,
                      benchmark=whole if benchmark else None, population=population,
                      level=level)
    t = fit.to_frame()
    t["direct_ci_low"] = direct["ci_low"].to_numpy()
    t["direct_ci_high"] = direct["ci_high"].to_numpy()
    for key, val in extra.items():
        t[key] = val
    return AreaEstimates(fit, by, variable, t[[by, *(c for c in COLUMNS if c in t.columns)]])


def _direct(design: SurveyDesign, variable: str, by: str, spec: Any, value: Any,
            level: float) -> tuple[pd.DataFrame, float, bool, dict[str, Any]]:
    """Direct estimates by area (``by, estimate, se, ci_low, ci_high, n``), the estimate of
    the whole, whether it is a share, and the columns that say what was estimated."""
    if spec is not None and variable in {node.name for node in spec.tree.nodes}:
        from sipas.indices.satisfaction import satisfaction_index

        def node(result: Any) -> pd.DataFrame:
            return result.nodes[result.nodes["name"] == variable]

        areas = node(satisfaction_index(design, spec, by=by, level=level))
        whole = float(node(satisfaction_index(design, spec, level=level))["estimate"].iloc[0])
        measure = spec.index.measure
        meaning = "share" if measure == "top_box" else measure
        extra: dict[str, Any] = {"variable": variable, "meaning": meaning}
        share = measure != "mean"
    else:
        if variable not in design.frame.columns:
            raise SmallAreaError(f"variable {variable!r} is neither an index of the spec nor a "
                                 "column of the data; name an index (e.g. 'overall') or a "
                                 "column (e.g. 'p01').")
        areas = proportion(design, variable, value=value, by=by, level=level).to_frame()
        whole = float(proportion(design, variable, value=value,
                                 level=level).to_frame()["estimate"].iloc[0])
        extra = {"variable": variable, "value": areas["value"].iloc[0], "meaning": "share"}
        share = True
    areas = areas.dropna(subset=["estimate"]).reset_index(drop=True)
    columns = [by, "estimate", "se", "ci_low", "ci_high", "n"]
    return areas[columns], whole, share, extra
