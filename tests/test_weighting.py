"""Weighting layer: closed forms, replicate designs, non-response, base weights, pre-flight
checks and the weighting report.

The agreement with R's ``survey`` package (weights and SEs after postStratify, rake,
calibrate, trimWeights) is in ``tests/test_oracle.py``. Here every reference value is a
closed form stated in the test (a calibrated total *is* its target, post-stratification is a
ratio per cell, ...) or an identity between two methods that R's documentation states.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

import sipas

# ---------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def demo():
    return sipas.datasets.load_demo()


@pytest.fixture(scope="module")
def resp(demo):
    """The demo survey's respondents (non-respondents kept at weight zero)."""
    return sipas.Design.from_spec(demo).subset(demo.frame["response"] == 1)


@pytest.fixture(scope="module")
def margins(demo):
    """The spec margins as plain ``{column: {level: N}}``."""
    return {m.variables[0]: {k[0]: v for k, v in m.targets.items()} for m in demo.spec.margins}


def weighted_totals(design, column) -> pd.Series:
    """Weighted total of every level of ``column`` (rows with weight zero left out)."""
    w = design.weight_array
    keep = w > 0
    return pd.Series(w[keep]).groupby(design.frame[column].to_numpy()[keep]).sum()


def replicate_totals(design, column) -> pd.DataFrame:
    """Weighted totals of every level of ``column`` in every replicate (levels x R)."""
    reps = design.replicate_weights()
    codes = design.frame[column].to_numpy()
    return pd.DataFrame(reps).groupby(codes).sum()


