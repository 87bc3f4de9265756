"""Load the R `survey` model/test oracle (tests/oracle/models/) for tables and tests.

Builds the sipas design each case describes (the same designs as tests/oracle_cases.py, on
the model data whose columns have '_' for '.'), so the tests compare every number with R's.
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
from oracle_cases import replicate_from
from weighting_cases import apply_weighting

MODELS = Path(__file__).parent / "oracle" / "models"


@cache
def _all() -> dict[str, Any]:
    return json.loads((MODELS / "cases.json").read_text(encoding="utf-8"))


def cases(estimator: str) -> list[dict[str, Any]]:
    return [c for c in _all()["cases"] if c["estimator"] == estimator]


def skipped() -> list[dict[str, Any]]:
    return _all()["skipped"]


@cache
def dataset(name: str) -> pd.DataFrame:
    return pd.read_csv(MODELS / name)


def design_for(case: dict[str, Any]) -> Any:
    spec = case["design"]
    frame = dataset(case["dataset"])
    if spec["type"] == "replicate":
        return replicate_from(frame, spec["replicate"], MODELS)
    ids = [i for i in spec["ids"] if i != "1"] or None
    design = sipas.Design(frame, ids=ids, strata=spec["strata"], weights=spec["weights"],
                          fpc=spec["fpc"], nest=spec["nest"],
                          lonely_psu=spec.get("lonely_psu", "fail"))
    if case["weighting"]:
        design = apply_weighting(design, case["weighting"])
    return design


def number(value: Any) -> float:
    return math.inf if value == "Inf" else float(value)


def rel_err(got: float, want: Any) -> float:
    want = number(want)
    if math.isinf(want) or math.isinf(got):
        return 0.0 if got == want else math.inf
    return abs(got - want) / max(abs(want), 1e-300)


def np_close(got: float, want: Any, rtol: float) -> bool:
    return bool(np.isclose(got, number(want), rtol=rtol, atol=0.0))
