"""Reliability flags for published estimates: published rule sets, each verdict with its reason.

A flag is a verdict on one row of a table: ``""`` (publish), ``"review"`` (publish only after
a statistician has looked at it, usually with a footnote) or ``"suppress"`` (do not publish
the value). ``flag_reason`` says which rules fired, with the numbers that made them fire.

Rule sets
---------
``nchs`` (default)
    Proportions: the NCHS data presentation standards for proportions (Parker JD, Talih M,
    Malec DJ, et al. *National Center for Health Statistics data presentation standards for
    proportions*. Vital Health Stat 2(175), 2017), applied in its order:

    1. effective sample size ``n_eff = p(1-p)/se^2`` (capped at the respondents ``n``; ``n``
       when ``p`` is 0 or 1) below 30: suppress;
    2. Korn-Graubard interval width at most 0.05: publish;
    3. width at least 0.30: suppress;
    4. relative width ``width / p`` above 130%: suppress;
    5. published estimates are marked for review when the complement's relative width
       ``width / (1 - p)`` is above 130%, when df < 8, or when ``p`` is 0 or 1.

    The Korn-Graubard interval is Clopper-Pearson at ``n_eff (t_{n-1}/t_df)^2`` trials
    (Korn & Graubard 1998; R ``svyciprop(method="beta")``) at the table's level.
    Means, totals and indices on other scales (NCHS has no standard for them): suppress when
    fewer than 30 respondents or RSE above 50%; review when RSE above 30% or df < 8.
``rse``
    The coefficient-of-variation rule of statistical offices (e.g. the Australian Bureau of
    Statistics' 25%/50% relative standard error cut-offs), for every row, shares included:
    suppress when fewer than 30 respondents or RSE above 50%; review when RSE above 25% or
    df < 8.

Any threshold can be changed (:class:`ReliabilityRules`; the pipeline file's
``[reliability]`` table), which makes the rule set ``custom``.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"estimate": [0.8, 0.5], "se": [0.02, 0.0845], "df": [30, 30],
...                   "n": [400, 60]})
>>> flag(t).loc[:, ["flag", "flag_reason"]].values.tolist()
[['', ''], ['suppress', 'width>=0.3']]
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from scipy import stats

from sipas._validate import message
from sipas.errors import DesignError

__all__ = ["FLAGS", "ReliabilityRules", "flag", "flag_rows", "korn_graubard"]

#: the verdicts, mildest first
FLAGS = ("", "review", "suppress")
RuleName = Literal["nchs", "rse", "custom"]


@dataclass(frozen=True)
class ReliabilityRules:
    """A rule set of reliability flags (see the module docstring for the two presets).

    Attributes
    ----------
    name : {"nchs", "rse", "custom"}
        The rule set: NCHS standards for shares and an RSE rule for the rest, or the RSE
        rule for every row.
    min_neff : float
        Shares (``nchs``): suppress below this effective sample size (30).
    ok_width, max_width : float
        Shares (``nchs``): publish at or below ``ok_width`` (0.05); suppress at or above
        ``max_width`` (0.30), the absolute Korn-Graubard width.
    max_rel_width : float
        Shares (``nchs``): suppress above this width relative to ``p`` (1.30); review above
        it relative to ``1 - p``.
    min_df : float
        Review below these degrees of freedom (8).
    min_n : float
        Non-shares (and every row under ``rse``): suppress below these respondents (30).
    review_rse, max_rse : float
        Review above ``review_rse`` and suppress above ``max_rse`` relative standard error
        ``se/|estimate|`` (``nchs``: 0.30 and 0.50; ``rse``: 0.25 and 0.50).

    Examples
    --------
    >>> ReliabilityRules().name, ReliabilityRules.preset("rse").review_rse
    ('nchs', 0.25)
    >>> ReliabilityRules.preset("nchs", min_df=12).name
    'custom'
    """

    name: RuleName = "nchs"
    min_neff: float = 30
    ok_width: float = 0.05
    max_width: float = 0.30
    max_rel_width: float = 1.30
    min_df: float = 8
    min_n: float = 30
    review_rse: float = 0.30
    max_rse: float = 0.50

    @classmethod
    def preset(cls, rules: str = "nchs", **changes: Any) -> ReliabilityRules:
        """A preset rule set, with any threshold changed (then named ``custom``).

        Parameters
        ----------
        rules : {"nchs", "rse"}
            The preset.
        **changes : float
            Thresholds to change (``min_df=12``...).

        Returns
        -------
        ReliabilityRules

        Raises
        ------
        DesignError
            An unknown preset or threshold, or a threshold that is not a positive number.

        Examples
        --------
        >>> ReliabilityRules.preset("rse").max_rse
        0.5
        """
        if rules not in ("nchs", "rse"):
            raise DesignError(message("rules", '"nchs" or "rse"', rules))
        base = cls() if rules == "nchs" else cls(name="rse", review_rse=0.25)
        known = {f.name for f in fields(cls)} - {"name"}
        for key, value in changes.items():
            if key not in known:
                raise DesignError(message("reliability threshold", f"one of {sorted(known)}",
                                          key))
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise DesignError(message(key, "a positive number", value))
        changed = {k: float(v) for k, v in changes.items() if getattr(base, k) != v}
        return replace(base, **changed, name="custom") if changed else base


def korn_graubard(p: np.ndarray, se: np.ndarray, df: np.ndarray, n: np.ndarray,
                  level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Korn-Graubard interval as the NCHS standards compute it, with its effective n.

    Parameters
    ----------
    p, se, df, n : numpy.ndarray
        Shares, standard errors, degrees of freedom and respondents.
    level : float
        Confidence level.

    Returns
    -------
    (n_eff, lower, upper) : tuple of numpy.ndarray
        ``n_eff = p(1-p)/se^2`` capped at ``n`` (``n`` when ``p`` is 0 or 1 or ``se`` is 0),
        and the Clopper-Pearson limits at ``n_eff (t_{n-1}/t_df)^2`` trials.

    Examples
    --------
    >>> import numpy as np
    >>> n_eff, lo, hi = korn_graubard(np.array([0.0]), np.array([0.0]), np.array([30.0]),
    ...                               np.array([40.0]))
    >>> float(n_eff[0]), float(lo[0]), round(float(hi[0]), 4)
    (40.0, 0.0, 0.0897)
    """
    p, se = np.asarray(p, dtype="float64"), np.asarray(se, dtype="float64")
    df, n = np.asarray(df, dtype="float64"), np.asarray(n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = p * (1 - p) / se**2
    edge = (p <= 0) | (p >= 1) | (se <= 0)
    n_eff = np.where(edge, n, np.minimum(raw, n))
    alpha = 1 - level
    ok_df = np.where(df > 0, df, np.nan)
    # the df adjustment of Korn & Graubard: fewer trials when the variance has few df
    ratio = stats.t.ppf(alpha / 2, np.maximum(n - 1, 1)) / stats.t.ppf(alpha / 2, ok_df)
    trials = n_eff * ratio**2
    x, y = trials * p, trials * (1 - p)
    with np.errstate(invalid="ignore"):
        lo = np.where(x > 0, stats.beta.ppf(alpha / 2, np.where(x > 0, x, 1), y + 1), 0.0)
        hi = np.where(y > 0, stats.beta.ppf(1 - alpha / 2, x + 1, np.where(y > 0, y, 1)), 1.0)
    bad = np.isnan(p) | np.isnan(trials)
    return n_eff, np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


class Tabular(Protocol):
    """A result with a tidy table (an :class:`~sipas.Estimate`, an index result, ...)."""

    def to_frame(self) -> pd.DataFrame:
        """The result's table."""
        ...


def flag(table: Tabular | pd.DataFrame, rules: str | ReliabilityRules = "nchs", *,
         share: bool | np.ndarray | None = None, level: float | None = None) -> pd.DataFrame:
    """Flag every row of an estimate or table as publishable, for review, or to suppress.

    Parameters
    ----------
    table : Estimate or pandas.DataFrame
        With ``estimate``, ``se``, ``df`` and ``n`` columns (an :class:`~sipas.Estimate`,
        an index table, or any frame with those columns).
    rules : {"nchs", "rse"} or ReliabilityRules
        The rule set (module docstring).
    share : bool or array of bool, optional
        Whether each row is a share in [0, 1]. Default: the rows of a proportion, or of a
        table whose estimates all lie in [0, 1] and whose ``statistic`` is not known.
    level : float, optional
        Level of the Korn-Graubard interval; default the estimate's level or 0.95.

    Returns
    -------
    pandas.DataFrame
        The table with ``flag`` (``""``, ``"review"``, ``"suppress"``) and ``flag_reason``
        (the rules that fired, e.g. ``"n_eff<30"``, ``"width>=0.3"``, ``"df<8"``; ``"no
        data"`` for a missing estimate, which is suppressed).

    Raises
    ------
    DesignError
        A column is missing or the rule set is unknown.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> out = flag(sipas.proportion(d, "p01", value=1, by="urban"))
    >>> out[["flag", "flag_reason"]].values.tolist()
    [['review', 'complement_rel_width>1.3; df<8'], ['', '']]
    """
    rules = ReliabilityRules.preset(rules) if isinstance(rules, str) else rules
    if not isinstance(rules, ReliabilityRules):
        raise DesignError(message("rules", '"nchs", "rse" or a ReliabilityRules', rules))
    statistic = getattr(table, "statistic", None)
    if level is None:
        level = float(getattr(table, "level", 0.95))
    frame = table.copy() if isinstance(table, pd.DataFrame) else table.to_frame()
    missing = [c for c in ("estimate", "se", "df", "n") if c not in frame.columns]
    if missing:
        raise DesignError(f"flag needs the columns {missing}; give an Estimate or a table "
                          "with estimate, se, df and n.")
    if share is None:
        est = frame["estimate"].to_numpy(dtype="float64")
        share = statistic == "proportion" or (
            statistic is None and bool(np.all((est[~np.isnan(est)] >= 0)
                                              & (est[~np.isnan(est)] <= 1))))
    verdicts, reasons = _judge(frame, rules, np.asarray(share, dtype=bool), level)
    frame["flag"], frame["flag_reason"] = verdicts, reasons
    return frame


def flag_rows(table: pd.DataFrame, rules: ReliabilityRules, share: bool | np.ndarray,
              level: float = 0.95) -> tuple[list[str], list[str]]:
    """The verdict and reasons of every row (:func:`flag` without building a frame).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"estimate": [3.9], "se": [1.5], "df": [30], "n": [400]})
    >>> flag_rows(t, ReliabilityRules(), share=False)
    (['review'], ['rse>0.3'])
    """
    return _judge(table, rules, np.asarray(share, dtype=bool), level)


def _judge(table: pd.DataFrame, rules: ReliabilityRules, share: np.ndarray,
           level: float) -> tuple[list[str], list[str]]:
    k = len(table)
    share = np.broadcast_to(share, (k,))
    est = table["estimate"].to_numpy(dtype="float64")
    se = table["se"].to_numpy(dtype="float64")
    df = table["df"].to_numpy(dtype="float64")
    n = pd.to_numeric(table["n"], errors="coerce").to_numpy(dtype="float64")
    n_eff, lo, hi = korn_graubard(est, se, df, n, level)
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        rse = se / np.abs(est)
    verdicts, reasons = [], []
    nchs_share = share & (rules.name != "rse")
    for i in range(k):
        if np.isnan(est[i]):
            verdicts.append("suppress")
            reasons.append("no data")
            continue
        bad, review = [], []
        if nchs_share[i]:
            if not n_eff[i] >= rules.min_neff:
                bad.append(f"n_eff<{rules.min_neff:g}")
            elif not width[i] <= rules.ok_width:
                if width[i] >= rules.max_width:
                    bad.append(f"width>={rules.max_width:g}")
                elif est[i] <= 0 or width[i] / est[i] > rules.max_rel_width:
                    bad.append(f"rel_width>{rules.max_rel_width:g}")
                elif est[i] < 1 and width[i] / (1 - est[i]) > rules.max_rel_width:
                    review.append(f"complement_rel_width>{rules.max_rel_width:g}")
            if est[i] in (0.0, 1.0):
                review.append("p=0 or 1")
        else:
            if not n[i] >= rules.min_n:
                bad.append(f"n<{rules.min_n:g}")
            if np.isnan(se[i]):
                bad.append("no se")
            elif rse[i] > rules.max_rse:
                bad.append(f"rse>{rules.max_rse:g}")
            elif rse[i] > rules.review_rse:
                review.append(f"rse>{rules.review_rse:g}")
        if not df[i] >= rules.min_df:
            review.append(f"df<{rules.min_df:g}")
        verdicts.append("suppress" if bad else "review" if review else "")
        reasons.append("; ".join(bad + review))
    return verdicts, reasons