def small_frame(n=60, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"h": np.repeat([1, 2, 3], n // 3),
                         "psu": np.repeat(np.arange(n // 3), 3),
                         "sex": rng.integers(1, 3, n), "age": rng.integers(1, 4, n),
                         "x": rng.uniform(1, 5, n), "y": rng.normal(10, 2, n),
                         "w": rng.uniform(5, 20, n)})


def small_design(**changes) -> sipas.Design:
    frame = small_frame().assign(**changes)
    return sipas.Design(frame, ids="psu", strata="h", weights="w", nest=True)


# ---------------------------------------------------------------------- 1. closed forms


@pytest.mark.parametrize("tol", [1e-4, 1e-7, 1e-10])
def test_rake_hits_every_margin_to_tol(resp, margins, tol):
    """Closed form: after raking, every margin total equals its target to ``tol`` times the
    sum of the weights (the convergence rule of R's rake, epsilon < 1)."""
    w = sipas.rake(resp, margins, tol=tol)
    total = w.weight_array.sum()
    for col, targets in margins.items():
        got = weighted_totals(w, col)
        for level, target in targets.items():
            assert abs(got[level] - target) <= tol * total, (col, level)
    assert w.history[-1].name == "rake"
    assert resp.history == ()


@pytest.mark.parametrize("dtype", ["float64", "object"])
def test_rake_codes_by_table_equal_codes_by_hashing(demo, resp, margins, dtype):
    """Integer margin columns are coded through a table over their range, other columns by
    hashing: the same margins give the same weights, the same SEs, and the same errors."""
    frame = demo.frame.assign(**{c: demo.frame[c].astype(dtype) for c in margins})
    other = sipas.Design.from_spec(demo, frame=frame).subset(demo.frame["response"] == 1)
    a, b = sipas.rake(resp, margins), sipas.rake(other, margins)
    np.testing.assert_allclose(a.weight_array, b.weight_array, rtol=1e-12)
    ea, eb = sipas.mean(a, "p03").to_frame(), sipas.mean(b, "p03").to_frame()
    np.testing.assert_allclose(ea[["estimate", "se"]], eb[["estimate", "se"]], rtol=1e-12)
    col = next(iter(margins))
    (first, n1), *rest = margins[col].items()
    short = {**margins, col: {99: n1, **dict(rest)}}  # level `first` has no target
    messages = []
    for d in (resp, other):
        with pytest.raises(sipas.errors.WeightingError) as err:
            sipas.rake(d, short)
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "no population target" in messages[0]


@pytest.mark.parametrize("zero", [False, True])
def test_raking_variance_by_cells_equals_by_rows(demo, resp, margins, zero):
    """The raking projections' variance from per-cell sums (their row factors are functions
    of the joint cell) equals the one from the row factors, also when rows are dropped after
    raking and when the input has zero weights."""
    import dataclasses

    base = resp.subset(np.arange(len(demo.frame)) % 7 != 0) if zero else resp
    raked = sipas.rake(base, margins)
    if zero:
        raked = raked.subset(demo.frame["sex"] == 1)
    # without the per-cell counts the cross products and unit loadings are summed row by row
    rows_only = {id(p): dataclasses.replace(p, cell_rows=None, cell_weight=None)
                 for p in raked.calibration}
    stripped = raked._derived(_calibration=tuple(rows_only[id(p)] for p in raked.calibration))
    for fn in (lambda d: sipas.mean(d, ["p03", "q01"], by="district"),
               lambda d: sipas.proportion(d, ["q01", "q02"], value=[4, 5], by="service"),
               lambda d: sipas.total(d, "p03")):
        by_cells, by_rows = fn(raked).to_frame(), fn(stripped).to_frame()
        np.testing.assert_allclose(by_cells["se"], by_rows["se"], rtol=1e-10)
        np.testing.assert_allclose(by_cells["estimate"], by_rows["estimate"], rtol=1e-12)


def test_rake_accepts_the_spec_margins(demo, resp, margins):
    """The spec's margin objects and the plain mapping describe the same targets."""
    a = sipas.rake(resp, demo.spec.margins)
    b = sipas.rake(resp, margins)
    np.testing.assert_array_equal(a.weight_array, b.weight_array)


def test_poststratify_reproduces_cell_totals_exactly(resp, margins):
    """Closed form: w_i N_c / sum_c w, so each cell total is N_c (to rounding)."""
    pop = margins["district"]
    w = sipas.poststratify(resp, "district", pop)
    got = weighted_totals(w, "district")
    for level, target in pop.items():
        assert got[level] == pytest.approx(target, rel=1e-12)
    # the ratio within a cell is constant: w1 / w0 = N_c / sum_c w0
    ratio = w.weight_array[resp.weight_array > 0] / resp.weight_array[resp.weight_array > 0]
    cells = resp.frame["district"].to_numpy()[resp.weight_array > 0]
    assert pd.Series(ratio).groupby(cells).std(ddof=0).max() < 1e-12
    assert np.all(w.weight_array[resp.weight_array == 0] == 0)


def test_poststratify_on_two_columns(resp):
    """Cells crossed from two columns, tuple keys; each cell total equals its target."""
    frame = resp.frame[resp.weight_array > 0]
    cells = frame.groupby(["sex", "urban"]).size()
    pop = {key: 1000.0 * (i + 1) for i, key in enumerate(cells.index)}
    w = sipas.poststratify(resp, ["sex", "urban"], pop)
    keep = w.weight_array > 0
    got = pd.Series(w.weight_array[keep]).groupby(
        [frame["sex"].to_numpy(), frame["urban"].to_numpy()]).sum()
    for key, target in pop.items():
        assert got[key] == pytest.approx(target, rel=1e-12)


def test_poststratify_accepts_a_population_table(resp, margins):
    table = pd.DataFrame({"district": list(margins["district"]),
                          "population": list(margins["district"].values())})
    a = sipas.poststratify(resp, "district", table)
    b = sipas.poststratify(resp, "district", margins["district"])
    np.testing.assert_array_equal(a.weight_array, b.weight_array)
    with pytest.raises(sipas.WeightingError, match=r"cells=\['sex'\]"):
        sipas.poststratify(resp, "sex", table)
    with pytest.warns(DeprecationWarning, match="by= is deprecated; use cells="):
        c = sipas.poststratify(resp, by="district", population=table)
    np.testing.assert_array_equal(a.weight_array, c.weight_array)


@pytest.fixture(scope="module")
def with_numeric(demo):
    """Respondents with a numeric auxiliary (household size, complete for everyone)."""
    rng = np.random.default_rng(7)
    frame = demo.frame.assign(hh=rng.integers(1, 8, len(demo.frame)).astype(float))
    return sipas.Design.from_spec(demo, frame=frame).subset(frame["response"] == 1)


def test_linear_calibration_reproduces_all_totals(with_numeric, margins):
    """Closed form: calibrated totals equal the targets, categorical (two full sets of
    levels, collinear through the intercept) and numeric, to 1e-8."""
    d = with_numeric
    hh_total = 1.04 * float(d.weight_array @ d.frame["hh"].to_numpy())
    totals = {"sex": margins["sex"], "age_group": margins["age_group"], "hh": hh_total}
    w = sipas.calibrate(d, totals)
    for col in ("sex", "age_group"):
        got = weighted_totals(w, col)
        for level, target in margins[col].items():
            assert got[level] == pytest.approx(target, rel=1e-8)
    assert w.weight_array @ d.frame["hh"].to_numpy() == pytest.approx(hh_total, rel=1e-8)


def test_calibration_with_population_size_and_categories(resp, margins):
    """An intercept next to a full set of levels is collinear; with consistent totals the
    solution exists (R uses a generalised inverse) and every total is met."""
    n_pop = sum(margins["sex"].values())
    for method in ("linear", "raking"):
        w = sipas.calibrate(resp, {"sex": margins["sex"], "age_group": margins["age_group"]},
                            population_size=n_pop, method=method, tol=1e-11)
        assert w.weight_array.sum() == pytest.approx(n_pop, rel=1e-8)
        got = weighted_totals(w, "age_group")
        for level, target in margins["age_group"].items():
            assert got[level] == pytest.approx(target, rel=1e-8)


def test_linear_calibration_is_the_greg_closed_form(with_numeric, margins):
    """Closed form: g = 1 + x'(X'WX)^-1 (T - X'w) with an intercept, sex and hh."""
    d = with_numeric
    keep = d.weight_array > 0
    frame, w0 = d.frame[keep], d.weight_array[keep]
    x = np.column_stack([np.ones(keep.sum()), (frame["sex"] == 2).to_numpy(float),
                         frame["hh"].to_numpy()])
    n_pop = sum(margins["sex"].values())
    t = np.array([n_pop, margins["sex"][2], 1.02 * float(w0 @ frame["hh"].to_numpy())])
    g = 1 + x @ np.linalg.solve(x.T @ (x * w0[:, None]), t - x.T @ w0)
    w = sipas.calibrate(d, {"sex": margins["sex"], "hh": t[2]})
    np.testing.assert_allclose(w.weight_array[keep], w0 * g, rtol=1e-10)


@pytest.mark.parametrize("method", ["linear", "raking", "logit"])
def test_bounded_calibration_keeps_g_within_bounds(with_numeric, margins, method):
    """g = w_cal / w stays in the bounds (R calibrate(bounds=)), and the totals are met."""
    d = with_numeric
    lo, hi = 0.7, 1.5
    totals = {"sex": margins["sex"], "age_group": margins["age_group"],
              "district": margins["district"]}
    w = sipas.calibrate(d, totals, method=method, bounds=(lo, hi), max_iter=100)
    keep = d.weight_array > 0
    g = w.weight_array[keep] / d.weight_array[keep]
    assert g.min() >= lo - 1e-9
    assert g.max() <= hi + 1e-9
    assert g.min() < 0.9 or g.max() > 1.1  # the bounds are not idle
    for col, targets in totals.items():
        got = weighted_totals(w, col)
        for level, target in targets.items():
            assert got[level] == pytest.approx(target, rel=1e-6)


def test_unbounded_linear_calibration_leaves_the_bounds(with_numeric, margins):
    """The same totals without bounds need g outside (0.7, 1.5): the bounds above bind."""
    totals = {"sex": margins["sex"], "age_group": margins["age_group"],
              "district": margins["district"]}
    w = sipas.calibrate(with_numeric, totals)
    keep = with_numeric.weight_array > 0
    g = w.weight_array[keep] / with_numeric.weight_array[keep]
    assert g.min() < 0.7 or g.max() > 1.5


def test_raking_calibration_to_one_margin_is_poststratification(resp, margins):
    """Identity: with one categorical margin, raking calibration = post-stratification."""
    a = sipas.calibrate(resp, {"district": margins["district"]}, method="raking", tol=1e-12)
    b = sipas.poststratify(resp, "district", margins["district"])
    np.testing.assert_allclose(a.weight_array, b.weight_array, rtol=1e-10)


def test_rake_with_one_margin_is_poststratification(resp, margins):
    """Identity: raking to a single margin is one post-stratification."""
    a = sipas.rake(resp, {"age_group": margins["age_group"]})
    b = sipas.poststratify(resp, "age_group", margins["age_group"])
    np.testing.assert_allclose(a.weight_array, b.weight_array, rtol=1e-12)
    assert a.history[-1].summary["iterations"] <= 2


def test_rake_one_margin_se_is_poststratification_se_with_equal_weights():
    """R svyrecvar: a raking margin subtracts psw * ave(x / psw) (unweighted cell mean), a
    post-stratum psw * the oldw-weighted cell mean; they coincide when the design weights
    are equal, so the SEs do too (with unequal weights they differ, as in R)."""
    d = small_design(w=12.0)
    pop = {1: 400.0, 2: 500.0}
    a = sipas.rake(d, {"sex": pop})
    b = sipas.poststratify(d, "sex", pop)
    se_a = sipas.mean(a, "y").to_frame()["se"][0]
    se_b = sipas.mean(b, "y").to_frame()["se"][0]
    assert se_a == pytest.approx(se_b, rel=1e-10)


def test_rake_and_raking_calibration_same_weights_different_se(resp, margins):
    """R survey documents (oracle NOTES.md): rake() and calibrate(calfun="raking") give the
    same weights but different SEs (iterated post-stratification projections vs GREG
    residuals on the full model matrix)."""
    a = sipas.rake(resp, margins, tol=1e-12, max_iter=200)
    b = sipas.calibrate(resp, margins, method="raking", tol=1e-12)
    np.testing.assert_allclose(a.weight_array, b.weight_array, rtol=1e-8)
    se_a = sipas.mean(a, "q01").to_frame()["se"][0]
    se_b = sipas.mean(b, "q01").to_frame()["se"][0]
    assert se_a == pytest.approx(se_b, rel=0.2)
    assert abs(se_a - se_b) > 1e-4 * se_b


# ---------------------------------------------------------------------- 2. replicate designs


@pytest.fixture(scope="module")
def rep(resp):
    return sipas.replicate(resp, "jkn")


def test_poststratify_reweights_every_replicate(rep, margins):
    """Each jackknife replicate is post-stratified: its cell totals equal the targets."""
    pop = margins["age_group"]
    w = sipas.poststratify(rep, "age_group", pop)
    assert isinstance(w, sipas.ReplicateDesign)
    assert w.n_replicates == rep.n_replicates
    totals = replicate_totals(w, "age_group")
    for level, target in pop.items():
        np.testing.assert_allclose(totals.loc[level], target, rtol=1e-12, err_msg=str(level))
    assert weighted_totals(w, "age_group")[1] == pytest.approx(pop[1], rel=1e-12)


def test_rake_reweights_every_replicate(rep, margins):
    tol = 1e-9
    w = sipas.rake(rep, margins, tol=tol)
    reps = w.replicate_weights()
    for col, targets in margins.items():
        totals = replicate_totals(w, col)
        for level, target in targets.items():
            assert np.all(np.abs(totals.loc[level] - target) <= tol * reps.sum(0)), col
    assert "rake" in repr(w)


def test_calibrate_trim_nonresponse_on_replicates(demo, margins):
    """Every step works on a replicate design and changes every replicate."""
    full = sipas.replicate(sipas.Design.from_spec(demo), "jkn")
    nr = sipas.nonresponse(full, "response", [1], nonrespondent=[2, 3], classes="district")
    reps0, reps1 = full.replicate_weights(), nr.replicate_weights()
    # each replicate keeps its own eligible total per district (weighting-class closed form)
    dist = demo.frame["district"].to_numpy()
    np.testing.assert_allclose(pd.DataFrame(reps1).groupby(dist).sum(),
                               pd.DataFrame(reps0).groupby(dist).sum(), rtol=1e-12)
    cal = sipas.calibrate(nr, {"sex": margins["sex"]})
    totals = replicate_totals(cal, "sex")
    for level, target in margins["sex"].items():
        np.testing.assert_allclose(totals.loc[level], target, rtol=1e-8)
    upper = float(np.quantile(cal.weight_array[cal.weight_array > 0], 0.9))
    t = sipas.trim(cal, upper=upper, strict=True)
    reps = t.replicate_weights()
    assert reps.max() <= upper + 1e-9
    np.testing.assert_allclose(reps.sum(0), cal.replicate_weights().sum(0), rtol=1e-10)
    assert [s.name for s in t.history] == ["nonresponse", "calibrate", "trim"]


def test_supplied_replicate_columns_are_reweighted(resp, rep, margins):
    """Replicate weights given as columns (R svrepdesign) are post-stratified and raked like
    replicates created by sipas.replicate: the same weights either way."""
    keep = resp.weight_array > 0
    reps = rep.replicate_weights()[keep]
    names = [f"rep{i + 1}" for i in range(reps.shape[1])]
    frame = resp.frame[keep].assign(wfull=resp.weight_array[keep],
                                    **{n: reps[:, i] for i, n in enumerate(names)})
    supplied = sipas.ReplicateDesign(frame, weights="wfull", repweights=names, method="jkn",
                                     rscales=list(rep.rscales), scale=rep.scale)
    for step in (lambda d: sipas.poststratify(d, "district", margins["district"]),
                 lambda d: sipas.rake(d, margins)):
        a, b = step(supplied), step(rep)
        np.testing.assert_allclose(a.replicate_weights(), b.replicate_weights()[keep],
                                   rtol=1e-10)
        totals = replicate_totals(a, "district")
        for level, target in margins["district"].items():
            np.testing.assert_allclose(totals.loc[level], target, rtol=1e-8)
        se_a = sipas.mean(a, "q01").to_frame()["se"][0]
        se_b = sipas.mean(b, "q01").to_frame()["se"][0]
        assert se_a == pytest.approx(se_b, rel=1e-10)


def test_jackknife_se_of_poststratified_mean_matches_taylor():
    """Large synthetic stratified cluster sample: the JKn SE of a post-stratified mean and
    total is within 10% of the calibration-aware Taylor SE (both estimate the same
    variance; Wolter 2007, ch. 4)."""
    rng = np.random.default_rng(20240601)
    n_strata, n_psu, m = 20, 10, 20
    n = n_strata * n_psu * m
    frame = pd.DataFrame({"h": np.repeat(np.arange(n_strata), n_psu * m),
                          "psu": np.repeat(np.arange(n_strata * n_psu), m),
                          "cell": rng.integers(0, 4, n), "w": rng.uniform(5, 15, n)})
    frame["y"] = (2 + frame["cell"] + rng.normal(0, 1, n)
                  + np.repeat(rng.normal(0, 0.5, n_strata * n_psu), m))
    design = sipas.Design(frame, ids="psu", strata="h", weights="w")
    pop = {0: 20000, 1: 25000, 2: 30000, 3: 25000}
    taylor = sipas.poststratify(design, "cell", pop)
    jack = sipas.poststratify(sipas.replicate(design, "jkn"), "cell", pop)
    for stat in (sipas.mean, sipas.total):
        t = stat(taylor, "y").to_frame()
        j = stat(jack, "y").to_frame()
        assert j["estimate"][0] == pytest.approx(t["estimate"][0], rel=1e-12)
        assert j["se"][0] == pytest.approx(t["se"][0], rel=0.10)
    # and post-stratification does reduce the SE of the mean here (y depends on cell)
    assert sipas.mean(taylor, "y").to_frame()["se"][0] < \
        0.95 * sipas.mean(design, "y").to_frame()["se"][0]


# ---------------------------------------------------------------------- 4. non-response


def nr_frame() -> pd.DataFrame:
    """Two classes; status 1 respondent, 2 non-respondent, 3 ineligible."""
    return pd.DataFrame({"h": [1] * 6 + [2] * 6,
                         "psu": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6],
                         "cls": list("AAABBB") * 2,
                         "status": [1, 2, 1, 1, 1, 3, 1, 1, 2, 1, 1, 3],
                         "w": [10.0, 12, 8, 5, 7, 9, 11, 4, 6, 5, 3, 2]})


def test_weighting_classes_keep_eligible_total_per_class():
    """Closed form: in each class, sum of adjusted respondent weights = sum of eligible
    (respondent + non-respondent) weights before; non-respondents and ineligibles get 0."""
    frame = nr_frame()
    d = sipas.Design(frame, ids="psu", strata="h", weights="w", nest=True)
    a = sipas.nonresponse(d, "status", [1], nonrespondent=[2], ineligible=[3], classes="cls")
    eligible = frame["status"] != 3
    want = frame["w"][eligible].groupby(frame["cls"][eligible]).sum()
    got = pd.Series(a.weight_array).groupby(frame["cls"]).sum()
    pd.testing.assert_series_equal(got, want, check_names=False, rtol=1e-12)
    assert np.all(a.weight_array[frame["status"] != 1] == 0)
    # ineligible units are not compensated: the total drops by their weight
    assert a.weight_array.sum() == pytest.approx(frame["w"][eligible].sum(), rel=1e-12)
    assert a.weight_array.sum() < frame["w"].sum()
    # respondents of a class share one factor
    resp_a = (frame["cls"] == "A") & (frame["status"] == 1)
    factor = a.weight_array[resp_a] / frame["w"][resp_a]
    assert np.ptp(factor) < 1e-12
    assert factor.iloc[0] == pytest.approx(
        frame["w"][eligible & (frame["cls"] == "A")].sum() / frame["w"][resp_a].sum())


def test_nonrespondents_stay_in_the_design():
    """Rows stay (weight 0); every PSU keeps a respondent, so df = #PSU - #strata = 4 is
    unchanged (R degf counts PSUs with a non-zero weight)."""
    frame = nr_frame()
    d = sipas.Design(frame, ids="psu", strata="h", weights="w", nest=True)
    a = sipas.nonresponse(d, "status", [1], nonrespondent=[2], ineligible=[3], classes="cls")
    assert a.n == d.n == len(frame)
    assert a.df == d.df == 4
    assert a.history[-1].summary["nonrespondents"] == 2
    assert a.history[-1].summary["ineligible"] == 2
    # a domain estimate over the adjusted design uses the same strata and PSUs
    assert sipas.mean(a, "w").to_frame()["df"][0] == 4


def test_unknown_response_code_is_named():
    frame = nr_frame()
    frame.loc[3, "status"] = 9
    d = sipas.Design(frame, ids="psu", strata="h", weights="w", nest=True)
    with pytest.raises(sipas.WeightingError, match=r"'status' has code\(s\) \[9\]"):
        sipas.nonresponse(d, "status", [1], nonrespondent=[2], ineligible=[3], classes="cls")


def test_class_without_respondent_is_named():
    frame = nr_frame()
    frame.loc[frame["cls"] == "B", "status"] = [2, 2, 3, 2, 2, 3]
    frame.loc[frame["cls"] == "B", "cls"] = ["B", "B", "B", "C", "C", "C"]
    frame.loc[frame["cls"] == "C", "status"] = [1, 2, 3]
    d = sipas.Design(frame, ids="psu", strata="h", weights="w", nest=True)
    with pytest.raises(sipas.WeightingError, match=r"weighting class \{'cls': 'B'\}"):
        sipas.nonresponse(d, "status", [1], nonrespondent=[2], ineligible=[3], classes="cls")


def test_propensity_adjustment_on_the_demo(demo):
    """Propensity classes keep the eligible total (every unit is eligible here)."""
    d = sipas.Design.from_spec(demo)
    a = sipas.nonresponse(d, "response", [1], nonrespondent=[2, 3], method="propensity",
                          covariates=["age_group", "sex", "urban"])
    assert a.weight_array.sum() == pytest.approx(d.weight_array.sum(), rel=1e-12)
    nonresp = demo.frame["response"].isin([2, 3]).to_numpy()
    assert np.all(a.weight_array[nonresp] == 0)
    assert np.all(a.weight_array[~nonresp] > 0)
    assert a.n == d.n
    assert a.df == d.df
    assert a.history[-1].options["covariates"] == ["age_group", "sex", "urban"]
    # five classes of equal size, each with its own factor >= 1
    factors = a.weight_array[~nonresp] / d.weight_array[~nonresp]
    assert factors.min() >= 1
    assert 1 < len(np.unique(factors.round(10))) <= 5


# ---------------------------------------------------------------------- 5. base weights


def test_base_weights_are_the_inverse_product_of_stage_probabilities():
    f = pd.DataFrame({"p1": [0.5, 0.5, 0.25, 0.2], "p2": [0.1, 0.1, 0.5, 1.0]})
    w = sipas.base_weights(f, ["p1", "p2"])
    np.testing.assert_allclose(w, [20.0, 20.0, 8.0, 5.0], rtol=1e-15)
    np.testing.assert_allclose(sipas.base_weights(f, "p1"), 1 / f["p1"])


def test_frame_size_check_passes_for_srs_stages():
    """SRS of n from N: p = n/N, so the weights sum to N exactly, overall and by stratum."""
    f = pd.DataFrame({"s": [1] * 4 + [2] * 3, "p": [4 / 50] * 4 + [3 / 7] * 3})
    sipas.base_weights(f, ["p"], frame_size=57)
    sipas.base_weights(f, ["p"], frame_size={1: 50, 2: 7}, strata="s")


def test_frame_size_check_gives_the_difference():
    f = pd.DataFrame({"s": [1, 1, 2, 2], "p": [0.1, 0.2, 0.5, 0.5]})  # sum 15 + 4 = 19
    with pytest.raises(sipas.WeightingError, match=r"sum to 19 .* has 20 units: a difference "
                                                   r"of -1 \(-5%\)"):
        sipas.base_weights(f, ["p"], frame_size=20)
    with pytest.raises(sipas.WeightingError, match=r"stratum 1 sum to 15 .*difference of \+3"):
        sipas.base_weights(f, ["p"], frame_size={1: 12, 2: 4}, strata="s")
    with pytest.raises(sipas.WeightingError, match=r"no size for stratum\(s\) \[2\]"):
        sipas.base_weights(f, ["p"], frame_size={1: 15}, strata="s")


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.2, np.nan])
def test_probability_outside_unit_interval_names_column_and_rows(bad):
    f = pd.DataFrame({"p1": [0.5] * 5, "p2": [0.1, bad, 0.3, 0.2, bad]})
    with pytest.raises(sipas.WeightingError, match=r"'p2' must be in \(0, 1\]; rows \[1, 4\]"):
        sipas.base_weights(f, ["p1", "p2"])


