"""Lonely PSUs against R ``survey`` 4.1-1: every ``lonely_mean`` / ``lonely_total`` case of
tests/oracle/models/cases.json (made by oracle-tools/public_models_oracle.R, README there).

The design is apiclus1 with artificial strata ``region`` (stratum B has one district) with
and without the fpc ``fpc_region``; R sets ``options(survey.lonely.psu=,
survey.adjust.domain.lonely=)`` and estimates with ``svymean``/``svytotal`` and
``svyby(~api00, ~stype, design, svymean)``. Estimates and SEs must agree to 1e-9.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import sipas

MODELS = Path(__file__).parent / "oracle" / "models"


@cache
def lonely_cases() -> tuple[dict[str, Any], ...]:
    cases = json.loads((MODELS / "cases.json").read_text(encoding="utf-8"))["cases"]
    return tuple(c for c in cases if c["estimator"] in ("lonely_mean", "lonely_total"))


@cache
def apiclus1() -> pd.DataFrame:
    return pd.read_csv(MODELS / "apiclus1.csv")


def build(case: dict[str, Any]) -> sipas.Design:
    spec = case["design"]
    return sipas.Design(apiclus1(), ids=spec["ids"], strata=spec["strata"],
                        weights=spec["weights"], fpc=spec["fpc"] or None, nest=spec["nest"],
                        lonely_psu=spec["lonely_psu"],
                        lonely_domain=bool(spec.get("lonely_domain", False)))


def test_all_fifty_cases_are_here():
    assert len(lonely_cases()) == 50


@pytest.mark.parametrize("case", [c for c in lonely_cases()
                                  if c["design"]["lonely_psu"] != "fail"], ids=lambda c: c["id"])
def test_lonely_case_matches_r(case):
    design = build(case)
    fn = sipas.mean if case["estimator"] == "lonely_mean" else sipas.total
    by = case["domain"]["by"] if case["domain"] else None
    got = fn(design, case["variable"]["name"], by=by).to_frame()
    want = case["expected"]
    assert len(got) == len(want)
    for row, exp in zip(got.itertuples(), want):
        if by:
            assert str(getattr(row, by[0])) == str(exp["domain"][by[0]])
        assert math.isclose(row.estimate, exp["estimate"], rel_tol=1e-9)
        assert math.isclose(row.se, exp["se"], rel_tol=1e-9), (row.se, exp["se"])


@pytest.mark.parametrize("case", [c for c in lonely_cases()
                                  if c["design"]["lonely_psu"] == "fail"], ids=lambda c: c["id"])
def test_lonely_fail_case_raises_like_r(case):
    """R: 'Stratum (B) has only one PSU at stage 1'."""
    with pytest.raises(sipas.DesignError, match=r"'region'.*stratum 'B'.*stage 1"):
        build(case)


def test_average_leaves_a_domain_outside_the_lonely_stratum_alone():
    """R counts, per domain, only the strata with a PSU in the domain: a domain absent from
    the lonely stratum B gets the same variance under 'average' as under 'remove'."""
    frame = apiclus1()
    in_b = set(frame.loc[frame["region"] == "B", "stype"])
    absent = sorted(set(frame["stype"]) - in_b)
    assert absent, "the data no longer have a domain outside stratum B"
    common = {"ids": "dnum", "strata": "region", "weights": "pw"}
    avg = sipas.mean(sipas.Design(frame, lonely_psu="average", **common), "api00",
                     by="stype").to_frame().set_index("stype")
    rem = sipas.mean(sipas.Design(frame, lonely_psu="remove", **common), "api00",
                     by="stype").to_frame().set_index("stype")
    for d in absent:
        assert avg.loc[d, "se"] == pytest.approx(rem.loc[d, "se"], rel=1e-12)
    for d in in_b:
        assert avg.loc[d, "se"] > rem.loc[d, "se"]


def test_lonely_rules_on_the_sparse_path_agree_with_the_dense_path():
    """An element-level design with many domains takes the sparse engine path; it must give
    the dense path's numbers under every rule and both domain options."""
    frame = apiclus1().assign(cell=lambda f: f["snum"] % 97)
    for rule in ("adjust", "average", "remove"):
        for dom in (False, True):
            for corrected in (False, True):
                d = sipas.Design(frame, ids="dnum", strata="region", weights="pw",
                                 lonely_psu=rule, lonely_domain=dom,
                                 lonely_corrected=corrected)
                est = sipas.total(d, "api00", by="cell")
                basis = est.basis
                dense = basis.engine.var(np.asarray(basis.values.todense())
                                         if hasattr(basis.values, "todense")
                                         else basis.values, basis.support)
                sp = basis.engine.var(sparse.csr_matrix(basis.values), basis.support)
                np.testing.assert_allclose(sp, dense, rtol=1e-9, atol=1e-6)


