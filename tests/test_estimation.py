"""Estimators beyond the R oracle: domains, missing values, contrasts, result objects, input
errors.

References are identities of design-based estimation (Lumley, *Complex Surveys*, 2010,
sec. 2.3 and 3.x): a domain mean is the ratio estimator of ``y 1{domain}`` over ``1{domain}``;
``na.rm`` is a domain; ``subset()`` is ``by=`` for one domain; a linear combination of
estimates has variance ``c' V c`` (R ``svycontrast``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sipas


def frame(seed: int = 3, n_missing: int = 0) -> pd.DataFrame:
    """Three strata of 4 PSUs, 3 rows per PSU; ``y`` with ``n_missing`` missing values."""
    rng = np.random.default_rng(seed)
    n = 36
    out = pd.DataFrame({
        "h": np.repeat([1, 2, 3], 12),
        "psu": np.repeat(np.arange(12), 3),
        "w": rng.uniform(1, 4, n),
        "y": rng.normal(3, 1, n),
        "a": rng.integers(1, 6, n).astype(float),
        "b": rng.normal(0, 2, n),
        "g": rng.choice(["north", "south", "west"], n),
        "sex": np.tile(["f", "m"], n // 2),
    })
    if n_missing:
        out.loc[rng.choice(n, n_missing, replace=False), "y"] = np.nan
    return out


def design(data: pd.DataFrame) -> sipas.Design:
    return sipas.Design(data, ids="psu", strata="h", weights="w")


def row(est: sipas.Estimate, **where) -> pd.Series:
    f = est.to_frame()
    for k, v in where.items():
        f = f[f[k] == v]
    assert len(f) == 1
    return f.iloc[0]


# ---------------------------------------------------------------------- domains


@pytest.mark.parametrize("level", ["north", "south", "west"])
def test_domain_mean_is_the_ratio_estimator(level):
    data = frame()
    inside = (data.g == level).astype(float)
    data = data.assign(yd=data.y * inside, d=inside)
    d = design(data)
    dom = row(sipas.mean(d, "y", by="g"), g=level)
    rat = row(sipas.ratio(d, "yd", "d"))
    assert dom.estimate == pytest.approx(rat.estimate, rel=1e-12, abs=1e-12)
    assert dom.se == pytest.approx(rat.se, rel=1e-12, abs=1e-12)


def test_domain_proportion_is_the_ratio_estimator():
    data = frame()
    inside = (data.sex == "f").astype(float)
    data = data.assign(top=(data.a >= 4) * inside, d=inside)
    d = design(data)
    dom = row(sipas.proportion(d, "a", value=[4, 5], by="sex"), sex="f")
    rat = row(sipas.ratio(d, "top", "d"))
    assert dom.estimate == pytest.approx(rat.estimate, rel=1e-12)
    assert dom.se == pytest.approx(rat.se, rel=1e-12)


@pytest.mark.parametrize("level", ["north", "west"])
def test_subset_equals_by_for_that_domain(level):
    d = design(frame())
    sub = d.subset(d.frame.g == level)
    for f in (sipas.mean, sipas.total):
        a = row(f(sub, "y"))
        b = row(f(d, "y", by="g"), g=level)
        for col in ("estimate", "se", "df", "n", "ci_low", "ci_high", "deff"):
            assert a[col] == pytest.approx(b[col], rel=1e-12), col


def test_two_by_columns_give_the_crossed_domains():
    d = design(frame())
    est = sipas.total(d, "y", by=["g", "sex"])
    f = est.to_frame()
    assert list(f.columns[:2]) == ["g", "sex"]
    assert len(f) == 6
    sub = d.subset((d.frame.g == "south") & (d.frame.sex == "m"))
    assert row(est, g="south", sex="m").se == pytest.approx(row(sipas.total(sub, "y")).se,
                                                          rel=1e-12)


def test_domain_df_counts_the_psus_in_the_domain():
    """R degf(subset(design, ...)): PSUs with a row in the domain minus their strata."""
    data = frame().assign(g=lambda f: np.where(f.h == 1, "first", "rest"))
    f = sipas.mean(design(data), "y", by="g").to_frame().set_index("g")
    assert f.loc["first", "df"] == 4 - 1
    assert f.loc["rest", "df"] == 8 - 2


# ---------------------------------------------------------------------- missing values


def test_missing_values_are_a_domain_with_design_df_unchanged():
    data = frame(n_missing=5)
    d = design(data)
    est = row(sipas.mean(d, "y"))
    assert est.n == 31
    assert est.n_missing == 5
    assert est.df == d.df == 9
    observed = d.subset(data.y.notna())
    same = row(sipas.mean(observed, "y"))
    assert est.estimate == pytest.approx(same.estimate, rel=1e-12)
    assert est.se == pytest.approx(same.se, rel=1e-12)
    ok = data.y.notna()
    want = np.sum(data.w[ok] * data.y[ok]) / np.sum(data.w[ok])
    assert est.estimate == pytest.approx(want, rel=1e-12)


def test_missing_counts_by_domain():
    data = frame(n_missing=7)
    f = sipas.total(design(data), "y", by="g").to_frame().set_index("g")
    for level, grp in data.groupby("g"):
        assert f.loc[level, "n"] == grp.y.notna().sum()
        assert f.loc[level, "n_missing"] == grp.y.isna().sum()


def test_missing_counts_for_a_proportion():
    data = frame().assign(a=lambda f: f.a.where(np.arange(len(f)) % 9 != 0))
    r = row(sipas.proportion(design(data), "a", value=5))
    assert (r.n, r.n_missing) == (32, 4)


def test_missing_error_refuses_and_names_column_and_rows():
    data = frame(n_missing=2)
    d = design(data)
    rows = np.flatnonzero(data.y.isna()).tolist()
    for call in (lambda: sipas.mean(d, "y", missing="error"),
                 lambda: sipas.total(d, "y", missing="error"),
                 lambda: sipas.ratio(d, "y", "w", missing="error"),
                 lambda: sipas.proportion(d, "y", value=1.0, missing="error")):
        with pytest.raises(sipas.DesignError, match=rf"'y'.*{rows}"):
            call()


def test_missing_error_ignores_rows_outside_the_subset():
    data = frame(n_missing=2)
    d = design(data).subset(data.y.notna())
    assert row(sipas.mean(d, "y", missing="error")).n_missing == 0


@pytest.mark.parametrize("estimator", ["mean", "total", "proportion", "ratio"])
def test_bad_missing_argument_lists_the_choices(estimator):
    d = design(frame())
    calls = {"mean": lambda: sipas.mean(d, "y", missing="drop"),
             "total": lambda: sipas.total(d, "y", missing="drop"),
             "proportion": lambda: sipas.proportion(d, "g", value="north", missing="drop"),
             "ratio": lambda: sipas.ratio(d, "y", "w", missing="drop")}
    with pytest.raises(sipas.DesignError, match=r"missing must be one of 'omit', 'error'"):
        calls[estimator]()


def test_nullable_boolean_with_missing_is_a_numeric_variable():
    data = frame()
    flag = pd.array([v > 3 if i % 5 else None for i, v in enumerate(data.y)], dtype="boolean")
    d = design(data.assign(flag=flag, flag01=pd.Series(flag).astype("Float64")))
    a, b = row(sipas.mean(d, "flag")), row(sipas.mean(d, "flag01"))
    assert (a.estimate, a.se, a.n_missing) == (b.estimate, b.se, b.n_missing)
    assert a.n_missing == 8


# ---------------------------------------------------------------------- empty domains


def test_domain_with_every_row_at_zero_weight_is_an_empty_row():
    data = frame()
    d = design(data).subset(data.g != "west")
    for est in (sipas.mean(d, "y", by="g"), sipas.ratio(d, "y", "a", by="g"),
                sipas.proportion(d, "a", value=5, by="g"),
                sipas.quantile(d, "y", 0.5, by="g")):
        r = row(est, g="west")
        assert r.n == 0
        assert np.isnan(r.estimate)
        assert np.isnan(r.ci_low)
        assert np.isnan(r.ci_high)
        assert row(est, g="north").n > 0


def test_empty_domain_total_is_not_estimated():
    """A domain with no respondents (or none with a value) gets NaN, not a total of 0 with
    SE 0 (R's svyby(..., drop.empty.groups=FALSE) gives NA); other rows are unaffected."""
    data = frame().assign(y=lambda f: f.y.where(f.g != "south"))
    d = design(data).subset(data.g != "west")
    f = sipas.total(d, "y", by="g").to_frame().set_index("g")
    for level in ("west", "south"):
        assert f.loc[level, "n"] == 0
        assert np.isnan(f.loc[level, ["estimate", "se", "ci_low", "ci_high"]].to_numpy(
            dtype=float)).all()
    north = sipas.total(d.subset(data.g == "north"), "y").to_frame().iloc[0]
    assert f.loc["north", "estimate"] == pytest.approx(north.estimate, rel=1e-12)
    assert f.loc["north", "se"] == pytest.approx(north.se, rel=1e-12)
    assert np.isnan(row(sipas.contrast(sipas.total(d, "y", by="g"), [1, 1, 1])).estimate)
    assert np.isfinite(row(sipas.contrast(sipas.total(d, "y", by="g"), [1, 0, 0])).se)


def test_unused_category_of_a_categorical_by_column_is_an_empty_row():
    data = frame()
    data["g"] = pd.Categorical(data.g, categories=["east", "north", "south", "west"])
    d = design(data)
    f = sipas.mean(d, "y", by="g").to_frame()
    assert f.g.tolist() == ["east", "north", "south", "west"]
    east = f.iloc[0]
    assert east.n == 0
    assert np.isnan(east.estimate)
    plain = sipas.mean(design(data.assign(g=data.g.astype(str))), "y", by="g").to_frame()
    np.testing.assert_allclose(f.estimate[1:], plain.estimate, rtol=1e-12)
    np.testing.assert_allclose(f.se[1:], plain.se, rtol=1e-12)


def test_contrast_ignores_an_empty_domain_it_does_not_use():
    data = frame()
    data["g"] = pd.Categorical(data.g, categories=["east", "north", "south", "west"])
    est = sipas.mean(design(data), "y", by="g")
    diff = row(sipas.contrast(est, {"g=north: y": 1, "g=south: y": -1}))
    f = est.to_frame().set_index("g")
    assert diff.estimate == pytest.approx(f.loc["north", "estimate"] - f.loc["south",
                                                                             "estimate"])
    assert np.isfinite(diff.se)
    assert np.isnan(row(sipas.contrast(est, [1, -1, 0, 0])).estimate)


# ---------------------------------------------------------------------- contrasts


def test_difference_of_domain_means_uses_the_covariance():
    est = sipas.mean(design(frame()), "y", by="sex")
    v = est.vcov().to_numpy()
    assert v[0, 1] != 0  # same PSUs: the domains are correlated
    diff = row(sipas.contrast(est, [1, -1], name="f - m"))
    f = est.to_frame()
    assert diff.variable == "f - m"
    assert diff.estimate == pytest.approx(f.estimate[0] - f.estimate[1], rel=1e-12)
    assert diff.se == pytest.approx(math.sqrt(v[0, 0] + v[1, 1] - 2 * v[0, 1]), rel=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(v)), f.se, rtol=1e-12)