# ---------------------------------------------------------------------- 6. pre-flight checks


def test_population_cell_without_sample(resp, margins):
    pop = {**margins["district"], 99: 1234.0}
    with pytest.raises(sipas.WeightingError, match=r"level\(s\) \[\(99,\)\] have a target but "
                                                   "no respondent"):
        sipas.poststratify(resp, "district", pop)
    with pytest.raises(sipas.WeightingError, match="no respondent"):
        sipas.rake(resp, {"district": pop, "sex": {1: 1234.0 + 36831, 2: 40103}})
    w = sipas.poststratify(resp, "district", pop, partial=True)
    assert w.weight_array.sum() == pytest.approx(sum(margins["district"].values()), rel=1e-12)
    r = sipas.rake(resp, {"district": pop}, partial=True)
    np.testing.assert_allclose(r.weight_array, w.weight_array, rtol=1e-12)
    rows = pd.DataFrame(w.history[-1].summary["margins"])
    assert rows.set_index("level").loc[99, "achieved"] == 0


def test_partial_rake_that_breaks_the_margins_is_explained(resp, margins):
    pop = {**margins["district"], 99: 1234.0}
    sex = {1: margins["sex"][1] + 1234.0, 2: margins["sex"][2]}
    with pytest.raises(sipas.WeightingError, match=r"partial=True left out .*district=99"):
        sipas.rake(resp, {"district": pop, "sex": sex}, partial=True)


