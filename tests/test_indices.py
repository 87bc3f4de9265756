"""Satisfaction indices: identities with the estimation engine, definitions, bad input.

References: a one-item index is a proportion/mean (closed identity); a multi-item index is
a linear combination of ratio estimators, whose SE the contrast machinery gives (R
``svycontrast`` of ``svyratio``); Taylor vs jackknife agreement on the demo survey.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sipas

ACCESS = ["q01", "q02", "q03", "q04"]


@pytest.fixture(scope="module")
def demo():
    sd = sipas.datasets.load_demo()
    w = sipas.rake(sipas.nonresponse(sipas.Design.from_spec(sd), "response", [1],
                                     nonrespondent=[2, 3], classes="district"),
                   sd.spec.margins)
    return sd, w


def test_one_item_index_equals_proportion_and_mean(demo):
    sd, d = demo
    f = sipas.factor_index(d, ["q05"], satisfied=[4, 5], by="urban").to_frame()
    p = sipas.proportion(d, "q05", value=[4, 5], by="urban", ci="logit").to_frame()
    for col in ("estimate", "se", "ci_low", "ci_high", "df", "deff", "n"):
        np.testing.assert_allclose(f[col].astype(float), p[col].astype(float), rtol=1e-12)
    m = sipas.factor_index(d, ["p03"], measure="mean").to_frame()
    r = sipas.mean(d, "p03").to_frame()
    np.testing.assert_allclose(m[["estimate", "se", "deff"]], r[["estimate", "se", "deff"]],
                               rtol=1e-12)
    pm = sipas.factor_index(d, ["p03"], measure="pct_of_max", scale=(1, 5)).to_frame()
    assert pm["estimate"][0] == pytest.approx(r["estimate"][0] / 5, rel=1e-12)
    assert pm["se"][0] == pytest.approx(r["se"][0] / 5, rel=1e-12)


@pytest.mark.parametrize("kind", ["taylor", "jkn"])
def test_items_aggregate_equals_contrast_of_item_ratios(demo, kind):
    sd, d = demo
    if kind == "jkn":
        base = sipas.replicate(sipas.Design.from_spec(sd), "jkn")
        d = sipas.rake(sipas.nonresponse(base, "response", [1], nonrespondent=[2, 3],
                                         classes="district"), sd.spec.margins)
    frame = d.frame
    d = d.with_columns({f"{col}_top": np.where(frame[col].isna(), np.nan,
                                                frame[col].isin([4, 5]).astype(float))
                        for col in ACCESS})
    items = sipas.mean(d, [f"{c}_top" for c in ACCESS], by="urban")
    k = len(items)
    # per domain: mean of its 4 item shares
    weights = np.zeros((k, 2))
    weights[:4, 0] = 0.25
    weights[4:, 1] = 0.25
    via_contrast = sipas.contrast(items, weights).to_frame()
    index = sipas.factor_index(d, ACCESS, satisfied=[4, 5], by="urban").to_frame()
    np.testing.assert_allclose(index["estimate"], via_contrast["estimate"], rtol=1e-12)
    np.testing.assert_allclose(index["se"], via_contrast["se"], rtol=1e-9)


def test_respondent_aggregate_is_the_mean_of_respondent_scores(demo):
    sd, d = demo
    top = sd.frame[ACCESS[:2]].isin([4, 5]).astype(float).where(sd.frame[ACCESS[:2]].notna())
    score = top.mean(axis=1)  # pandas skips NaN: the respondent's valid items
    d2 = d.with_columns({"score": score})
    f = sipas.factor_index(d2, ACCESS[:2], aggregate="respondents").to_frame()
    m = sipas.mean(d2, "score").to_frame()
    np.testing.assert_allclose(f[["estimate", "se"]], m[["estimate", "se"]], rtol=1e-12)


def test_taylor_and_replicate_factor_ses_agree_within_10_percent(demo):
    sd, d = demo
    base = sipas.replicate(sipas.Design.from_spec(sd), "jkn")
    rep = sipas.rake(sipas.nonresponse(base, "response", [1], nonrespondent=[2, 3],
                                       classes="district"), sd.spec.margins)
    taylor = sipas.satisfaction_index(d, sd.spec).factors
    jack = sipas.satisfaction_index(rep, sd.spec).factors
    np.testing.assert_allclose(jack["estimate"], taylor["estimate"], rtol=1e-12)
    ratio = jack["se"].to_numpy() / taylor["se"].to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.10), ratio


def test_satisfaction_index_tables_and_definition(demo):
    sd, d = demo
    res = sipas.satisfaction_index(d, sd.spec, by="district", missing_kinds=sd.missing)
    assert len(res.factors) == 10 * 5 and len(res.overall) == 10
    assert res.definition == sd.spec.index.describe()
    assert (res.overall["definition"] == res.definition).all()
    # overall = mean of the five factors, in every district
    f = res.factors.pivot(index="district", columns="name", values="estimate").mean(axis=1)
    np.testing.assert_allclose(res.overall.set_index("district")["estimate"], f, rtol=1e-12)
    q19 = res.items[res.items.name == "q19"]
    assert (q19["share_not_applicable"] > 0.3).all()
    assert set(res.items["meaning"]) >= {"share satisfied", "share agreeing",
                                         "share wanting improvement"}
    assert {"flag", "label_vi", "label_en"} <= set(res.factors.columns)


def test_overall_rules_item_and_weighted(demo):
    sd, d = demo
    spec_item = sipas.spec.parse_spec(_spec_dict(sd.spec, overall="item"))
    res = sipas.satisfaction_index(d, spec_item)
    q23 = sipas.proportion(d, "q23", value=[4, 5], ci="wald").to_frame()
    assert res.overall["estimate"][0] == pytest.approx(q23["estimate"][0], rel=1e-12)
    weights = {"access": 2, "procedures": 1, "officials": 1, "results": 1, "feedback": 0}
    spec_w = sipas.spec.parse_spec(_spec_dict(sd.spec, overall="weighted_factors",
                                              factor_weights=weights))
    res_w = sipas.satisfaction_index(d, spec_w)
    f = res_w.factors.set_index("name")["estimate"]
    expected = sum(f[k] * v for k, v in weights.items()) / 5
    assert res_w.overall["estimate"][0] == pytest.approx(expected, rel=1e-12)


def _spec_dict(spec, **index):
    import tomllib
    from pathlib import Path

    data = tomllib.loads(Path(spec.source).read_text(encoding="utf-8"))
    data["index"] = {**data.get("index", {}), **index}
    data["margins"] = []
    return data


def test_empty_domain_gives_a_flagged_nan_row(demo):
    sd, d = demo
    d2 = d.with_columns({"grp": pd.Categorical(np.where(d.frame.urban == 1, "u", "r"),
                                               categories=["u", "r", "nobody"])})
    f = sipas.factor_index(d2, ACCESS, by="grp").to_frame().set_index("grp")
    assert np.isnan(f.loc["nobody", "estimate"]) and f.loc["nobody", "n"] == 0


def test_bad_inputs(demo):
    sd, d = demo
    with pytest.raises(sipas.DesignError, match="q99"):  # an unknown column, as in mean()
        sipas.factor_index(d, ["q01", "q99"])
    with pytest.raises(sipas.EstimationError, match="scale"):
        sipas.factor_index(d, ["p03"], measure="pct_of_max")
    with pytest.raises(sipas.EstimationError, match="outside the scale"):
        sipas.factor_index(d, ["p03"], measure="pct_of_max", scale=(1, 4))
    with pytest.raises(sipas.DesignError, match="measure"):
        sipas.factor_index(d, ["q01"], measure="median")
    with pytest.raises(sipas.SpecError, match="outside the scale"):
        sipas.spec.parse_spec({"survey": {"name": "x", "respondent_id": "id"},
                               "scales": {"s": {"min": 1, "max": 5, "satisfied": [6]}},
                               "items": [{"name": "q", "scale": "s"}]})


def test_mean_measure_items_use_the_relative_se_rule_not_effective_n(demo):
    sd, d = demo
    spec = sipas.spec.parse_spec(_spec_dict(sd.spec, measure="mean"))
    items = sipas.satisfaction_index(d, spec).items.set_index("name")
    assert items.loc["q01", "estimate"] > 1  # on the 1-5 scale
    assert items.loc["q01", "flag"] == ""     # p(1-p) < 0 must not flag n_eff
    assert items.loc["p01", "estimate"] < 1   # yes/no items stay shares


def test_index_intervals_stay_in_0_1_with_few_psus(demo):
    """logit intervals (the default for indices in [0, 1]): with 4 PSUs per district the
    Wald interval can pass 100%, the logit one cannot; both have the same SE."""
    sd, d = demo
    logit = sipas.satisfaction_index(d, sd.spec, by="district").overall
    wald = sipas.satisfaction_index(d, sd.spec, by="district", ci="wald").overall
    assert (logit["ci_high"] < 1).all() and (logit["ci_low"] > 0).all()
    assert (wald["ci_high"] > 1).any()
    np.testing.assert_allclose(logit["se"], wald["se"], rtol=1e-12)
    with pytest.raises(sipas.EstimationError, match="wald"):
        sipas.factor_index(d, ["p03"], measure="mean", ci="logit")


def test_a_spec_without_factors_compares_waves_on_the_overall_index(tmp_path):
    """Found by mypy: IndexResult.factor_estimate is None without factors, and the
    pipeline's [compare] previous_data passed it to compare_waves (AttributeError)."""
    from pathlib import Path
    from types import SimpleNamespace

    from sipas.pipeline.runner import _comparisons

    text = Path(sipas.load_spec("demo").source).read_text(encoding="utf-8")
    head, rest = text.split("[[factors]]", 1)
    rest = rest[rest.index("[overall]"):].split("# Population of service users")[0]
    path = tmp_path / "nofactors.toml"
    path.write_text(head + rest.replace('overall = "mean_of_factors"', 'overall = "item"'),
                    encoding="utf-8")
    spec = sipas.load_spec(path)
    design = sipas.Design.from_spec(sipas.read_survey(sipas.datasets.demo_path(), spec=spec))
    now = sipas.satisfaction_index(design, spec)
    assert now.factor_estimate is None and now.factors.empty
    pipeline = SimpleNamespace(compare={"previous_data": sipas.datasets.demo_path(),
                                        "previous_spec": path},
                               indices=SimpleNamespace(by=()), spec=path, steps=[], rules=None,
                               load_spec=lambda key="spec": sipas.load_spec(path))
    res = SimpleNamespace(results={"index": now}, tables={})
    _comparisons(res, spec, pipeline)
    waves = res.tables["compare_waves"]
    assert waves["comparison"].tolist() == ["all: current - previous"]
    assert waves["difference"].tolist() == [0.0]  # the same data twice


