"""The registry of Vietnam's administrative units before and after 1 July 2025, as frames.

The units are data, not guesses: they are read from the files bundled with the
``vietnamadminunits`` package (MIT licence; the optional extra ``sipas[units]``), never from
the network. Its code is not imported (it pulls in geocoding); sipas reads its SQLite table of
units and its JSON crosswalk directly.

* ``era="old"``: the 63 provinces, their districts and 10,040 communes in force until
  30 June 2025;
* ``era="new"``: the 34 provinces and 3,321 communes and wards since 1 July 2025 (no districts).

Codes are the General Statistics Office codes as text (``"04"`` for a province, ``"01273"``
for a commune). A code means different units in the two eras (old ``01273`` is Phường Hợp
Giang, new ``01273`` is Phường Thục Phán): always say which era a code belongs to.

Examples
--------
>>> from sipas.units import provinces
>>> len(provinces("old")), len(provinces("new"))
(63, 34)
>>> provinces("new").set_index("code").loc["04", "name"]
'Cao Bằng'
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from sipas._validate import check_choice
from sipas.errors import UnitError

__all__ = ["Era", "close_names", "communes", "data_version", "locate", "provinces", "unit_key"]

Era = Literal["old", "new"]
SOURCE = "vietnamadminunits"
_PREFIXES = ("thanhpho", "tinh", "tp", "thixa", "quan", "huyen", "phuong", "xa", "thitran",
             "dackhu")


def unit_key(name: Any) -> str:
    """A name as a matching key: no accents, no case, no spaces or punctuation.

    Parameters
    ----------
    name : str
        A unit name in any spelling (``"Hòa An"``, ``"HOA AN"``, ``"hoa-an"``).

    Returns
    -------
    str

    Examples
    --------
    >>> unit_key("Xã Đức Long"), unit_key("xa duc  long")
    ('xaduclong', 'xaduclong')
    """
    text = unicodedata.normalize("NFD", str(name)).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return re.sub(r"[^0-9a-z]", "", text.lower())


def short_key(name: Any) -> str:
    """:func:`unit_key` without the unit type in front (``tinh``, ``huyen``, ``xa`` ...).

    Examples
    --------
    >>> short_key("Huyện Hòa An"), short_key("Thành phố Hồ Chí Minh")
    ('hoaan', 'hochiminh')
    """
    key = unit_key(name)
    for prefix in _PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix):]
    return key


def _data_dir() -> Path:
    """Where the units package keeps its data, found without importing it."""
    found = importlib.util.find_spec(SOURCE)
    if found is None or not found.submodule_search_locations:
        raise UnitError(
            f"administrative units need the package {SOURCE!r}, which is not installed. "
            "Install it with: pip install 'sipas[units]' (or pip install vietnamadminunits).")
    path = Path(next(iter(found.submodule_search_locations))) / "data"
    if not (path / "dataset.db").is_file() or not (path / "converter_2025.json").is_file():
        raise UnitError(f"the data files of {SOURCE!r} are missing under {path}; reinstall it "
                        "(pip install --force-reinstall vietnamadminunits).")
    return path


def data_version() -> str:
    """The version of the units package whose data sipas reads (for provenance).

    Examples
    --------
    >>> data_version().startswith("vietnamadminunits ")
    True
    """
    from importlib.metadata import version

    return f"{SOURCE} {version(SOURCE)}"


@functools.cache
def _table(era: Era) -> pd.DataFrame:
    table = "admin_units_legacy" if era == "old" else "admin_units"
    district = ("districtCode, district, districtShort, districtKey, districtKeywords, "
                if era == "old" else "")
    sql = (f"SELECT provinceCode, province, provinceShort, provinceKey, provinceKeywords, "
           f"{district}wardCode, ward, wardShort, wardType, wardKey, wardKeywords, "
           f"wardLat, wardLon, provinceLat, provinceLon FROM {table}")
    with sqlite3.connect(f"file:{_data_dir() / 'dataset.db'}?mode=ro", uri=True) as con:
        return pd.read_sql_query(sql, con)


@functools.cache
def crosswalk_data() -> dict[str, Any]:
    """The package's crosswalk, as its JSON holds it (keys are :func:`unit_key` spellings)."""
    with open(_data_dir() / "converter_2025.json", encoding="utf-8") as fh:
        return json.load(fh)


def _keywords(raw: Any) -> tuple[str, ...]:
    return tuple(json.loads(raw)) if isinstance(raw, str) and raw else ()


