"""The pipeline file: its keys, its checks and the validated :class:`Pipeline`.

The keys and their types are the schema below (checked by :mod:`sipas.schema`, which words
every unknown, missing or mistyped key the same way, naming the file and the table); the
checks after it are what a schema cannot say: a confidence level in (0, 1), ``rank_by``
among the ``by`` columns, input paths that exist and stay inside the pipeline's folder.

Examples
--------
>>> p = load_pipeline(demo_pipeline_path())
>>> p.indices.by, p.report.formats[:2]
(('district', 'urban', 'service'), ('csv', 'parquet'))
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sipas._cells import clean_name
from sipas._validate import message
from sipas.errors import SpecError
from sipas.indices.reliability import ReliabilityRules
from sipas.schema import (
    BOOL,
    FLOAT,
    INT,
    STR,
    Choice,
    Doc,
    Either,
    Key,
    ListOf,
    Table,
    read_toml,
    resolve_path,
    validate,
)
from sipas.spec import Spec, load_spec
from sipas.weighting.plan import STEP

RELIABILITY_THRESHOLDS = ("min_neff", "ok_width", "max_width", "max_rel_width", "min_df",
                          "min_n", "review_rse", "max_rse")
if TYPE_CHECKING:
    from sipas.report.tables import Lang

__all__ = ["FORMATS", "SCHEMA", "SECTIONS", "IndicesOptions", "Pipeline", "ReportOptions",
           "demo_pipeline_path", "load_pipeline"]

FORMATS = ("csv", "parquet", "xlsx", "png", "svg", "docx")
ITEM_CI = ("logit", "wald", "beta", "wilson", "asin", "xlogit", "mean")
ADJUST = ("holm", "fdr_bh", "bonferroni", "none")
#: the most simulations a pipeline may ask for (rank sets, PAR ranks): beyond, memory
MAX_SIM = 1_000_000
#: every key a pipeline file may hold (docs/pipeline.md documents them); the sections whose
#: options are passed on as given ([compare], [par], [reliability]) get no defaults here
SCHEMA = Table({
    "pipeline": Key(Table({"name": STR, "title": STR,
                           "allow_absolute_paths": Key(BOOL, default=False)}), default={}),
    "input": Key(Table({
        "data": Key(STR, required=True, hint='The survey data file, e.g. data = "survey.sav".'),
        "spec": Key(STR, required=True,
                    hint='A spec file or a bundled spec name, e.g. spec = "demo".'),
        "sheet": Key(Either(STR, INT, what="a sheet name or a 0-based index"), default=0),
    }), required=True),
    "weighting": Key(Table({"steps": Key(ListOf(STEP), default=[])}), default={}),
    "indices": Key(Table({"by": Key(ListOf(STR, what="a list of column names"), default=[]),
                          "level": Key(FLOAT, default=0.95),
                          "ci": Key(Choice(*ITEM_CI), default="logit"),
                          # the old spelling, read for one release
                          "item_ci": Key(Choice(*ITEM_CI))}), default={}),
    "reliability": Key(Table({"rules": Choice("nchs", "rse"),
                              **dict.fromkeys(RELIABILITY_THRESHOLDS, FLOAT)}), default={}),
    "compare": Key(Table({"rank_by": STR, "adjust": Choice(*ADJUST), "n_sim": INT, "seed": INT,
                          "previous_data": STR, "previous_spec": STR}), default={}),
    "reproduce": Key(Table({"published": STR}), default={}),
    "drivers": Key(Table({"outcome": STR, "drivers": ListOf(STR, what="a list of names"),
                          "importance": Choice("lmg", "relative_weights"),
                          "replicates": INT, "seed": INT, "split": Choice("mean", "median")}),
                   default={}),
    "multiple": Key(Table({"sets": ListOf(STR, what="a list of question set names"),
                           "by": ListOf(STR, what="a list of column names"), "seed": INT}),
                    default={}),
    "par": Key(Table({"scheme": STR, "appraisal": STR, "officials": STR, "survey": STR,
                      "province": STR, "n_sim": INT, "seed": INT}), default={}),
    # next wave's sample plan from this wave (sipas.plan.plan_sample), passed on as given
    "plan": Key(Table({"variable": STR, "value": FLOAT, "by": STR, "margin": FLOAT,
                       "level": FLOAT, "response_rate": FLOAT, "take": FLOAT, "minimum": INT,
                       "n": INT, "method": Choice("proportional", "neyman", "power", "equal")}),
                default={}),
    # small-area (Fay-Herriot) estimates of one index or share by an area column
    "small_area": Key(Table({
        "variable": STR, "value": FLOAT, "by": STR, "covariates": STR,
        "x": ListOf(STR, what="a list of column names"), "method": Choice("REML", "ML"),
        "mse": Choice("prasad-rao", "bootstrap"), "replicates": INT, "seed": INT,
        "transform": Choice("auto", "arcsin", "none"),
        "smooth": Choice("none", "deff", "loglinear"), "benchmark": BOOL,
        "population": STR}), default={}),
    # indices by unit on a map: points at the units' coordinates, a choropleth on boundaries
    "maps": Key(Table({"by": STR, "level": Key(Choice("commune", "province"), default="commune"),
                       "era": Key(Choice("new", "old"), default="new"),
                       "province": Either(STR, INT, what="a province name or code"),
                       "match": Key(Choice("name", "code"), default="name"),
                       "boundaries": STR, "boundary_key": Key(STR, default="code")}),
                default={}),
    "report": Key(Table({"lang": Key(Choice("vi", "en"), default="vi"),
                         "decimals": Key(INT, default=1),
                         "formats": Key(ListOf(Choice(*FORMATS)), default=list(FORMATS)),
                         "min_cell": Key(INT, default=10),
                         "suppression": Key(Choice("suppress", "flag"), default="suppress")}),
                  default={}),
})
#: section -> the keys it takes
SECTIONS: dict[str, set[str]] = {
    name: set(key.type.fields) for name, key in SCHEMA.fields.items()
    if isinstance(key.type, Table)}


@dataclass(frozen=True)
class IndicesOptions:
    """The ``[indices]`` section of a pipeline file.

    Attributes
    ----------
    by : tuple of str
        Domain columns; the indices are computed overall and by each of them.
    level : float
        Confidence level of the intervals.
    ci : str
        Interval method of item shares (see :func:`sipas.satisfaction_index`).

    Examples
    --------
    >>> load_pipeline(demo_pipeline_path()).indices
    IndicesOptions(by=('district', 'urban', 'service'), level=0.95, ci='logit')
    """

    by: tuple[str, ...] = ()
    level: float = 0.95
    ci: str = "logit"


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
    ('csv', 'parquet', 'xlsx', 'png', 'svg', 'docx')
    """

    lang: Lang = "vi"
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
    drivers, multiple, maps : mapping or None
        ``[drivers]`` (key drivers), ``[multiple]`` (multiple-response questions) and
        ``[maps]`` (indices by unit on a map, ``boundaries`` resolved); None when the file
        has no such section.
    report : ReportOptions
        ``[report]``.
    plan : mapping
        ``[plan]``: next wave's sample plan (see :func:`sipas.plan.plan_sample`).
    small_area : mapping or None
        ``[small_area]``: Fay–Herriot estimates by an area column (``covariates`` resolved);
        None when the file has no such section.
    raw : mapping
        The file as parsed (kept in ``provenance.json``).
    allow_absolute_paths : bool
        ``[pipeline] allow_absolute_paths``: input and margin files may lie anywhere.

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
    drivers: Mapping[str, Any] | None = None
    multiple: Mapping[str, Any] | None = None
    maps: Mapping[str, Any] | None = None
    report: ReportOptions = field(default_factory=ReportOptions)
    plan: Mapping[str, Any] = field(default_factory=dict)
    small_area: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    allow_absolute_paths: bool = False

    def load_spec(self, key: str = "spec") -> Spec:
        """The spec (``key="previous_spec"``: the previous wave's, default this wave's), its
        margin files under the pipeline's path rule: relative to the spec, inside the
        pipeline's folder unless ``[pipeline] allow_absolute_paths = true``.

        Examples
        --------
        >>> load_pipeline(demo_pipeline_path()).load_spec().name
        'demo'
        """
        name = self.compare.get(key, self.spec) if key == "previous_spec" else self.spec
        return load_spec(name, root=self.path.parent,
                         allow_absolute_paths=self.allow_absolute_paths)


