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


#: (design, model) pairs where R 4.1-1's glm.fit returns the working weights of the
#: penultimate IRLS iterate, so R's sandwich SEs (and naive.cov) are off the converged fit
#: by ~1.7e-8 relative (the oracle's own fit_info.polish_check says so); sipas uses the
#: converged fit. Emulating R's iterate reproduces R to 1e-14 (test_models_glm.py).
R_PENULTIMATE = {("strat", "qb_schwide"), ("strat", "b_schwide"),
                 ("strat_nofpc", "qb_schwide"), ("strat_JKn", "qb_schwide")}


def r_penultimate(case: dict[str, Any]) -> bool:
    """Whether R's numbers for this case carry the penultimate-iterate error: the SEs of a
    Taylor design, and the model-based covariance (naive.cov) of an LRT on any design."""
    key = case["design_key"]
    hit = any(key == d and f"_{m}" in case["id"] for d, m in R_PENULTIMATE)
    if case["design"]["type"] == "replicate":
        return hit and case["estimator"] == "regtermtest" and case["test"]["method"] == "LRT"
    return hit


def r_style_se(result: Any, design: Any) -> np.ndarray:
    """R's SEs: the sandwich with the working weights of the penultimate IRLS iterate
    (R glm.fit's returned weights), started as R starts (family$initialize)."""
    from sipas.models.irls import solve_normal
    from sipas.models.sandwich import taylor_basis

    st = result._model_frame
    mf, fam, w = st.frame, st.family, st.weights
    mu = fam.start(mf.y, w)
    eta = fam.linkfun(mu)
    dev_old = fam.deviance(mf.y, mu, w)
    for _ in range(100):
        me = fam.mu_eta(eta)
        ww = w * me**2 / fam.variance(mu)
        z = eta - mf.offset + (mf.y - mu) / me
        beta, bread = solve_normal(mf.X.gram(ww), mf.X.tdot(ww * z), mf.names)
        eta = mf.X.dot(beta) + mf.offset
        mu = fam.linkinv(eta)
        dev = fam.deviance(mf.y, mu, w)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-15:
            break
        dev_old = dev
    with np.errstate(divide="ignore", invalid="ignore"):
        per_weight = np.where(w > 0, ww / w, 0.0)
    r = (mf.y - mu) / fam.mu_eta(eta) * per_weight
    wd = design.weight_array
    basis = taylor_basis(design, mf.X.score_columns(r), bread / wd[wd > 0].mean(), beta)
    return np.sqrt(np.diag(basis.cov()))
