"""From the units before 1 July 2025 to the units after: the crosswalk and recoding.

Every old unit gets one of four statuses:

* ``same``: the new unit is exactly the old one (perhaps renamed);
* ``merged``: the old unit lies whole inside a new unit that also holds other old units
  (e.g. Hà Giang in Tuyên Quang);
* ``split``: the old commune was divided between several new communes; which one a
  respondent lives in cannot be told from the commune alone, so sipas reports the new
  candidates and never picks one;
* ``unknown``: the value names no old unit, or several (``to_new(..., on_unknown="report")``).

No province was split in 2025; 471 old communes were.

Examples
--------
>>> from sipas.units import to_new
>>> to_new(["Hà Giang", "Cao Bằng"], level="province")[["old", "new", "status"]]
        old          new  status
0  Hà Giang  Tuyên Quang  merged
1  Cao Bằng     Cao Bằng    same
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, plain
from sipas.errors import UnitError
from sipas.units.registry import (
    close_names,
    communes,
    crosswalk_data,
    describe_row,
    match_keys,
    provinces,
)

__all__ = ["Level", "crosswalk", "recode", "to_new"]

Level = Literal["province", "commune"]
STATUSES = ("same", "merged", "split", "unknown")
RESULT_COLUMNS = ("value", "old", "old_code", "new", "new_code", "status", "candidates")


@functools.cache
def _province_walk() -> pd.DataFrame:
    old, new = provinces("old"), provinces("new")
    old_code = dict(zip(old["key"], old["code"]))
    rows = []
    for new_key, old_keys in crosswalk_data()["DICT_PROVINCE"].items():
        new_row = new[new["key"] == new_key].iloc[0]
        for k in old_keys:
            rows.append((old_code[k], new_row["code"], new_row["name"],
                         "same" if len(old_keys) == 1 else "merged", len(old_keys)))
    walk = pd.DataFrame(rows, columns=["old_code", "new_code", "new", "status", "n_old"])
    walk = old[["code", "name"]].rename(columns={"code": "old_code", "name": "old"}).merge(
        walk, on="old_code", validate="one_to_one")
    walk["n_new"] = 1
    return walk


@functools.cache
def _commune_walk() -> pd.DataFrame:
    data = crosswalk_data()
    new = communes("new")
    new_by_key = {k: i for i, k in enumerate(new["key"])}
    pairs: list[tuple[str, int, bool]] = []  # (old key, new row, old unit is divided)
    for prov, wards in data["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for ward, olds in wards.items():
            pairs += [(o, new_by_key[f"{prov}_{ward}"], False) for o in olds]
    for prov, olds in data["DICT_PROVINCE_WARD_DIVIDED"].items():
        for o, targets in olds.items():
            pairs += [(o, new_by_key[f"{prov}_{t['newWardKey']}"], True) for t in targets]
    walk = pd.DataFrame(pairs, columns=["old_key", "new_row", "divided"])
    walk["n_old"] = walk.groupby("new_row")["old_key"].transform("size")
    walk["n_new"] = walk.groupby("old_key")["new_row"].transform("size")
    walk["status"] = np.where(walk["divided"], "split",
                              np.where(walk["n_old"] == 1, "same", "merged"))
    old = communes("old")
    walk = walk.merge(old[["key", "code", "full_name", "district", "province"]].rename(
        columns={"key": "old_key", "code": "old_code", "full_name": "old",
                 "district": "old_district", "province": "old_province"}),
        on="old_key", how="left", validate="many_to_one")
    picked = new.iloc[walk["new_row"].to_numpy()]
    walk["new_code"] = picked["code"].to_numpy()
    walk["new"] = picked["full_name"].to_numpy()
    walk["new_province"] = picked["province"].to_numpy()
    return walk.drop(columns=["new_row", "divided"])


def crosswalk(level: Level = "commune") -> pd.DataFrame:
    """The whole crosswalk of one level, one row per (old unit, new unit) pair.

    Parameters
    ----------
    level : {"commune", "province"}
        Communes and wards, or provinces.

    Returns
    -------
    pandas.DataFrame
        ``old_code, old, new_code, new, status, n_old, n_new`` (for communes also ``old_key``,
        ``old_district``, ``old_province``, ``new_province``). ``n_old``: old units in the new
        one; ``n_new``: new units the old one went to (more than one only when ``split``).

    Examples
    --------
    >>> walk = crosswalk("commune")
    >>> walk.drop_duplicates("old_key")["status"].value_counts().to_dict()
    {'merged': 9432, 'split': 471, 'same': 137}
    >>> crosswalk("province")["new_code"].nunique()
    34
    """
    check_choice("level", level, ("commune", "province"), UnitError)
    return (_commune_walk() if level == "commune" else _province_walk()).copy()


def to_new(values: Sequence[Any] | pd.Series, level: Level = "commune", *,
           province: str | int | None = None,
           district: str | Sequence[str | None] | None = None,
           on_unknown: Literal["raise", "report"] = "raise") -> pd.DataFrame:
    """Recode old units (names or codes) to the units in force since 1 July 2025.

    Parameters
    ----------
    values : sequence
        Old unit names (``"Lê Chung"``, ``"Xã Lê Chung"``, ``"le chung"``), GSO codes
        (``1300``, ``"01300"``), or ``"commune, district"`` text.
    level : {"commune", "province"}
        What the values are.
    province : str or int, optional
        The old province of the communes (name or code); names are looked up only there.
    district : str or sequence, optional
        The old district of all values, or one per value: tells apart communes of the same
        name in one province.
    on_unknown : {"raise", "report"}
        A value that matches no old unit or several raises :class:`UnitError` (default), or
        gets the status ``unknown`` with the candidates listed.

    Returns
    -------
    pandas.DataFrame
        One row per value, in order: ``value, old, old_code, new, new_code, status,
        candidates``. ``status`` is ``same``, ``merged``, ``split`` or ``unknown``. For a
        ``split`` commune ``new`` and ``new_code`` are empty and ``candidates`` lists the new
        communes it went to; for ``unknown`` it lists the old units the value might mean.

    Raises
    ------
    UnitError
        A value matches no unit or several (with ``on_unknown="raise"``); the message names
        the value and the candidates. The units package is not installed.

    Examples
    --------
    >>> out = to_new(["Lê Chung, Hòa An", "Tân Thạnh, Thới Lai"])
    >>> out[["old", "new", "status"]].values.tolist()
    [['Xã Lê Chung', 'Phường Tân Giang', 'merged'], ['Xã Tân Thạnh', None, 'split']]
    >>> out["candidates"][1]
    ('Xã Tân Thạnh (31666)', 'Xã Trường Thành (31288)')
    """
    check_choice("level", level, ("commune", "province"), UnitError)
    check_choice("on_unknown", on_unknown, ("raise", "report"), UnitError)
    values = list(values)
    districts = _per_value(district, len(values))
    table, walk, width = _level_tables(level, province)
    rows = []
    for value, dist in zip(values, districts):
        hits = _hits(value, dist, table, width)
        if len(hits) != 1:
            if on_unknown == "raise":
                raise UnitError(_unknown_text(value, hits, table, level, province))
            rows.append((value, None, None, None, None, "unknown",
                         tuple(describe_row(table.iloc[i]) for i in hits)))
            continue
        rows.append((value, *_one(table.iloc[hits[0]], walk, level)))
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS), dtype=object)


def _level_tables(level: str, province: Any) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    if level == "province":
        return provinces("old"), _province_walk(), 2
    table = communes("old", province=province).dropna(subset=["code"])
    return table.reset_index(drop=True), _commune_walk(), 5


def _per_value(district: Any, n: int) -> list[Any]:
    if district is None or isinstance(district, str):
        return [district] * n
    district = list(district)
    if len(district) != n:
        raise UnitError(f"district must be one name or one per value ({n}); got "
                        f"{len(district)} districts.")
    return district


def _hits(value: Any, district: Any, table: pd.DataFrame, width: int) -> list[int]:
    if isinstance(value, str) and "," in value and width == 5:
        value, district = (part.strip() for part in value.split(",", 1))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    hits = match_keys(value, table, width)
    if district is not None and len(hits) > 1 and "district" in table:
        dist = match_keys(district, _districts(table), 3)
        wanted = set(_districts(table).iloc[dist]["code"])
        hits = [i for i in hits if table.iloc[i]["district_code"] in wanted]
    return hits


def _districts(table: pd.DataFrame) -> pd.DataFrame:
    from sipas.units.registry import unit_key

    d = table.drop_duplicates("district_code")
    return pd.DataFrame({
        "code": d["district_code"].to_numpy(), "full_name": d["district"].to_numpy(),
        "keywords": [(unit_key(n), *(unit_key(p + n) for p in ("huyen", "quan", "thixa",
                                                                 "thanhpho")))
                     for n in d["district"]]}).reset_index(drop=True)


def _one(row: pd.Series, walk: pd.DataFrame, level: str) -> tuple:
    if level == "province":
        w = walk[walk["old_code"] == row["code"]].iloc[0]
        return row["name"], row["code"], w["new"], w["new_code"], w["status"], ()
    w = walk[walk["old_key"] == row["key"]]
    status = str(w["status"].iloc[0])
    if status == "split":
        return (row["full_name"], row["code"], None, None, status,
                tuple(f"{n} ({c})" for n, c in zip(w["new"], w["new_code"])))
    return row["full_name"], row["code"], w["new"].iloc[0], w["new_code"].iloc[0], status, ()


def _unknown_text(value: Any, hits: list[int], table: pd.DataFrame, level: str,
                  province: Any) -> str:
    where = f" of {province!r}" if province is not None else ""
    if hits:
        listed = "; ".join(describe_row(table.iloc[i]) for i in hits[:8])
        more = f" and {len(hits) - 8} more" if len(hits) > 8 else ""
        return (f"{plain(value)!r} names {len(hits)} old {level}s{where}: {listed}{more}. "
                "Give the code, the district (district=..., or 'commune, district'), or the "
                "province.")
    close = close_names(value, table["name"].dropna().unique().tolist())
    hint = f" Closest names: {close}." if close else ""
    return (f"{plain(value)!r} matches no old {level}{where}.{hint} Check the spelling, give "
            "the GSO code, or pass on_unknown='report' to list every such value.")


def recode(values: Sequence[Any] | pd.Series, level: Level = "commune", *,
           province: str | int | None = None,
           district: str | Sequence[str | None] | None = None,
           assign: Mapping[Any, str] | None = None) -> pd.Series:
    """The new unit of every row of a column of old units, for re-estimating on new units.

    Parameters
    ----------
    values : sequence or pandas.Series
        The old unit of each respondent (names or codes; repeated values are looked up once).
    level, province, district
        As in :func:`to_new`.
    assign : mapping, optional
        For split communes, the new unit to give their respondents ({old value: new commune
        name}), decided by the user from addresses or maps. Without it a split commune is an
        error: sipas never picks one of the new communes itself.

    Returns
    -------
    pandas.Series
        The new unit's name per row, with the index of ``values``.

    Raises
    ------
    UnitError
        A value matches no unit or several; a split commune not in ``assign``, or assigned to
        a commune it did not go to.

    Examples
    --------
    >>> recode(["Hà Giang", "Bắc Kạn", "Hà Giang"], level="province").tolist()
    ['Tuyên Quang', 'Thái Nguyên', 'Tuyên Quang']
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values))
    keys = series.astype(object).where(series.notna(), None).tolist()
    pairs = list(zip(keys, _per_value(district, len(keys))))
    unique = list(dict.fromkeys(pairs))
    table = to_new([v for v, _ in unique], level, province=province,
                   district=[d for _, d in unique])
    assign = dict(assign or {})
    new = {}
    for pair, name, status, candidates in zip(unique, table["new"], table["status"],
                                              table["candidates"]):
        new[pair] = _assigned(pair[0], assign, candidates) if status == "split" else name
    return pd.Series([new[p] for p in pairs], index=series.index, name=series.name,
                     dtype=object)


def _assigned(value: Any, assign: Mapping[Any, str], candidates: tuple[str, ...]) -> str:
    names = [c.rsplit(" (", 1)[0] for c in candidates]
    if value not in assign:
        raise UnitError(
            f"old commune {plain(value)!r} was split between {len(names)} new communes "
            f"({'; '.join(candidates)}); sipas does not guess which one a respondent lives in. "
            f"Pass assign={{{plain(value)!r}: <one of {names}>}} decided from the addresses.")
    chosen = assign[value]
    if chosen not in names:
        raise UnitError(f"assign[{plain(value)!r}] must be one of the new communes it went to "
                        f"{names}; got {chosen!r}.")
    return chosen
