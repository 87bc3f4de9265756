"""The yearly job from one pipeline file: read, weight, estimate, compare, score, report.

A pipeline file (TOML) names the survey file and its spec, the weighting plan, the domains,
optional comparisons, the published figures to reproduce, the PAR scheme, and the report
options; ``docs/pipeline.md`` documents every key. :func:`run` computes everything and
:func:`write` writes an output folder (tables as CSV and Parquet, an Excel workbook, charts
and ``provenance.json``) through a temporary folder, so an interrupted run leaves nothing
half-written; an output folder that holds an input is refused, and an existing non-empty
folder is replaced only with ``overwrite=True`` and only when sipas wrote it
(:mod:`sipas.pipeline.folder`).

The package holds the file and its checks (:mod:`sipas.pipeline.config`), the run
(:mod:`sipas.pipeline.runner`) and the outputs (:mod:`sipas.pipeline.outputs`).

Examples
--------
>>> from sipas.pipeline import load_pipeline, demo_pipeline_path
>>> load_pipeline(demo_pipeline_path()).indices.by
('district', 'urban', 'service')
"""

from sipas.pipeline.config import (
    FORMATS,
    SCHEMA,
    SECTIONS,
    IndicesOptions,
    Pipeline,
    ReportOptions,
    demo_pipeline_path,
    load_pipeline,
)
from sipas.pipeline.folder import MARKER, output_folder
from sipas.pipeline.outputs import (
    pipeline_inputs,
    provenance,
    run_demo,
    summary_text,
    write,
    write_into,
)
from sipas.pipeline.runner import RunResult, run, validate

__all__ = ["FORMATS", "MARKER", "SCHEMA", "SECTIONS", "IndicesOptions", "Pipeline", "ReportOptions",
           "RunResult", "demo_pipeline_path", "load_pipeline", "output_folder", "pipeline_inputs",
           "provenance", "run", "run_demo", "summary_text", "validate", "write", "write_into"]