def test_vcov_diagonal_for_replicate_designs():
    rep = sipas.replicate(design(frame()), "jkn")
    est = sipas.mean(rep, ["y", "b"], by="sex")
    np.testing.assert_allclose(np.sqrt(np.diag(est.vcov())), est.to_frame().se, rtol=1e-12)


@pytest.mark.parametrize("kind", ["taylor", "jkn"])
@pytest.mark.parametrize("estimator", ["mean", "total"])
def test_sum_of_estimates_equals_estimate_of_the_sum(kind, estimator):
    data = frame().assign(ab=lambda f: f.a + f.b)
    d = design(data)
    if kind == "jkn":
        d = sipas.replicate(d, "jkn")
    f = getattr(sipas, estimator)
    combined = row(sipas.contrast(f(d, ["a", "b"]), [1.0, 1.0]))
    direct = row(f(d, "ab"))
    assert combined.estimate == pytest.approx(direct.estimate, rel=1e-12)
    assert combined.se == pytest.approx(direct.se, rel=1e-12)


def test_contrast_matrix_gives_several_rows_and_mapping_by_label():
    est = sipas.mean(design(frame()), "y", by="g")
    two = sipas.contrast(est, np.array([[1, 0], [-1, 1], [0, -1]]), name="d")
    assert two.to_frame().variable.tolist() == ["d_1", "d_2"]
    by_label = sipas.contrast(est, {"g=north: y": 1, "g=south: y": -1})
    assert row(by_label).estimate == pytest.approx(two.to_frame().estimate[0], rel=1e-12)
    assert row(by_label).se == pytest.approx(two.to_frame().se[0], rel=1e-12)


