"""Design construction: lonely-PSU rules, input validation, immutability.

References are hand computations with numpy of the stratified variance of PSU totals,
``v = sum_h (1 - f_h) n_h/(n_h - 1) sum_i (t_hi - tbar_h)^2`` (R ``svyrecvar``), with the
lonely-PSU conventions of R's ``survey`` (``?surveyoptions``; R >= 4.2 for ``adjust``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sipas

# ---------------------------------------------------------------------- helpers


def lonely_frame() -> pd.DataFrame:
    """Three strata: A with 3 PSUs, B with a single PSU, C with 2 PSUs; 2 rows per PSU."""
    rng = np.random.default_rng(20240611)
    psu = ["a1", "a1", "a2", "a2", "a3", "a3", "b1", "b1", "c1", "c1", "c2", "c2"]
    return pd.DataFrame({
        "stratum": [p[0].upper() for p in psu],
        "psu": psu,
        "w": rng.uniform(1, 5, len(psu)).round(3),
        "y": rng.normal(10, 3, len(psu)).round(2),
        "N": [10] * 6 + [4] * 2 + [6] * 4,
    })


def psu_totals(frame: pd.DataFrame, z: np.ndarray) -> pd.DataFrame:
    """PSU totals of the influence values ``z`` with the PSU's stratum."""
    out = frame.assign(z=z).groupby("psu", sort=True).agg(stratum=("stratum", "first"),
                                                           t=("z", "sum"), N=("N", "first"))
    return out.reset_index()


def stratum_contributions(t: pd.DataFrame, fpc: bool = False) -> dict[str, float]:
    """``(1 - f_h) n_h/(n_h - 1) sum_i (t_hi - tbar_h)^2`` for each stratum with n_h > 1."""
    out = {}
    for h, g in t.groupby("stratum"):
        n_h = len(g)
        if n_h < 2:
            continue
        f = n_h / g["N"].iloc[0] if fpc else 0.0
        out[h] = (1 - f) * n_h / (n_h - 1) * float(((g["t"] - g["t"].mean()) ** 2).sum())
    return out


def mean_influence(frame: pd.DataFrame) -> np.ndarray:
    w, y = frame["w"].to_numpy(), frame["y"].to_numpy()
    ybar = np.sum(w * y) / np.sum(w)
    return w * (y - ybar) / np.sum(w)


def se_of(est: sipas.Estimate) -> float:
    return float(est.to_frame()["se"].iloc[0])


def design(frame: pd.DataFrame, rule: str, fpc: bool = False,
           corrected: bool = False) -> sipas.Design:
    return sipas.Design(frame, ids="psu", strata="stratum", weights="w",
                        fpc="N" if fpc else None, lonely_psu=rule, lonely_corrected=corrected)


# ---------------------------------------------------------------------- lonely PSUs


def test_lonely_psu_fail_names_the_stratum_column_and_psu():
    with pytest.raises(sipas.DesignError, match=r"'stratum'.*'B'.*'psu' = 'b1'"):
        design(lonely_frame(), "fail")


def test_lonely_psu_fail_is_the_default():
    frame = lonely_frame()
    with pytest.raises(sipas.DesignError, match="'B'"):
        sipas.Design(frame, ids="psu", strata="stratum", weights="w")


@pytest.mark.parametrize("rule", ["remove", "certainty"])
@pytest.mark.parametrize("fpc", [False, True])
def test_lonely_psu_remove_and_certainty_drop_the_stratum(rule, fpc):
    """R svyrecvar: a single-PSU stratum contributes zero under both rules."""
    frame = lonely_frame()
    d = design(frame, rule, fpc)
    want_mean = sum(stratum_contributions(psu_totals(frame, mean_influence(frame)), fpc)
                    .values())
    want_total = sum(stratum_contributions(psu_totals(frame, frame.w * frame.y), fpc)
                     .values())
    assert se_of(sipas.mean(d, "y")) ** 2 == pytest.approx(want_mean, rel=1e-12)
    assert se_of(sipas.total(d, "y")) ** 2 == pytest.approx(want_total, rel=1e-12)


