"""Reliability flags for published estimates, in the manner of official statistics.

Defaults follow the NCHS data presentation standards for proportions (Parker et al. 2017,
Vital Health Stat 2(175)) and common practice for means: a row is flagged when

* ``n < 30`` respondents (``min_n``);
* the degrees of freedom are below 8 (``min_df``: too few PSUs for a stable variance);
* for shares, the effective sample size ``p(1-p)/se^2`` is below 30 (``min_neff``: the
  interval method is unreliable there);
* for means and other indices, the relative standard error exceeds 30% (``max_rse``);
* there is no estimate (an empty domain).

The flag column holds the reasons separated by ``"; "``, empty when the row is reliable.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"estimate": [0.8, 0.5], "se": [0.02, 0.2], "df": [30, 3], "n": [400, 12]})
>>> flag_rows(t, ReliabilityRules(), share=True)
['', 'n<30; df<8; n_eff<30']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ReliabilityRules", "flag_rows"]


@dataclass(frozen=True)
class ReliabilityRules:
    """Thresholds of the reliability flags (see the module docstring).

    Attributes
    ----------
    min_n : int
        Fewest respondents behind a reliable estimate (30).
    min_df : float
        Fewest degrees of freedom (8).
    min_neff : float
        Smallest effective sample size ``p(1-p)/se^2`` of a share (30).
    max_rse : float
        Largest relative standard error ``se/|estimate|`` of a mean or index (0.30).

    Examples
    --------
    >>> ReliabilityRules(min_n=50).min_n, ReliabilityRules().max_rse
    (50, 0.3)
    """

    min_n: int = 30
    min_df: float = 8
    min_neff: float = 30
    max_rse: float = 0.30


def flag_rows(table: pd.DataFrame, rules: ReliabilityRules,
              share: bool | np.ndarray) -> list[str]:
    """Reasons why each row is unreliable ("" when it is fine).

    Parameters
    ----------
    table : DataFrame
        With ``estimate``, ``se``, ``df`` and ``n`` columns.
    rules : ReliabilityRules
        The thresholds.
    share : bool or array of bool
        Whether each row is a share in [0, 1] (effective-n rule) or a mean/index on another
        scale (relative-SE rule).

    Returns
    -------
    list of str
        One entry per row: the reasons joined by ``"; "`` (``n<30``, ``df<8``,
        ``n_eff<30``, ``rse>0.3``), ``"no data"`` for a NaN estimate, ``""`` when reliable.

    Notes
    -----
    ``n_eff = p(1-p)/se^2`` (shares), ``rse = se/|estimate|`` (means); NCHS data
    presentation standards for proportions (Parker et al. 2017).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"estimate": [3.9, 0.5], "se": [0.1, 0.2], "df": [30, 30],
    ...                   "n": [400, 400]})
    >>> flag_rows(t, ReliabilityRules(), share=[False, True])
    ['', 'n_eff<30']
    """
    share = np.broadcast_to(np.asarray(share, dtype=bool), (len(table),))
    est = table["estimate"].to_numpy(dtype="float64")
    se = table["se"].to_numpy(dtype="float64")
    df = table["df"].to_numpy(dtype="float64")
    n = pd.to_numeric(table["n"], errors="coerce").to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        # at 0% or 100% p(1-p)/se^2 is 0/0: the respondents count, as for the interval
        n_eff = np.where((est == 0) | (est == 1), n, est * (1 - est) / se**2)
        rse = se / np.abs(est)
    out = []
    for i in range(len(table)):
        if np.isnan(est[i]):
            out.append("no data")
            continue
        reasons = []
        if n[i] < rules.min_n:
            reasons.append(f"n<{rules.min_n}")
        if not df[i] >= rules.min_df:
            reasons.append(f"df<{rules.min_df:g}")
        if share[i] and n_eff[i] < rules.min_neff:
            reasons.append(f"n_eff<{rules.min_neff:g}")
        if not share[i] and rse[i] > rules.max_rse:
            reasons.append(f"rse>{rules.max_rse:g}")
        out.append("; ".join(reasons))
    return out