def test_contrast_df_is_the_smallest_df_involved():
    data = frame().assign(g=lambda f: np.where(f.h == 1, "first", "rest"))
    est = sipas.mean(design(data), "y", by="g")
    assert row(sipas.contrast(est, [1, -1])).df == 3
    assert row(sipas.contrast(est, [0, 1])).df == 6
    assert row(sipas.contrast(est, [1, -1], df=math.inf)).df == math.inf


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"weights": [1, -1, 0]}, "2 coefficients"),
    ({"weights": {"nope": 1}}, "nope"),
    ({"weights": [1, np.nan]}, "weights must be finite"),
    ({"weights": [1, -1], "level": 0}, "level must be"),
    ({"weights": [1, -1], "level": 1.5}, "level must be"),
    ({"weights": [1, -1], "df": -1}, "df must be"),
])
def test_contrast_bad_arguments(kwargs, match):
    est = sipas.mean(design(frame()), "y", by="sex")
    with pytest.raises(sipas.DesignError, match=match):
        sipas.contrast(est, **kwargs)


def test_contrast_level_is_used():
    est = sipas.mean(design(frame()), "y", by="sex")
    wide = row(sipas.contrast(est, [1, -1], level=0.99))
    narrow = row(sipas.contrast(est, [1, -1], level=0.5))
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low