def test_sample_level_without_target(resp, margins):
    pop = {k: v for k, v in margins["district"].items() if k != 3}
    with pytest.raises(sipas.WeightingError, match=r"sample level\(s\) \[\(3,\)\] have no "
                                                   "population target"):
        sipas.poststratify(resp, "district", pop)
    with pytest.raises(sipas.WeightingError, match="no population target"):
        sipas.calibrate(resp, {"district": pop})


def test_rake_targets_with_different_totals(resp, margins):
    sex = {1: margins["sex"][1], 2: margins["sex"][2] + 500}
    with pytest.raises(sipas.WeightingError, match=r"do not sum to the same population total "
                                                   r"\(sex=77,434, age_group=76,934"):
        sipas.rake(resp, {"sex": sex, "age_group": margins["age_group"]})
    with pytest.raises(sipas.WeightingError, match="Calibration cannot hit"):
        sipas.calibrate(resp, {"sex": sex, "age_group": margins["age_group"]})
    with pytest.raises(sipas.WeightingError, match="population_size"):
        sipas.calibrate(resp, {"sex": margins["sex"]}, population_size=1000)


@pytest.mark.parametrize("targets", [{"Nam": 36831, "Nữ": 40103}, {"1": 36831, "2": 40103}])
def test_codes_that_differ_between_data_and_targets(resp, targets):
    with pytest.raises(sipas.WeightingError, match="do not match at all"):
        sipas.poststratify(resp, "sex", targets)
    with pytest.raises(sipas.WeightingError, match=re.escape(repr((next(iter(targets)),)))):
        sipas.rake(resp, {"sex": targets})


