"""Administrative units and the 2025 crosswalk.

Oracle: the ``convert_address`` function of the units package itself (its own address parser
and converter, a code path sipas does not use) for every old commune of a province; the
published counts of the reform (63 -> 34 provinces, 3,321 communes and wards).
"""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("vietnamadminunits")

import sipas
from sipas.units import communes, crosswalk, provinces, recode, to_new


def test_the_registry_has_both_eras():
    assert len(provinces("old")) == 63 and len(provinces("new")) == 34
    assert len(communes("new")) == 3321
    assert communes("old")["code"].dropna().nunique() == 10035
    assert set(provinces("new")["name"]) >= {"Cao Bằng", "Tuyên Quang", "Hồ Chí Minh"}


def test_provinces_merged_or_same():
    out = to_new(["Hà Giang", "Tuyên Quang", "Cao Bằng", 4, "Bà Rịa - Vũng Tàu", "tinh bac kan"],
                 level="province")
    assert out["new"].tolist() == ["Tuyên Quang", "Tuyên Quang", "Cao Bằng", "Cao Bằng",
                                   "Hồ Chí Minh", "Thái Nguyên"]
    assert out["status"].tolist() == ["merged", "merged", "same", "same", "merged", "merged"]
    assert list(out.columns[:6]) == ["value", "old", "old_code", "new", "new_code", "status"]
    walk = crosswalk("province")
    assert len(walk) == 63 and walk["new_code"].nunique() == 34
    assert (walk.groupby("new_code").size() == walk.groupby("new_code")["n_old"].first()).all()


@pytest.mark.parametrize("province", ["Cần Thơ", "Cao Bằng"])
def test_recoding_a_province_agrees_with_the_package_converter(province):
    from vietnamadminunits import convert_address

    old = communes("old", province=province)
    names = [f"{n}, {d}" for n, d in zip(old["full_name"], old["district"])]
    out = to_new(names, province=province)
    assert len(out) == len(old) and out["status"].isin(["same", "merged", "split"]).all()
    for (_, row), commune, district, res in zip(old.iterrows(), old["full_name"],
                                                old["district"], out.itertuples()):
        theirs = convert_address(f"{commune}, {district}, {row['province']}")
        if res.status == "split":
            # the package picks a default new commune; sipas reports all of them
            assert res.new is None and len(res.candidates) >= 2
            assert any(c.startswith(theirs.ward) for c in res.candidates)
        else:
            assert (res.new, res.new_code) == (theirs.ward, theirs.ward_code), commune
    if province == "Cần Thơ":
        assert (out["status"] == "split").sum() == 5


def test_split_communes_are_reported_not_guessed():
    out = to_new(["Tân Thạnh, Thới Lai"], province="Cần Thơ")
    assert out.loc[0, "status"] == "split" and out.loc[0, "new"] is None
    with pytest.raises(sipas.UnitError, match="does not guess"):
        recode(pd.Series(["Tân Thạnh, Thới Lai"]), province="Cần Thơ")
    got = recode(["Tân Thạnh, Thới Lai", "Tân Thạnh, Thới Lai"], province="Cần Thơ",
                 assign={"Tân Thạnh, Thới Lai": "Xã Trường Thành"})
    assert got.tolist() == ["Xã Trường Thành"] * 2
    with pytest.raises(sipas.UnitError, match="one of the new communes"):
        recode(["Tân Thạnh, Thới Lai"], province="Cần Thơ",
               assign={"Tân Thạnh, Thới Lai": "Xã Hòa An"})


def test_codes_and_spellings():
    by_code = to_new([1714, "01714", 1714.0])
    assert set(by_code["old"]) == {"Xã Lê Chung"}
    spelt = to_new(["LE CHUNG", "xã lê chung", "Lê  Chung"], province=4)
    assert set(spelt["new"]) == {"Phường Tân Giang"}


def test_a_name_matching_no_unit_or_several_is_an_error():
    with pytest.raises(sipas.UnitError,
                       match=r"'Le Chungg' matches no old commune.*Closest.*Lê Chung"):
        to_new(["Le Chungg"], province="Cao Bằng")
    with pytest.raises(sipas.UnitError,
                       match=r"'Đức Long' names 2 old communes.*Hòa An.*Thạch An"):
        to_new(["Đức Long"], province="Cao Bằng")
    with pytest.raises(sipas.UnitError, match="matches no unit"):
        communes("old", province="Atlantis")
    report = to_new(["Đức Long", "nowhere"], province="Cao Bằng", on_unknown="report")
    assert report["status"].tolist() == ["unknown", "unknown"]
    assert len(report.loc[0, "candidates"]) == 2 and report.loc[1, "candidates"] == ()
    one = to_new(["Đức Long"], province="Cao Bằng", district="Thạch An")
    assert one.loc[0, "status"] != "unknown"
    with pytest.raises(sipas.UnitError, match="level must be one of"):
        to_new(["x"], level="district")  # type: ignore[arg-type]


def test_missing_package_is_a_clear_error(monkeypatch):
    import importlib.util

    from sipas.units import registry

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    registry._table.cache_clear()
    try:
        with pytest.raises(sipas.UnitError, match=r"pip install 'sipas\[units\]'"):
            provinces("old")
    finally:
        monkeypatch.undo()
        registry._table.cache_clear()


def test_recode_takes_one_district_per_row():
    got = recode(pd.Series(["Đức Long", "Đức Long", "Lê Chung"]), province="Cao Bằng",
                 district=pd.Series(["Hòa An", "Thạch An", "Hòa An"]))
    expected = to_new(["Đức Long, Hòa An", "Đức Long, Thạch An", "Lê Chung, Hòa An"],
                      province="Cao Bằng")["new"].tolist()
    assert got.tolist() == expected and got[0] != got[1]