def provinces(era: Era = "new") -> pd.DataFrame:
    """The provinces of one era.

    Parameters
    ----------
    era : {"new", "old"}
        ``new``: the 34 provinces since 1 July 2025; ``old``: the 63 before.

    Returns
    -------
    pandas.DataFrame
        ``code`` (two digits), ``name`` (short: ``"Cao Bằng"``), ``full_name``
        (``"Tỉnh Cao Bằng"``), ``key``, ``keywords`` (matching keys, aliases included),
        ``lat``, ``lon``; sorted by code.

    Raises
    ------
    UnitError
        The units package is not installed.

    Examples
    --------
    >>> provinces("old").set_index("code").loc["02", "name"]
    'Hà Giang'
    """
    check_choice("era", era, ("new", "old"), UnitError)
    t = _table(era).drop_duplicates("provinceCode")
    out = pd.DataFrame({
        "code": t["provinceCode"].astype(str), "name": t["provinceShort"],
        "full_name": t["province"], "key": t["provinceKey"],
        "keywords": [_keywords(k) for k in t["provinceKeywords"]],
        "lat": t["provinceLat"], "lon": t["provinceLon"]})
    return out.sort_values("code").reset_index(drop=True)


def communes(era: Era = "new", province: str | None = None) -> pd.DataFrame:
    """The communes and wards of one era (``xã``, ``phường``, ``thị trấn``, ``đặc khu``).

    Parameters
    ----------
    era : {"new", "old"}
        ``new``: the 3,321 units since 1 July 2025; ``old``: the 10,040 before.
    province : str, optional
        Only the communes of this province of the same era (name or code).

    Returns
    -------
    pandas.DataFrame
        ``code`` (five digits), ``name`` (``"Hòa An"``), ``full_name`` (``"Xã Hòa An"``),
        ``type``, ``province_code``, ``province``; for ``old`` also ``district_code`` and
        ``district``; ``key``, ``keywords``, ``lat``, ``lon``. A few old island districts
        had no communes: their row has an empty commune.

    Raises
    ------
    UnitError
        The units package is not installed, or ``province`` matches no province of the era.

    Examples
    --------
    >>> cb = communes("new", province="Cao Bằng")
    >>> len(cb), cb["province"].unique().tolist()
    (56, ['Cao Bằng'])
    """
    check_choice("era", era, ("new", "old"), UnitError)
    t = _table(era)
    out = pd.DataFrame({
        "code": t["wardCode"], "name": t["wardShort"], "full_name": t["ward"],
        "type": t["wardType"], "province_code": t["provinceCode"].astype(str),
        "province": t["provinceShort"]})
    if era == "old":
        out["district_code"] = t["districtCode"]
        out["district"] = t["districtShort"]
    out["key"] = (t["provinceKey"] + "_" + (t["districtKey"] + "_" if era == "old" else "")
                  + t["wardKey"].fillna(""))
    out["keywords"] = [_keywords(k) for k in t["wardKeywords"]]
    out["lat"], out["lon"] = t["wardLat"], t["wardLon"]
    if province is not None:
        out = out[out["province_code"] == province_code(province, era)]
    return out.sort_values(["province_code", "code"], na_position="first").reset_index(drop=True)


def locate(values: Any, level: str = "commune", era: Era = "new", *,
           province: Any = None, by: str = "name") -> pd.DataFrame:
    """The unit each value names, with its code and coordinates (for maps).

    Parameters
    ----------
    values : sequence
        Unit names in any spelling (``"Hòa An"``, ``"Xã Hòa An"``) or GSO codes.
    level : {"commune", "province"}
        What the values are.
    era : {"new", "old"}
        The units of before or since 1 July 2025.
    province : str or int, optional
        The province of the communes (name or code, of the same era): names repeat across
        provinces.
    by : {"name", "code"}
        Whether the values are names or GSO codes: a survey's own numbering (district 1, 2,
        ...) is never read as a GSO code unless ``by="code"`` says so.

    Returns
    -------
    pandas.DataFrame
        One row per value, in order: ``value, code, name, full_name, lat, lon``.

    Raises
    ------
    UnitError
        A value names no unit of the era, or several (the message lists the closest names
        or the candidates), or has no coordinates in the units package; the units package
        is not installed.

    Examples
    --------
    >>> locate(["Hòa An", "Thục Phán"], province="Cao Bằng")[["value", "code"]].values.tolist()
    [['Hòa An', '01654'], ['Thục Phán', '01273']]
    """
    check_choice("level", level, ("commune", "province"), UnitError)
    check_choice("by", by, ("name", "code"), UnitError)
    table = (provinces(era) if level == "province" else
             communes(era, province=province).dropna(subset=["code"]).reset_index(drop=True))
    width = 2 if level == "province" else 5
    where = f"a {level} of the {era} era" + (f" in {province!r}" if province is not None
                                              else "")
    rows = []
    for value in values:
        code = as_code(value, width)
        if by == "code" and code is None:
            raise UnitError(f"{value!r} is not a GSO code (by='code'); give codes such as "
                            f"{table['code'].iloc[0]!r}, or by='name' for names.")
        hits = ([int(i) for i in table.index[table["code"] == code]] if by == "code"
                else match_keys(str(value), table, width))
        if len(hits) != 1:
            raise UnitError(_no_match_text(value, where, table["name"].tolist(), hits, table))
        row = table.iloc[hits[0]]
        if pd.isna(row["lat"]) or pd.isna(row["lon"]):
            raise UnitError(f"{describe_row(row)} has no coordinates in the units package; "
                            "it cannot be drawn on a point map (a boundary file can).")
        rows.append((value, row["code"], row["name"], row["full_name"], float(row["lat"]),
                     float(row["lon"])))
    return pd.DataFrame(rows, columns=["value", "code", "name", "full_name", "lat", "lon"])


