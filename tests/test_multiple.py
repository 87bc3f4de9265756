"""Multiple-response questions (sipas.multiple_response) and question sets in the spec.

Oracles: the share of respondents is sipas.proportion of each option's indicator built here
with pandas; the share of responses is computed by hand (ratio of weighted totals) with its
linearised SE written out for a stratified with-replacement design
(``v = sum_h n_h/(n_h - 1) sum_i (z_hi - zbar_h)^2``, z the PSU totals of the influence
``w (t_j - s_j T) / sum w T``), and checked against sipas.ratio on a multistage design.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sipas
from sipas.spec import parse_spec


@pytest.fixture(scope="module")
def demo():
    sd = sipas.datasets.load_demo()
    return sd, sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)


def _indicators(frame, options, missing=(7, 8, 9, 99)):
    vals = frame[options].astype(float)
    valid = vals.notna() & ~vals.isin(missing)
    base = valid.any(axis=1)
    ticks = (vals == 1) & valid
    ind = ticks.astype(float).where(base)
    return ind, ticks.sum(axis=1).astype(float).where(base)


def test_share_of_respondents_is_the_proportion_of_each_indicator(demo):
    sd, d = demo
    res = sipas.multiple_response(d, "needs", spec=sd.spec, rng=1)
    options = list(sd.spec.question_set("needs").options)
    ind, _ = _indicators(d.frame, options)
    d2 = d.with_columns({f"t_{o}": ind[o] for o in options})
    ref = sipas.proportion(d2, [f"t_{o}" for o in options], value=1).to_frame()
    got = res.respondents.to_frame()
    for c in ("estimate", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(got[c], ref[c], rtol=1e-12)


def test_share_of_responses_by_hand():
    rng = np.random.default_rng(11)
    n = 300
    df = pd.DataFrame({"st": np.repeat([1, 2, 3], 100), "psu": np.arange(n) // 5,
                       "w": rng.uniform(1, 3, n)})
    for j, p in enumerate([0.5, 0.3, 0.2]):
        df[f"o{j}"] = np.where(rng.uniform(size=n) < p, 1.0, 2.0)
    df.loc[:9, ["o0", "o1", "o2"]] = np.nan  # not asked: out of the base
    d = sipas.Design(df, ids="psu", strata="st", weights="w")
    res = sipas.multiple_response(d, ["o0", "o1", "o2"], rng=1)
    got = res.responses.to_frame()
    base = df[["o0", "o1", "o2"]].notna().any(axis=1)
    t = (df[["o0", "o1", "o2"]] == 1).astype(float)[base]
    w = df["w"][base]
    total = t.sum(axis=1)
    for j in range(3):
        s = (w * t[f"o{j}"]).sum() / (w * total).sum()
        # rows outside the base stay in the design with zero influence (a domain, as R)
        z = (w * (t[f"o{j}"] - s * total) / (w * total).sum()).reindex(df.index, fill_value=0)
        psu = z.groupby([df["st"], df["psu"]]).sum()
        var = 0.0
        for _, zh in psu.groupby(level=0):
            nh = len(zh)
            var += nh / (nh - 1) * ((zh - zh.mean()) ** 2).sum()
        assert got["estimate"][j] == pytest.approx(s, rel=1e-12)
        assert got["se"][j] == pytest.approx(np.sqrt(var), rel=1e-9)
    assert got["estimate"].sum() == pytest.approx(1.0)


def test_share_of_responses_is_sipas_ratio_on_the_demo(demo):
    sd, d = demo
    options = list(sd.spec.question_set("needs").options)
    res = sipas.multiple_response(d, "needs", spec=sd.spec, by="urban", rng=1)
    ind, count = _indicators(d.frame, options)
    d2 = d.with_columns({**{f"t_{o}": ind[o] for o in options}, "T": count})
    ref = sipas.ratio(d2, [f"t_{o}" for o in options], "T", by="urban").to_frame()
    got = res.responses.to_frame()
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-12)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-12)


def test_ranks_are_valid_sets(demo):
    sd, d = demo
    res = sipas.multiple_response(d, "needs", spec=sd.spec, rng=3)
    r = res.ranks()
    assert (r["rank_low"] <= r["rank"]).all() and (r["rank"] <= r["rank_high"]).all()
    assert r.sort_values("estimate", ascending=False)["rank"].tolist() == [1, 2, 3, 4, 5]
    # clearly different shares get single ranks
    n = 2000
    df = pd.DataFrame({"psu": np.arange(n), "w": 1.0})
    rng = np.random.default_rng(0)
    for j, p in enumerate([0.9, 0.5, 0.1]):
        df[f"o{j}"] = (rng.uniform(size=n) < p).astype(float)
    r2 = sipas.multiple_response(sipas.Design(df, ids="psu", weights="w"),
                                 ["o0", "o1", "o2"], selected=[1], rng=1).ranks()
    assert r2["rank_low"].tolist() == [1, 2, 3] and r2["rank_high"].tolist() == [1, 2, 3]
    with pytest.raises(AttributeError):
        res.name = "x"
    assert "feedback" in res.summary()


def test_bad_input(demo):
    sd, d = demo
    with pytest.raises(sipas.DesignError, match="zz"):
        sipas.multiple_response(d, ["e1", "zz"])
    with pytest.raises(sipas.DesignError, match="at least two option"):
        sipas.multiple_response(d, ["e1"])
    with pytest.raises(sipas.SpecError, match="needz"):
        sipas.multiple_response(d, "needz", spec=sd.spec)
    base = {"survey": {"name": "x", "respondent_id": "id"},
            "scales": {"yn": {"codes": [1, 2], "satisfied": [1]}},
            "items": [{"name": "q1", "scale": "yn"}]}
    with pytest.raises(sipas.SpecError, match="at least two option columns"):
        parse_spec({**base, "question_sets": [{"name": "needs", "options": ["a"]}]})
    with pytest.raises(sipas.SpecError, match="optoins"):
        parse_spec({**base, "question_sets": [{"name": "n", "optoins": ["a", "b"]}]})
    spec = parse_spec({**base, "question_sets": [{"name": "n", "options": ["a", "b"],
                                                  "option_labels": {"en": ["A", "B"]}}]})
    assert spec.question_set("n").option_labels["en"] == ("A", "B")