def test_quantile_has_no_covariance():
    est = sipas.quantile(design(frame()), "y", 0.5)
    with pytest.raises(sipas.EstimationError):
        est.vcov()
    with pytest.raises(sipas.EstimationError):
        sipas.contrast(est, [1])


# ---------------------------------------------------------------------- bad input


def test_non_numeric_variable_names_column_and_values():
    d = design(frame())
    with pytest.raises(sipas.DesignError, match=r"'g'.*numeric.*'north'"):
        sipas.mean(d, "g")
    with pytest.raises(sipas.DesignError, match=r"'g'.*numeric"):
        sipas.ratio(d, "y", "g")


@pytest.mark.parametrize("call", [
    lambda d: sipas.mean(d, "nope"),
    lambda d: sipas.total(d, ["y", "nope"]),
    lambda d: sipas.ratio(d, "y", "nope"),
    lambda d: sipas.proportion(d, "nope", value=1),
    lambda d: sipas.mean(d, "y", by="nope"),
    lambda d: sipas.quantile(d, "nope", 0.5),
])
def test_unknown_column_in_an_estimator_is_named(call):
    with pytest.raises(sipas.DesignError, match=r"\['nope'\] not found"):
        call(design(frame()))


def test_infinite_analysis_values_are_refused():
    data = frame().assign(y=lambda f: f.y.where(np.arange(len(f)) != 4, np.inf))
    with pytest.raises(sipas.DesignError, match=r"'y'.*infinite.*row 4"):
        sipas.mean(design(data), "y")


def test_by_column_with_missing_values_names_column_and_rows():
    data = frame().assign(g=lambda f: f.g.where(np.arange(len(f)) != 3))
    with pytest.raises(sipas.DesignError, match=r"\['g'\].*rows \[3\]"):
        sipas.mean(design(data), "y", by="g")


def test_proportion_value_that_never_occurs_is_refused():
    with pytest.raises(sipas.DesignError, match=r"\['east'\].*'g'"):
        sipas.proportion(design(frame()), "g", value="east")


def test_estimator_needs_a_design():
    with pytest.raises(sipas.DesignError, match=r"sipas\.Design"):
        sipas.mean(frame(), "y")


def test_ratio_with_mismatched_columns():
    with pytest.raises(sipas.DesignError, match="denominator"):
        sipas.ratio(design(frame()), ["y", "a", "b"], ["w", "a"])


# ---------------------------------------------------------------------- result objects


