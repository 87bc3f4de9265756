"""Issue 19, class 3: suppressed cells cannot be given back by the published ones.

The demo run's tables are protected with thresholds that suppress some cells (feedback is
answered by fewer respondents); the audit solves the relations an attacker has (overall =
mean of factors in each domain, the total as a weighted combination of the domains) and
finds no suppressed cell they determine. Before the fix, a factor suppressed alone in a
domain was K x overall minus the other factors.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sipas.pipeline import demo_pipeline_path, load_pipeline, run
from sipas.report.disclosure import protect_tables, recovery_audit


@pytest.fixture(scope="module")
def tables():
    p = load_pipeline(demo_pipeline_path())
    return run(dataclasses.replace(p, par={}, published=None)).tables


@pytest.mark.parametrize("min_cell", [10, 25, 30, 70, 100])
def test_no_suppressed_cell_of_the_demo_tables_is_recoverable(tables, min_cell):
    by = ("district", "urban", "service")
    out = protect_tables(tables, min_cell=min_cell, domains=by)
    for col in by:
        table = out[f"index_by_{col}"]
        assert recovery_audit(table, col) == [], (col, min_cell)


def test_a_factor_suppressed_alone_in_a_domain_is_protected(tables):
    out = protect_tables(tables, min_cell=25, domains=("district",))["index_by_district"]
    hidden = out[out["flag_reason"].str.contains("suppressed")]
    assert (hidden["name"] == "feedback").any()
    for _, rows in hidden.groupby("district"):
        assert len(rows) >= 2  # never one suppressed cell in a domain
    # the attack of the issue: K x overall - other factors gives nothing
    for d, rows in out.groupby("district"):
        est = rows.set_index("name")["estimate"]
        if est.isna().sum() == 1:
            pytest.fail(f"district {d}: one cell recoverable from the others")


def test_the_audit_finds_the_attack_of_the_issue():
    t = pd.DataFrame({"district": [1, 1, 1], "name": ["overall", "a", "b"],
                      "index_level": ["overall", "factor", "factor"],
                      "estimate": [0.8, 0.7, np.nan], "n": [50, 50, 4],
                      "flag": ["", "", "suppressed (n<10)"]})
    assert recovery_audit(t, "district") == [2]


def test_comparisons_are_hidden_by_domain_value_not_by_parsing_labels(tables):
    index = pd.DataFrame({"d": ["a - b", "c: d", "e"], "name": "overall",
                          "estimate": [0.5, 0.6, 0.7], "n": [5, 50, 50], "flag": ""})
    compare = pd.DataFrame({"comparison": ["a - b - c: d", "a - b - e", "c: d - e",
                                           "a - b - mean of domains", "e - mean of domains"],
                            "variable": "overall", "value": None,
                            "difference": 0.1, "se": 0.01, "p_value": 0.01})
    out = protect_tables({"index_by_d": index, "compare_d": compare}, domains=("d",))
    hidden = out["index_by_d"].loc[out["index_by_d"]["flag_reason"].str.contains("suppressed"), "d"]
    shown = out["compare_d"]
    for _, row in shown.iterrows():
        involved = [h for h in hidden if row["comparison"].startswith(f"{h} - ")
                    or row["comparison"].endswith(f" - {h}")]
        if involved:
            assert np.isnan(row["p_value"]), row["comparison"]