def test_integer_data_and_string_targets():
    d = small_design(sex=small_frame()["sex"].astype(int))
    with pytest.raises(sipas.WeightingError, match=r"1 versus '1'"):
        sipas.poststratify(d, "sex", {"1": 100, "2": 100})


def test_margin_column_with_missing_values(resp, margins):
    frame = resp.frame.copy()
    first = int(np.flatnonzero(resp.weight_array > 0)[2])
    frame.loc[frame.index[first], "sex"] = np.nan
    d = sipas.Design(frame, ids=["commune", "resp_id"], strata="district", weights="w_design",
                     fpc=["N_communes", "N_users"], nest=True).subset(frame["response"] == 1)
    for call in (lambda: sipas.rake(d, {"sex": margins["sex"]}),
                 lambda: sipas.poststratify(d, "sex", margins["sex"]),
                 lambda: sipas.calibrate(d, {"sex": margins["sex"]})):
        with pytest.raises(sipas.WeightingError,
                           match=rf"\['sex'\] have 1 missing value\(s\) .*rows \[{first}\]"):
            call()
    # missing values outside the weighted rows are fine
    sipas.rake(d.subset(np.arange(d.n) != first), {"sex": margins["sex"]})


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"tol": 0}, "tol must be a finite number > 0; got 0"),
    ({"tol": -1e-6}, "tol must be"),
    ({"tol": math.nan}, "tol must be"),
    ({"tol": "1e-6"}, "tol must be"),
    ({"max_iter": 0}, "max_iter must be a positive integer; got 0"),
    ({"max_iter": 2.5}, "max_iter must be"),
    ({"max_iter": True}, "max_iter must be"),
])
def test_bad_tol_and_max_iter(resp, margins, kwargs, pattern):
    with pytest.raises(sipas.WeightingError, match=re.escape(pattern)):
        sipas.rake(resp, margins, **kwargs)
    with pytest.raises(sipas.WeightingError, match=re.escape(pattern)):
        sipas.calibrate(resp, {"sex": margins["sex"]}, method="raking", **kwargs)


