"""Bad pipeline files: unknown sections and keys, missing or escaping paths, wrong types.

Each case copies the bundled demo job (pipeline file and its inputs, SYNTHETIC data) into the
test's temporary folder, changes one line of the pipeline file and loads (or validates) it;
see ``bad_inputs/catalogue.py`` for the checks.
"""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from bad_inputs.catalogue import Case, check, params
from sipas.errors import ReadError, SpecError, UnitError
from sipas.pipeline import load_pipeline, validate

DATA = Path(str(resources.files("sipas.datasets") / "data"))
DEMO = (DATA / "demo_pipeline.toml").read_text(encoding="utf-8")


def job(tmp: Path, text: str) -> Path:
    """The demo job in ``tmp/job`` with ``text`` as its pipeline file."""
    folder = tmp / "job"
    shutil.copytree(DATA, folder)
    path = folder / "pipeline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str, *, check_inputs: bool = False) -> Callable[[Path], Any]:
    """A builder: the demo pipeline with ``old`` replaced by ``new``, loaded (and validated
    against its data when ``check_inputs``)."""
    assert old in DEMO, old

    def build(tmp: Path) -> Any:
        pipeline = load_pipeline(job(tmp, DEMO.replace(old, new, 1)))
        return validate(pipeline) if check_inputs else pipeline
    return build


def published_not_utf8(tmp: Path):
    path = job(tmp, DEMO)
    target = path.parent / "published_cao-bang-2020.csv"
    text = unicodedata.normalize("NFD", target.read_text(encoding="utf-8"))
    target.write_bytes(text.encode("cp1258", "replace"))
    return validate(load_pipeline(path))


def steps_as_table(tmp: Path):
    """The first step written [weighting.steps] (one table), the second left out."""
    head, rest = DEMO.split("[[weighting.steps]]", 1)
    first = rest.split("[[weighting.steps]]", 1)[0]
    tail = "[indices]" + DEMO.split("[indices]", 1)[1]
    return load_pipeline(job(tmp, head + "[weighting.steps]" + first + tail))


def written_to(out: str, *, overwrite: bool = False, mine: bool = False
               ) -> Callable[[Path], Any]:
    """A builder: the demo job's folder lock taken for ``out`` (relative to the job), as
    ``sipas run`` does before computing (nothing is computed here)."""
    from sipas.pipeline import output_folder, pipeline_inputs

    def build(tmp: Path) -> Any:
        pipeline = load_pipeline(job(tmp, DEMO))
        target = pipeline.path.parent / out
        if mine:
            target.mkdir()
            (target / "notes.txt").write_text("mine", encoding="utf-8")
        with output_folder(target, overwrite, inputs=pipeline_inputs(pipeline)):
            return "not refused"
    return build


def _out_here(tmp: Path) -> Any:
    """--out "." while the current folder is an empty folder beside the job."""
    import os

    from sipas.pipeline import output_folder, pipeline_inputs

    pipeline = load_pipeline(job(tmp, DEMO))
    (tmp / "here").mkdir()
    before = Path.cwd()
    os.chdir(tmp / "here")
    try:
        with output_folder(".", inputs=pipeline_inputs(pipeline)):
            return "not refused"
    finally:
        os.chdir(before)


def spec_named_absolute(tmp: Path):
    """spec = a suffix-less absolute path (was taken for a bundled name, never checked)."""
    return load_pipeline(job(tmp, DEMO.replace('spec = "demo"', 'spec = "/etc/passwd"')))


def by_not_in_data(tmp: Path):
    text = DEMO.replace('rank_by = "district"\n', "").replace(
        'by = ["district", "urban", "service"]', 'by = ["province"]')
    return validate(load_pipeline(job(tmp, text)))