# ------------------------------------------- mean factors on mixed scales (issue 19 item 4)

def _mixed(spec, rescale=None, everywhere=False, aggregate="items"):
    """The demo spec under measure = "mean" with the yes/no item p02 added to 'access'."""
    data = _spec_dict(spec, measure="mean", aggregate=aggregate)
    data["factors"][0]["items"] = [*ACCESS, "p02"]
    for f in data["factors"] if everywhere else data["factors"][:1]:
        if rescale:
            f["rescale"] = rescale
    return data


def test_a_mean_factor_on_mixed_scales_is_refused(demo):
    """Before: 1.829 = mean(2.929, 0.729), a 1-5 mean averaged with a yes/no share."""
    sd, _ = demo
    with pytest.raises(sipas.SpecError) as info:
        sipas.spec.parse_spec(_mixed(sd.spec), source="job/spec.toml")
    text = str(info.value)
    for words in ("job/spec.toml: [[factors]] #1 (name 'access')", "factor 'access'",
                  "q01, q02, q03, q04 on scale 'satisfaction' (1-5)",
                  "p02 on scale 'yes_no' (a yes/no share, 0-1)", 'rescale = "pct_of_range"'):
        assert words in text, text


def test_a_mean_factor_on_two_ranges_is_refused(demo):
    sd, _ = demo
    data = _spec_dict(sd.spec, measure="mean")
    data["scales"]["seven"] = {"min": 0, "max": 6, "satisfied": [5, 6]}
    data["items"].append({"name": "q24", "scale": "seven"})
    data["factors"][1]["items"].append("q24")
    with pytest.raises(sipas.SpecError, match=r"factor 'procedures' averages .* q24 on scale "
                                              r"'seven' \(0-6\)"):
        sipas.spec.parse_spec(data)


