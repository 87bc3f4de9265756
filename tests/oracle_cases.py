"""Load the R `survey` oracle (tests/oracle/, made by tests/oracle/r/public_oracle.R).

Builds the sipas design each case describes and runs the estimator it names, so the tests
can compare every number with R's.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sipas

ORACLE = Path(__file__).parent / "oracle"
METHODS = {"JK1": "jk1", "JKn": "jkn", "bootstrap": "bootstrap", "BRR": "brr", "Fay": "fay"}


@cache
def cases() -> list[dict[str, Any]]:
    return json.loads((ORACLE / "cases.json").read_text(encoding="utf-8"))["cases"]


@cache
def dataset(name: str) -> pd.DataFrame:
    frame = pd.read_csv(ORACLE / name)
    for col in ("sch.wide", "both"):
        if col in frame:
            frame[f"{col}==Yes"] = (frame[col] == "Yes").astype("float64")
    return frame


def taylor_design(case: dict[str, Any]) -> sipas.Design:
    spec = case["design"]
    ids = [i for i in spec["ids"] if i != "1"] or None
    return sipas.Design(dataset(case["dataset"]), ids=ids, strata=spec["strata"],
                        weights=spec["weights"], fpc=spec["fpc"], nest=spec["nest"],
                        lonely_psu=spec.get("lonely_psu", "fail"))


def replicate_design(case: dict[str, Any]) -> sipas.ReplicateDesign:
    return replicate_from(dataset(case["dataset"]), case["design"]["replicate"], ORACLE)


def replicate_from(frame: pd.DataFrame, rep: dict[str, Any], folder: Path
                   ) -> sipas.ReplicateDesign:
    """The replicate design of ``rep`` (a case's ``design.replicate``) on ``frame``, with
    the replicate weights read from ``folder``."""
    weights = pd.read_csv(folder / rep["replicate_weights_file"])
    assert (weights["cds"].to_numpy() == frame["cds"].to_numpy()).all()
    cols = [f"rep{i + 1}" for i in range(rep["n_replicates"])]
    joined = pd.concat([frame, weights[["w", *cols]]], axis=1)
    return sipas.ReplicateDesign(joined, weights="w", repweights=cols,
                                 method=METHODS[rep["type"]], scale=rep["scale"],
                                 rscales=rep["rscales"], mse=rep["mse"])


def design_for(case: dict[str, Any]) -> Any:
    if case["design"]["type"] == "replicate":
        return replicate_design(case)
    design = taylor_design(case)
    if case["weighting"]:
        from weighting_cases import apply_weighting

        design = apply_weighting(design, case["weighting"])
    return design


def run(case: dict[str, Any]) -> pd.DataFrame:
    """Run the case's estimator; return the rows in the oracle's order."""
    design = design_for(case)
    opts = case["options"]
    df = opts["df"] if isinstance(opts["df"], (int, float)) else None
    by = case["domain"]["by"] if case["domain"] else None
    var = case["variable"]
    est = case["estimator"]
    method = opts["ci_method"]
    common = {"by": by, "level": opts["level"], "df": df}
    if est == "quantile":
        res = sipas.quantile(design, var, opts["quantiles"], rule=opts["qrule"], **common)
    elif est == "ratio":
        res = sipas.ratio(design, var["numerator"], var["denominator"], **common)
    elif isinstance(var, dict) and est == "total":
        res = sipas.total(design, f"{var['name']}=={var['event']}", **common)
    elif isinstance(var, dict):
        value = None if isinstance(var["event"], list) else var["event"]
        ci = "wald" if method == "wald_t" else method.split(":")[1]
        res = sipas.proportion(design, var["name"], value=value, method=ci, **common)
    else:
        fn = sipas.mean if est == "mean" else sipas.total
        res = fn(design, var, **common)
    return res.to_frame()


def expected(case: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(case["expected"])


def close(got: float, want: float, rtol: float = 1e-9) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return bool(np.isnan(got))
    return bool(np.isclose(got, want, rtol=rtol, atol=1e-12))
