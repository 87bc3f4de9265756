"""Writing a run: the output folder (replaced atomically), tables, report, provenance, and
the console summary; :func:`run_demo` runs and writes the bundled demo.

Examples
--------
>>> import pathlib, tempfile
>>> base = pathlib.Path(tempfile.mkdtemp())
>>> with output_folder(base / "out") as tmp:
...     _ = (tmp / "done.txt").write_text("ok", encoding="utf-8")
>>> (base / "out" / "done.txt").read_text(encoding="utf-8")
'ok'
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sipas.errors import SpecError
from sipas.pipeline.config import demo_pipeline_path, load_pipeline
from sipas.pipeline.runner import RunResult, run

if TYPE_CHECKING:
    from sipas.report.tables import Lang

__all__ = ["output_folder", "provenance", "run_demo", "summary_text", "write"]


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
