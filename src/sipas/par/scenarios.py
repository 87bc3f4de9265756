"""Questions a province asks of its scored result: what it loses where, and what a rise in
one index would gain it.

Examples
--------
>>> import pandas as pd
>>> from sipas.par import load_scheme, score
>>> idx = ["factor:access", "factor:procedures", "factor:officials", "factor:results",
...        "factor:feedback", "overall"]
>>> survey = pd.DataFrame({"province": "X", "index": idx, "se": 0.02,
...                        "estimate": [0.8, 0.7, 0.9, 0.8, 0.6, 0.76]})
>>> appraisal = pd.DataFrame({"province": ["X"] * 3, "code": ["A1.1.1", "A2.1.1", "A3.1.1"],
...                           "points": [20.0, 15.0, 10.0]})
>>> res = score(load_scheme("example"), appraisal=appraisal, survey=survey)
>>> float(shortfall(res, "X")["lost"].iloc[0])
5.0
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from sipas._validate import message
from sipas.errors import ScoringError
from sipas.par.scoring import ParResult

__all__ = ["shortfall", "what_if"]


def what_if(result: ParResult, province: str, index: str, delta: float,
            source: str = "citizen_survey") -> pd.DataFrame:
    """Points a province gains if one index rises by ``delta`` (in the index's own units).

    Returns one row per sub-criterion that uses the index (points before, after, gain),
    plus a total row with the new total and the rank it would reach, others unchanged.

    Parameters
    ----------
    result : ParResult
        A scored scheme (:func:`score`).
    province : str
        The province.
    index : str
        ``factor:<name>``, ``item:<name>`` or ``overall``.
    delta : float
        Change of the index, in its own units (0.05 = five percentage points of a share);
        the raised value is capped at the top of its scale.
    source : {"citizen_survey", "officials_survey"}
        Which survey the index comes from.

    Returns
    -------
    pandas.DataFrame
        ``code, points_before, points_after, gain`` per sub-criterion, then a ``TOTAL`` row
        with ``rank_before`` and ``rank_after``.

    Raises
    ------
    ScoringError
        An unknown province, or an index not scored for it.

    Examples
    --------
    >>> import pandas as pd
    >>> from sipas.par import load_scheme, score
    >>> idx = ["factor:access", "factor:procedures", "factor:officials", "factor:results",
    ...        "factor:feedback", "overall"]
    >>> survey = pd.DataFrame({"province": "X", "index": idx, "se": 0.02,
    ...                        "estimate": [0.8, 0.7, 0.9, 0.8, 0.6, 0.76]})
    >>> appraisal = pd.DataFrame({"province": ["X"] * 3, "code": ["A1.1.1", "A2.1.1", "A3.1.1"],
    ...                           "points": [20.0, 15.0, 10.0]})
    >>> res = score(load_scheme("example"), appraisal=appraisal, survey=survey)
    >>> gain = what_if(res, "X", "factor:access", 0.1)
    >>> gain[["code", "gain"]].round(2).values.tolist()  # 7 points x 0.1
    [['A1.2.1', 0.7], ['TOTAL', 0.7]]
    """
    prov = str(province)
    if prov not in result.values:
        raise ScoringError(message("province", f"one of {sorted(result.values)[:10]}", prov))
    key = f"{source}|{index}"
    if key not in result.values[prov]:
        raise ScoringError(f"index {index!r} ({source}) is not scored for {prov!r}.")
    rows = []
    for sub in result.scheme.subcriteria:
        if f"{sub.source}|{sub.index}" != key:
            continue
        before = min(sub.convert(result.values[prov][key]), sub.max)
        raised = result.values[prov][key] + delta
        after = min(sub.convert(raised), sub.max)
        rows.append({"code": sub.code, "points_before": before, "points_after": after,
                     "gain": after - before})
    if not rows:
        raise ScoringError(f"index {index!r} ({source}) is in the survey table but no "
                           f"sub-criterion of scheme {result.scheme.name!r} uses it.")
    out = pd.DataFrame(rows)
    tot = result.totals.set_index("province")
    # cast: pandas-stubs types a .loc cell as any scalar; totals are floats
    new_total = cast(float, tot.loc[prov, "total"]) + out["gain"].sum()
    others = tot.drop(index=prov)["total"].to_numpy()
    rank = int(1 + np.sum(others > new_total + 1e-12))
    total_row = {"code": "TOTAL", "points_before": tot.loc[prov, "total"],
                 "points_after": new_total, "gain": out["gain"].sum(),
                 "rank_before": int(cast(float, tot.loc[prov, "rank"])), "rank_after": rank}
    return pd.concat([out, pd.DataFrame([total_row])], ignore_index=True)


def shortfall(result: ParResult, province: str) -> pd.DataFrame:
    """Sub-criteria of a province ordered by the points lost against their maximum.

    Parameters
    ----------
    result : ParResult
        A scored scheme (:func:`score`).
    province : str
        The province.

    Returns
    -------
    pandas.DataFrame
        The province's rows of ``result.points`` plus ``lost = max_points - points``,
        largest loss first (ties in scheme order).

    Raises
    ------
    ScoringError
        The province was not scored.

    Examples
    --------
    >>> import pandas as pd
    >>> from sipas.par import load_scheme, score
    >>> idx = ["factor:access", "factor:procedures", "factor:officials", "factor:results",
    ...        "factor:feedback", "overall"]
    >>> survey = pd.DataFrame({"province": "X", "index": idx, "se": 0.02,
    ...                        "estimate": [0.8, 0.7, 0.9, 0.8, 0.6, 0.76]})
    >>> appraisal = pd.DataFrame({"province": ["X"] * 3, "code": ["A1.1.1", "A2.1.1", "A3.1.1"],
    ...                           "points": [20.0, 15.0, 10.0]})
    >>> res = score(load_scheme("example"), appraisal=appraisal, survey=survey)
    >>> shortfall(res, "X")[["code", "lost"]].round(2).values.tolist()[:3]
    [['A1.1.1', 5.0], ['A2.1.1', 5.0], ['A2.2.1', 4.0]]
    """
    pts = result.points[result.points["province"] == str(province)].copy()
    if pts.empty:
        raise ScoringError(message("province", "a scored province", province))
    pts["lost"] = pts["max_points"] - pts["points"]
    return pts.sort_values("lost", ascending=False, kind="stable").reset_index(drop=True)
