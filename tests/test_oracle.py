"""Every case of the R `survey` oracle (tests/oracle/cases.json) agrees to 1e-9 relative.

Reference: R 4.2.2, survey 4.1-1, script tests/oracle/r/public_oracle.R. Cases with a
weighting step use the weighting layer (tests/weighting_cases.py).
"""

from __future__ import annotations

import pytest
from oracle_cases import cases, close, expected, run

FIELDS = ("estimate", "se", "ci_low", "ci_high", "df", "deff", "deff_replace")


@pytest.mark.parametrize("case", cases(), ids=[c["id"] for c in cases()])
def test_case_matches_r(case):
    got = run(case)
    want = expected(case)
    assert len(got) == len(want), f"{len(got)} rows, R has {len(want)}"
    for i, row in want.iterrows():
        for field in FIELDS:
            if field in row and row[field] is not None and row[field] == row[field]:
                assert close(got[field].iloc[i], row[field]), (
                    f"row {i} {field}: sipas {got[field].iloc[i]!r} vs R {row[field]!r}")
        if "domain" in row and isinstance(row["domain"], dict):
            for col, value in row["domain"].items():
                assert str(got[col].iloc[i]) == str(value)
