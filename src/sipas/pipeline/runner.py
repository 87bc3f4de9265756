"""Running a pipeline: check its inputs, then read, weight, estimate, compare, score.

:func:`run` computes every table and writes nothing (:mod:`sipas.pipeline.outputs` writes
them); :func:`validate` checks the inputs against each other without estimating.

Examples
--------
>>> from sipas.pipeline import demo_pipeline_path, load_pipeline
>>> checked = validate(load_pipeline(demo_pipeline_path()))
>>> checked[1]
'spec demo (31 items, 5 factors)'
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sipas._validate import did_you_mean
from sipas.design.design import Design
from sipas.errors import SpecError
from sipas.indices.satisfaction import satisfaction_index
from sipas.io import read_survey
from sipas.pipeline.config import Pipeline
from sipas.schema import Doc
from sipas.weighting.diagnostics import weighting_report

__all__ = ["RunResult", "map_units", "run", "validate"]


@dataclass
class RunResult:
    """Everything a run computed; ``tables`` are what the report writes.

    Attributes
    ----------
    pipeline : Pipeline
        The configuration that was run.
    data : SurveyData
        The survey as read.
    design : Design
        The final weighted design.
    tables : dict of str -> DataFrame
        Output tables by name (``index_overall``, ``index_by_district``, ``par_totals``...).
    results : dict
        The result objects behind them (``index``: :class:`~IndexResult`, ``par``...).
    timings : dict of str -> float
        Seconds per step (read, weighting, indices, compare, reproduce, par, write).

    Examples
    --------
    >>> import dataclasses
    >>> from sipas.pipeline import demo_pipeline_path, load_pipeline
    >>> p = load_pipeline(demo_pipeline_path())
    >>> quick = dataclasses.replace(p, par={}, published=None, compare={},
    ...                             indices=dataclasses.replace(p.indices, by=()))
    >>> res = run(quick)
    >>> res.design.history[-1].name, "index_overall" in res.tables
    ('rake', True)
    """

    pipeline: Pipeline
    data: Any
    design: Any
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def validate(pipeline: Pipeline) -> list[str]:
    """Check inputs and configuration without computing estimates; return what was checked.

    Parameters
    ----------
    pipeline : Pipeline
        A loaded pipeline (:func:`load_pipeline`).

    Returns
    -------
    list of str
        One line per check passed: pipeline, spec, data, design columns, weighting plan,
        map units, published figures and PAR scheme (when configured).

    Raises
    ------
    SipasError
        The first problem found: :class:`~sipas.SpecError` (spec, plan, ``by`` columns,
        scheme), :class:`~sipas.ReadError` (data against the spec, published figures) or
        :class:`~sipas.DesignError` (design columns).

    Examples
    --------
    >>> from sipas.pipeline import demo_pipeline_path, load_pipeline
    >>> checked = validate(load_pipeline(demo_pipeline_path()))
    >>> [line.split()[0] for line in checked]
    ['pipeline', 'spec', 'data', 'design', 'weighting', 'published', 'PAR']
    """
    from sipas.weighting.plan import validate_plan

    checked = [f"pipeline {pipeline.path}"]
    spec = pipeline.load_spec()
    shape = f"{len(spec.nodes)} index nodes" if spec.nodes else f"{len(spec.factors)} factors"
    checked.append(f"spec {spec.name} ({len(spec.items)} items, {shape})")
    data = read_survey(pipeline.data, spec=spec, sheet=pipeline.sheet)
    checked.append(f"data {pipeline.data.name}: {data.meta.n_rows} rows valid against the spec")
    Design.from_spec(data)
    checked.append("design columns")
    validate_plan(pipeline.steps, spec, where=str(pipeline.path))
    checked.append(f"weighting plan ({len(pipeline.steps)} steps)")
    _check_by(pipeline, data.frame.columns)
    if pipeline.maps:
        units = map_units(data, pipeline.maps)
        checked.append(f"map units ({len(units)} {pipeline.maps['level']}s located)")
    if pipeline.published:
        from sipas.reproduction import published_figures

        published_figures(pipeline.published)
        checked.append("published figures")
    if pipeline.par:
        from sipas.par import load_scheme

        load_scheme(pipeline.par["scheme"])
        checked.append("PAR scheme")
    if pipeline.small_area is not None:
        by = pipeline.small_area["by"]
        if by not in data.frame.columns:
            raise Doc(str(pipeline.path), pipeline.raw).fail(
                ("small_area",), f"by column {by!r} is not in the data.")
        covariates = read_survey(pipeline.small_area["covariates"]).frame
        if by not in covariates.columns:
            raise Doc(str(pipeline.path), pipeline.raw).fail(
                ("small_area",), f"the covariates table has no area column {by!r}.")
        checked.append(f"small-area covariates ({len(covariates)} areas)")
    return checked


def run(pipeline: Pipeline, *, progress: bool = False) -> RunResult:
    """Compute every table of the pipeline (nothing is written; see :func:`write`).

    Parameters
    ----------
    pipeline : Pipeline
        A loaded pipeline (:func:`load_pipeline`).
    progress : bool
        Show a progress bar (tqdm) on the terminal.

    Returns
    -------
    RunResult
        The data, the final design, the tables and result objects, and timings.

    Raises
    ------
    SipasError
        Any step's error: reading (:class:`~sipas.ReadError`), the spec or configuration
        (:class:`~sipas.SpecError`), the design, weighting, estimation or PAR scoring.

    Notes
    -----
    Steps: read the data with the spec; build the design and apply the weighting plan;
    satisfaction indices overall and by each ``[indices] by`` column, and factor
    reliability; domain comparisons, ranks and the change since the previous wave;
    reproduction of published figures; PAR points; next wave's plan; small-area estimates.

    Examples
    --------
    >>> import dataclasses
    >>> from sipas.pipeline import demo_pipeline_path, load_pipeline
    >>> p = load_pipeline(demo_pipeline_path())
    >>> quick = dataclasses.replace(p, par={}, published=None, compare={},
    ...                             indices=dataclasses.replace(p.indices, by=()))
    >>> res = run(quick)
    >>> [t for t in sorted(res.tables) if t.startswith("index_")]
    ['index_factors', 'index_items', 'index_overall']
    """
    from tqdm.auto import tqdm


    spec = pipeline.load_spec()
    bar = tqdm(total=6, desc="sipas", disable=not progress, leave=False)
    res = RunResult(pipeline, None, None)
    with _timed(res, "read"):
        data = read_survey(pipeline.data, spec=spec, sheet=pipeline.sheet)
        _check_by(pipeline, data.frame.columns)
    res.data = data
    bar.update()
    with _timed(res, "weighting"):
        base = Design.from_spec(data)
        from sipas.weighting.plan import apply_plan

        design = apply_plan(base, pipeline.steps, spec)
        report = weighting_report(design, before=base)
        res.tables["weighting_steps"] = report.steps
        res.tables["weighting_margins"] = report.margins
    res.design = design
    bar.update()
    with _timed(res, "indices"):
        _indices(res, design, spec, data, pipeline)
        if pipeline.maps:
            res.results["map_units"] = map_units(data, pipeline.maps)
    bar.update()
    with _timed(res, "compare"):
        _comparisons(res, spec, pipeline)
    bar.update()
    with _timed(res, "drivers"):
        _drivers(res, spec, data, pipeline)
    with _timed(res, "reproduce"):
        if pipeline.published:
            from sipas.reproduction import check_consistency, published_figures, reproduce

            figures = published_figures(pipeline.published)
            rep = reproduce(figures, design, spec)
            res.tables["reproduction"] = rep.table
            res.tables["reproduction_candidates"] = rep.candidates
            res.tables["reproduction_definitions"] = rep.definitions
            consistency = check_consistency(figures)
            if len(consistency):
                res.tables["published_consistency"] = consistency
    bar.update()
    with _timed(res, "par"):
        if pipeline.par:
            from sipas.par import score_pipeline

            score_pipeline(res, spec, pipeline)
    bar.update()
    with _timed(res, "plan"):
        if pipeline.plan:
            _plan(res, design, pipeline)
    with _timed(res, "small_area"):
        if pipeline.small_area is not None:
            _small_area(res, design, spec, pipeline)
    bar.close()
    return res


def _check_by(pipeline: Pipeline, columns: Any) -> None:
    """Domain columns of ``[indices]`` and ``[multiple]`` that the data lack, named with the
    pipeline file and the column each most resembles (before anything is computed)."""
    doc = Doc(str(pipeline.path), pipeline.raw)
    for section, names in (("indices", pipeline.indices.by),
                           ("multiple", (pipeline.multiple or {}).get("by", ()))):
        missing = [b for b in names if b not in columns]
        if missing:
            raise doc.fail((section,), f"by column(s) {missing} are not in the data."
                                       f"{did_you_mean(missing, columns)}")


def map_units(data: Any, cfg: Mapping[str, Any]) -> pd.DataFrame:
    """The unit of every value of the ``[maps] by`` column, with its code and coordinates.

    Values are matched by their names (``match = "name"``: the spec's domain labels, else
    the data file's value labels, else the values themselves) or as GSO codes (``match =
    "code"``) among the units of ``level``, ``era`` and ``province``
    (:func:`sipas.units.locate`).

    Returns
    -------
    pandas.DataFrame
        ``<by>, value, code, name, full_name, lat, lon``: one row per value in the data.

    Raises
    ------
    UnitError
        A value names no unit or several; the units package is not installed.
    """
    from sipas.spec.domains import domain_label
    from sipas.units import locate

    by = cfg["by"]
    values = sorted(pd.unique(data.frame[by].dropna()), key=str)
    keys = values
    if cfg["match"] == "name":
        file_names = data.meta.value_labels.get(by, {})
        keys = [domain_label(data.spec.domain_labels, by, v, "vi") for v in values]
        keys = [file_names.get(v, v) if k == v else k for k, v in zip(keys, values)]
    units = locate(keys, cfg["level"], cfg["era"], province=cfg.get("province"),
                   by=cfg["match"])
    units.insert(0, by, values)
    return units


def _plan(res: RunResult, design: Any, pipeline: Pipeline) -> None:
    """Next wave's sample plan from this wave's weighted design (``[plan]``)."""
    from sipas.plan.workflow import plan_sample

    cfg = dict(pipeline.plan)
    variable = cfg.pop("variable", None)
    by = cfg.pop("by", None)
    if variable is None or by is None:
        raise SpecError("[plan] needs variable (the share that drives the plan, e.g. "
                        '"p01") and by (the domains, e.g. "district").')
    value = cfg.pop("value", 1)
    value = int(value) if float(value).is_integer() else value
    plan = plan_sample(design, variable, by=by, value=value, **cfg)
    res.tables.update(plan.tables())


def _small_area(res: RunResult, design: Any, spec: Any, pipeline: Pipeline) -> None:
    """Fay–Herriot estimates of one index or share by an area column (``[small_area]``)."""
    from sipas.small_area.workflow import area_estimates

    cfg = dict(pipeline.small_area or {})
    if cfg["by"] not in res.data.frame.columns:
        raise Doc(str(pipeline.path), pipeline.raw).fail(
            ("small_area",), f"by column {cfg['by']!r} is not in the data.")
    value = cfg.get("value", 1)
    smooth = cfg.get("smooth", "none")
    result = area_estimates(
        design, cfg["variable"], by=cfg["by"], covariates=cfg["covariates"], spec=spec,
        value=int(value) if float(value).is_integer() else value, x=cfg.get("x"),
        method=cfg.get("method", "REML"), mse=cfg.get("mse", "prasad-rao"),
        replicates=int(cfg.get("replicates", 200)), rng=cfg.get("seed", 1),
        transform=cfg.get("transform", "auto"), smooth=None if smooth == "none" else smooth,
        benchmark=bool(cfg.get("benchmark", False)), population=cfg.get("population"),
        level=pipeline.indices.level)
    res.results["small_area"] = result
    res.tables.update(result.tables())


def _indices(res: RunResult, design: Any, spec: Any, data: Any, pipeline: Pipeline) -> None:
    from sipas.indices.psychometrics import factor_reliability

    opts = pipeline.indices
    overall = satisfaction_index(design, spec, missing_kinds=data.missing,
                                       level=opts.level, rules=pipeline.rules,
                                       ci={"item": opts.ci})
    res.results["index"] = overall
    res.tables["index_overall"] = overall.overall
    res.tables["index_factors"] = overall.factors
    res.tables["index_items"] = overall.items
    if spec.nodes:  # a tree deeper than factors under overall: every node by itself
        res.tables["index_nodes"] = overall.nodes
    for by in opts.by:
        dom = satisfaction_index(design, spec, by=by, missing_kinds=data.missing,
                                       level=opts.level, rules=pipeline.rules,
                                       ci={"item": opts.ci})
        res.results[f"index_by_{by}"] = dom
        inner = dom.nodes[~dom.nodes["name"].isin([*dom.factors.get("name", ()),
                                                  *dom.overall["name"]])]
        res.tables[f"index_by_{by}"] = pd.concat(
            [dom.overall.assign(index_level="overall"),
             inner[dom.overall.columns].assign(index_level="node"),
             dom.factors.assign(index_level="factor")],
            ignore_index=True)
        res.tables[f"items_by_{by}"] = dom.items
    res.tables["reliability"] = factor_reliability(design, spec, level=opts.level)


def _drivers(res: RunResult, spec: Any, data: Any, pipeline: Pipeline) -> None:
    """``[drivers]`` and ``[multiple]``: key drivers on a bootstrap design weighted like the
    run's (replicate first, then weight every replicate), and multiple-response questions."""
    from sipas.design.resampling import replicate
    from sipas.drivers import drivers
    from sipas.multiple import multiple_response
    from sipas.weighting.plan import apply_plan

    level = pipeline.indices.level
    cfg = pipeline.drivers
    if cfg is not None:
        base = replicate(Design.from_spec(data), "bootstrap",
                         replicates=int(cfg.get("replicates", 100)), rng=cfg.get("seed", 1))
        rep = apply_plan(base, pipeline.steps, spec)
        outcome = cfg.get("outcome", spec.overall_item)
        if outcome is None:
            raise SpecError("[drivers] needs outcome = \"...\" (the spec has no [overall] item).")
        result = drivers(rep, outcome, cfg.get("drivers", [f.name for f in spec.factors]),
                         spec=spec, importance=cfg.get("importance", "lmg"),
                         split=cfg.get("split", "mean"), level=level)
        res.results["drivers"] = result
        res.tables["drivers"] = result.to_frame()
        res.tables["drivers_matrix"] = result.matrix()
    mcfg = pipeline.multiple
    if mcfg is not None:
        for name in mcfg.get("sets", [q.name for q in spec.question_sets]):
            for by in [None, *mcfg.get("by", [])]:
                mr = multiple_response(res.design, name, spec=spec, by=by, level=level,
                                       rng=mcfg.get("seed", 1))
                key = f"multiple_{name}" + (f"_by_{by}" if by else "")
                res.results[key] = mr
                res.tables[key] = mr.to_frame()


