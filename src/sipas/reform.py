"""A past wave re-expressed on the units in force since 1 July 2025.

Two routes, by what is left of the past wave:

* **microdata**: :func:`with_new_units` adds the new unit of every respondent (from
  :func:`sipas.units.recode`); the wave is then re-estimated ``by`` the new units with the usual
  estimators. The design stays the design the sample was drawn with (old districts as strata);
  only the domains change. Respondents of split communes need ``assign=``.
* **published tables only**: :func:`aggregate_to_new` combines the old units' estimates into
  each new unit, weighted by population, with the standard error of a sum of independent
  estimates. Where an old unit was split, its estimate is assumed to hold in each part, and the
  row is marked ``approximate``.

The result of :func:`aggregate_to_new` can be given to :func:`sipas.compare.compare_waves` as
the previous wave; comparisons that rest on approximate rows say so.

Examples
--------
>>> import pandas as pd
>>> past = pd.DataFrame({"province": ["Hà Giang", "Tuyên Quang"], "estimate": [0.80, 0.70],
...                      "se": [0.02, 0.03], "population": [300, 100]})
>>> new = aggregate_to_new(past, unit="province", variable="sipas")
>>> new.table[["province", "estimate", "population", "n_old"]].round(4).values.tolist()
[['Tuyên Quang', 0.775, 400.0, 2]]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import message, plain, require_columns
from sipas.errors import UnitError
from sipas.io import SurveyData
from sipas.units import recode, to_new
from sipas.units.crosswalk import Level

__all__ = ["ReformedWave", "aggregate_to_new", "with_new_units"]

#: share of an old unit's population a crosswalk may leave unassigned (rounding only)
SHARE_TOLERANCE = 1e-6
TABLE_COLUMNS = ("variable", "value", "estimate", "se", "df", "population", "n_old",
                 "approximate", "old_units")


@dataclass(frozen=True)
class ReformedWave:
    """A past wave's published estimates, re-expressed on the new units.

    It has what :func:`sipas.compare.compare_waves` reads of a previous wave: ``by``,
    ``level`` and :meth:`to_frame`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per new unit (and variable): the unit column, ``variable, value, estimate,
        se, df, population, n_old, approximate, old_units``.
    by : tuple of str
        The unit column.
    level : float
        Confidence level the comparison uses by default.
    """

    table: pd.DataFrame
    by: tuple[str, ...]
    level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`."""
        return self.table.copy()


def aggregate_to_new(table: pd.DataFrame, *, unit: str, variable: str | None = None,
                     level: Level = "province", estimate: str = "estimate", se: str = "se",
                     population: str = "population", df: str | None = None,
                     crosswalk: pd.DataFrame | None = None, province: str | int | None = None,
                     confidence: float = 0.95) -> ReformedWave:
    """Published estimates of old units combined into the new units, by population.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per old unit (and per ``variable`` if the table has that column): the unit,
        the estimate, its standard error and the unit's population (of the survey's target
        population: service users, adults).
    unit : str
        Column of the old units (names or GSO codes). The result keeps this name.
    variable : str, optional
        Name of the indicator when ``table`` has no ``variable`` column (to match the
        ``variable`` of the current wave's estimate in ``compare_waves``).
    level : {"province", "commune"}
        What the units are.
    estimate, se, population : str
        Column names.
    df : str, optional
        Column of degrees of freedom; the new unit takes the smallest of its old units
        (conservative). Default: infinite (normal intervals).
    crosswalk : pandas.DataFrame, optional
        Columns ``old``, ``new`` and ``share`` (the part of the old unit's population now in
        the new unit; default 1): used instead of the package's crosswalk, and needed for
        split communes, whose shares the package does not know.
    province : str or int, optional
        Old province of the communes (``level="commune"``), as in :func:`sipas.units.to_new`.
    confidence : float
        Level of the comparisons made with the result.

    Returns
    -------
    ReformedWave

    Raises
    ------
    UnitError
        A unit matches no old unit or several; a split unit without shares; shares of an old
        unit that do not add up to 1 (the crosswalk would lose or invent population); a
        population that is not positive; a required column missing.

    Notes
    -----
    For new unit ``g`` made of (parts of) old units ``i`` with populations ``N_i`` and shares
    ``s_i``: ``w_i = N_i s_i / sum_j N_j s_j``, ``theta_g = sum_i w_i theta_i`` and, the old
    units being sampled independently, ``se_g = sqrt(sum_i w_i^2 se_i^2)``. A split unit's
    estimate is taken to hold in each of its parts (``approximate``); its parts in two new
    units are then correlated, which the SE of each new unit alone does not need.

    Examples
    --------
    >>> cw = pd.DataFrame({"old": ["A", "A", "B"], "new": ["X", "Y", "Y"],
    ...                    "share": [0.25, 0.75, 1.0]})
    >>> past = pd.DataFrame({"unit": ["A", "B"], "estimate": [0.5, 0.9], "se": [0.1, 0.1],
    ...                      "population": [400, 100]})
    >>> out = aggregate_to_new(past, unit="unit", variable="x", crosswalk=cw).table
    >>> out[["unit", "estimate", "population", "approximate"]].values.tolist()
    [['X', 0.5, 100.0, True], ['Y', 0.6, 400.0, True]]
    """
    require_columns(table.columns, [unit, estimate, se, population, *([df] if df else [])],
                    "published table", UnitError, "the published table")
    data = table.copy()
    if "variable" not in data:
        if variable is None:
            raise UnitError("the published table has no 'variable' column: pass variable= "
                            "(the name of the indicator, as in the current wave's estimate).")
        data["variable"] = variable
    if "value" not in data:
        data["value"] = None
    pop = pd.to_numeric(data[population], errors="coerce")
    bad = data.loc[~(pop > 0), unit].tolist()
    if bad:
        raise UnitError(message(f"{population} of every unit", "a positive number",
                                plain(bad[0]), f"Units without a usable population: {bad}."))
    walk = _walk(data[unit].drop_duplicates().tolist(), level, crosswalk, province)
    rows = data.merge(walk, left_on=unit, right_on="old", how="left", validate="many_to_many")
    rows["w"] = pd.to_numeric(rows[population]) * rows["share"]
    out = []
    for (new, var, value), g in rows.groupby(["new", "variable", "value"], sort=True,
                                             dropna=False):
        w = g["w"].to_numpy(float) / g["w"].sum()
        out.append({
            unit: new, "variable": var, "value": value,
            "estimate": float(w @ g[estimate].to_numpy(float)),
            "se": float(np.sqrt(w**2 @ g[se].to_numpy(float) ** 2)),
            "df": float(g[df].min()) if df else np.inf,
            "population": float(g["w"].sum()), "n_old": len(g),
            "approximate": bool((g["share"] < 1).any()),
            "old_units": ", ".join(str(plain(v)) for v in g[unit])})
    result = pd.DataFrame(out, columns=[unit, *TABLE_COLUMNS])
    # the estimators' tables hold None, not NaN, where an estimate has no answer value
    result["value"] = result["value"].astype(object).where(result["value"].notna(), None)
    return ReformedWave(table=result, by=(unit,), level=confidence)


