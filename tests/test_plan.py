"""Sample size, allocation and selection: closed forms and R ``sampling``.

Sizes: ``n = n0 deff / (1 + n0 deff / N)``, ``n0 = z^2 p (1 - p) / e^2``, with the deff
``1 + (m - 1) rho`` and Kish's ``1 + cv^2``. Allocation: proportional ``n N_h / N`` and
Neyman ``n N_h S_h / sum N_k S_k`` (Cochran 1977, 5.25). Inclusion probabilities: R
``sampling::inclusionprobabilities`` (tests/oracle/planning/planning_oracle.R).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sipas.errors import PlanError
from sipas.plan import allocate, inclusion_probabilities, sample_size, select

HERE = Path(__file__).parent / "oracle" / "planning"
Z = stats.norm.ppf(0.975)


def test_sample_size_closed_form_with_deff_and_fpc():
    p, e, rho, m, cv = 0.7, 0.04, 0.06, 15, 0.5
    deff = (1 + cv**2) * (1 + (m - 1) * rho)
    n0 = Z**2 * p * (1 - p) / e**2
    n = n0 * deff / (1 + n0 * deff / 5000)
    s = sample_size(p=p, margin=e, icc=rho, take=m, kish=1 + cv**2, population=5000,
                    response_rate=0.75)
    assert s.deff == pytest.approx(deff)
    assert s.respondents == int(np.ceil(n))
    assert s.selected == int(np.ceil(np.ceil(n) / 0.75))
    assert s.clusters == int(np.ceil(np.ceil(n) / m))
    assert sample_size(p=p, margin=e, deff=deff, population=5000).respondents == s.respondents


def test_sample_size_relative_margin_of_a_mean_and_domains():
    s = sample_size(sd=[1.0, 2.0], mean=[10.0, 10.0], relative=True, margin=0.02,
                    population=pd.Series([1e6, 1e6], index=["a", "b"]))
    n0 = Z**2 * np.array([1.0, 4.0]) / 0.2**2
    assert s.respondents.tolist() == np.ceil(n0 / (1 + n0 / 1e6)).astype(int).tolist()
    assert s.to_frame()["domain"].tolist() == ["a", "b"]


def test_sample_size_refuses_what_the_population_cannot_deliver():
    with pytest.raises(PlanError, match=r"domain 'small'.*population of 300"):
        sample_size(p=0.5, margin=0.02, deff=2.0, response_rate=0.5,
                    population=pd.Series([1e6, 300], index=["big", "small"]))
    with pytest.raises(PlanError, match=r"take.*positive"):
        sample_size(p=0.5, margin=0.05, icc=0.1, take=0)
    with pytest.raises(PlanError, match="p must be in"):
        sample_size(p=1.2, margin=0.05)


@pytest.mark.parametrize("method", ["proportional", "neyman", "power", "equal"])
def test_allocation_adds_to_n_and_respects_bounds(method):
    rng = np.random.default_rng(1)
    pop = rng.integers(50, 5000, 3300).astype(float)
    sd = rng.uniform(0.2, 0.5, 3300)
    a = allocate(pop, 40000, method, sd=sd, minimum=5, maximum=60)
    assert a.sizes.sum() == 40000 and a.sizes.dtype == np.int64
    assert a.sizes.min() >= 5 and a.sizes.max() <= 60


def test_allocation_closed_forms():
    pop, sd = np.array([4000.0, 2500, 1000, 500]), np.array([0.3, 0.5, 0.45, 0.2])
    prop = allocate(pop, 800).sizes
    assert np.abs(prop - 800 * pop / pop.sum()).max() < 1
    ney = allocate(pop, 800, "neyman", sd=sd).sizes
    assert np.abs(ney - 800 * pop * sd / np.sum(pop * sd)).max() < 1
    assert allocate(pop, 800, "equal").sizes.tolist() == [200] * 4
    assert allocate(pop, 800, "power", sd=sd, power=1.0).sizes.tolist() == ney.tolist()
    a = allocate(pop, 800, "neyman", sd=sd)
    w = pop / pop.sum()
    se = np.sqrt(np.sum(w**2 * sd**2 * (1 - a.sizes / pop) / a.sizes))
    assert a.se_overall == pytest.approx(se)
    # Neyman is the best allocation for the whole
    assert a.se_overall <= allocate(pop, 800, sd=sd).se_overall


def test_allocation_bad_input():
    with pytest.raises(PlanError, match=r"'b'.*positive"):
        allocate(pd.Series([10, 0, 5], index=["a", "b", "c"]), 5)
    with pytest.raises(PlanError, match="at most the population"):
        allocate([10, 20], 31)
    with pytest.raises(PlanError, match="stratum 1: the minimum 30"):
        allocate([100, 20], 50, minimum=30)
    with pytest.raises(PlanError, match="sd"):
        allocate([100, 20], 50, "neyman")


def test_inclusion_probabilities_match_r_sampling():
    ref = pd.read_csv(HERE / "inclusion_probabilities.csv")
    for _, case in ref.groupby("case"):
        pi = inclusion_probabilities(case["size"].to_numpy(), int(case["n"].iloc[0]))
        np.testing.assert_allclose(pi, case["pi"], atol=1e-12)
    with pytest.raises(PlanError, match=r"sizes\[1\].*size zero"):
        inclusion_probabilities([3, 0, 2], 1)


def test_select_pps_is_reproducible_and_weights_estimate_the_size_total():
    rng = np.random.default_rng(3)
    f = pd.DataFrame({"commune": range(500), "district": rng.integers(1, 6, 500),
                      "users": rng.lognormal(6, 1, 500)})
    f.loc[7, "users"] = 1e6  # a certainty unit
    a = select(f, 20, size="users", strata="district", seed=11)
    b = select(f, 20, size="users", strata="district", seed=11)
    assert a.frame.equals(b.frame) and len(a) == 100
    rep = a.summary()
    np.testing.assert_allclose(rep["size_estimate"], rep["size_total"])
    assert bool(a.frame.set_index("commune").loc[7, "certainty"])


def test_two_stages_give_weights_a_design_reads():
    import sipas

    communes = pd.DataFrame({"commune": range(40), "district": np.repeat([1, 2], 20),
                             "users": np.arange(40) * 10.0 + 50})
    people = pd.DataFrame({"commune": np.repeat(range(40), 30), "person": range(1200)})
    first = select(communes, 5, size="users", strata="district", seed=2)
    second = select(people, 8, method="srs", strata="commune", within=first, seed=3)
    f = second.frame.merge(communes[["commune", "district"]], on="commune")
    assert len(f) == 80 and np.allclose(f["prob"], f["prob_2"] * f["prob_1"])
    assert np.allclose(f["prob_1"], f["commune"].map(first.frame.set_index("commune")["prob"]))
    d = sipas.Design(f, ids=("commune", "person"), strata="district", weights="weight")
    assert d.n == 80


def test_select_bad_input():
    f = pd.DataFrame({"id": range(4), "h": [1, 1, 2, 2], "x": [1.0, 0.0, 2.0, 3.0]})
    with pytest.raises(PlanError, match=r"stratum 1.*size 0"):
        select(f, 1, size="x", strata="h")
    with pytest.raises(PlanError, match="stratum 2 has 2 units but 3"):
        select(f.assign(x=1.0), {1: 1, 2: 3}, size="x", strata="h")


def test_precision_splits_the_deff_into_kish_and_clustering():
    import sipas
    from sipas.plan import precision

    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    t = precision(d, sipas.proportion(d, "p01", value=1, by="district"), by="district")
    t = t.to_frame()
    diag = sipas.weight_diagnostics(d, by="district")
    np.testing.assert_allclose(t["kish"], diag["kish_deff"])  # Kish 1 + cv^2
    np.testing.assert_allclose(t["kish"] * (1 + (t["take_weighted"] - 1) * t["icc"]),
                               t["deff"])
    assert (t["clusters"] == 4).all()


def test_precision_with_equal_weights_is_the_icc_formula():
    # equal weights: kish = 1 and the weighted take is sum m_c^2 / n
    import sipas
    from sipas.plan.precision import _parts

    f = pd.DataFrame({"c": np.repeat([1, 2, 3], [2, 3, 5]), "y": np.arange(10.0)})
    d = sipas.Design(f.assign(w=1.0), ids="c", weights="w")
    parts = _parts(d, d.frame, []).iloc[0]
    assert parts["kish"] == pytest.approx(1.0)
    assert parts["take_weighted"] == pytest.approx((4 + 9 + 25) / 10)


def test_cli_plan_writes_its_tables_inside_out(tmp_path):
    from sipas.cli import main

    out = tmp_path / "plan"
    assert main(["plan", "--out", str(out), "--margin", "0.08", "--n", "900",
                 "--method", "neyman"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["plan_allocation.csv",
                                                     "plan_precision.csv", "plan_sizes.csv"]
    assert pd.read_csv(out / "plan_allocation.csv", encoding="utf-8-sig")["size"].sum() == 900
    assert main(["plan", "--out", str(out)]) == 2  # not empty: refused


def test_pipeline_plan_section_adds_the_plan_tables(tmp_path):
    import dataclasses

    from sipas.pipeline import demo_pipeline_path, load_pipeline, run

    p = load_pipeline(demo_pipeline_path())
    quick = dataclasses.replace(p, par={}, published=None, compare={},
                                indices=dataclasses.replace(p.indices, by=()),
                                plan={"variable": "p01", "by": "district", "margin": 0.08,
                                      "n": 1000, "method": "neyman"})
    res = run(quick)
    assert {"plan_precision", "plan_sizes", "plan_allocation"} <= set(res.tables)
    assert res.tables["plan_allocation"]["size"].sum() == 1000
    import shutil

    shutil.copy(demo_pipeline_path().parent / "demo.sav", tmp_path / "demo.sav")
    (tmp_path / "p.toml").write_text(
        '[input]\ndata = "demo.sav"\nspec = "demo"\n[plan]\nvariable = "p01"\n'
        'by = "district"\nmargin = 0.1\nmethod = "neyman"\n', encoding="utf-8")
    assert load_pipeline(tmp_path / "p.toml").plan["method"] == "neyman"
    (tmp_path / "q.toml").write_text(
        '[input]\ndata = "demo.sav"\nspec = "demo"\n[plan]\nmethd = "neyman"\n',
        encoding="utf-8")
    with pytest.raises(Exception, match="method"):
        load_pipeline(tmp_path / "q.toml")
