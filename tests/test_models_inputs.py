"""Bad input to the models: a SipasError naming the term and what to do, never a traceback
from numpy or formulaic, never a silently dropped term."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sipas
from sipas.errors import DesignError, EstimationError


@pytest.fixture(scope="module")
def design():
    rng = np.random.default_rng(3)
    n = 200
    frame = pd.DataFrame({"psu": np.repeat(np.arange(20), 10), "w": rng.uniform(1, 3, n),
                          "x": rng.normal(size=n), "g": rng.choice(["a", "b", "c"], n),
                          "y": rng.normal(size=n), "c": 1.0})
    frame["yes"] = (frame["x"] + rng.normal(size=n) > 0).astype(float)
    frame["sep"] = (frame["x"] > 0).astype(float)
    frame["x2"] = 2 * frame["x"]
    frame["cat"] = pd.Categorical(frame["g"], categories=["a", "b", "c", "d"])
    return sipas.Design(frame, ids="psu", weights="w")


def test_missing_column(design):
    with pytest.raises(DesignError, match="zz"):
        sipas.glm(design, "y ~ x + zz")


def test_constant_and_collinear_terms(design):
    with pytest.raises(EstimationError, match="collinear"):
        sipas.glm(design, "y ~ x + c")
    with pytest.raises(EstimationError, match=r"x2|x"):
        sipas.glm(design, "y ~ x + x2")


def test_response_outside_range(design):
    with pytest.raises(EstimationError, match=r"'y'.*\[0, 1\]"):
        sipas.glm(design, "y ~ x", "binomial")
    with pytest.raises(EstimationError, match="count"):
        sipas.glm(design, "y ~ x", "poisson")


def test_separation(design):
    with pytest.raises(EstimationError, match="separation"):
        sipas.glm(design, "sep ~ x", "binomial")


def test_empty_level(design):
    with pytest.raises(EstimationError, match="cat=d"):
        sipas.glm(design, "y ~ cat")


def test_unknown_family_and_term(design):
    with pytest.raises(DesignError, match="family"):
        sipas.glm(design, "y ~ x", "gamma")  # type: ignore[arg-type]
    res = sipas.glm(design, "y ~ x + C(g)")
    with pytest.raises(EstimationError, match="not in the model"):
        sipas.models.wald_test(res, "z")


def test_reference_level(design):
    res = sipas.glm(design, "y ~ g", reference={"g": "c"})
    assert res.terms == ("(Intercept)", "g=a", "g=b")
    with pytest.raises(DesignError, match="not observed"):
        sipas.glm(design, "y ~ g", reference={"g": "zz"})


def test_ordinal_needs_three_levels(design):
    with pytest.raises(EstimationError, match="at least 3"):
        sipas.ordinal(design, "yes ~ x")


def test_offset_equals_fixed_coefficient(design):
    a = sipas.glm(design, "y ~ x + offset(x)").coef
    b = sipas.glm(design, "y ~ x").coef
    assert np.isclose(a["x"], b["x"] - 1)