AREA = "pipeline"
CASES = [
    Case(AREA, "unknown_section", "a section [output] that does not exist",
         edited("[indices]", '[output]\nfolder = "out"\n\n[indices]'), SpecError,
         ("pipeline.toml: key 'output' is not allowed; allowed keys: 'compare'", "'report'")),
    Case(AREA, "unknown_key", "a misspelt key in [indices]",
         edited("[indices]\n", "[indices]\nbye = 1\n"), SpecError,
         ("pipeline.toml: [indices]: key 'bye' is not allowed; did you mean 'by'?",)),
    Case(AREA, "missing_input_file", "data = a file that is not there",
         edited('data = "demo.sav"', 'data = "demo2021.sav"'), SpecError,
         ("input file 'demo2021.sav' does not exist",)),
    Case(AREA, "path_escapes_folder", "data = \"../demo.sav\"",
         edited('data = "demo.sav"', 'data = "../demo.sav"'), SpecError,
         ("path '../demo.sav' leaves the pipeline's folder", "allow_absolute_paths = true")),
    Case(AREA, "absolute_path", "an absolute data path",
         edited('data = "demo.sav"', 'data = "/data/demo.sav"'), SpecError,
         ("absolute path '/data/demo.sav' is not allowed", "allow_absolute_paths")),
    Case(AREA, "input_is_folder", "data = \".\" (the pipeline's own folder)",
         edited('data = "demo.sav"', 'data = "."'), SpecError, ("input file '.' is a folder",)),
    Case(AREA, "input_without_data", "[input] without data =",
         edited('data = "demo.sav"\n', ""), SpecError,
         ("[input]: required key 'data' is missing; it must be a string", 'data = "survey.sav"')),
    Case(AREA, "level_text", "level = \"95%\"", edited("level = 0.95", 'level = "95%"'),
         SpecError, ("[indices]: level must be a number; got '95%'",)),
    Case(AREA, "pipeline_level_as_percent", "level = 95", edited("level = 0.95", "level = 95"),
         SpecError, ("[indices]: level must be in (0, 1); got 95", "0.95")),
    Case(AREA, "by_as_text", "by = \"district\" instead of a list",
         edited('by = ["district", "urban", "service"]', 'by = "district"'), SpecError,
         ("[indices]: by must be a list of column names; got 'district'",)),
    Case(AREA, "formats_as_text", "formats = \"csv\" instead of a list",
         edited('formats = ["csv", "parquet", "xlsx", "png", "svg", "docx"]', 'formats = "csv"'),
         SpecError,
         ("[report]: formats must be a list of values among 'csv', 'parquet'", "got 'csv'")),
    Case(AREA, "steps_as_table", "[weighting.steps] instead of [[weighting.steps]]",
         steps_as_table, SpecError,
         ("[weighting]: steps must be an array of tables ([[weighting.steps]])",)),
    Case(AREA, "par_scheme_number", "scheme = 3", edited('scheme = "example"', "scheme = 3"),
         SpecError, ("[par]: scheme must be a string; got 3",)),
    Case(AREA, "seed_text", "seed = \"2021\"", edited("seed = 2021", 'seed = "2021"'),
         SpecError, ("[par]: seed must be an integer; got '2021'",)),
    Case(AREA, "decimals_text", "decimals = \"1\"", edited("decimals = 1", 'decimals = "1"'),
         SpecError, ("[report]: decimals must be an integer; got '1'",)),
    Case(AREA, "sheet_float", "sheet = 1.5", edited('spec = "demo"', 'spec = "demo"\nsheet = 1.5'),
         SpecError, ("[input]: sheet must be a sheet name or a 0-based index; got 1.5",)),
    Case(AREA, "unknown_ci", "ci = \"exact\"",
         edited('ci = "logit"', 'ci = "exact"'), SpecError,
         ("[indices]: ci must be one of", "got 'exact'")),
    Case(AREA, "unknown_adjust", "adjust = \"holmes\"",
         edited('adjust = "holm"', 'adjust = "holmes"'), SpecError,
         ("[compare]: adjust must be one of", "'fdr_bh'", "got 'holmes'", "Did you mean 'holm'?")),
    Case(AREA, "rank_by_not_in_by", "rank_by a column that [indices] by does not list",
         edited('rank_by = "district"', 'rank_by = "sex"'), SpecError,
         ("[compare]: rank_by must be one of [indices] by", "got 'sex'")),
    Case(AREA, "unknown_language", "lang = \"fr\"", edited('lang = "vi"', 'lang = "fr"'),
         SpecError, ("[report]: lang must be one of 'vi', 'en'; got 'fr'",)),
    Case(AREA, "pipeline_bad_toml", "an unclosed table header",
         edited("[indices]", "[indices"), SpecError,
         ("pipeline.toml: line 27, column 9: not valid TOML", "Check quotes")),
    Case(AREA, "pipeline_file_missing", "a pipeline file that does not exist",
         lambda tmp: load_pipeline(tmp / "nope.toml"), SpecError,
         ("pipeline file", "nope.toml", "does not exist")),
    Case(AREA, "step_unknown_key", "tolerance = instead of tol = in a rake step",
         edited("tol = 1e-10", "tolerance = 1e-10", check_inputs=True), SpecError,
         ("[[weighting.steps]] #2 (method 'rake'): key 'tolerance' is not allowed",
          "allowed keys: 'margins', 'max_iter', 'method', 'partial', 'tol'.")),
    Case(AREA, "step_unknown_margin", "a rake step on a margin the spec does not define",
         edited('"ethnicity", "district"]', '"ethnicity", "province"]', check_inputs=True),
         SpecError, ("[[weighting.steps]] #2 (method 'rake')",
                     "margin(s) ['province'] are not defined", "'district'")),
    Case(AREA, "by_not_in_data", "by = a column that is not in the data",
         by_not_in_data, SpecError, ("[indices]: by column(s) ['province'] are not in the data",)),
    Case(AREA, "out_is_input_folder", "--out the job's own folder (holds the data and spec)",
         written_to(".", overwrite=True), SpecError,
         ("holds the input", "Choose a new folder outside the run's inputs")),
    Case(AREA, "out_is_data_file", "--out the data file itself",
         written_to("demo.sav", overwrite=True), SpecError, ("is the input", "demo.sav")),
    Case(AREA, "overwrite_foreign_folder", "--overwrite on a folder sipas did not write",
         written_to("../mine", overwrite=True, mine=True), SpecError,
         ("was not written by sipas", "--overwrite replaces only folders sipas wrote")),
    Case(AREA, "out_name_too_long", "--out a folder name of 300 bytes",
         written_to("o" * 300), SpecError, ("longer than 255 bytes",)),
    Case(AREA, "out_parent_is_file", "--out inside a file (the pipeline file)",
         written_to("pipeline.toml/out"), SpecError,
         ("lies inside the input",)),
    Case(AREA, "spec_suffixless_absolute", "spec = \"/etc/passwd\" (no suffix, absolute)",
         spec_named_absolute, SpecError, ("absolute path '/etc/passwd' is not allowed",)),
    Case(AREA, "seed_negative", "[compare] seed = -1", edited("seed = 20201231", "seed = -1"),
         SpecError, ("[compare]: seed must be a non-negative integer; got -1",)),
    Case(AREA, "decimals_negative", "decimals = -2", edited("decimals = 1", "decimals = -2"),
         SpecError, ("[report]: decimals must be from 0", "got -2")),
    Case(AREA, "min_cell_zero", "min_cell = 0", edited("min_cell = 10", "min_cell = 0"),
         SpecError, ("[report]: min_cell must be a positive number of respondents; got 0",)),
    Case(AREA, "drivers_seed_negative", "[drivers] seed = -1",
         edited("seed = 2020\n", "seed = -1\n"), SpecError,
         ("[drivers]: seed must be a non-negative integer; got -1",)),
    Case(AREA, "n_sim_billion", "[compare] n_sim = 1000000000 (a memory error deep in the run)",
         edited("n_sim = 4000", "n_sim = 1000000000"), SpecError,
         ("[compare]: n_sim must be from 1000 to 1000000 simulations; got 1000000000",)),
    Case(AREA, "replicates_too_many", "[drivers] replicates = 100000000",
         edited("replicates = 50", "replicates = 100000000"), SpecError,
         ("[drivers]: replicates must be from 2 to 10000 replicates",)),
    Case(AREA, "by_misspelt", "by = a misspelt column name",
         lambda tmp: validate(load_pipeline(job(tmp, DEMO.replace(
             'by = ["district", "urban", "service"]', 'by = ["District", "urban"]').replace(
             'rank_by = "district"', 'rank_by = "District"')))), SpecError,
         ("[indices]: by column(s) ['District'] are not in the data",
          "Did you mean 'district' (for 'District')?")),
    Case(AREA, "out_is_current_folder", "--out . from an empty folder (the shell's own)",
         lambda tmp: _out_here(tmp), SpecError, ("is (or holds) the current folder",)),
    Case(AREA, "out_name_inside_too_long", "--out a path with a 300-byte folder in it",
         written_to("o" * 300 + "/out"), SpecError, ("longer than 255 bytes",)),
    Case(AREA, "published_not_utf8", "the published-figures CSV saved in Windows-1258",
         published_not_utf8, ReadError,
         ("published_cao-bang-2020.csv", "must be UTF-8 text", "CSV UTF-8")),
    Case(AREA, "maps_by_not_a_domain", "[maps] by a column that is not among [indices] by",
         edited("[report]", '[maps]\nby = "commune"\n\n[report]'), SpecError,
         ("pipeline.toml: [maps]: by must be one of [indices] by", "got 'commune'",
          "Add it to [indices] by")),
    Case(AREA, "map_unit_not_a_unit", "[maps] by district, whose names are not communes",
         edited("[report]", '[maps]\nby = "district"\nprovince = "Cao Bằng"\n\n[report]',
                check_inputs=True), UnitError,
         ("'Thành phố Cao Bằng' matches no unit; it must be a commune of the new era in "
          "'Cao Bằng'",)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case, tmp_path):
    check(case, tmp_path)