@pytest.mark.parametrize("fpc", [False, True])
def test_lonely_psu_adjust_centres_at_zero_like_r_4_1(fpc):
    """R 4.1-1 ``adjust`` (``onestrat`` does not centre a lonely PSU): the lonely PSU total
    enters as ``(1 - f_h) t^2``."""
    frame = lonely_frame()
    d = design(frame, "adjust", fpc)
    for est, z in ((sipas.total(d, "y"), (frame.w * frame.y).to_numpy()),
                   (sipas.mean(d, "y"), mean_influence(frame))):
        t = psu_totals(frame, z)
        f = 1 / 4 if fpc else 0.0
        extra = (1 - f) * float((t.loc[t.stratum == "B", "t"] ** 2).sum())
        want = sum(stratum_contributions(t, fpc).values()) + extra
        assert se_of(est) ** 2 == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("fpc", [False, True])
def test_lonely_psu_adjust_corrected_centres_at_grand_mean_of_psu_totals(fpc):
    """R >= 4.3 ``adjust`` (``lonely_corrected=True``): the lonely PSU total deviates from
    (sum of all PSU totals) / (number of PSUs), with scale (1 - f_h) and no n/(n-1)."""
    frame = lonely_frame()
    d = design(frame, "adjust", fpc, corrected=True)
    for est, z in ((sipas.total(d, "y"), (frame.w * frame.y).to_numpy()),
                   (sipas.mean(d, "y"), mean_influence(frame))):
        t = psu_totals(frame, z)
        grand = t["t"].sum() / len(t)
        lonely = t[t.stratum == "B"]
        f = 1 / 4 if fpc else 0.0
        extra = (1 - f) * float(((lonely["t"] - grand) ** 2).sum())
        want = sum(stratum_contributions(t, fpc).values()) + extra
        assert se_of(est) ** 2 == pytest.approx(want, rel=1e-12)


def test_lonely_psu_adjust_grand_mean_matters_for_a_total():
    """For a total the grand mean of PSU totals is not zero, so adjust differs from remove."""
    frame = lonely_frame()
    adjust = se_of(sipas.total(design(frame, "adjust"), "y"))
    remove = se_of(sipas.total(design(frame, "remove"), "y"))
    assert adjust > remove


@pytest.mark.parametrize("fpc", [False, True])
def test_lonely_psu_average_scales_the_other_strata(fpc):
    """R ``average``: sum over strata with a variance, times n_strata / n_ok (3/2 here)."""
    frame = lonely_frame()
    d = design(frame, "average", fpc)
    for est, z in ((sipas.total(d, "y"), (frame.w * frame.y).to_numpy()),
                   (sipas.mean(d, "y"), mean_influence(frame))):
        ok = stratum_contributions(psu_totals(frame, z), fpc)
        assert se_of(est) ** 2 == pytest.approx(sum(ok.values()) * 3 / 2, rel=1e-12)


def test_certainty_stratum_is_not_lonely():
    """A single PSU that is the whole stratum (fpc = 1 unit) is a certainty unit: no error
    under 'fail', no variance, and it still counts as a stratum with a variance for
    'average' (R: n_ok counts it)."""
    frame = lonely_frame().assign(N=[10] * 6 + [1] * 2 + [6] * 4)
    d = design(frame, "fail", fpc=True)
    t = psu_totals(frame, (frame.w * frame.y).to_numpy())
    want = sum(stratum_contributions(t, fpc=True).values())
    assert se_of(sipas.total(d, "y")) ** 2 == pytest.approx(want, rel=1e-12)
    d_avg = design(frame, "average", fpc=True)
    assert se_of(sipas.total(d_avg, "y")) ** 2 == pytest.approx(want, rel=1e-12)


def test_no_fpc_unstratified_variance_matches_hand_computation():
    """Unstratified cluster design: n/(n-1) sum (t_i - tbar)^2 of PSU totals."""
    frame = lonely_frame().assign(stratum="all")
    d = sipas.Design(frame, ids="psu", weights="w")
    t = psu_totals(frame, (frame.w * frame.y).to_numpy())["t"].to_numpy()
    want = len(t) / (len(t) - 1) * np.sum((t - t.mean()) ** 2)
    assert se_of(sipas.total(d, "y")) ** 2 == pytest.approx(want, rel=1e-12)


def test_lonely_second_stage_unit_fails_naming_its_parent():
    """Two stages with fpc: a PSU with one sampled SSU cannot give a stage-2 variance."""
    frame = pd.DataFrame({"psu": [1, 1, 2, 2, 3], "ssu": [1, 2, 1, 2, 1],
                          "N1": 10, "N2": [5, 5, 5, 5, 5], "w": 1.0, "y": [1., 2, 3, 4, 5]})
    with pytest.raises(sipas.DesignError, match=r"'psu'.*3"):
        sipas.Design(frame, ids=["psu", "ssu"], fpc=["N1", "N2"], weights="w")


