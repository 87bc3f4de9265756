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
  suppressed cell; and within one domain the overall index is a combination of its factors
  (``overall = mean_of_factors``), so the overall and the other factors give back a single
  suppressed factor. Every such set (a statistic across domains, the overall and factors of
  a domain) holding exactly one suppressed row gets the row with the next smallest ``n``
  suppressed too, until no set holds exactly one (flag ``"suppressed (complementary)"``).
  :func:`recovery_audit` checks the result: no suppressed cell is determined by the
  published cells and these relations.
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

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, message
from sipas.errors import DisclosureError

__all__ = ["DisclosureError", "check_not_microdata", "protect_tables", "recovery_audit",
           "suppress"]

MIN_CELL = 10
#: statistics blanked in a suppressed row (``share_*`` columns too)
VALUES = ("estimate", "se", "ci_low", "ci_high", "deff", "cv", "deff_replace", "alpha",
          "omega", "computed", "difference", "best_value", "best_difference", "mean_rank",
          "rank", "rank_low", "rank_high", "p_first", "p_last", "t", "p_value", "p_adjusted",
          "significant", "points", "direct", "direct_se", "direct_ci_low", "direct_ci_high",
          "smoothed_se", "synthetic", "benchmarked")
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
        sets = _relation_sets(out, domain, [k for k in keys if k in out.columns])
        second = _complementary(n, primary, sets)
    out = _mark(out, primary, f"suppressed (n<{min_cell})", blank=True)
    return _mark(out, second, "suppressed (complementary)", blank=True)


def _relation_sets(table: pd.DataFrame, domain: str, keys: list[str]) -> list[np.ndarray]:
    """Row sets tied by a published relation: one statistic across the domains (their
    combination is the published total), and the overall and factors of one domain."""
    groups = (table.groupby(keys, sort=False, dropna=False).indices if keys
              else {None: np.arange(len(table))})
    sets = [np.asarray(r) for r in groups.values()]
    if "index_level" in table.columns:
        sets += [np.asarray(r) for r in
                 table.groupby(domain, sort=False, dropna=False).indices.values()]
    return [r for r in sets if len(r) >= 2]


def _complementary(n: np.ndarray, primary: np.ndarray,
                   sets: list[np.ndarray]) -> np.ndarray:
    """Rows suppressed so that no relation set holds exactly one suppressed row: the row of
    smallest ``n`` is added to such a set, until none is left."""
    hidden = primary.copy()
    size = np.nan_to_num(n, nan=np.inf)
    changed = True
    while changed:
        changed = False
        for rows in sets:
            if hidden[rows].sum() != 1:
                continue
            rest = rows[~hidden[rows]]
            hidden[rest[np.argsort(size[rest], kind="stable")[0]]] = True
            changed = True
    return hidden & ~primary


def recovery_audit(table: pd.DataFrame, domain: str, *,
                   keys: Sequence[str] = ("name",)) -> list[int]:
    """Positions of the suppressed rows of a domain table that the published rows give back.

    The relations an attacker can use are those of :func:`suppress`: for each statistic
    (``keys``), a combination of the domains with positive weights (their sizes, taken as
    known) is the published total;
    within a domain (tables with ``index_level``), the overall index is a combination of
    the factors. A suppressed cell is recoverable when these relations determine it from
    the published cells, i.e. when every solution of the relations restricted to the
    suppressed cells leaves it unchanged (its component of the null space is zero).

    Parameters
    ----------
    table : DataFrame
        A protected ``index_by_<domain>`` (or ``items_by_<domain>``) table: suppressed rows
        have ``estimate`` blank and ``suppressed`` in ``flag_reason``.
    domain : str
        The domain column.
    keys : list of str
        Columns naming one statistic.

    Returns
    -------
    list of int
        Row positions of recoverable suppressed cells (empty when the table is safe).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"district": [1, 1, 1, 2, 2, 2],
    ...                   "name": ["overall", "a", "b"] * 2,
    ...                   "index_level": ["overall", "factor", "factor"] * 2,
    ...                   "estimate": [0.8, 0.7, 0.9, 0.6, 0.5, 0.7],
    ...                   "n": [50, 50, 4, 60, 60, 60], "flag": ""})
    >>> recovery_audit(suppress(t, domain="district", keys=["name"]), "district")
    []
    """
    keys = [k for k in keys if k in table.columns]
    # disclosure suppression writes its reason (the reliability verdict is in ``flag``)
    col = "flag_reason" if "flag_reason" in table.columns else "flag"
    reasons = table[col].fillna("").astype(str).to_numpy() if col in table.columns else \
        np.full(len(table), "")
    hidden = np.flatnonzero(np.char.find(reasons.astype(str), "suppressed") >= 0)
    if hidden.size == 0:
        return []
    # the attacker's weights of the domains: their sizes, the same for every statistic
    counts = pd.to_numeric(table["n"], errors="coerce").fillna(1)
    n = counts.groupby(table[domain].to_numpy()).transform("max").to_numpy(float)
    level = table["index_level"].to_numpy() if "index_level" in table.columns else None
    equations = []
    for rows in _relation_sets(table, domain, keys):
        coef = np.zeros(len(table))
        if level is not None and len(set(table[domain].iloc[rows])) == 1:
            over = rows[level[rows] == "overall"]
            if over.size != 1:
                continue
            factors = rows[level[rows] != "overall"]
            coef[over] = 1.0
            coef[factors] = -1.0 / len(factors)
        else:
            coef[rows] = n[rows] / n[rows].sum()
        equations.append(coef[hidden])
    if not equations:
        return hidden.tolist()
    matrix = np.array(equations)
    _, sv, vt = np.linalg.svd(matrix)
    rank = int((sv > 1e-10 * max(sv.max(), 1.0)).sum())
    null = vt[rank:]
    free = np.abs(null).max(axis=0) > 1e-9 if len(null) else np.zeros(len(hidden), bool)
    return hidden[~free].tolist()


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
            out[f"compare_{col}"] = _hide_comparisons(out[f"compare_{col}"], hidden,
                                                      index[col])
    return out


def _hide_comparisons(table: pd.DataFrame, hidden: pd.Series,
                      domains: pd.Series) -> pd.DataFrame:
    """Comparison rows that involve a hidden domain, matched on the domain values (a label
    holding " - " cannot hide them); a comparison naming no known pair is hidden too."""
    known = list(dict.fromkeys(str(v) for v in domains))
    secret = {str(v) for v in hidden}
    involves: dict[str, set[str]] = {f"{a} - mean of domains": {a} for a in known}
    involves.update({f"{a} - {b}": {a, b} for a in known for b in known if a != b})
    texts = [str(c) for c in table["comparison"]]
    rows = np.array([bool(involves.get(c, secret) & secret) for c in texts])
    out = _mark(table.copy(), rows, "suppressed (domain)", blank=True)
    if any(c.endswith(" - mean of domains") for c in texts):
        for c in ("difference", "se", "ci_low", "ci_high", "t"):
            if c in out.columns:
                out[c] = np.nan
    return out
