"""The PAR step of a pipeline: the run's own survey indices join the other provinces' tables.

The ``[par]`` section of a pipeline file names the scheme, the appraisal table, optionally the
other provinces' citizen-survey indices (``survey``), the officials' survey table, the name of
the province this survey covers (``province``), and the simulation settings (``n_sim``,
``seed``). The survey's overall indices (no domain) become that province's row.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sipas.errors import ScoringError, SpecError
from sipas.par.scheme import load_scheme
from sipas.par.scoring import _read_table, score, shortfall, survey_table, what_if

__all__ = ["score_pipeline"]


def score_pipeline(res: Any, spec: Any, pipeline: Any) -> None:
    """Compute the PAR tables of a pipeline run and add them to ``res.tables``."""
    cfg = pipeline.par
    for key in ("scheme", "appraisal", "province"):
        if key not in cfg:
            raise SpecError(f"{pipeline.path}: [par] needs {key} = ...")
    scheme = load_scheme(cfg["scheme"])
    own, cov = survey_table(res.results["index"], province=str(cfg["province"]))
    if "survey" in cfg:
        others = _read_table(cfg["survey"], "survey")
        absent = [c for c in own.columns if c not in others.columns]
        if absent:
            raise ScoringError(f"survey file {cfg['survey']!r}: column(s) {absent} are missing; "
                               f"the other provinces' table needs {list(own.columns)}.")
        others = others[others["province"].astype(str) != str(cfg["province"])]
        table = pd.concat([own, others[own.columns]], ignore_index=True)
    else:
        table = own
    result = score(scheme, appraisal=cfg["appraisal"], survey=(table, cov),
                   officials=cfg.get("officials"), n_sim=int(cfg.get("n_sim", 0)),
                   rng=cfg.get("seed"))
    res.results["par"] = result
    res.tables["par_totals"] = result.totals
    res.tables["par_areas"] = result.areas
    res.tables["par_points"] = result.points
    if result.rank_probabilities is not None:
        res.tables["par_rank_probabilities"] = result.rank_probabilities.reset_index(
            names="province")
    prov = str(cfg["province"])
    res.tables["par_shortfall"] = shortfall(result, prov)
    gains = [what_if(result, prov, f"factor:{f.name}", 0.05).assign(index=f"factor:{f.name}")
             for f in spec.factors
             if f"citizen_survey|factor:{f.name}" in result.values.get(prov, {})]
    if gains:
        res.tables["par_what_if"] = pd.concat(gains, ignore_index=True)
