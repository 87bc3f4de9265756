"""Statistical disclosure control of published tables.

A published cell (a row: one estimate in one domain) based on very few respondents can
reveal what individual people answered. Official statistics therefore apply a threshold
rule: cells with fewer than a minimum number of contributors are withheld, and further
cells are withheld where a total would give them back (primary and secondary/complementary
suppression; see Hundepool et al., *Statistical Disclosure Control*, Wiley 2012, on the
threshold rule, and the "Cell suppression" entry of Lavrakas (ed.), *Encyclopedia of Survey
Research Methods*, Sage 2008, which notes that the minimum is usually well above 2 and set
by sample size, sampling fraction and potential harm). A minimum of 10 is a common
conservative choice in published practice (e.g. the U.S. CMS cell-size suppression policy
does not display counts of 1 to 10). The default ``min_cell=10`` follows that practice; the
data owner may set another value (``[report] min_cell``). It is a confidentiality rule,
separate from the reliability flags (``n<30`` ...), which are about precision.

* **Primary suppression**: a row with ``n < min_cell`` gets its estimate, SE, interval and
  related statistics blanked and the flag ``"suppressed (n<10)"`` (or, with
  ``mode="flag"``, only the flag ``"small cell (n<10)"``).
* **Complementary suppression**: the domain rows of one variable partition the population,
  so the published total (the overall index) and the other domains could give back a single
  suppressed cell. If exactly one row of such a set is suppressed, the row with the next
  smallest ``n`` is suppressed too (flag ``"suppressed (complementary)"``).
* Respondent-level data never goes into a report: :func:`check_not_microdata` refuses a
  table with a respondent id column, with several item columns (a wide microdata layout), or
  whose rows each count a single respondent.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"district": [1, 2, 3], "name": "overall", "estimate": [0.8, 0.7, 0.9],
...                   "n": [50, 4, 30], "flag": ""})
>>> out = suppress(t, domain="district", keys=["name"])
>>> out[["estimate", "flag", "flag_reason"]].to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
{'estimate': [0.8, nan, nan], 'flag': ['', 'suppress', 'suppress'],
 'flag_reason': ['', 'suppressed (n<10)', 'suppressed (complementary)']}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, message
from sipas.errors import DisclosureError

__all__ = ["DisclosureError", "check_not_microdata", "protect_tables", "suppress"]

MIN_CELL = 10
#: statistics blanked in a suppressed row (``share_*`` columns too)
VALUES = ("estimate", "se", "ci_low", "ci_high", "deff", "cv", "deff_replace", "alpha",
          "omega", "computed", "difference", "best_value", "best_difference", "mean_rank",
          "rank", "rank_low", "rank_high", "p_first", "p_last", "t", "p_value", "p_adjusted",
          "significant", "points")
ID_COLUMNS = ("resp_id", "respondent_id", "respondent", "id_respondent")


def check_not_microdata(table: pd.DataFrame, name: str = "table", *,
                        id_columns: Sequence[str] = (), item_columns: Sequence[str] = ()) -> None:
    """Refuse a respondent-level table (one row per respondent).

    Parameters
    ----------
    table : DataFrame
    name : str
        Name of the table, for the message.
    id_columns : list of str
        Respondent id columns besides the usual names (``resp_id``, ``respondent_id``).
    item_columns : list of str
        Questionnaire items: a table with two or more of them as columns is microdata.

    Raises
    ------
    DisclosureError
    """
    ids = {c.lower() for c in (*ID_COLUMNS, *id_columns)}
    found = [c for c in table.columns if str(c).lower() in ids]
    if found:
        raise DisclosureError(message(f"table {name!r}", "aggregated (no respondent id column)",
                                      found, "Respondent-level data never goes into a report."))
    items = [c for c in table.columns if c in set(item_columns)]
    if len(items) >= 2:
        raise DisclosureError(message(f"table {name!r}", "aggregated (items in rows)",
                                      items[:5], "This looks like respondent-level data."))
    if "n" in table.columns and len(table) > 1:
        n = pd.to_numeric(table["n"], errors="coerce")
        if n.notna().all() and (n <= 1).all():
            raise DisclosureError(message(f"table {name!r}", "aggregated over respondents",
                                          "n <= 1 in every row",
                                          "Respondent-level data never goes into a report."))


def suppress(table: pd.DataFrame, *, min_cell: int = MIN_CELL,
             mode: Literal["suppress", "flag"] = "suppress", domain: str | None = None,
             keys: Sequence[str] = ()) -> pd.DataFrame:
    """Suppress (or flag) rows with fewer than ``min_cell`` respondents.

    Parameters
    ----------
    table : DataFrame
        Needs ``n``; the statistics in :data:`VALUES` (and ``share_*``) are blanked.
    min_cell : int
        Minimum number of respondents of a published cell (default 10).
    mode : {"suppress", "flag"}
        Blank the statistics, or keep them and only flag the row.
    domain : str, optional
        Domain column whose rows partition the population; enables complementary
        suppression within each group of ``keys``.
    keys : list of str
        Columns identifying one set of domain rows (``name``, ``level`` ...).

    Returns
    -------
    DataFrame
        A copy with the rows suppressed and ``flag`` extended.
    """
    check_choice("mode", mode, ("suppress", "flag"), DisclosureError)
    if not isinstance(min_cell, int) or isinstance(min_cell, bool) or min_cell < 1:
        raise DisclosureError(message("min_cell", "a positive integer", min_cell))
    out = table.copy()
    if "n" not in out.columns:
        return out
    n = pd.to_numeric(out["n"], errors="coerce").to_numpy(dtype="float64")
    primary = n < min_cell
    if mode == "flag":
        return _mark(out, primary, f"small cell (n<{min_cell})", blank=False)
    second = np.zeros(len(out), dtype=bool)
    if domain is not None and domain in out.columns:
        second = _complementary(out, n, primary, [k for k in keys if k in out.columns])
    out = _mark(out, primary, f"suppressed (n<{min_cell})", blank=True)
    return _mark(out, second, "suppressed (complementary)", blank=True)


def _complementary(table: pd.DataFrame, n: np.ndarray, primary: np.ndarray,
                   keys: list[str]) -> np.ndarray:
    """Next smallest row of every set of domain rows with exactly one primary suppression."""
    second = np.zeros(len(table), dtype=bool)
    groups = (table.groupby(keys, sort=False, dropna=False).indices if keys
              else {None: np.arange(len(table))})
    for rows in groups.values():
        rows = np.asarray(rows)
        if primary[rows].sum() != 1 or len(rows) < 2:
            continue
        rest = rows[~primary[rows]]
        order = np.argsort(np.nan_to_num(n[rest], nan=np.inf), kind="stable")
        second[rest[order[0]]] = True
    return second


def _mark(table: pd.DataFrame, rows: np.ndarray, text: str, *, blank: bool) -> pd.DataFrame:
    if not rows.any():
        return table
    if blank:
        cols = [c for c in table.columns if c in VALUES or str(c).startswith("share_")]
        for c in cols:
            if pd.api.types.is_bool_dtype(table[c]) or pd.api.types.is_integer_dtype(table[c]):
                table[c] = table[c].astype(object)
            table.loc[rows, c] = np.nan
    def column(name: str) -> pd.Series:
        if name in table.columns:
            return table[name].fillna("").astype(str)
        return pd.Series("", index=table.index)

    flag, reason = column("flag"), column("flag_reason")
    reason[rows] = [f"{text}; {r}" if r else text for r in reason[rows]]
    verdict = "suppress" if blank else "review"
    flag[rows] = [f if f == "suppress" else verdict for f in flag[rows]]
    table["flag"], table["flag_reason"] = flag, reason
    return table


def protect_tables(tables: Mapping[str, pd.DataFrame], *, min_cell: int = MIN_CELL,
                   mode: Literal["suppress", "flag"] = "suppress",
                   domains: Sequence[str] = ()) -> dict[str, pd.DataFrame]:
    """Apply :func:`suppress` to every pipeline table, and carry suppressions to the tables
    derived from the suppressed domains (ranks and comparisons of ``index_by_<col>``).

    Comparisons against the "mean of domains" would give back a suppressed domain from the
    published ones, so when a domain of ``<col>`` is suppressed their differences and
    intervals are blanked for every row (p-values and significance stay).
    """
    out: dict[str, pd.DataFrame] = {}
    for name, table in tables.items():
        check_not_microdata(table, name)
        domain = next((d for d in domains if name.endswith(f"_by_{d}")), None)
        keys = [k for k in ("name", "level", "variable") if k in table.columns]
        out[name] = suppress(table, min_cell=min_cell, mode=mode, domain=domain, keys=keys)
    if mode == "flag":
        return out
    for col in domains:
        index = out.get(f"index_by_{col}")
        if index is None or "flag_reason" not in index.columns:
            continue
        hidden = index.loc[index["flag_reason"].str.contains("suppressed", regex=False)
                           & (index["name"] == "overall"), col]
        if hidden.empty:
            continue
        if f"ranks_{col}" in out:
            ranks = out[f"ranks_{col}"]
            out[f"ranks_{col}"] = _mark(ranks.copy(), ranks[col].isin(hidden).to_numpy(),
                                        "suppressed (domain)", blank=True)
        if f"compare_{col}" in out:
            out[f"compare_{col}"] = _hide_comparisons(out[f"compare_{col}"], hidden)
    return out


def _hide_comparisons(table: pd.DataFrame, hidden: pd.Series) -> pd.DataFrame:
    codes = {str(v) for v in hidden}
    parts = [set(re.split(r" - |: ", str(c))) for c in table["comparison"]]
    rows = np.array([bool(p & codes) for p in parts])
    out = _mark(table.copy(), rows, "suppressed (domain)", blank=True)
    if any("mean of domains" in p for p in parts):
        for c in ("difference", "se", "ci_low", "ci_high", "t"):
            if c in out.columns:
                out[c] = np.nan
    return out
