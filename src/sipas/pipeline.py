"""The yearly job from one pipeline file: read, weight, estimate, compare, score, report.

A pipeline file (TOML) names the survey file and its spec, the weighting plan, the domains,
optional comparisons, the published figures to reproduce, the PAR scheme, and the report
options; ``docs/pipeline.md`` documents every key. :func:`run` computes everything and
writes an output folder (tables as CSV and Parquet, an Excel workbook, charts and
``provenance.json``) through a temporary folder, so an interrupted run leaves nothing
half-written and an existing non-empty folder is replaced only with ``overwrite=True``.

Examples
--------
>>> from sipas.pipeline import load_pipeline, demo_pipeline_path
>>> load_pipeline(demo_pipeline_path()).indices.by
('district', 'urban', 'service')
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sipas.errors import SpecError
from sipas.indices.reliability import ReliabilityRules

__all__ = ["IndicesOptions", "Pipeline", "ReportOptions", "RunResult", "demo_pipeline_path",
           "load_pipeline", "output_folder", "provenance", "run", "run_demo", "summary_text",
           "validate", "write"]

SECTIONS: dict[str, set[str]] = {
    "pipeline": {"name", "title", "allow_absolute_paths"},
    "input": {"data", "spec", "sheet"},
    "weighting": {"steps"},
    "indices": {"by", "level", "item_ci"},
    "reliability": {"min_n", "min_df", "min_neff", "max_rse"},
    "compare": {"rank_by", "adjust", "n_sim", "seed", "previous_data", "previous_spec"},
    "reproduce": {"published"},
    "par": {"scheme", "appraisal", "officials", "survey", "province", "n_sim", "seed"},
    "report": {"lang", "decimals", "formats", "min_cell", "suppression"},
}
FORMATS = ("csv", "parquet", "xlsx", "png", "svg")
#: types of the keys that are not checked where they are read (paths are resolved later)
KINDS: dict[str, dict[str, type]] = {
    "pipeline": {"title": str},
    "input": {"data": str, "spec": str},
    "indices": {"level": float, "item_ci": str},
    "compare": {"rank_by": str, "adjust": str, "n_sim": int, "seed": int, "previous_data": str,
                "previous_spec": str},
    "reproduce": {"published": str},
    "par": {"scheme": str, "appraisal": str, "officials": str, "survey": str, "province": str,
            "n_sim": int, "seed": int},
    "report": {"lang": str, "decimals": int, "min_cell": int, "suppression": str},
}
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("indices", "item_ci"): ("logit", "wald", "beta", "wilson", "asin", "xlogit", "mean"),
    ("compare", "adjust"): ("holm", "fdr_bh", "bonferroni", "none"),
}
_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


@dataclass(frozen=True)
class IndicesOptions:
    """The ``[indices]`` section of a pipeline file.

    Attributes
    ----------
    by : tuple of str
        Domain columns; the indices are computed overall and by each of them.
    level : float
        Confidence level of the intervals.
    item_ci : str
        Interval method of item shares (see :func:`sipas.satisfaction_index`).

    Examples
    --------
    >>> load_pipeline(demo_pipeline_path()).indices
    IndicesOptions(by=('district', 'urban', 'service'), level=0.95, item_ci='logit')
    """

    by: tuple[str, ...] = ()
    level: float = 0.95
    item_ci: str = "logit"


@dataclass(frozen=True)
class ReportOptions:
    """The ``[report]`` section of a pipeline file.

    Attributes
    ----------
    lang : {"vi", "en"}
        Language of labels in the workbook and charts.
    decimals : int
        Decimals shown in the report tables.
    formats : tuple of str
        Outputs to write, among ``csv``, ``parquet``, ``xlsx``, ``png``, ``svg``.
    min_cell : int
        Smallest number of respondents a published cell may rest on.
    suppression : {"suppress", "flag"}
        What happens to smaller cells.

    Examples
    --------
    >>> ReportOptions().formats
    ('csv', 'parquet', 'xlsx', 'png', 'svg')
    """

    lang: str = "vi"
    decimals: int = 1
    formats: tuple[str, ...] = FORMATS
    min_cell: int = 10
    suppression: str = "suppress"


@dataclass(frozen=True)
class Pipeline:
    """A validated pipeline file (paths resolved against its folder).

    Attributes
    ----------
    path : Path
        The pipeline file.
    name : str
        ``[pipeline] name`` (default: the file name).
    data : Path
        The survey data file.
    spec : str
        Path of the spec, or a bundled spec name.
    sheet : str or int
        Sheet of an ``.xlsx`` data file.
    steps : tuple of mapping
        The weighting plan (see :mod:`sipas.weighting.plan`).
    indices : IndicesOptions
        ``[indices]``.
    rules : ReliabilityRules
        ``[reliability]``.
    compare : mapping
        ``[compare]`` (paths resolved).
    published : str or None
        Published figures to reproduce (a path or a bundled name).
    par : mapping
        ``[par]`` (paths resolved).
    report : ReportOptions
        ``[report]``.
    raw : mapping
        The file as parsed (kept in ``provenance.json``).

    Examples
    --------
    >>> p = load_pipeline(demo_pipeline_path())
    >>> p.name, p.spec, [s["method"] for s in p.steps]
    ('demo', 'demo', ['nonresponse', 'rake'])
    """

    path: Path
    name: str
    data: Path
    spec: str
    sheet: str | int = 0
    steps: tuple[Mapping[str, Any], ...] = ()
    indices: IndicesOptions = field(default_factory=IndicesOptions)
    rules: ReliabilityRules = field(default_factory=ReliabilityRules)
    compare: Mapping[str, Any] = field(default_factory=dict)
    published: str | None = None
    par: Mapping[str, Any] = field(default_factory=dict)
    report: ReportOptions = field(default_factory=ReportOptions)
    raw: Mapping[str, Any] = field(default_factory=dict)


def demo_pipeline_path() -> Path:
    """The bundled demo pipeline (on the SYNTHETIC demo survey).

    Returns
    -------
    pathlib.Path
        ``demo_pipeline.toml`` inside the installed package (read it, never write it).

    Examples
    --------
    >>> demo_pipeline_path().name
    'demo_pipeline.toml'
    """
    return Path(str(resources.files("sipas.datasets") / "data" / "demo_pipeline.toml"))


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and check a pipeline file: unknown keys, wrong types and missing files are
    :class:`SpecError` naming the key or file.

    Parameters
    ----------
    path : str or Path
        The pipeline ``.toml`` file (UTF-8). Relative paths inside it start at its folder
        and may not leave it unless ``[pipeline] allow_absolute_paths = true``.

    Returns
    -------
    Pipeline
        The validated configuration, with input paths resolved.

    Raises
    ------
    SpecError
        The file does not exist, is not UTF-8 or not valid TOML; an unknown section or key;
        a value of the wrong type or outside its choices; ``[input]`` without ``data`` or
        ``spec``; an input file that does not exist, is a folder, or lies outside the
        pipeline's folder.

    Examples
    --------
    >>> p = load_pipeline(demo_pipeline_path())
    >>> p.data.name, p.indices.level, p.report.lang
    ('demo.sav', 0.95, 'vi')
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"pipeline file {str(path)!r} does not exist.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SpecError(f"pipeline file {str(path)!r} must be UTF-8 text; got byte "
                        f"{exc.object[exc.start:exc.start + 1]!r}. Save it as UTF-8.") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"pipeline file {str(path)!r} is not valid TOML: {exc}. Check quotes, "
                        "brackets and '=' on that line.") from None
    where = str(path)
    for section, value in raw.items():
        if section not in SECTIONS:
            raise SpecError(f"{where}: unknown section [{section}]; sections are "
                            f"{sorted(SECTIONS)}.")
        if not isinstance(value, dict):
            raise SpecError(f"{where}: [{section}] must be a table.")
        unknown = sorted(set(value) - SECTIONS[section])
        if unknown:
            raise SpecError(f"{where}: unknown key(s) {unknown} in [{section}]; allowed: "
                            f"{sorted(SECTIONS[section])}.")
    _check_values(raw, where)
    meta = raw.get("pipeline", {})
    allow_abs = _typed(meta, "allow_absolute_paths", bool, False, where, "pipeline")
    inp = raw.get("input", {})
    if "data" not in inp or "spec" not in inp:
        raise SpecError(f"{where}: [input] needs data = \"file\" and spec = \"file or name\".")
    base = path.parent
    data = _resolve(base, _typed(inp, "data", str, None, where, "input"), allow_abs, where)
    spec = _typed(inp, "spec", str, None, where, "input")
    if Path(spec).suffix:
        spec = str(_resolve(base, spec, allow_abs, where))
    ind = raw.get("indices", {})
    by = ind.get("by", [])
    if isinstance(by, str) or not all(isinstance(b, str) for b in by):
        raise SpecError(f"{where}: [indices] by must be a list of column names; got {by!r}.")
    rep = raw.get("report", {})
    formats = tuple(rep.get("formats", FORMATS))
    if not set(formats) <= set(FORMATS):
        raise SpecError(f"{where}: [report] formats must be among {list(FORMATS)}; got "
                        f"{list(formats)}.")
    lang = rep.get("lang", "vi")
    if lang not in ("vi", "en"):
        raise SpecError(f"{where}: [report] lang must be 'vi' or 'en'; got {lang!r}.")
    suppression = rep.get("suppression", "suppress")
    if suppression not in ("suppress", "flag"):
        raise SpecError(f"{where}: [report] suppression must be 'suppress' or 'flag'; got "
                        f"{suppression!r}.")
    rel = raw.get("reliability", {})
    published = raw.get("reproduce", {}).get("published")
    if published and Path(published).suffix:
        published = str(_resolve(base, published, allow_abs, where))
    par = dict(raw.get("par", {}))
    for key in ("scheme", "appraisal", "officials", "survey"):
        if key in par and Path(par[key]).suffix:
            par[key] = str(_resolve(base, par[key], allow_abs, where))
    compare = dict(raw.get("compare", {}))
    for key in ("previous_data", "previous_spec"):
        if key in compare and Path(compare[key]).suffix:
            compare[key] = str(_resolve(base, compare[key], allow_abs, where))
    return Pipeline(
        path=path, name=_typed(meta, "name", str, path.stem, where, "pipeline"), data=data,
        spec=spec, sheet=inp.get("sheet", 0),
        steps=tuple(raw.get("weighting", {}).get("steps", [])),
        indices=IndicesOptions(tuple(by), float(_typed(ind, "level", float, 0.95, where,
                                                         "indices")),
                               _typed(ind, "item_ci", str, "logit", where, "indices")),
        rules=ReliabilityRules(**{k: _typed(rel, k, float, getattr(ReliabilityRules(), k),
                                            where, "reliability") for k in rel}),
        compare=compare, published=published, par=par,
        report=ReportOptions(lang, int(_typed(rep, "decimals", int, 1, where, "report")),
                             formats, int(_typed(rep, "min_cell", int, 10, where, "report")),
                             suppression),
        raw=raw)


def _typed(table: Mapping[str, Any], key: str, kind: type, default: Any, where: str,
           section: str) -> Any:
    value = table.get(key, default)
    ok = (isinstance(value, kind) and (kind is bool or not isinstance(value, bool))) or (
        kind is float and isinstance(value, int) and not isinstance(value, bool))
    if value is not None and not ok:
        raise SpecError(f"{where}: [{section}] {key} must be "
                        f"{_KIND_NAMES.get(kind, kind.__name__)}; got {value!r}.")
    return value


def _check_values(raw: Mapping[str, Any], where: str) -> None:
    """Types, ranges and choices of every key, before any file is opened."""
    for section, kinds in KINDS.items():
        table = raw.get(section, {})
        for key, kind in kinds.items():
            _typed(table, key, kind, None, where, section)
    for (section, key), allowed in CHOICES.items():
        value = raw.get(section, {}).get(key)
        if value is not None and value not in allowed:
            raise SpecError(f"{where}: [{section}] {key} must be one of {list(allowed)}; got "
                            f"{value!r}.")
    level = raw.get("indices", {}).get("level", 0.95)
    if not 0 < level < 1:
        raise SpecError(f"{where}: [indices] level must be in (0, 1); got {level!r}. Use 0.95 "
                        "for a 95% interval.")
    sheet = raw.get("input", {}).get("sheet", 0)
    if isinstance(sheet, bool) or not isinstance(sheet, (str, int)):
        raise SpecError(f"{where}: [input] sheet must be a sheet name or a 0-based index; got "
                        f"{sheet!r}.")
    formats = raw.get("report", {}).get("formats", list(FORMATS))
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise SpecError(f"{where}: [report] formats must be a list such as [\"csv\", "
                        f"\"xlsx\"]; got {formats!r}.")
    steps = raw.get("weighting", {}).get("steps", [])
    if not isinstance(steps, list) or not all(isinstance(st, dict) for st in steps):
        raise SpecError(f"{where}: [weighting] steps must be an array of tables, written "
                        f"[[weighting.steps]] (one per step); got {steps!r}.")
    by = raw.get("indices", {}).get("by", [])
    rank_by = raw.get("compare", {}).get("rank_by")
    if rank_by is not None and isinstance(by, list) and rank_by not in by:
        raise SpecError(f"{where}: [compare] rank_by must be one of [indices] by {by}; got "
                        f"{rank_by!r}. Add it to [indices] by.")


def _resolve(base: Path, name: str, allow_abs: bool, where: str) -> Path:
    candidate = Path(name)
    if candidate.is_absolute():
        if not allow_abs:
            raise SpecError(f"{where}: absolute path {name!r} is not allowed; use a path "
                            "relative to the pipeline file or set [pipeline] "
                            "allow_absolute_paths = true.")
        resolved = candidate.resolve()
    else:
        resolved = (base / candidate).resolve()
        if not allow_abs and not resolved.is_relative_to(base.resolve()):
            raise SpecError(f"{where}: path {name!r} leaves the pipeline's folder; keep inputs "
                            "beside the pipeline file or set [pipeline] allow_absolute_paths = "
                            "true.")
    if resolved.is_dir():
        raise SpecError(f"{where}: input {name!r} is a folder ({resolved}); name a file.")
    if not resolved.is_file():
        raise SpecError(f"{where}: input file {name!r} does not exist ({resolved}).")
    return resolved


# ---------------------------------------------------------------------- running

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
        The result objects behind them (``index``: :class:`~sipas.IndexResult`, ``par``...).
    timings : dict of str -> float
        Seconds per step (read, weighting, indices, compare, reproduce, par, write).

    Examples
    --------
    >>> import dataclasses
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
        published figures and PAR scheme (when configured).

    Raises
    ------
    SipasError
        The first problem found: :class:`~sipas.SpecError` (spec, plan, ``by`` columns,
        scheme), :class:`~sipas.ReadError` (data against the spec, published figures) or
        :class:`~sipas.DesignError` (design columns).

    Examples
    --------
    >>> checked = validate(load_pipeline(demo_pipeline_path()))
    >>> [line.split()[0] for line in checked]
    ['pipeline', 'spec', 'data', 'design', 'weighting', 'published', 'PAR']
    """
    import sipas
    from sipas.weighting.plan import validate_plan

    checked = [f"pipeline {pipeline.path}"]
    spec = sipas.load_spec(pipeline.spec)
    checked.append(f"spec {spec.name} ({len(spec.items)} items, {len(spec.factors)} factors)")
    data = sipas.read_survey(pipeline.data, spec=spec, sheet=pipeline.sheet)
    checked.append(f"data {pipeline.data.name}: {data.meta.n_rows} rows valid against the spec")
    sipas.Design.from_spec(data)
    checked.append("design columns")
    validate_plan(pipeline.steps, spec)
    checked.append(f"weighting plan ({len(pipeline.steps)} steps)")
    missing = [b for b in pipeline.indices.by if b not in data.frame.columns]
    if missing:
        raise SpecError(f"{pipeline.path}: [indices] by column(s) {missing} are not in the data.")
    if pipeline.published:
        from sipas.reproduce import published_figures

        published_figures(pipeline.published)
        checked.append("published figures")
    if pipeline.par:
        from sipas.par import load_scheme

        load_scheme(pipeline.par["scheme"])
        checked.append("PAR scheme")
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
    reproduction of published figures; PAR points.

    Examples
    --------
    >>> import dataclasses
    >>> p = load_pipeline(demo_pipeline_path())
    >>> quick = dataclasses.replace(p, par={}, published=None, compare={},
    ...                             indices=dataclasses.replace(p.indices, by=()))
    >>> res = run(quick)
    >>> sorted(res.tables)[:3]
    ['index_factors', 'index_items', 'index_overall']
    """
    from tqdm.auto import tqdm

    import sipas

    spec = sipas.load_spec(pipeline.spec)
    bar = tqdm(total=6, desc="sipas", disable=not progress, leave=False)
    res = RunResult(pipeline, None, None)
    with _timed(res, "read"):
        data = sipas.read_survey(pipeline.data, spec=spec, sheet=pipeline.sheet)
    res.data = data
    bar.update()
    with _timed(res, "weighting"):
        base = sipas.Design.from_spec(data)
        from sipas.weighting.plan import apply_plan

        design = apply_plan(base, pipeline.steps, spec)
        report = sipas.weighting_report(design, before=base)
        res.tables["weighting_steps"] = report.steps
        res.tables["weighting_margins"] = report.margins
    res.design = design
    bar.update()
    with _timed(res, "indices"):
        _indices(res, design, spec, data, pipeline)
    bar.update()
    with _timed(res, "compare"):
        _comparisons(res, spec, pipeline)
    bar.update()
    with _timed(res, "reproduce"):
        if pipeline.published:
            from sipas.reproduce import published_figures, reproduce

            rep = reproduce(published_figures(pipeline.published), design, spec)
            res.tables["reproduction"] = rep.table
            res.tables["reproduction_candidates"] = rep.candidates
    bar.update()
    with _timed(res, "par"):
        if pipeline.par:
            from sipas.par import score_pipeline

            score_pipeline(res, spec, pipeline)
    bar.update()
    bar.close()
    return res


def _indices(res: RunResult, design: Any, spec: Any, data: Any, pipeline: Pipeline) -> None:
    import sipas
    from sipas.indices.psychometrics import factor_reliability

    opts = pipeline.indices
    overall = sipas.satisfaction_index(design, spec, missing_kinds=data.missing,
                                       level=opts.level, rules=pipeline.rules,
                                       ci={"item": opts.item_ci})
    res.results["index"] = overall
    res.tables["index_overall"] = overall.overall
    res.tables["index_factors"] = overall.factors
    res.tables["index_items"] = overall.items
    for by in opts.by:
        dom = sipas.satisfaction_index(design, spec, by=by, missing_kinds=data.missing,
                                       level=opts.level, rules=pipeline.rules,
                                       ci={"item": opts.item_ci})
        res.results[f"index_by_{by}"] = dom
        res.tables[f"index_by_{by}"] = pd.concat(
            [dom.overall.assign(index_level="overall"),
             dom.factors.assign(index_level="factor")],
            ignore_index=True)
        res.tables[f"items_by_{by}"] = dom.items
    res.tables["reliability"] = factor_reliability(design, spec, level=opts.level)


def _comparisons(res: RunResult, spec: Any, pipeline: Pipeline) -> None:
    import sipas
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
        prev_spec = sipas.load_spec(cfg.get("previous_spec", pipeline.spec))
        prev = sipas.read_survey(cfg["previous_data"], spec=prev_spec)
        from sipas.weighting.plan import apply_plan

        prev_design = apply_plan(sipas.Design.from_spec(prev), pipeline.steps, prev_spec)
        before = sipas.satisfaction_index(prev_design, prev_spec, rules=pipeline.rules)
        now = res.results["index"]
        res.tables["compare_waves"] = pd.concat(
            [compare_waves(now.factor_estimate, before.factor_estimate),
             compare_waves(now.overall_estimate, before.overall_estimate)],
            ignore_index=True)


@contextmanager
def _timed(res: RunResult, name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    res.timings[name] = time.perf_counter() - start


# ---------------------------------------------------------------------- writing

@contextmanager
def output_folder(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out`` (atomically replaced).

    Parameters
    ----------
    out : str or Path
        The final output folder.
    overwrite : bool
        Replace ``out`` when it exists and is not empty.

    Yields
    ------
    Path
        A temporary folder beside ``out``; it is removed if the block raises (also on
        Ctrl-C), so ``out`` is never left half-written.

    Raises
    ------
    SpecError
        ``out`` exists, is not empty (or not a folder) and ``overwrite`` is False.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> base = pathlib.Path(tempfile.mkdtemp())
    >>> with output_folder(base / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("done", encoding="utf-8")
    >>> [f.name for f in (base / "out").iterdir()]
    ['a.txt']
    >>> shutil.rmtree(base)
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise SpecError(f"Output folder {str(out)!r} exists and is not empty. Choose another "
                        "--out folder or pass --overwrite to replace it.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{time.time_ns()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write(result: RunResult, out: str | Path, *, overwrite: bool = False,
          lang: str | None = None) -> Path:
    """Write the tables, workbook, charts and provenance of a run to ``out``.

    Parameters
    ----------
    result : RunResult
        What :func:`run` computed.
    out : str or Path
        Output folder (written through a temporary folder, see :func:`output_folder`).
    overwrite : bool
        Replace a non-empty ``out``.
    lang : {"vi", "en"}, optional
        Label language; default the pipeline's ``[report] lang``.

    Returns
    -------
    Path
        ``out``: ``tables/`` (CSV and/or Parquet per the report formats), the Excel workbook
        and charts when the report layer writes them, and ``provenance.json``.

    Raises
    ------
    SpecError
        ``out`` exists and is not empty, without ``overwrite``.

    Examples
    --------
    >>> import dataclasses, pathlib, shutil, tempfile
    >>> p = load_pipeline(demo_pipeline_path())
    >>> quick = dataclasses.replace(p, par={}, published=None, compare={},
    ...                             indices=dataclasses.replace(p.indices, by=()),
    ...                             report=dataclasses.replace(p.report, formats=("csv",)))
    >>> base = pathlib.Path(tempfile.mkdtemp())
    >>> out = write(run(quick), base / "out")
    >>> sorted(f.name for f in out.iterdir())
    ['provenance.json', 'tables']
    >>> shutil.rmtree(base)
    """
    from sipas.report.files import write_csv, write_parquet, write_text

    opts = result.pipeline.report
    lang = lang or opts.lang
    with output_folder(out, overwrite) as folder:
        start = time.perf_counter()
        tables = folder / "tables"
        for name, table in result.tables.items():
            if "csv" in opts.formats:
                write_csv(table, tables / f"{name}.csv")
            if "parquet" in opts.formats:
                write_parquet(table, tables / f"{name}.parquet")
        _write_report(result, folder, lang)
        result.timings["write"] = time.perf_counter() - start
        write_text(json.dumps(provenance(result, lang), ensure_ascii=False, indent=2,
                              default=_json), folder / "provenance.json")
    return Path(out)


def _write_report(result: RunResult, folder: Path, lang: str) -> None:
    """Excel workbook and charts, when the report layer provides them."""
    try:
        from sipas.report import build
    except ImportError:
        return
    build.write_all(result, folder, lang)


def provenance(result: RunResult, lang: str) -> dict[str, Any]:
    """sipas version, input hashes, spec, options and timings of a run.

    Parameters
    ----------
    result : RunResult
        What :func:`run` computed.
    lang : str
        The report language (recorded).

    Returns
    -------
    dict
        JSON-ready: ``sipas_version``, ``python``, ``pipeline`` (path, name, options),
        ``input`` (path, SHA-256, rows, format), ``spec`` (name, path, SHA-256, index
        definition), ``weighting`` steps, ``language``, ``notice``, ``timings_seconds``,
        ``tables``.

    Examples
    --------
    >>> import dataclasses
    >>> p = load_pipeline(demo_pipeline_path())
    >>> quick = dataclasses.replace(p, par={}, published=None, compare={},
    ...                             indices=dataclasses.replace(p.indices, by=()))
    >>> res = run(quick)
    >>> prov = provenance(res, "en")
    >>> prov["spec"]["name"], [w["step"] for w in prov["weighting"]], len(prov["input"]["sha256"])
    ('demo', ['nonresponse', 'rake'], 64)
    """
    from sipas import __version__

    data, spec = result.data, result.data.spec
    return {
        "sipas_version": __version__,
        "python": sys.version.split()[0],
        "pipeline": {"path": str(result.pipeline.path), "name": result.pipeline.name,
                     "options": result.pipeline.raw},
        "input": {"path": data.meta.source, "sha256": data.meta.sha256,
                  "rows": data.meta.n_rows, "format": data.meta.format},
        "spec": {"name": spec.name, "path": spec.source, "sha256": spec.sha256,
                 "synthetic": spec.synthetic, "index_definition": spec.index.describe()},
        "weighting": [{"step": h.name, "options": dict(h.options)}
                      for h in result.design.history],
        "language": lang,
        "notice": _notice(spec),
        "timings_seconds": {k: round(v, 4) for k, v in result.timings.items()},
        "tables": sorted(result.tables),
    }


def _notice(spec: Any) -> str:
    from sipas.datasets import SYNTHETIC_NOTICE

    return SYNTHETIC_NOTICE if spec.synthetic else ""


def _json(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    return str(value)


def run_demo(out: str | Path = "sipas-demo-output", *, overwrite: bool = False,
             lang: str | None = None, quiet: bool = False) -> Path:
    """Run the bundled demo pipeline and write its outputs to ``out``.

    Parameters
    ----------
    out : str or Path
        Output folder.
    overwrite : bool
        Replace a non-empty ``out``.
    lang : {"vi", "en"}, optional
        Label language; default the demo pipeline's (``vi``).
    quiet : bool
        No progress bar and no summary printed.

    Returns
    -------
    Path
        ``out`` (see :func:`write`).

    Raises
    ------
    SpecError
        ``out`` exists and is not empty, without ``overwrite``.

    Examples
    --------
    The full demo writes a workbook and charts (several seconds), so it is not run here:

    >>> path = run_demo("sipas-demo-output", quiet=True)  # doctest: +SKIP
    >>> sorted(f.name for f in path.iterdir())  # doctest: +SKIP
    ['charts', 'provenance.json', 'sipas-report.xlsx', 'tables']
    """
    pipeline = load_pipeline(demo_pipeline_path())
    result = run(pipeline, progress=not quiet and sys.stderr.isatty())
    path = write(result, out, overwrite=overwrite, lang=lang)
    if not quiet:
        print(summary_text(result, path))
    return path


def summary_text(result: RunResult, path: Path) -> str:
    """A short console summary of a run.

    Parameters
    ----------
    result : RunResult
        What :func:`run` computed.
    path : Path
        Where the outputs were written (named in the last line).

    Returns
    -------
    str
        The synthetic-data notice (if any), the index definition, the overall and factor
        indices in percent with CI, n and flags, the reproduced figures, and the output
        folder.

    Examples
    --------
    >>> import dataclasses
    >>> p = load_pipeline(demo_pipeline_path())
    >>> quick = dataclasses.replace(p, par={}, published=None, compare={},
    ...                             indices=dataclasses.replace(p.indices, by=()))
    >>> res = run(quick)
    >>> summary_text(res, "out").splitlines()[1]
    'item measure=top_box; factor aggregate=items; overall=mean_of_factors'
    """
    idx = result.results["index"]
    lines = []
    if result.data.spec.synthetic:
        lines.append(_notice(result.data.spec))
    lines.append(f"{idx.definition}")
    show = pd.concat([idx.overall, idx.factors])[["name", "estimate", "ci_low", "ci_high", "n",
                                                   "flag"]].copy()
    if result.data.spec.index.measure != "mean":  # shares print as percentages
        for c in ("estimate", "ci_low", "ci_high"):
            show[c] = (100 * show[c]).round(1)
    lines.append(show.to_string(index=False))
    if "reproduction" in result.tables:
        rep = result.tables["reproduction"].dropna(subset=["computed"])
        for _, r in rep.iterrows():
            lines.append(f"published {r['indicator']} {r['published']:g} ({r['unit']}): "
                         f"computed {r['computed']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
                         f" -> {r['status']}")
    lines.append(f"Outputs written to {Path(path).resolve()}")
    return "\n".join(lines)