# ---------------------------------------------------------------------- bad input


def small_frame(**changes) -> pd.DataFrame:
    frame = pd.DataFrame({"h": [1, 1, 1, 2, 2, 2], "psu": [1, 2, 3, 4, 5, 6],
                          "w": [1.0, 2, 3, 4, 5, 6], "y": [1.0, 2, 3, 4, 5, 6],
                          "N": [10, 10, 10, 20, 20, 20]})
    return frame.assign(**changes)


@pytest.mark.parametrize(("bad", "shown"), [(0.0, "0.0"), (-2.0, "-2.0"), (np.nan, "nan"),
                                            (np.inf, "inf")])
def test_bad_weights_raise_at_construction(bad, shown):
    frame = small_frame(w=[1.0, bad, 3, 4, 5, 6])
    with pytest.raises(sipas.DesignError, match=rf"'w'.*1: {shown}"):
        sipas.Design(frame, ids="psu", strata="h", weights="w")


def test_bad_probs_raise_at_construction():
    frame = small_frame(p=[0.1, 0.2, 1.5, 0.1, 0.1, 0.1])
    with pytest.raises(sipas.DesignError, match="'p'"):
        sipas.Design(frame, ids="psu", strata="h", probs="p")


def test_text_weights_raise():
    with pytest.raises(sipas.DesignError, match=r"'w'.*numeric"):
        sipas.Design(small_frame(w=list("abcdef")), ids="psu", weights="w")


def test_fpc_below_sample_count_names_column_and_sizes():
    frame = small_frame(N=[2, 2, 2, 20, 20, 20])
    with pytest.raises(sipas.DesignError, match=r"'N'.*stratum 1.*size 2 but 3"):
        sipas.Design(frame, ids="psu", strata="h", weights="w", fpc="N")


def test_fpc_varying_within_stratum_names_column_and_values():
    frame = small_frame(N=[10, 11, 10, 20, 20, 20])
    with pytest.raises(sipas.DesignError, match=r"'N'.*stratum 1.*10 to 11"):
        sipas.Design(frame, ids="psu", strata="h", weights="w", fpc="N")


def test_fpc_mixing_fractions_and_sizes_names_values():
    frame = small_frame(N=[0.5, 0.5, 0.5, 20, 20, 20])
    with pytest.raises(sipas.DesignError, match=r"'N'.*mixes.*0\.5.*20"):
        sipas.Design(frame, ids="psu", strata="h", weights="w", fpc="N")


