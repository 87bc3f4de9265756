"""Apply the weighting step an oracle case describes (R calls in tests/oracle/r/)."""

from __future__ import annotations

from typing import Any

import sipas


def apply_weighting(design: sipas.Design, spec: dict[str, Any]) -> sipas.Design:
    method = spec["method"]
    if method == "postStratify":
        pop = spec["population"]
        return sipas.poststratify(design, spec["strata"][0], dict(zip(pop["stype"], pop["Freq"])))
    if method == "rake":
        margins = {m["var"]: dict(zip(m["levels"], m["Freq"])) for m in spec["margins"]}
        return sipas.rake(design, margins, tol=spec["control"]["epsilon"],
                          max_iter=spec["control"]["maxit"])
    if method == "calibrate":
        return sipas.calibrate(design, _totals(spec), method=spec["calfun"],
                               bounds=_bounds(spec), population_size=spec["population"][
                                   "(Intercept)"] if "stypeH" not in spec["population"] else None)
    if method == "trimWeights":
        base = apply_weighting(design, {**spec, **CALLINEAR})
        return sipas.trim(base, lower=spec["lower"], upper=spec["upper"], strict=spec["strict"])
    raise ValueError(method)


CALLINEAR = {"method": "calibrate", "calfun": "linear", "bounds": ["-Inf", "Inf"],
             "population": {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018,
                            "api99": 3914069}}


def _totals(spec: dict[str, Any]) -> dict[str, Any]:
    pop = spec["population"]
    if "stypeH" in pop:
        n = pop["(Intercept)"]
        return {"stype": {"E": n - pop["stypeH"] - pop["stypeM"], "H": pop["stypeH"],
                          "M": pop["stypeM"]}, "api99": pop["api99"]}
    return {k: v for k, v in pop.items() if k != "(Intercept)"}


def _bounds(spec: dict[str, Any]) -> tuple[float, float] | None:
    lo, hi = (float(b) for b in spec.get("bounds", ["-Inf", "Inf"]))
    return None if (lo, hi) == (float("-inf"), float("inf")) else (lo, hi)
