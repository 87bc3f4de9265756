"""Writing a run: tables, report, provenance, and the console summary, into an output
folder that :mod:`sipas.pipeline.folder` guards (never over an input, only over a folder
sipas wrote, one run at a time); :func:`run_demo` runs and writes the bundled demo.

Examples
--------
>>> from sipas.pipeline import demo_pipeline_path, load_pipeline
>>> [p.name for p in pipeline_inputs(load_pipeline(demo_pipeline_path()))][:2]
['demo_pipeline.toml', 'demo.sav']
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sipas.pipeline.config import Pipeline, demo_pipeline_path, load_pipeline
from sipas.pipeline.folder import output_folder
from sipas.pipeline.runner import RunResult, run

if TYPE_CHECKING:
    from sipas.report.tables import Lang

__all__ = ["pipeline_inputs", "provenance", "run_demo", "summary_text", "write",
           "write_into"]


def pipeline_inputs(pipeline: Pipeline) -> list[Path]:
    """Every file a run of ``pipeline`` reads (an output folder may hold none of them).

    The pipeline file, the data, the spec file and its margin files, the published figures,
    the previous wave and its spec, the PAR files and the small-area covariates; bundled
    names are not files.
    """

    spec = pipeline.load_spec()
    named = [pipeline.path, pipeline.data, spec.source or "",
             *(m.source for m in spec.margins if m.source != "inline"),
             pipeline.published or "", *map(str, pipeline.compare.values()),
             *map(str, pipeline.par.values()),
             str((pipeline.small_area or {}).get("covariates", "")),
             (pipeline.maps or {}).get("boundaries", "")]
    return [Path(p) for p in dict.fromkeys(str(p) for p in named if p) if Path(p).exists()]


def write(result: RunResult, out: str | Path, *, overwrite: bool = False,
          lang: Lang | None = None) -> Path:
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
        and charts when the report layer writes them, ``provenance.json`` and the marker
        ``.sipas-output``.

    Raises
    ------
    SpecError
        ``out`` is refused (see :func:`sipas.pipeline.folder.output_folder`): it holds an
        input, is not a sipas folder, exists without ``overwrite``, or another run is
        writing it.

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
    ['.sipas-output', 'provenance.json', 'tables']
    >>> shutil.rmtree(base)
    """
    with output_folder(out, overwrite, inputs=pipeline_inputs(result.pipeline)) as folder:
        write_into(result, folder, lang=lang)
    return Path(out)


def write_into(result: RunResult, folder: Path, *, lang: Lang | None = None) -> None:
    """Write the files of a run into ``folder`` (the temporary folder of
    :func:`~sipas.pipeline.folder.output_folder`).

    Table and chart names built from column names go through
    :func:`~sipas.report.files.safe_filename`, so every file lies inside ``folder``;
    ``provenance.json`` maps each table to its file.
    """
    from sipas.report.files import safe_filename, write_csv, write_parquet, write_text

    opts = result.pipeline.report
    lang = lang or opts.lang
    start = time.perf_counter()
    tables = folder / "tables"
    taken: set[str] = set()
    files = {name: safe_filename(name, taken) for name in result.tables}
    for name, table in result.tables.items():
        for fmt in ("csv", "parquet"):
            if fmt in opts.formats:
                path = tables / f"{files[name]}.{fmt}"
                (write_csv if fmt == "csv" else write_parquet)(table, path)
    _write_report(result, folder, lang)
    result.timings["write"] = time.perf_counter() - start
    prov = provenance(result, lang)
    prov["table_files"] = {n: f for n, f in files.items() if n != f}
    write_text(json.dumps(prov, ensure_ascii=False, indent=2, default=_json),
               folder / "provenance.json")


def _write_report(result: RunResult, folder: Path, lang: Lang) -> None:
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
    from sipas._version import __version__

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
             lang: Lang | None = None, quiet: bool = False) -> Path:
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
        ``out`` is refused (see :func:`write`).

    Examples
    --------
    The full demo writes a workbook and charts (several seconds), so it is not run here:

    >>> path = run_demo("sipas-demo-output", quiet=True)  # doctest: +SKIP
    >>> sorted(f.name for f in path.iterdir())  # doctest: +SKIP
    ['.sipas-output', 'charts', 'provenance.json', 'sipas-report.xlsx', 'tables']
    """
    pipeline = load_pipeline(demo_pipeline_path())
    with output_folder(out, overwrite, inputs=pipeline_inputs(pipeline)) as folder:
        result = run(pipeline, progress=not quiet and sys.stderr.isatty())
        write_into(result, folder, lang=lang)
    if not quiet:
        print(summary_text(result, Path(out)))
    return Path(out)


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