def test_a_rescaled_factor_beside_mean_factors_is_refused_at_the_overall_index(demo):
    sd, _ = demo
    with pytest.raises(sipas.SpecError, match=r"\[index\]: the overall index "
                                              r"\(mean_of_factors\) combines indices on "
                                              r"different scales: 'access' on 0-1, "
                                              r"'procedures' on 1-5"):
        sipas.spec.parse_spec(_mixed(sd.spec, "pct_of_range"))


def test_rescale_is_only_for_mean(demo):
    sd, _ = demo
    data = _mixed(sd.spec, "pct_of_range", everywhere=True)
    data["index"]["measure"] = "top_box"
    with pytest.raises(sipas.SpecError, match="under measure = 'top_box' every item index "
                                              "is in \\[0, 1\\] already"):
        sipas.spec.parse_spec(data)


def _rescaled_columns(d, items, rescale):
    frame = d.frame
    cols = {}
    for it in items:
        y = frame[it].to_numpy(dtype=float)
        if it == "p02":  # yes/no: a share under every measure
            cols[f"{it}_r"] = np.where(np.isnan(y), np.nan, (y == 1).astype(float))
        elif rescale == "pct_of_range":
            cols[f"{it}_r"] = (y - 1) / 4
        else:
            cols[f"{it}_r"] = y / 5
    return cols