def _walk(values: list[Any], level: Level, crosswalk: pd.DataFrame | None,
          province: Any) -> pd.DataFrame:
    """``old, new, share`` for every old unit of the table; shares add up to 1 per unit."""
    if crosswalk is None:
        found = to_new(values, level, province=province)
        split = found.loc[found["status"] == "split", "value"].tolist()
        if split:
            raise UnitError(
                f"{split} were split between several new units and the package does not know "
                "the population of each part. Pass crosswalk= with columns old, new, share "
                "(the part of each old unit's population in each new unit).")
        walk = pd.DataFrame({"old": found["value"], "new": found["new"], "share": 1.0})
    else:
        require_columns(crosswalk.columns, ["old", "new"], "crosswalk", UnitError,
                        "the crosswalk")
        walk = crosswalk.assign(share=crosswalk.get("share", 1.0))[["old", "new", "share"]]
        missing = [v for v in values if v not in set(walk["old"])]
        if missing:
            raise UnitError(f"the crosswalk has no row for {missing}: every unit of the "
                            "published table needs its new unit(s), or its population is lost.")
    totals = walk.groupby("old")["share"].sum()
    off = totals[(totals - 1).abs() > SHARE_TOLERANCE]
    if len(off):
        first = off.index[0]
        raise UnitError(
            f"the crosswalk's shares of {plain(first)!r} add up to {float(off.iloc[0]):.4g}, "
            f"not 1: {1 - float(off.iloc[0]):.4g} of its population would be lost (or "
            f"invented). Fix the shares of {[plain(v) for v in off.index]} so each adds to 1.")
    return walk


def with_new_units(data: SurveyData, column: str, *, into: str, level: Level = "commune",
                   province: str | int | None = None,
                   district: str | Sequence[str | None] | None = None,
                   assign: Mapping[Any, str] | None = None) -> SurveyData:
    """The survey data with a column of each respondent's unit after 1 July 2025.

    Parameters
    ----------
    data : SurveyData
        A past wave's microdata.
    column : str
        Its column of old units (names or GSO codes). Codes with value labels in the file
        are looked up by their label.
    into : str
        Name of the new column (then ``by=into`` in the estimators).
    level, province, district, assign
        As in :func:`sipas.units.recode`.

    Returns
    -------
    SurveyData
        A copy with the new column; the spec's design is unchanged.

    Raises
    ------
    UnitError
        As :func:`sipas.units.recode`; ``into`` already a column.

    Examples
    --------
    >>> import dataclasses, sipas
    >>> sd = sipas.datasets.load_demo()
    >>> old = dataclasses.replace(sd, frame=sd.frame.assign(province=["Hà Giang", "Bắc Kạn"] * 400))
    >>> new = with_new_units(old, "province", into="province_2025", level="province")
    >>> sorted(new.frame["province_2025"].unique())
    ['Thái Nguyên', 'Tuyên Quang']
    """
    require_columns(data.frame.columns, [column], "unit", UnitError)
    if into in data.frame.columns:
        raise UnitError(message("into", "a new column name", into,
                                "Choose a name that is not yet a column."))
    values = data.frame[column]
    labels = data.meta.value_labels.get(column)
    if labels:
        values = values.map(lambda v: labels.get(v, v))
    frame = data.frame.assign(**{into: recode(values, level, province=province,
                                              district=district, assign=assign)})
    return dataclasses.replace(data, frame=frame)