def test_to_frame_columns_are_fixed_and_shared_by_every_estimator():
    d = design(frame())
    results = [sipas.mean(d, "y", by="g"), sipas.total(d, ["y", "a"], by="g"),
               sipas.proportion(d, "a", value=[4, 5], by="g", ci="beta"),
               sipas.proportion(d, "sex", by="g"), sipas.ratio(d, "y", "a", by="g")]
    want = ["g", "variable", "value", "estimate", "se", "ci_low", "ci_high", "df", "deff",
            "n", "n_missing", "cv", "deff_replace"]
    for est in results:
        assert list(est.to_frame().columns) == want
    stacked = pd.concat([e.to_frame() for e in results], ignore_index=True)
    assert list(stacked.columns) == want
    assert len(stacked) == 3 * (1 + 2 + 1 + 2 + 1)
    overall = [sipas.mean(d, "y"), sipas.total(d, "y"), sipas.ratio(d, "y", "a"),
               sipas.contrast(sipas.mean(d, ["y", "a"]), [1, -1])]
    for est in overall:
        assert list(est.to_frame().columns) == want[1:]


def test_column_names_do_not_depend_on_level_or_method():
    d = design(frame())
    a = sipas.proportion(d, "sex", value="f", level=0.9, ci="wilson").to_frame()
    b = sipas.proportion(d, "sex", value="f", level=0.99, ci="logit").to_frame()
    assert list(a.columns) == list(b.columns)


def test_to_frame_is_a_copy():
    est = sipas.mean(design(frame()), "y")
    f = est.to_frame()
    f.loc[0, "estimate"] = -1
    assert est.to_frame().estimate[0] != -1


def test_repr_is_short_and_html_is_html():
    est = sipas.mean(design(frame()), ["y", "a", "b"], by=["g", "sex"])
    text = repr(est)
    assert text.startswith("<Estimate mean, 18 row(s), level=0.95")
    assert len(text.splitlines()) <= 12
    html = est._repr_html_()
    assert html.lstrip().startswith("<table")
    assert "</table>" in html
    assert "mean" in html


def test_estimate_is_frozen():
    est = sipas.mean(design(frame()), "y")
    with pytest.raises(AttributeError, match="cannot change"):
        est.level = 0.9
    before = est.to_frame()
    est.table.loc[0, "estimate"] = -1  # the example: a copy, not the estimate
    est.to_frame().loc[0, "estimate"] = -1
    pd.testing.assert_frame_equal(est.to_frame(), before)


def test_a_basis_cannot_be_written_through():
    est = sipas.mean(design(frame()), "y", by="g")
    before = est.vcov().to_numpy().copy()
    for arr in (est.basis.values, est.basis.full):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0.0
    np.testing.assert_array_equal(est.vcov().to_numpy(), before)


def test_index_tables_and_reproduction_tables_are_copies():
    sd = sipas.datasets.load_demo()
    d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    res = sipas.satisfaction_index(d, sd.spec)
    before = res.to_frame()
    for name in ("items", "factors", "overall", "nodes"):
        table = getattr(res, name)
        if len(table):
            table.loc[table.index[0], "estimate"] = -1.0
    pd.testing.assert_frame_equal(res.to_frame(), before)
    from sipas.reproduction import published_figures, reproduce
    rep = reproduce(published_figures("cao-bang-2020"), d, sd.spec)
    shown = rep.to_frame()
    table = rep.table
    table.loc[table.index[0], "status"] = "reproduced?"
    pd.testing.assert_frame_equal(rep.to_frame(), shown)


def test_proportion_level_has_its_own_column_and_rows_have_tuple_keys():
    d = design(frame())
    est = sipas.proportion(d, "a", value=[4, 5], by="g")
    table = est.to_frame()
    assert table["variable"].tolist() == ["a"] * len(table)
    assert table["value"].tolist() == [(4, 5)] * len(table)
    assert est.keys == [(g, "a", (4, 5)) for g in table["g"]]
    each = sipas.proportion(d, "sex")
    assert each.keys == [("sex", v) for v in each.to_frame()["value"]]
    v = est.vcov()
    assert list(v.index) == est.keys
    diff = sipas.contrast(est, {est.keys[0]: 1, est.keys[1]: -1}).to_frame()
    e = table["estimate"].to_numpy()
    assert diff["estimate"][0] == pytest.approx(e[0] - e[1], rel=1e-12)
