"""Load the R `survey` model oracle (tests/oracle/models/, R survey 4.1-1) and build the
sipas design and model each case describes (made by oracle-tools/public_models_oracle.R)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

import sipas
from oracle_cases import METHODS, ORACLE

MODELS = ORACLE / "models"


@cache
def _all() -> dict[str, Any]:
    return json.loads((MODELS / "cases.json").read_text(encoding="utf-8"))


def cases(estimator: str) -> list[dict[str, Any]]:
    return [c for c in _all()["cases"] if c["estimator"] == estimator]


@cache
def dataset(name: str) -> pd.DataFrame:
    frame = pd.read_csv(MODELS / name)
    frame["log_enroll"] = np.log(frame["enroll"])
    return frame


def design_for(case: dict[str, Any]) -> Any:
    spec = case["design"]
    frame = dataset(case["dataset"])
    if spec["type"] == "replicate":
        rep = spec["replicate"]
        weights = pd.read_csv((MODELS / rep["replicate_weights_file"]).resolve())
        assert (weights["cds"].to_numpy() == frame["cds"].to_numpy()).all()
        cols = [f"rep{i + 1}" for i in range(rep["n_replicates"])]
        joined = pd.concat([frame, weights[["w", *cols]]], axis=1)
        return sipas.ReplicateDesign(joined, weights="w", repweights=cols,
                                     method=METHODS[rep["type"]], scale=rep["scale"],
                                     rscales=rep["rscales"], mse=rep["mse"])
    ids = [i for i in spec["ids"] if i != "1"] or None
    design = sipas.Design(frame, ids=ids, strata=spec["strata"], weights=spec["weights"],
                          fpc=spec["fpc"], nest=spec["nest"],
                          lonely_psu=spec.get("lonely_psu", "fail"))
    if case["weighting"]:
        from weighting_cases import apply_weighting

        design = apply_weighting(design, case["weighting"])
    return design


def formula(model: dict[str, Any]) -> str:
    return model.get("formula_py_with_offset") or model["formula_py"]


def reference(model: dict[str, Any]) -> dict[str, Any]:
    return {t["name"]: t["reference"] for t in model["terms"] if t["type"] == "factor"}


def family(model: dict[str, Any]) -> str:
    return model["family"]


def domains(case: dict[str, Any], design: Any) -> list[tuple[dict[str, Any], Any]]:
    """(domain, mask) for a domain case, else [({}, None)]."""
    if not case.get("domain"):
        return [({}, None)]
    (var,) = case["domain"]["by"]
    col = design.frame[var]
    return [({var: level}, (col == level).to_numpy()) for level in sorted(col.dropna().unique())]


def rel(got: float, want: float) -> float:
    if want == 0:
        return abs(got)
    return abs(got - want) / abs(want)
