"""Comparisons and ranks. References: closed forms for differences; multipletests."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

import sipas
from sipas.compare import compare_domains, compare_waves, rank_domains


@pytest.fixture(scope="module")
def est():
    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    return sipas.mean(d, "p03", by="district")


def test_reference_differences_use_the_covariance(est):
    out = compare_domains(est, reference="1.0", adjust="none")
    v = est.vcov().to_numpy()
    e = est.table["estimate"].to_numpy()
    row = out.iloc[0]  # district 2 - district 1
    assert row["difference"] == pytest.approx(e[1] - e[0], rel=1e-12)
    assert row["se"] == pytest.approx(np.sqrt(v[1, 1] + v[0, 0] - 2 * v[0, 1]), rel=1e-12)


def test_adjustment_is_statsmodels_holm(est):
    raw = compare_domains(est, pairs=True, adjust="none")
    holm = compare_domains(est, pairs=True, adjust="holm")
    assert len(raw) == 45
    np.testing.assert_allclose(holm["p_adjusted"], multipletests(raw["p_value"], method="holm")[1])
    assert (holm["p_adjusted"] >= raw["p_value"] - 1e-15).all()


def test_waves_are_independent_samples(est):
    out = compare_waves(est, est)
    assert np.allclose(out["difference"], 0)
    np.testing.assert_allclose(out["se"], np.sqrt(2) * est.table["se"], rtol=1e-12)


def test_ranks_seeded_and_sensible(est):
    a = rank_domains(est, n_sim=2000, rng=3)
    b = rank_domains(est, n_sim=2000, rng=3)
    assert a.equals(b)
    assert ((a["rank_low"] <= a["rank"]) & (a["rank"] <= a["rank_high"])).all()
    assert a["p_first"].sum() == pytest.approx(1.0)


def test_errors(est):
    with pytest.raises(sipas.EstimationError, match="reference"):
        compare_domains(est, reference="district=99")
    single = sipas.mean(sipas.Design.from_spec(sipas.datasets.load_demo()), "p03")
    with pytest.raises(sipas.EstimationError, match="by= domains"):
        compare_domains(single)


def test_reference_by_code_or_label(est):
    a = compare_domains(est, reference="district=1", adjust="none")
    b = compare_domains(est, reference="1.0", adjust="none")
    assert a.equals(b) and len(a) == 9


def test_tied_domains_share_the_best_rank(est):
    table = est.to_frame()
    table.loc[1, "estimate"] = table.loc[0, "estimate"]
    tied = sipas.Estimate(table, est.statistic, est.level, est.ci, est.by, est.basis)
    ranks = rank_domains(tied, n_sim=200, rng=1)
    assert ranks.loc[0, "rank"] == ranks.loc[1, "rank"]