@pytest.mark.parametrize("bad", [0.0, -10.0, np.inf, np.nan])
def test_fpc_non_positive_or_missing_names_column_and_rows(bad):
    frame = small_frame(N=[bad] * 3 + [20] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way to the error
        with pytest.raises(sipas.DesignError, match=r"'N'.*rows \[0, 1, 2\]"):
            sipas.Design(frame, ids="psu", strata="h", weights="w", fpc="N")


def test_psu_ids_repeated_across_strata_need_nest():
    frame = small_frame(psu=[1, 2, 3, 1, 2, 3])
    with pytest.raises(sipas.DesignError, match=r"\[1, 2, 3\].*'psu'.*nest=True"):
        sipas.Design(frame, ids="psu", strata="h", weights="w")
    nested = sipas.Design(frame, ids="psu", strata="h", weights="w", nest=True)
    assert nested.df == 4


def test_unknown_design_column_is_named():
    with pytest.raises(sipas.DesignError, match="psux"):
        sipas.Design(small_frame(), ids="psux", strata="h", weights="w")
    with pytest.raises(sipas.DesignError, match="wt"):
        sipas.Design(small_frame(), ids="psu", strata="h", weights="wt")


@pytest.mark.parametrize("rule", ["fail", "remove", "certainty", "adjust", "average"])
@pytest.mark.parametrize("nest", [False, True])
def test_single_psu_overall_raises_whatever_the_rule(rule, nest):
    frame = small_frame(psu=7)
    with pytest.raises(sipas.DesignError, match=r"only one primary sampling unit.*'psu'.*7"):
        sipas.Design(frame, ids="psu", weights="w", nest=nest, lonely_psu=rule)


def test_single_row_design_raises():
    with pytest.raises(sipas.DesignError, match="only one primary sampling unit"):
        sipas.Design(small_frame().iloc[:1], weights="w", lonely_psu="adjust")


def test_missing_cluster_id_names_column_and_rows():
    frame = small_frame(psu=[1, np.nan, 3, 4, 5, 6])
    with pytest.raises(sipas.DesignError, match=r"'psu'.*rows \[1\]"):
        sipas.Design(frame, ids="psu", strata="h", weights="w")


def test_missing_stratum_names_column_and_rows():
    frame = small_frame(h=[1, 1, None, 2, 2, 2])
    with pytest.raises(sipas.DesignError, match=r"'h'.*rows \[2\]"):
        sipas.Design(frame, ids="psu", strata="h", weights="w")


def test_bad_lonely_rule_lists_the_choices():
    with pytest.raises(sipas.DesignError, match=r"lonely_psu.*'adjust'.*'drop'"):
        sipas.Design(small_frame(), ids="psu", strata="h", weights="w", lonely_psu="drop")


def test_empty_frame_and_non_frame_raise():
    with pytest.raises(sipas.DesignError, match="no rows"):
        sipas.Design(small_frame().iloc[:0], weights="w")
    with pytest.raises(sipas.DesignError, match="DataFrame"):
        sipas.Design(small_frame().to_dict(), weights="w")


def test_subset_mask_with_missing_values_raises():
    d = sipas.Design(small_frame(), ids="psu", strata="h", weights="w")
    with pytest.raises(sipas.DesignError, match="missing"):
        d.subset(pd.Series([True, None, True, True, True, True]))


# ---------------------------------------------------------------------- immutability


def test_design_attributes_cannot_be_set():
    d = sipas.Design(small_frame(), ids="psu", strata="h", weights="w")
    with pytest.raises(AttributeError, match="cannot change"):
        d.weights = "y"
    with pytest.raises(AttributeError, match="cannot change"):
        d.lonely_psu = "remove"
    with pytest.raises(AttributeError, match="cannot change"):
        d._backend = None


def test_editing_design_frame_does_not_change_the_estimates():
    """The issue's example: ``d.frame.loc[0, "y"] = 100`` changed ``mean`` (2.83 -> 19.33)."""
    frame = small_frame()
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    before = sipas.mean(d, "y").to_frame()
    f = d.frame
    f.loc[0, "y"] = 100
    d.frame.loc[1, "y"] = -100
    pd.testing.assert_frame_equal(sipas.mean(d, "y").to_frame(), before)
    expected = np.average(frame["y"], weights=frame["w"])
    assert sipas.mean(d, "y").to_frame()["estimate"][0] == pytest.approx(expected, rel=1e-14)


def test_weights_and_stages_are_read_only():
    d = sipas.Design(small_frame(), ids="psu", strata="h", weights="w")
    with pytest.raises(ValueError, match="read-only"):
        d.weight_array[0] = 1e6
    with pytest.raises(ValueError, match="read-only"):
        d.stages[0].unit[0] = 3
    sub = d.subset(np.arange(d.n) % 2 == 0)
    with pytest.raises(ValueError, match="read-only"):
        sub.weight_array[0] = 1e6


def test_private_state_is_not_a_constructor_argument():
    with pytest.raises(TypeError):
        sipas.Design(small_frame(), ids="psu", weights="w", _w=np.ones(6))
    rep = sipas.replicate(sipas.Design(small_frame(), ids="psu", weights="w"), "jk1")
    with pytest.raises(TypeError):
        sipas.ReplicateDesign(rep.frame, weights="w", repweights=["w", "w"], _factors=None)


def test_changing_the_input_frame_after_building_changes_nothing():
    frame = small_frame()
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    before = sipas.mean(d, "y").to_frame()
    frame.loc[0, "y"] = 1000.0
    frame.loc[1, "w"] = 99.0
    frame["y"] = frame["y"] * 2
    after = sipas.mean(d, "y").to_frame()
    pd.testing.assert_frame_equal(before, after)


def test_subset_and_estimation_leave_the_design_unchanged():
    d = sipas.Design(small_frame(), ids="psu", strata="h", weights="w")
    w = d.weight_array.copy()
    frame = d.frame.copy()
    sub = d.subset(d.frame["h"] == 1)
    sipas.mean(sub, "y", by="h")
    np.testing.assert_array_equal(d.weight_array, w)
    pd.testing.assert_frame_equal(d.frame, frame)
    assert sub.weight_array[3:].sum() == 0


def test_subset_mask_with_another_index_is_refused():
    """A Series mask is matched by position; one with a different index (e.g. built from a
    sorted copy) would silently pick the wrong rows."""
    frame = small_frame()
    d = sipas.Design(frame, ids="psu", strata="h", weights="w")
    shuffled = frame.sort_values("y", ascending=False)
    with pytest.raises(sipas.DesignError, match="index"):
        d.subset(shuffled["h"] == 1)
    same = d.subset((shuffled["h"] == 1).to_numpy()[::-1])
    np.testing.assert_array_equal(same.weight_array > 0, frame["h"] == 1)
    rep = sipas.replicate(d, "jkn")
    with pytest.raises(sipas.DesignError, match="index"):
        rep.subset(shuffled["h"] == 1)


def test_single_certainty_psu_with_subsampling_is_allowed():
    """One PSU taken with certainty (N1 = 1): the variance comes from the second stage,
    n/(n-1) (1 - n/N2) sum (t_j - tbar)^2 over its sampled units (R svyrecvar)."""
    frame = pd.DataFrame({"psu": 1, "ssu": [1, 2, 3, 4], "N1": 1, "N2": 10,
                          "y": [1.0, 2, 4, 7]})
    d = sipas.Design(frame, ids=["psu", "ssu"], fpc=["N1", "N2"])
    t = 10 / 4 * frame.y.to_numpy()
    want = 4 / 3 * (1 - 4 / 10) * np.sum((t - t.mean()) ** 2)
    assert se_of(sipas.total(d, "y")) ** 2 == pytest.approx(want, rel=1e-12)


def test_a_by_column_of_nested_cluster_codes_needs_its_stratum():
    frame = pd.DataFrame({"h": [1, 1, 2, 2] * 3, "psu": [1, 2, 1, 2] * 3,
                          "w": 1.0, "y": np.arange(12.0)})
    d = sipas.Design(frame, ids="psu", strata="h", weights="w", nest=True)
    with pytest.raises(sipas.DesignError, match=r"restart within each 'h'.*by=\['h', 'psu'\]"):
        sipas.mean(d, "y", by="psu")
    assert len(sipas.mean(d, "y", by=["h", "psu"])) == 4


# ---------------------------------------------------------------------- fpc and weights


def census_frame(fpc: list[float], w: float) -> pd.DataFrame:
    return pd.DataFrame({"h": ["a"] * 5 + ["b"] * 5, "psu": range(10), "f": fpc,
                         "w": w, "y": np.arange(10.0)})


def test_fpc_of_one_with_weights_of_sixty_warns_naming_stratum_and_column():
    """Issue 15 point 9: an fpc of 1 everywhere reads as a census (SE 0) while weights of 60
    say 1 in 60 was sampled."""
    frame = census_frame([1.0] * 10, 60.0)
    with pytest.warns(sipas.DesignWarning, match=r"fpc column 'f'.*'h'.*census.*'a'.*'b'.*1/60"):
        d = sipas.Design(frame, ids="psu", strata="h", weights="w", fpc="f")
    assert se_of(sipas.total(d, "y")) == 0.0
    assert issubclass(sipas.DesignWarning, UserWarning)
    assert issubclass(sipas.DesignWarning, sipas.SipasWarning)


def test_fpc_equal_to_the_sample_size_warns_only_for_that_stratum():
    frame = census_frame([5] * 5 + [300] * 5, 60.0)
    with pytest.warns(sipas.DesignWarning) as caught:
        sipas.Design(frame, ids="psu", strata="h", weights="w", fpc="f")
    text = str(caught[0].message)
    assert "'a' (median weight 60, the fpc implies 1)" in text and "'b'" not in text


@pytest.mark.parametrize(("fpc", "w"), [([1.0] * 10, 1.0), ([300] * 10, 60.0),
                                        ([1 / 60] * 10, 60.0)])
def test_fpc_that_agrees_with_the_weights_does_not_warn(fpc, w):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sipas.Design(census_frame(fpc, w), ids="psu", strata="h", weights="w", fpc="f")


def test_census_first_stage_with_later_stages_compares_the_product_of_fractions():
    """Two stages with fpc: a census of PSUs, 2 of 120 users sampled in each: the fpc implies
    weights of 60, so weights of 60 agree."""
    frame = pd.DataFrame({"psu": [1, 1, 2, 2], "ssu": [1, 2, 1, 2], "N1": 2, "N2": 120,
                          "w": 60.0, "y": [1.0, 2, 3, 4]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sipas.Design(frame, ids=["psu", "ssu"], fpc=["N1", "N2"], weights="w")
