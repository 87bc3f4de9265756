"""Index trees: every node equals a linear combination of item ratio estimators.

The reference is computed by hand: item shares and means from ``sipas.mean`` (one call, so
their joint covariance comes from ``vcov()``), times weight vectors written out below; the
tree code is not used to make them. Taylor and jackknife designs; by domain and overall.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

import sipas
from sipas.errors import SpecError

SAT = [f"q{i:02d}" for i in range(1, 23)]
NODES = [
    {"name": "access", "items": ["q01", "q02", "q03", "q04"]},
    {"name": "procedures", "items": ["q05", "q06", "q07", "q08", "q09"],
     "weights": [1, 2, 1, 1, 1]},
    {"name": "officials", "items": ["q10", "q11", "q12", "q13", "q14"]},
    {"name": "results", "items": ["q15", "q16", "q17", "q18"]},
    {"name": "feedback", "items": ["q19", "q20", "q21", "q22"]},
    {"name": "perception", "items": ["p03"], "measure": "mean"},
    {"name": "service", "children": ["access", "procedures", "officials"],
     "weights": [2, 1, 1]},
    {"name": "outcome", "children": ["results", "feedback", "perception"],
     "weights": [1, 1, 0]},
    {"name": "sipas", "children": ["service", "outcome"], "weights": [3, 1]},
]


def tree_spec(sd, nodes=NODES, aggregate="items"):
    data = tomllib.loads(Path(sd.spec.source).read_text(encoding="utf-8"))
    data.pop("factors")
    data["margins"] = []
    data["nodes"] = nodes
    data["index"] = {"measure": "top_box", "aggregate": aggregate}
    return sipas.spec.parse_spec(data)


def hand_weights() -> dict[str, np.ndarray]:
    """Weights of each node on the columns [q01_top .. q22_top, p02_top, p03] by hand."""
    cols = [*SAT, "p02", "p03"]

    def on(items, w):
        v = np.zeros(len(cols))
        for it, x in zip(items, w):
            v[cols.index(it)] = x
        return v

    out = {
        "access": on(SAT[0:4], [1 / 4] * 4),
        "procedures": on(SAT[4:9], [1 / 6, 2 / 6, 1 / 6, 1 / 6, 1 / 6]),
        "officials": on(SAT[9:14], [1 / 5] * 5),
        "results": on(SAT[14:18], [1 / 4] * 4),
        "feedback": on(SAT[18:22], [1 / 4] * 4),
        "perception": on(["p03"], [1.0]),
    }
    out["service"] = out["access"] / 2 + out["procedures"] / 4 + out["officials"] / 4
    out["outcome"] = out["results"] / 2 + out["feedback"] / 2
    out["sipas"] = 3 / 4 * out["service"] + 1 / 4 * out["outcome"]
    return out


@pytest.fixture(scope="module")
def demo():
    return sipas.datasets.load_demo()


def designs(sd):
    taylor = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    jack = sipas.replicate(sipas.Design.from_spec(sd), "jkn")
    return {"taylor": taylor, "jkn": jack.subset(sd.frame["response"] == 1)}


@pytest.mark.parametrize("kind", ["taylor", "jkn"])
@pytest.mark.parametrize("by", [None, "urban"])
def test_every_node_is_the_hand_linear_combination(demo, kind, by):
    sd = demo
    d = designs(sd)[kind]
    spec = tree_spec(sd)
    res = sipas.satisfaction_index(d, spec, by=by)
    frame = d.frame
    top = {f"{c}_top": np.where(frame[c].isna(), np.nan, frame[c].isin([4, 5]).astype(float))
           for c in SAT}
    # p02 is yes/no: a share (code 1) under every measure
    top["p02_top"] = np.where(frame["p02"].isna(), np.nan, (frame["p02"] == 1).astype(float))
    d2 = d.with_columns(top)
    ref = sipas.mean(d2, [*top, "p03"], by=by)
    theta = ref.to_frame()["estimate"].to_numpy()
    vcov = ref.vcov().to_numpy()
    n_dom = len(theta) // 24
    nodes = res.nodes
    for name, a in hand_weights().items():
        full = np.kron(np.eye(n_dom), a[:, None])  # one column per domain
        est = full.T @ theta
        se = np.sqrt(np.diag(full.T @ vcov @ full))
        got = nodes[nodes["name"] == name]
        np.testing.assert_allclose(got["estimate"], est, rtol=1e-9, err_msg=name)
        np.testing.assert_allclose(got["se"], se, rtol=1e-9, err_msg=name)
    assert set(res.overall["name"]) == {"sipas"}
    assert list(res.factors["name"].unique()) == ["access", "procedures", "officials",
                                                  "results", "feedback", "perception"]
    assert nodes.loc[nodes["name"] == "sipas", "depth"].iloc[0] == 0
    assert nodes.loc[nodes["name"] == "access", "parent"].iloc[0] == "service"
    assert nodes.loc[nodes["name"] == "access", "depth"].iloc[0] == 2
    # a mean on the answer scale gets a Wald interval; shares stay in [0, 1]
    p = nodes[nodes["name"] == "perception"]
    z = (p["ci_high"] - p["estimate"]) / p["se"]
    np.testing.assert_allclose(z, (p["estimate"] - p["ci_low"]) / p["se"], rtol=1e-9)


def test_five_factor_spec_is_a_two_level_tree(demo):
    sd = demo
    d = designs(sd)["taylor"]
    res = sipas.satisfaction_index(d, sd.spec, by="urban")
    tree = sd.spec.tree
    assert tree.roots == ("overall",)
    assert tree.node("overall").children == tuple(f.name for f in sd.spec.factors)
    nodes = res.nodes.set_index(["urban", "name"])
    both = res.factors.set_index(["urban", "name"])
    np.testing.assert_allclose(nodes.loc[both.index, "estimate"], both["estimate"], rtol=1e-12)
    assert set(res.to_frame()["index_level"]) == {"item", "factor", "overall"}


def test_respondent_aggregate_tree(demo):
    sd = demo
    d = designs(sd)["taylor"]
    spec = tree_spec(sd, [
        *NODES[:5], {"name": "service", "children": ["access", "procedures", "officials"]},
        {"name": "sipas", "children": ["service", "results", "feedback"]}],
        aggregate="respondents")
    res = sipas.satisfaction_index(d, spec)
    f = res.factors.set_index("name")["estimate"]
    n = res.nodes.set_index("name")["estimate"]
    assert n["service"] == pytest.approx(f[["access", "procedures", "officials"]].mean(),
                                         rel=1e-12)
    assert n["sipas"] == pytest.approx((n["service"] + f["results"] + f["feedback"]) / 3,
                                       rel=1e-12)
    assert set(res.to_frame()["index_level"]) == {"item", "factor", "node", "overall"}


@pytest.mark.parametrize(("nodes", "words"), [
    ([{"name": "a", "children": ["b"]}, {"name": "b", "children": ["a"]},
      {"name": "top", "items": ["q01"]}], ["'a' -> 'b' -> 'a'", "cycle"]),
    ([{"name": "a", "items": []}, {"name": "top", "children": ["a"]}], ["node 'a'", "empty"]),
    ([{"name": "a", "items": ["q01", "zz9"]}, {"name": "top", "children": ["a"]}],
     ["node 'a'", "unknown item", "zz9"]),
    ([{"name": "a", "items": ["q01"]}, {"name": "top", "children": ["a", "b"]}],
     ["node 'top'", "unknown child", "'b'"]),
    ([{"name": "a", "items": ["q01"]}, {"name": "b", "items": ["q02"]}],
     ["2 trees", "'a'", "'b'"]),
    ([{"name": "a", "items": ["q01"], "children": ["b"]}, {"name": "b", "items": ["q02"]}],
     ["node 'a'", "both items and children"]),
    ([{"name": "a", "items": ["q01", "q02"], "weights": [1]},
      {"name": "top", "children": ["a"]}], ["node 'a'", "weights"]),
])
def test_bad_trees_name_the_node(demo, nodes, words):
    with pytest.raises(SpecError) as exc:
        tree_spec(demo, nodes)
    for w in words:
        assert w in str(exc.value)


def test_nodes_and_factors_are_one_or_the_other(demo):
    data = tomllib.loads(Path(demo.spec.source).read_text(encoding="utf-8"))
    data["margins"] = []
    data["nodes"] = NODES
    with pytest.raises(SpecError, match=r"remove \[\[factors\]\]"):
        sipas.spec.parse_spec(data)


def test_a_node_with_its_own_measure_keeps_the_covariances(demo):
    sd = demo
    d = designs(sd)["taylor"]
    spec = tree_spec(sd, [{"name": "a", "items": ["q01"], "measure": "pct_of_max"},
                          {"name": "b", "items": ["q02"]},
                          {"name": "top", "children": ["a", "b"]}])
    res = sipas.satisfaction_index(d, spec)
    frame = d.frame
    d2 = d.with_columns({"q02_top": np.where(frame["q02"].isna(), np.nan,
                                             frame["q02"].isin([4, 5]).astype(float))})
    ref = sipas.mean(d2, ["q01", "q02_top"])
    a = np.array([0.5 / 5, 0.5])
    est = a @ ref.to_frame()["estimate"].to_numpy()
    se = np.sqrt(a @ ref.vcov().to_numpy() @ a)
    top = res.nodes.set_index("name").loc["top"]
    assert top["estimate"] == pytest.approx(est, rel=1e-9)
    assert top["se"] == pytest.approx(se, rel=1e-9)
    # the item table keeps the spec's measure
    assert res.items.set_index("name").loc["q01", "estimate"] < 1


def mean_tree_spec(sd, nodes):
    data = tomllib.loads(Path(sd.spec.source).read_text(encoding="utf-8"))
    data.pop("factors")
    data["margins"] = []
    data["nodes"] = nodes
    data["index"] = {"measure": "mean"}
    return sipas.spec.parse_spec(data)


@pytest.mark.parametrize(("nodes", "words"), [
    ([{"name": "a", "items": ["p02", "p03"]}, {"name": "top", "children": ["a"]}],
     ["node 'a' averages the means of items on different scales",
      "p02 on scale 'yes_no' (a yes/no share, 0-1); p03 on scale 'agreement' (1-5)"]),
    ([{"name": "a", "items": ["p02", "p03"], "rescale": "pct_of_range"},
      {"name": "b", "items": ["q01"]}, {"name": "top", "children": ["a", "b"]}],
     ["node 'top' combines indices on different scales: 'a' on 0-1, 'b' on 1-5"]),
    ([{"name": "a", "items": ["p03"], "rescale": "pct_of_range", "measure": "mean"},
      {"name": "top", "children": ["a"]}], ["[[nodes]] #1 (name 'a')", "without measure"]),
])
def test_a_mean_node_on_mixed_scales_names_the_node(demo, nodes, words):
    with pytest.raises(SpecError) as exc:
        mean_tree_spec(demo, nodes)
    for w in words:
        assert w in str(exc.value), str(exc.value)


def test_a_rescaled_node_of_mixed_items(demo):
    """The node's items rescaled to 0-1 ((x - 1)/4 for p03, the yes/no share for p02); a
    parent of it and of a rescaled node of 1-5 items is on 0-1 too."""
    sd = demo
    d = designs(sd)["taylor"]
    spec = mean_tree_spec(sd, [
        {"name": "a", "items": ["p02", "p03"], "rescale": "pct_of_range"},
        {"name": "b", "items": ["q01"], "rescale": "pct_of_range"},
        {"name": "top", "children": ["a", "b"], "weights": [1, 3]}])
    res = sipas.satisfaction_index(d, spec)
    frame = d.frame
    cols = {"p02_r": np.where(frame["p02"].isna(), np.nan, (frame["p02"] == 1).astype(float)),
            "p03_r": (frame["p03"] - 1) / 4, "q01_r": (frame["q01"] - 1) / 4}
    ref = sipas.mean(d.with_columns(cols), list(cols))
    theta, vcov = ref.to_frame()["estimate"].to_numpy(), ref.vcov().to_numpy()
    nodes = res.nodes.set_index("name")
    for name, a in {"a": [0.5, 0.5, 0], "b": [0, 0, 1],
                    "top": [0.125, 0.125, 0.75]}.items():
        a = np.asarray(a)
        assert nodes.loc[name, "estimate"] == pytest.approx(a @ theta, rel=1e-9)
        assert nodes.loc[name, "se"] == pytest.approx(np.sqrt(a @ vcov @ a), rel=1e-9)