# ---------------------------------------------------------------------- stages and corrections
# tests/oracle/lonely/lonely_stages.R: R 4.1-1 ("r41") for a two-stage design with
# second-stage singletons (apiclus2, fpc2s) and the region strata of apiclus1; R 4.5 ("r45",
# survey.use_rcpp=FALSE) for the corrected stage-1 'adjust' centring.

@cache
def stage_values() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "oracle" / "lonely" / "lonely_stages.json")
                      .read_text(encoding="utf-8"))


@cache
def apiclus2() -> pd.DataFrame:
    frame = pd.read_csv(MODELS / "apiclus2.csv")
    return frame.assign(fpc2s=np.where(frame["fpc2"] == 1, 4, frame["fpc2"]))


def stage_design(key: str, rule: str, dom: bool, corrected: bool) -> sipas.Design:
    opts = {"lonely_psu": rule, "lonely_domain": dom, "lonely_corrected": corrected}
    if key == "clus2":
        return sipas.Design(apiclus2(), ids=["dnum", "snum"], fpc=["fpc1", "fpc2s"], **opts)
    fpc = "fpc_region" if key == "clus1_region_fpc" else None
    return sipas.Design(apiclus1(), ids="dnum", strata="region", weights="pw", fpc=fpc, **opts)


def check_against(values: dict[str, Any], case: str, corrected: bool) -> None:
    key, rest = case.split("_remove_") if "_remove_" in case else (None, None)
    for rule in ("remove", "certainty", "adjust", "average"):
        if f"_{rule}_" in case:
            key, rest = case.split(f"_{rule}_")
            break
    dom, stat, scope = rest.split("_", 2)
    by = "stype" if scope == "by_stype" else None
    design = stage_design(key, rule, dom == "domlonely", corrected)
    fn = sipas.mean if stat == "mean" else sipas.total
    got = fn(design, "api00", by=by).to_frame()
    for row, exp in zip(got.itertuples(), values[case], strict=True):
        assert math.isclose(row.estimate, exp["estimate"], rel_tol=1e-9)
        if exp["se"] is None:  # R: NaN (average with a lonely unit at stage 2)
            assert np.isnan(row.se), case
        else:
            assert math.isclose(row.se, exp["se"], rel_tol=1e-9), (case, row.se, exp["se"])


@pytest.mark.parametrize("case", sorted(stage_values()["r41"]["values"]))
def test_stage_cases_match_r_4_1(case):
    check_against(stage_values()["r41"]["values"], case, corrected=False)


@pytest.mark.parametrize("case", sorted(c for c in stage_values()["r45"]["values"]
                                        if c.startswith("clus1_region")))
def test_corrected_stage_one_matches_r_4_5(case):
    check_against(stage_values()["r45"]["values"], case, corrected=True)


def test_second_stage_average_corrected_averages_over_all_parent_units():
    """Closed form: with ``lonely_corrected`` the stage-2 sum of the PSUs with two or more
    sampled schools is multiplied by #PSUs / #PSUs with a stage-2 variance; the stage-1 part
    (the one-stage design of the districts) is unchanged. R 4.1-1 and 4.5 give NaN here."""
    frame = apiclus2()
    n2 = frame.groupby("dnum")["snum"].transform("size")
    n1 = frame["dnum"].nunique()
    frame = frame.assign(w=frame["fpc1"] / n1 * frame["fpc2s"] / n2)
    two = {"ids": ["dnum", "snum"], "weights": "w"}
    v1 = sipas.total(sipas.Design(frame, ids="dnum", fpc="fpc1", weights="w"),
                     "api00").to_frame()["se"].iloc[0] ** 2
    v_remove = sipas.total(sipas.Design(frame, fpc=["fpc1", "fpc2s"], lonely_psu="remove",
                                        **two), "api00").to_frame()["se"].iloc[0] ** 2
    v_avg = sipas.total(sipas.Design(frame, fpc=["fpc1", "fpc2s"], lonely_psu="average",
                                     lonely_corrected=True, **two),
                        "api00").to_frame()["se"].iloc[0] ** 2
    lonely = int(((n2 == 1) & (frame["fpc2s"] > 1)).groupby(frame["dnum"]).first().sum())
    assert lonely == 10
    assert v_avg == pytest.approx(v1 + (v_remove - v1) * n1 / (n1 - lonely), rel=1e-12)