def test_numpy_integers_are_accepted(resp, margins):
    a = sipas.rake(resp, margins, max_iter=np.int64(50), tol=np.float64(1e-8))
    assert a.history[-1].options["max_iter"] == 50


@pytest.mark.parametrize("bounds", [(1.2, 2), (0.5, 1), (2, 0.5), (0.5,), (None, 2), "ab",
                                    (math.nan, 2)])
def test_bad_bounds(resp, margins, bounds):
    with pytest.raises(sipas.WeightingError, match=r"bounds must be \(lower, upper\) with "
                                                   r"lower < 1 < upper"):
        sipas.calibrate(resp, {"sex": margins["sex"]}, bounds=bounds)


def test_logit_needs_finite_bounds(resp, margins):
    for bounds in (None, (0.5, math.inf)):
        with pytest.raises(sipas.WeightingError, match=r"finite .* for method='logit'"):
            sipas.calibrate(resp, {"sex": margins["sex"]}, method="logit", bounds=bounds)


def test_rake_non_convergence_names_margin_and_distance():
    """Sex and age are confounded in the sample (only cells (1,1) and (2,2)), so targets
    sex 60/40 and age 40/60 cannot both hold: IPF cycles between them."""
    frame = pd.DataFrame({"psu": range(8), "sex": [1] * 4 + [2] * 4,
                          "age": [1] * 4 + [2] * 4, "w": [10.0] * 8})
    d = sipas.Design(frame, ids="psu", weights="w")
    with pytest.raises(sipas.ConvergenceError,
                       match=r"did not converge in 30 sweeps .*margin 'sex', level \(2,\) is "
                             r"at 60 instead of 40 \(50% off\)"):
        sipas.rake(d, {"sex": {1: 60, 2: 40}, "age": {1: 40, 2: 60}}, max_iter=30)