def demo_pipeline_path(name: str = "demo") -> Path:
    """A bundled demo pipeline (on a SYNTHETIC demo survey).

    Parameters
    ----------
    name : {"demo", "demo2026"}
        ``demo``: Cao Bằng 2020, five factors; ``demo2026``: a province after the 2025
        reform, communes as domains, the post-2024 index tree.

    Returns
    -------
    pathlib.Path
        ``<name>_pipeline.toml`` inside the installed package (read it, never write it).

    Examples
    --------
    >>> demo_pipeline_path().name, demo_pipeline_path("demo2026").name
    ('demo_pipeline.toml', 'demo2026_pipeline.toml')
    """
    if name not in ("demo", "demo2026"):
        raise SpecError(message("name", "'demo' or 'demo2026'", name))
    return Path(str(resources.files("sipas.datasets") / "data" / f"{name}_pipeline.toml"))


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and check a pipeline file: unknown keys, wrong types and missing files are
    :class:`SpecError` naming the file, the table and the key.

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
        The file does not exist, is not UTF-8 or not valid TOML; an unknown section or key
        (with the allowed key it most resembles); a value of the wrong type or outside its
        choices; ``[input]`` without ``data`` or ``spec``; a weighting step with an unknown
        method or key; an input file that does not exist, is a folder, or lies outside the
        pipeline's folder.

    Examples
    --------
    >>> p = load_pipeline(demo_pipeline_path())
    >>> p.data.name, p.indices.level, p.report.lang
    ('demo.sav', 0.95, 'vi')
    """
    path = Path(path)
    raw, _ = read_toml(path, "pipeline")
    doc = Doc(str(path), raw)
    cfg = validate(SCHEMA, doc)
    ind, rep = cfg["indices"], cfg["report"]
    # column names are matched as the data are read: NFC, no surrounding spaces
    ind["by"] = [clean_name(b) for b in ind["by"]]
    if "rank_by" in cfg["compare"]:
        cfg["compare"]["rank_by"] = clean_name(cfg["compare"]["rank_by"])
    if not 0 < ind["level"] < 1:
        raise doc.fail(("indices",), message("level", "in (0, 1)", ind["level"],
                                             "Use 0.95 for a 95% interval."))
    rank_by = cfg["compare"].get("rank_by")
    if rank_by is not None and rank_by not in ind["by"]:
        raise doc.fail(("compare",), message("rank_by", f"one of [indices] by {ind['by']}",
                                             rank_by, "Add it to [indices] by."))
    _check_numbers(doc, cfg)
    allow_abs = cfg["pipeline"]["allow_absolute_paths"]

    def file(section: str, value: str) -> Path:
        """The one path rule (:func:`sipas.schema.resolve_path`): relative to this file."""
        return resolve_path(doc, (section,), value, base=path.parent, allow_absolute=allow_abs)

    def resolve(section: str, value: str) -> str:
        """A path in the file (resolved against its folder, checked), or a bundled name: a
        bare word without suffix or separator that names no file beside the pipeline."""
        bare = Path(value).name == value and not Path(value).suffix
        if bare and not (path.parent / value).exists():
            return value
        return str(file(section, value))

    inp, published = cfg["input"], cfg["reproduce"].get("published")
    par = {k: resolve("par", v) if k in ("scheme", "appraisal", "officials", "survey") else v
           for k, v in cfg["par"].items()}
    compare = {k: resolve("compare", v) if k in ("previous_data", "previous_spec") else v
               for k, v in cfg["compare"].items()}
    return Pipeline(
        path=path, name=cfg["pipeline"].get("name", path.stem),
        data=file("input", inp["data"]),
        spec=resolve("input", inp["spec"]), sheet=inp["sheet"],
        steps=tuple((raw.get("weighting") or {}).get("steps", [])),
        indices=IndicesOptions(tuple(ind["by"]), float(ind["level"]), _ci(ind, path)),
        rules=ReliabilityRules.preset(**cfg["reliability"]), compare=compare,
        published=resolve("reproduce", published) if published else published, par=par,
        drivers=dict(cfg["drivers"]) if "drivers" in raw else None,
        multiple=dict(cfg["multiple"]) if "multiple" in raw else None,
        maps=_maps(doc, cfg["maps"], ind["by"], lambda v: str(file("maps", v)))
        if "maps" in raw else None,
        report=ReportOptions(rep["lang"], rep["decimals"], tuple(rep["formats"]),
                             rep["min_cell"], rep["suppression"]),
        plan=dict(cfg["plan"]),
        small_area=_small_area(doc, cfg, path.parent, allow_abs) if "small_area" in raw
        else None, raw=raw, allow_absolute_paths=allow_abs)


def _small_area(doc: Doc, cfg: dict[str, Any], base: Path, allow_abs: bool) -> dict[str, Any]:
    """``[small_area]``: the keys it cannot do without, the covariates file by the path rule,
    the area column name as the data are read."""
    sa = dict(cfg["small_area"])
    missing = [k for k in ("variable", "by", "covariates") if k not in sa]
    if missing:
        raise doc.fail(("small_area",), f"required key {missing[0]!r} is missing: "
                       "[small_area] needs variable (an index such as \"overall\" or a "
                       "column such as \"p01\"), by (the area column, e.g. \"district\") "
                       "and covariates (a table with one row per area).")
    if sa.get("benchmark") and "population" not in sa:
        raise doc.fail(("small_area",), "benchmark = true needs population = \"...\" (the "
                       "column of the covariates table with each area's population).")
    replicates = sa.get("replicates")
    if replicates is not None and replicates < 2:
        raise doc.fail(("small_area",), message("replicates", "2 or more", replicates,
                                                "Use 200 or more for a stable MSE."))
    sa["by"] = clean_name(sa["by"])
    sa["covariates"] = resolve_path(doc, ("small_area",), sa["covariates"], base=base,
                                    allow_absolute=allow_abs)
    return sa


def _maps(doc: Doc, cfg: dict[str, Any], by: list[str],
          resolve: Callable[[str], str]) -> dict[str, Any]:
    """``[maps]``: a column of ``[indices] by``; a boundary file needs geopandas."""
    if "by" not in cfg:
        raise doc.fail(("maps",), f"required key 'by' is missing: the column of [indices] by "
                                  f"whose values are the units to map, one of {by}.")
    cfg["by"] = clean_name(cfg["by"])
    if cfg["by"] not in by:
        raise doc.fail(("maps",), message("by", f"one of [indices] by {by}", cfg["by"],
                                          "Add it to [indices] by."))
    if "boundaries" in cfg:
        try:
            import geopandas  # noqa: F401
        except ImportError:
            raise doc.fail(("maps",), f"boundaries = {cfg['boundaries']!r} needs geopandas, "
                                      "which is not installed: install the maps extra (pip "
                                      "install \"sipas[maps]\"), or remove boundaries to draw "
                                      "the point map only.") from None
        cfg["boundaries"] = resolve(cfg["boundaries"])
    return cfg


def _check_numbers(doc: Doc, cfg: dict[str, Any]) -> None:
    """What the schema's types cannot say: counts and seeds in their range (a negative seed
    or a billion simulations would otherwise fail deep inside the run)."""
    seed = ("a non-negative integer", 0, None)
    checks = {("report", "decimals"): ("from 0 (whole numbers) up", 0, None),
              ("report", "min_cell"): ("a positive number of respondents", 1, None),
              ("compare", "n_sim"): ("from 1000 to 1000000 simulations", 1000, MAX_SIM),
              ("compare", "seed"): seed,
              ("par", "n_sim"): ("0 (no simulation) or from 100 to 1000000", 0, MAX_SIM),
              ("par", "seed"): seed,
              ("drivers", "replicates"): ("from 2 to 10000 replicates", 2, 10_000),
              ("drivers", "seed"): seed, ("multiple", "seed"): seed}
    for (section, key), (expectation, low, high) in checks.items():
        value = cfg[section].get(key)
        if value is None:
            continue
        gap = (section, key) == ("par", "n_sim") and 0 < value < 100
        if value < low or gap or (high is not None and value > high):
            raise doc.fail((section,), message(key, expectation, value))


def _ci(indices: dict[str, Any], path: Path) -> str:
    """``[indices] ci``, or its old spelling ``item_ci`` (with a warning)."""
    if "item_ci" not in indices:
        return str(indices["ci"])
    if indices["ci"] != "logit":
        raise SpecError(f"{path.name}: [indices]: give ci only (item_ci is its old spelling).")
    warnings.warn(f"{path.name}: [indices] item_ci is deprecated; write ci = "
                  f"{indices['item_ci']!r}.", DeprecationWarning, stacklevel=4)
    return str(indices["item_ci"])
