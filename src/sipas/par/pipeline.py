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
from sipas.par.scenarios import shortfall, what_if
from sipas.par.scheme import load_scheme
from sipas.par.scoring import _read_table, score, survey_table

__all__ = ["score_pipeline"]


def score_pipeline(res: Any, spec: Any, pipeline: Any) -> None:
    """Compute the PAR tables of a pipeline run and add them to ``res.tables``.

    Parameters
    ----------
    res : RunResult
        A run whose ``results["index"]`` holds the survey's overall indices (no domain); it
        gains ``results["par"]`` and the tables ``par_totals``, ``par_areas``,
        ``par_points``, ``par_shortfall``, ``par_what_if`` (factors + 0.05) and, with
        ``n_sim``, ``par_rank_probabilities``.
    spec : Spec
        The survey's spec (its factors are the what-if indices).
    pipeline : Pipeline
        Its ``[par]`` table: ``scheme``, ``appraisal``, ``province`` (required), ``survey``
        (the other provinces' indices), ``officials``, ``n_sim``, ``seed``.

    Raises
    ------
    SpecError
        ``[par]`` lacks ``scheme``, ``appraisal`` or ``province``, or the scheme is invalid.
    ScoringError
        The other provinces' table lacks columns, or the tables do not fit the scheme (see
        :func:`sipas.par.score`).

    Notes
    -----
    This survey's indices, with their design covariance, replace the row of ``province``
    in the other provinces' table; then :func:`sipas.par.score`.

    Examples
    --------
    >>> import dataclasses
    >>> from sipas.pipeline import demo_pipeline_path, load_pipeline, run
    >>> p = load_pipeline(demo_pipeline_path())
    >>> res = run(dataclasses.replace(p, published=None, compare={}, par={},
    ...                               indices=dataclasses.replace(p.indices, by=())))
    >>> score_pipeline(res, res.data.spec, dataclasses.replace(p, par={**p.par, "n_sim": 0}))
    >>> sorted(name for name in res.tables if name.startswith("par_"))
    ['par_areas', 'par_points', 'par_shortfall', 'par_totals', 'par_what_if']
    """
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
