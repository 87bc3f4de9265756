"""Every case of the R `survey` oracle (tests/oracle/cases.json) agrees to 1e-9 relative.

Reference: R 4.2.2, survey 4.1-1, script tests/oracle/r/public_oracle.R. Cases with a
weighting step use the weighting layer (tests/weighting_cases.py).

Where R's standard error is zero up to rounding (a total the design or the calibration fixes
exactly, e.g. enroll after calibrating on enroll: R reports 7.7e-14), both values are
rounding noise: the test then checks that sipas's SE is also below 1e-9 of the estimate, and
does not compare the design effect (a ratio of two noises).
"""

from __future__ import annotations

import numpy as np
import pytest

from oracle_cases import cases, close, expected, run

FIELDS = ("estimate", "se", "ci_low", "ci_high", "df", "deff", "deff_replace")


@pytest.mark.parametrize("case", cases(), ids=[c["id"] for c in cases()])
def test_case_matches_r(case):
    got = run(case)
    want = expected(case)
    assert len(got) == len(want), f"{len(got)} rows, R has {len(want)}"
    for i, row in want.iterrows():
        noise = abs(row["se"]) < 1e-10 * max(abs(row["estimate"]), 1e-300)
        for field in FIELDS:
            if field not in row or row[field] is None or row[field] != row[field]:
                continue
            value = got[field].iloc[i]
            if noise and field in ("se", "deff", "deff_replace"):
                if field == "se":
                    assert abs(value) < 1e-9 * abs(row["estimate"])
                continue
            assert close(value, row[field]), (
                f"row {i} {field}: sipas {value!r} vs R {row[field]!r}")
        if "domain" in row and isinstance(row["domain"], dict):
            for col, value in row["domain"].items():
                assert str(got[col].iloc[i]) == str(value)


def test_weights_match_r_after_every_weighting_step():
    """Final weights of postStratify, rake, calibrate (linear, raking, bounded) and
    trimWeights equal R's (apiclus1_weights.csv) to 1e-9."""
    import pandas as pd

    from oracle_cases import ORACLE, taylor_design
    from weighting_cases import apply_weighting

    ref = pd.read_csv(ORACLE / "apiclus1_weights.csv")
    seen = set()
    for case in cases():
        w = case["weighting"]
        if not w or w["weights_column"] in seen:
            continue
        seen.add(w["weights_column"])
        design = apply_weighting(taylor_design(case), w)
        np.testing.assert_allclose(design.weight_array, ref[w["weights_column"]].to_numpy(),
                                   rtol=1e-9, err_msg=w["weights_column"])
    assert len(seen) == 7
