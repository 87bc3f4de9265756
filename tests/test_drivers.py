"""Key-driver analysis (sipas.drivers) against independent computations.

Oracles: LMG shares as the average gain in R² over every order of the drivers (p! orders),
each R² from a statsmodels WLS fit (not from covariances); Johnson's relative weights in the
closed form of two drivers; coefficients against statsmodels WLS and sipas.glm (and, on one
replicate design, the same replicate SEs as glm, which refits on the rows).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import sipas
from sipas.drivers.importance import relative_weights


@pytest.fixture(scope="module")
def demo():
    sd = sipas.datasets.load_demo()
    return sd, sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)


def _data(n=400, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)) @ np.array([[1, .5, .2, 0], [0, 1, .4, .3], [0, 0, 1, .5],
                                            [0, 0, 0, 1.0]])
    y = x @ np.array([0.5, 0.3, 0.0, 0.2]) + rng.normal(size=n)
    df = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    df["y"] = y
    df["w"] = rng.uniform(1, 4, n)
    df["psu"] = np.arange(n) // 4
    df["st"] = df["psu"] % 5
    return df


def _wls_r2(df, cols):
    if not cols:
        return 0.0
    fit = sm.WLS(df["y"], sm.add_constant(df[list(cols)]), weights=df["w"]).fit()
    return float(fit.rsquared)


def test_lmg_equals_the_average_over_every_order():
    df = _data()
    d = sipas.Design(df, ids="psu", strata="st", weights="w")
    res = sipas.drivers(d, "y", ["a", "b", "c", "d"], replicates=10, rng=1)
    t = res.to_frame().set_index(["driver", "measure"])["estimate"]
    names = ["a", "b", "c", "d"]
    r2 = {frozenset(s): _wls_r2(df, s) for k in range(5) for s in itertools.combinations(
        names, k)}
    expected = dict.fromkeys(names, 0.0)
    for order in itertools.permutations(names):
        seen: frozenset = frozenset()
        for name in order:
            expected[name] += (r2[seen | {name}] - r2[seen]) / math.factorial(4)
            seen = seen | {name}
    for name in names:
        assert t[(name, "importance")] == pytest.approx(expected[name], rel=1e-9, abs=1e-12)
    assert sum(expected.values()) == pytest.approx(res.r2, rel=1e-10)
    assert res.r2 == pytest.approx(r2[frozenset(names)], rel=1e-10)


def test_relative_weights_closed_form_two_drivers():
    r, r1, r2 = 0.4, 0.5, 0.3
    corr = np.array([[1, r1, r2], [r1, 1, r], [r2, r, 1.0]])
    a = (math.sqrt(1 + r) + math.sqrt(1 - r)) / 2
    b = (math.sqrt(1 + r) - math.sqrt(1 - r)) / 2
    # L = [[a, b], [b, a]], L^-1 = [[a, -b], [-b, a]] / (a^2 - b^2)
    det = a * a - b * b
    beta1, beta2 = (a * r1 - b * r2) / det, (-b * r1 + a * r2) / det
    expected = [a * a * beta1**2 + b * b * beta2**2, b * b * beta1**2 + a * a * beta2**2]
    got = relative_weights(corr[None])[0]
    assert got.tolist() == pytest.approx(expected, rel=1e-12)
    r2_full = (r1**2 + r2**2 - 2 * r * r1 * r2) / (1 - r * r)
    assert got.sum() == pytest.approx(r2_full, rel=1e-12)


def test_relative_weights_add_to_r2_on_a_design():
    df = _data(seed=5)
    d = sipas.Design(df, ids="psu", strata="st", weights="w")
    res = sipas.drivers(d, "y", ["a", "b", "c", "d"], importance="relative_weights",
                        replicates=10, rng=1)
    imp = res.to_frame().query("measure == 'importance'")["estimate"]
    assert imp.sum() == pytest.approx(_wls_r2(df, ["a", "b", "c", "d"]), rel=1e-10)


def test_coefficients_against_wls_and_glm():
    df = _data(seed=7)
    d = sipas.Design(df, ids="psu", strata="st", weights="w")
    res = sipas.drivers(d, "y", ["a", "b", "c"], replicates=10, rng=1)
    t = res.to_frame().set_index(["driver", "measure"])["estimate"]
    fit = sm.WLS(df["y"], sm.add_constant(df[["a", "b", "c"]]), weights=df["w"]).fit()
    g = sipas.glm(d, "y ~ a + b + c").coef
    w = df["w"] / df["w"].sum()

    def sd(v):
        return math.sqrt(float((w * (v - (w * v).sum()) ** 2).sum()))

    z = df[["a", "b", "c", "y"]].apply(lambda v: (v - (w * v).sum()) / sd(v))
    zfit = sm.WLS(z["y"], sm.add_constant(z[["a", "b", "c"]]), weights=df["w"]).fit()
    for name in "abc":
        assert t[(name, "coefficient")] == pytest.approx(fit.params[name], rel=1e-9)
        assert t[(name, "coefficient")] == pytest.approx(g[name], rel=1e-9)
        assert t[(name, "standardised")] == pytest.approx(zfit.params[name], rel=1e-9)
        assert t[(name, "impact")] == pytest.approx(fit.params[name], rel=1e-9)


def test_replicate_ses_equal_glm_on_the_same_replicates(demo):
    sd, d = demo
    rep = sipas.replicate(d, "bootstrap", replicates=30, rng=4)
    res = sipas.drivers(rep, "q23", ["q01", "q05", "q10"], spec=sd.spec)
    got = res.to_frame().query("measure == 'coefficient'").set_index("driver")["se"]
    frame = rep.frame
    for c in ("q23", "q01", "q05", "q10"):
        frame[c] = frame[c].where(frame[c] <= 5)
    g = sipas.glm(rep.with_columns({c: frame[c] for c in ("q23", "q01", "q05", "q10")}),
                  "q23 ~ q01 + q05 + q10").to_frame().set_index("term")["se"]
    for name in ("q01", "q05", "q10"):
        assert got[name] == pytest.approx(g[name], rel=1e-6)


def test_demo_factors_matrix_and_performance(demo):
    sd, d = demo
    res = sipas.drivers(d, "q23", [f.name for f in sd.spec.factors], spec=sd.spec,
                        replicates=30, rng=2)
    m = res.matrix()
    assert set(m["quadrant"]) <= {"concentrate here", "keep up the good work",
                                  "low priority", "possible overkill"}
    assert m["importance"].sum() == pytest.approx(1.0)
    f = sd.spec.factor("procedures")
    expected = sipas.factor_index(d, list(f.items), missing_codes=[7, 8, 9, 99]).to_frame()
    row = m.set_index("driver").loc["procedures"]
    assert row["performance"] == pytest.approx(float(expected["estimate"][0]), rel=1e-12)
    assert row["performance_ci_low"] == pytest.approx(float(expected["ci_low"][0]), rel=1e-10)
    perf = res.to_frame().query("measure == 'performance' and driver == 'procedures'")
    assert float(perf["se"].iloc[0]) == pytest.approx(float(expected["se"][0]), rel=1e-10)
    assert row["performance_ci_low"] < row["performance"] < row["performance_ci_high"]
    with pytest.raises(AttributeError):
        res.r2 = 1.0
    assert "procedures" in res.summary()


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"outcome": "nope", "drivers": ["q01"]}, "nope"),
    ({"outcome": "q23", "drivers": ["q01", "zz"]}, "zz"),
])
def test_unknown_columns(demo, kwargs, words):
    _, d = demo
    with pytest.raises(sipas.DesignError, match=words):
        sipas.drivers(d, replicates=5, rng=1, **kwargs)


def test_bad_models(demo):
    df = _data(n=60)
    df["k"] = 2.0
    df["ab"] = df["a"] + 2 * df["b"]
    d = sipas.Design(df, ids="psu", strata="st", weights="w")
    with pytest.raises(sipas.EstimationError, match="'k' is constant"):
        sipas.drivers(d, "y", ["a", "k"], replicates=5, rng=1)
    with pytest.raises(sipas.EstimationError, match="collinear"):
        sipas.drivers(d, "y", ["a", "b", "ab"], replicates=5, rng=1)
    small = d.subset(np.arange(60) < 3)
    with pytest.raises(sipas.EstimationError, match="needs more than"):
        sipas.drivers(small, "y", ["a", "b", "c"], replicates=5, rng=1)
    many = {f"x{j}": ["a"] for j in range(16)}
    with pytest.raises(sipas.EstimationError, match="relative_weights"):
        sipas.drivers(d, "y", many, replicates=5, rng=1)


def test_weights_scale_and_row_order_do_not_matter():
    df = _data(n=200, seed=9)
    d = sipas.Design(df, ids="psu", strata="st", weights="w")
    a = sipas.drivers(d, "y", ["a", "b"], replicates=10, rng=1).to_frame()
    df2 = df.assign(w=df["w"] * 7.5).iloc[::-1].reset_index(drop=True)
    b = sipas.drivers(sipas.Design(df2, ids="psu", strata="st", weights="w"), "y", ["a", "b"],
                      replicates=10, rng=1).to_frame()
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-10)


def test_charts_render(demo):
    from sipas.report.driver_charts import ipa_chart, options_chart

    sd, d = demo
    res = sipas.drivers(d, "q23", ["access", "results", "officials"], spec=sd.spec,
                        replicates=10, rng=1)
    assert ipa_chart(res.matrix(), lang="en", synthetic=True).axes
    needs = sipas.multiple_response(d, "needs", spec=sd.spec, rng=1)
    assert options_chart(needs.to_frame(), title="needs", lang="vi").axes


def test_pipeline_sections(tmp_path):
    from sipas.pipeline import load_pipeline
    from sipas.pipeline.config import demo_pipeline_path

    p = load_pipeline(demo_pipeline_path())
    assert p.drivers["importance"] == "lmg" and p.multiple["by"] == ["urban"]
    text = demo_pipeline_path().read_text(encoding="utf-8").replace(
        'importance = "lmg"', 'importanse = "lmg"')
    bad = tmp_path / "p.toml"
    bad.write_text(text.replace('data = "demo.sav"', f'data = "{tmp_path / "demo.sav"}"'),
                   encoding="utf-8")
    (tmp_path / "demo.sav").write_bytes(b"")
    with pytest.raises(sipas.SpecError, match="importanse"):
        load_pipeline(bad)


def test_a_raked_design_needs_replicates_first(demo):
    sd, d = demo
    raked = sipas.rake(d, sd.spec.margins)
    with pytest.raises(sipas.DesignError, match=r"sipas\.replicate"):
        sipas.drivers(raked, "q23", ["access"], spec=sd.spec, replicates=5, rng=1)
    rep = sipas.rake(sipas.replicate(d, "bootstrap", replicates=10, rng=1), sd.spec.margins)
    res = sipas.drivers(rep, "q23", ["access", "results"], spec=sd.spec)
    assert res.replicates == 10