def province_code(value: Any, era: Era) -> str:
    """The code of the province of ``era`` that ``value`` (a name or a code) names.

    Raises
    ------
    UnitError
        No province, or several, match; the message lists the closest names.

    Examples
    --------
    >>> province_code("Cao Bang", "old"), province_code(4, "new")
    ('04', '04')
    """
    table = provinces(era)
    hits = match_keys(value, table, width=2)
    if len(hits) == 1:
        return str(table.loc[hits[0], "code"])
    names = table["name"].tolist()
    raise UnitError(_no_match_text(value, f"a province of the {era} era", names, hits, table))


def match_keys(value: Any, table: pd.DataFrame, width: int) -> list[int]:
    """Row positions of ``table`` that ``value`` names: by code, full name or keyword."""
    code = as_code(value, width)
    if code is not None:
        return [int(i) for i in (table.index[table["code"] == code])]
    key, short = unit_key(value), short_key(value)
    if not key:
        return []
    exact = [int(i) for i, (full, kws) in enumerate(zip(table["full_name"], table["keywords"]))
             if unit_key(full) == key or key in kws]
    if exact:
        return exact
    return [int(i) for i, kws in enumerate(table["keywords"]) if short in kws]


def as_code(value: Any, width: int) -> str | None:
    """``value`` as a GSO code of ``width`` digits if it is a whole number, else None.

    Examples
    --------
    >>> as_code(1654.0, 5), as_code("4", 2), as_code("Hòa An", 5)
    ('01654', '04', None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, float) and float(value).is_integer()):
        return str(int(value)).zfill(width)
    if hasattr(value, "item") and not isinstance(value, str):
        return as_code(value.item(), width)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip().zfill(width)
    return None


def _no_match_text(value: Any, what: str, names: list[str], hits: list[int],
                   table: pd.DataFrame) -> str:
    if hits:
        listed = "; ".join(describe_row(table.iloc[i]) for i in hits[:8])
        return (f"{value!r} names several units ({len(hits)}) and must be {what}: {listed}. "
                "Give the code, or the district/province too.")
    close = close_names(value, names)
    hint = f"Closest names: {close}." if close else "No name is close."
    return f"{value!r} matches no unit; it must be {what}. {hint} Check the spelling or give " \
           "the code."


def close_names(value: Any, names: list[str]) -> list[str]:
    """Up to five ``names`` spelt like ``value``, compared without accents or case.

    Examples
    --------
    >>> close_names("Hoa Ann", ["Hòa An", "Hà Giang", "Hòa Thuận"])
    ['Hòa An']
    """
    import difflib

    keys: dict[str, str] = {}
    for name in names:
        keys.setdefault(short_key(name), name)
    close = difflib.get_close_matches(short_key(value), list(keys), n=5, cutoff=0.75)
    return [keys[k] for k in close]


def describe_row(row: pd.Series) -> str:
    """``"Xã Lê Chung (Hòa An, Cao Bằng; 01300)"``: a unit with what tells it apart."""
    where = [str(row[c]) for c in ("district", "province") if c in row and pd.notna(row[c])
             and row.get("full_name") != row[c]]
    return f"{row['full_name']} ({', '.join([*where, str(row['code'])])})"