@pytest.mark.parametrize("rescale", ["pct_of_range", "pct_of_max"])
@pytest.mark.parametrize("by", [None, "urban"])
def test_a_rescaled_factor_is_the_mean_of_the_rescaled_items(demo, rescale, by):
    """Estimate and SE against sipas.mean on hand-rescaled columns (the map is affine, so
    the linearization holds): the factor is the average of the item means."""
    sd, d = demo
    spec = sipas.spec.parse_spec(_mixed(sd.spec, rescale, everywhere=True))
    res = sipas.satisfaction_index(d, spec, by=by)
    cols = _rescaled_columns(d, [*ACCESS, "p02"], rescale)
    ref = sipas.mean(d.with_columns(cols), list(cols), by=by)
    theta, vcov = ref.to_frame()["estimate"].to_numpy(), ref.vcov().to_numpy()
    n_dom = len(theta) // len(cols)
    load = np.kron(np.eye(n_dom), np.full((len(cols), 1), 1 / len(cols)))
    got = res.factors[res.factors["name"] == "access"]
    np.testing.assert_allclose(got["estimate"], load.T @ theta, rtol=1e-9, atol=0)
    np.testing.assert_allclose(got["se"], np.sqrt(np.diag(load.T @ vcov @ load)), rtol=1e-9)
    assert (got["estimate"] < 1).all() and (got["ci_high"] <= 1).all()
    # the item table keeps the spec's measure: q01 on 1-5, p02 a share
    items = res.items.drop_duplicates("name").set_index("name")
    assert items.loc["q01", "estimate"] > 1 and items.loc["p02", "estimate"] < 1


def test_a_rescaled_factor_by_respondents(demo):
    """aggregate = "respondents": each respondent's mean of the rescaled scores, then their
    weighted mean: sipas.mean of that column."""
    sd, d = demo
    spec = sipas.spec.parse_spec(_mixed(sd.spec, "pct_of_range", everywhere=True,
                                        aggregate="respondents"))
    res = sipas.satisfaction_index(d, spec)
    cols = pd.DataFrame(_rescaled_columns(d, [*ACCESS, "p02"], "pct_of_range"))
    ref = sipas.mean(d.with_columns({"access_r": cols.mean(axis=1, skipna=True).to_numpy()}),
                     "access_r").to_frame()
    got = res.factors.set_index("name").loc["access"]
    assert got["estimate"] == pytest.approx(ref["estimate"].item(), rel=1e-9)
    assert got["se"] == pytest.approx(ref["se"].item(), rel=1e-9)


def test_a_rescaled_index_is_published_as_a_percentage(demo):
    from sipas.report.tables import share_rows

    sd, d = demo
    spec = sipas.spec.parse_spec(_mixed(sd.spec, "pct_of_range", everywhere=True))
    res = sipas.satisfaction_index(d, spec)
    assert share_rows(res.factors).all() and share_rows(res.overall).all()
    assert "measure=mean rescaled to 0-1;" in res.factors["definition"].iloc[0]
    assert not share_rows(res.items.set_index("name").loc[["q01"]]).any()