def test_rake_max_iter_one_does_not_converge(resp, margins):
    with pytest.raises(sipas.ConvergenceError, match=r"in 1 sweeps \(tol 1e-12\): margin "
                                                     r"'\w+', level \(\d\.?0?,\) is at .*% off"):
        sipas.rake(resp, margins, tol=1e-12, max_iter=1)


def test_calibration_non_convergence_names_total(with_numeric, margins):
    totals = {"sex": margins["sex"], "district": margins["district"]}
    with pytest.raises(sipas.ConvergenceError, match=r"total of '(sex|district)=\d.*' is off"):
        sipas.calibrate(with_numeric, totals, method="logit", bounds=(0.99, 1.01))


def test_linear_calibration_with_negative_weights_is_an_error():
    """A numeric total far above the sample's makes g = 1 + x lambda negative for small x."""
    d = small_design()
    w, x = d.frame["w"].to_numpy(), d.frame["x"].to_numpy()
    with pytest.raises(sipas.WeightingError, match=r"linear calibration produced \d+ negative"):
        sipas.calibrate(d, {"x": 0.3 * float(w @ x)}, population_size=float(w.sum()))
    # raking keeps them positive
    r = sipas.calibrate(d, {"x": 0.6 * float(w @ x)}, population_size=float(w.sum()),
                        method="raking")
    assert np.all(r.weight_array > 0)


def test_bad_trim_bounds():
    d = small_design()
    with pytest.raises(sipas.WeightingError, match=r"lower/upper must be lower < upper"):
        sipas.trim(d, lower=10, upper=5)
    with pytest.raises(sipas.WeightingError, match="upper must be a number or None"):
        sipas.trim(d, upper="x")
    mean = d.weight_array.mean()
    with pytest.raises(sipas.WeightingError, match="Widen the bounds so that the mean"):
        sipas.trim(d, upper=0.9 * mean, strict=True)


def test_single_trim_pass_never_leaves_negative_weights():
    d = sipas.Design(pd.DataFrame({"psu": [1, 2, 3], "w": [1.0, 1, 10]}), ids="psu",
                     weights="w")
    with pytest.raises(sipas.WeightingError, match="negative weight"):
        sipas.trim(d, lower=8)


def test_strict_trim_close_to_the_mean_settles():
    """R's strict recursion cycles in floating point when the bound is close to the mean
    weight; sipas settles with every weight inside and the sum kept."""
    rng = np.random.default_rng(0)
    w = rng.uniform(1, 100, 500)
    d = sipas.Design(pd.DataFrame({"psu": range(500), "w": w}), ids="psu", weights="w")
    upper = 1.001 * w.mean()
    t = sipas.trim(d, upper=upper, strict=True)
    assert t.weight_array.max() <= upper
    assert t.weight_array.sum() == pytest.approx(w.sum(), rel=1e-12)


def test_trim_one_pass_is_rs_trimweights():
    """R trimWeights(strict=FALSE): clip, then spread the trimmed amount equally over the
    untrimmed units (closed form for w = 1, 2, 3, 10 and upper 6: +4/3 each)."""
    d = sipas.Design(pd.DataFrame({"psu": [1, 2, 3, 4], "w": [1.0, 2, 3, 10]}), ids="psu",
                     weights="w")
    t = sipas.trim(d, upper=6)
    np.testing.assert_allclose(t.weight_array, [1 + 4 / 3, 2 + 4 / 3, 3 + 4 / 3, 6], rtol=1e-15)
    assert t.history[-1].summary["trimmed"] == 1


# ---------------------------------------------------------------------- 7. the report