def _comparisons(res: RunResult, spec: Any, pipeline: Pipeline) -> None:
    from sipas.compare import compare_domains, compare_waves, rank_domains

    cfg = pipeline.compare
    for by in pipeline.indices.by:
        est = res.results[f"index_by_{by}"].overall_estimate
        res.tables[f"compare_{by}"] = compare_domains(est, adjust=cfg.get("adjust", "holm"))
    rank_by = cfg.get("rank_by")
    if rank_by:
        if rank_by not in pipeline.indices.by:
            raise SpecError(f"[compare] rank_by {rank_by!r} must be one of [indices] by.")
        est = res.results[f"index_by_{rank_by}"].overall_estimate
        res.tables[f"ranks_{rank_by}"] = rank_domains(est, n_sim=int(cfg.get("n_sim", 2000)),
                                                      rng=cfg.get("seed", 20201231))
    if cfg.get("previous_data"):
        prev_spec = pipeline.load_spec("previous_spec")
        prev = read_survey(cfg["previous_data"], spec=prev_spec)
        from sipas.weighting.plan import apply_plan

        prev_design = apply_plan(Design.from_spec(prev), pipeline.steps, prev_spec)
        before = satisfaction_index(prev_design, prev_spec, rules=pipeline.rules)
        now = res.results["index"]
        waves = [compare_waves(now.overall_estimate, before.overall_estimate)]
        if now.factor_estimate is not None and before.factor_estimate is not None:
            waves.insert(0, compare_waves(now.factor_estimate, before.factor_estimate))
        res.tables["compare_waves"] = pd.concat(waves, ignore_index=True)


@contextmanager
def _timed(res: RunResult, name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    res.timings[name] = time.perf_counter() - start
