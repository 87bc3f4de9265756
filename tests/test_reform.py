"""Comparisons across the 2025 reform. Oracle: the hand computation of a population-weighted
mean of independent estimates, ``theta = sum w_i theta_i``, ``se = sqrt(sum w_i^2 se_i^2)``."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("vietnamadminunits")

import sipas
from sipas.compare import compare_waves
from sipas.reform import aggregate_to_new, with_new_units


def test_two_provinces_aggregate_as_by_hand():
    # Hà Giang and Tuyên Quang became Tuyên Quang; Cao Bằng stayed itself
    past = pd.DataFrame({"province": ["Hà Giang", "Tuyên Quang", "Cao Bằng"],
                         "estimate": [0.81, 0.66, 0.70], "se": [0.021, 0.034, 0.02],
                         "population": [910_000, 790_000, 540_000], "df": [40, 35, 30]})
    out = aggregate_to_new(past, unit="province", variable="sipas", df="df").table
    tq = out.set_index("province").loc["Tuyên Quang"]
    w1, w2 = 910_000 / 1_700_000, 790_000 / 1_700_000
    assert tq["estimate"] == pytest.approx(w1 * 0.81 + w2 * 0.66, abs=1e-12)
    assert tq["se"] == pytest.approx(math.sqrt(w1**2 * 0.021**2 + w2**2 * 0.034**2), abs=1e-12)
    assert tq["population"] == 1_700_000 and tq["df"] == 35 and tq["n_old"] == 2
    assert not tq["approximate"]
    cb = out.set_index("province").loc["Cao Bằng"]
    assert (cb["estimate"], cb["se"]) == (0.70, 0.02)


def test_split_units_are_approximate_and_shares_must_add_up():
    cw = pd.DataFrame({"old": ["A", "A", "B"], "new": ["X", "Y", "Y"], "share": [0.4, 0.6, 1]})
    past = pd.DataFrame({"unit": ["A", "B"], "estimate": [0.5, 0.8], "se": [0.05, 0.04],
                         "population": [1000, 600]})
    out = aggregate_to_new(past, unit="unit", variable="x", crosswalk=cw).table.set_index("unit")
    w = np.array([600, 600]) / 1200
    assert out.loc["Y", "estimate"] == pytest.approx(w @ [0.5, 0.8], abs=1e-12)
    assert out.loc["Y", "se"] == pytest.approx(math.sqrt(w**2 @ np.array([0.05, 0.04]) ** 2))
    assert out["approximate"].all()
    lossy = cw.assign(share=[0.4, 0.5, 1])
    with pytest.raises(sipas.UnitError, match=r"shares of 'A' add up to 0.9.*lost"):
        aggregate_to_new(past, unit="unit", variable="x", crosswalk=lossy)
    with pytest.raises(sipas.UnitError, match=r"no row for \['B'\]"):
        aggregate_to_new(past, unit="unit", variable="x", crosswalk=cw.iloc[:2])
    with pytest.raises(sipas.UnitError, match="population of every unit must be a positive"):
        aggregate_to_new(past.assign(population=[1000, 0]), unit="unit", variable="x",
                         crosswalk=cw)


def test_split_communes_need_shares():
    past = pd.DataFrame({"commune": ["Tân Thạnh, Thới Lai"], "estimate": [0.5], "se": [0.1],
                         "population": [5000]})
    with pytest.raises(sipas.UnitError, match=r"split between several new units.*share"):
        aggregate_to_new(past, unit="commune", variable="x", level="commune",
                         province="Cần Thơ")


def _design(data):
    return sipas.Design.from_spec(data).subset(data.frame["response"] == 1)


def test_compare_waves_refuses_units_that_changed_and_says_how():
    sd = sipas.datasets.load_demo()
    provinces = np.where(sd.frame["district"] <= 5, "Hà Giang", "Tuyên Quang")
    old = dataclasses.replace(sd, frame=sd.frame.assign(province=provinces))
    new = with_new_units(old, "province", into="province_2025", level="province")
    before = sipas.mean(_design(old), "q23", by="province")
    now = sipas.mean(_design(new), "q23", by="province_2025").to_frame()
    assert set(new.frame["province_2025"]) == {"Tuyên Quang"}
    # the previous wave by old provinces, the current by new ones: refused, with the way out
    current = sipas.mean(_design(dataclasses.replace(
        new, frame=new.frame.assign(province=new.frame["province_2025"]))), "q23",
        by="province")
    with pytest.raises(sipas.EstimationError, match=r"only in the previous wave \['Hà Giang'\]"
                                                    r".*aggregate_to_new.*unmatched='drop'"):
        compare_waves(current, before)
    assert len(compare_waves(current, before, unmatched="drop")) == 1
    # re-expressed from the published table, the comparison is made (and exact here)
    published = before.to_frame().assign(population=[400.0, 400.0])
    reformed = aggregate_to_new(published, unit="province")
    res = compare_waves(current, reformed)
    assert res["comparison"].tolist() == ["Tuyên Quang: current - previous"]
    assert now["estimate"].iloc[0] == pytest.approx(current.to_frame()["estimate"].iloc[0])


def test_approximate_rows_say_so():
    sd = sipas.datasets.load_demo()
    data = dataclasses.replace(sd, frame=sd.frame.assign(unit="Y"))
    current = sipas.mean(_design(data), "q23", by="unit")
    past = pd.DataFrame({"unit": ["A", "B"], "estimate": [4.0, 4.2], "se": [0.1, 0.1],
                         "population": [1000, 600]})
    cw = pd.DataFrame({"old": ["A", "A", "B"], "new": ["X", "Y", "Y"], "share": [0.4, 0.6, 1]})
    reformed = aggregate_to_new(past, unit="unit", variable="q23", crosswalk=cw)
    res = compare_waves(current, reformed, unmatched="drop")
    assert res["comparison"].tolist() == ["Y: current - previous (approximate)"]