def test_weighting_report_lists_each_step_with_its_options(demo, margins):
    base = sipas.Design.from_spec(demo)
    nr = sipas.nonresponse(base, "response", [1], nonrespondent=[2, 3], classes="district")
    raked = sipas.rake(nr, demo.spec.margins, tol=1e-9)
    final = sipas.trim(raked, upper=300, strict=True)
    report = sipas.weighting_report(final, before=base)
    steps = report.steps
    assert steps["name"].tolist() == ["input", "nonresponse", "rake", "trim", "final"]
    opts = dict(zip(steps["name"], steps["options"]))
    assert "classes=['district']" in opts["nonresponse"]
    assert "status=response" in opts[
        "nonresponse"]
    assert "tol=1e-09" in opts["rake"]
    assert "margins=['sex', 'age_group'" in opts["rake"]
    assert "upper=300" in opts["trim"]
    assert "strict=True" in opts["trim"]
    # the weight distribution after every step, from the weights themselves
    for name, design in [("input", base), ("nonresponse", nr), ("rake", raked),
                         ("trim", final), ("final", final)]:
        row = steps.set_index("name").loc[name]
        w = design.weight_array[design.weight_array > 0]
        assert row["n"] == len(w)
        assert row["sum"] == pytest.approx(w.sum(), rel=1e-12)
        assert row["max"] == pytest.approx(w.max(), rel=1e-12)
        assert row["kish_deff"] == pytest.approx(len(w) * (w**2).sum() / w.sum() ** 2)
    assert "<WeightingReport>" in repr(report)
    assert "rake" in repr(report)
    # starting from a later design lists only the steps after it
    later = sipas.weighting_report(final, before=nr).steps
    assert later["name"].tolist() == ["input", "rake", "trim", "final"]
    assert later["step"].tolist() == [0, 2, 3, 4]


def test_weighting_report_margins_table(demo, margins):
    base = sipas.Design.from_spec(demo).subset(demo.frame["response"] == 1)
    ps = sipas.poststratify(base, "district", margins["district"])
    raked = sipas.rake(ps, demo.spec.margins, tol=1e-10)
    table = sipas.weighting_report(raked, before=base).margins
    assert list(table.columns) == ["step", "name", "margin", "level", "target", "before",
                                   "achieved"]
    ps_rows = table[table["name"] == "poststratify"].set_index("level")
    before_ps = weighted_totals(base, "district")
    for level, target in margins["district"].items():
        assert ps_rows.loc[level, "target"] == target
        assert ps_rows.loc[level, "before"] == pytest.approx(before_ps[level], rel=1e-12)
        assert ps_rows.loc[level, "achieved"] == pytest.approx(target, rel=1e-12)
    rk = table[table["name"] == "rake"]
    assert len(rk) == sum(len(t) for t in margins.values())
    for col, targets in margins.items():
        rows = rk[rk["margin"] == col].set_index("level")
        before, after = weighted_totals(ps, col), weighted_totals(raked, col)
        assert sorted(rows.index) == sorted(targets)
        for level, target in targets.items():
            assert rows.loc[level, "target"] == target
            assert rows.loc[level, "before"] == pytest.approx(before[level], rel=1e-12)
            assert rows.loc[level, "achieved"] == pytest.approx(after[level], rel=1e-12)
            assert rows.loc[level, "achieved"] == pytest.approx(target, rel=1e-8)


def test_weighting_report_margins_of_calibration(with_numeric, margins):
    d = with_numeric
    hh = 1.01 * float(d.weight_array @ d.frame["hh"].to_numpy())
    cal = sipas.calibrate(d, {"sex": margins["sex"], "hh": hh}, method="raking")
    table = sipas.weighting_report(cal).margins.set_index(["margin", "level"])
    assert table.loc[("sex", 2), "target"] == margins["sex"][2]
    assert table.loc[("sex", 2), "achieved"] == pytest.approx(margins["sex"][2], rel=1e-7)
    assert table.loc[("hh", "(total)"), "achieved"] == pytest.approx(hh, rel=1e-7)
    assert table.loc[("hh", "(total)"), "before"] == pytest.approx(hh / 1.01, rel=1e-12)


def test_weight_diagnostics_by_group(resp):
    diag = sipas.weight_diagnostics(resp, by="district")
    assert len(diag) == 10
    assert diag["n"].sum() == int((resp.weight_array > 0).sum())
    whole = sipas.weight_diagnostics(resp)
    assert diag["sum"].sum() == pytest.approx(whole["sum"][0], rel=1e-12)
    with pytest.raises(sipas.DesignError, match="nope"):
        sipas.weight_diagnostics(resp, by="nope")


def test_validate_refuses_raking_margins_of_different_populations():
    """`sipas validate` (validate_plan) catches what `run` would only find while raking."""
    import tomllib

    from sipas.spec import parse_spec
    from sipas.weighting.plan import validate_plan

    spec = parse_spec(tomllib.loads("""
[survey]
name = "t"
respondent_id = "id"
[scales.s5]
min = 1
max = 5
satisfied = [4, 5]
[[items]]
name = "q1"
scale = "s5"
[[factors]]
name = "f"
items = ["q1"]
[[margins]]
name = "sex"
variables = ["sex"]
targets = { "1" = 480, "2" = 520 }
[[margins]]
name = "age"
variables = ["age"]
targets = { "1" = 500, "2" = 600 }
"""))
    validate_plan([{"method": "rake", "margins": ["sex"]}], spec)
    with pytest.raises(sipas.SpecError, match="same population total"):
        validate_plan([{"method": "rake", "margins": ["sex", "age"]}], spec)
