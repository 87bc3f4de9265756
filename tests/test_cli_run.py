"""End to end: ``sipas run <pipeline> --out <folder>`` and every file it writes.

The reference for the tables is the library itself called directly (weighting with
``sipas.nonresponse`` / ``sipas.rake`` and ``sipas.satisfaction_index``), not the pipeline
code; the reference for provenance is ``hashlib.sha256`` of the input file.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import openpyxl
import pandas as pd
import pytest
from matplotlib.image import imread

import sipas
from sipas.cli import main
from sipas.datasets import demo_path
from sipas.indices.reliability import ReliabilityRules
from sipas.pipeline import demo_pipeline_path, load_pipeline

MINIMAL = """
[input]
data = "demo.sav"
spec = "demo"
[report]
formats = ["csv"]
"""


def run_cli(*args: str) -> int:
    return main(["run", *map(str, args), "--quiet"])


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    first, second = base / "first", base / "second"
    assert run_cli(demo_pipeline_path(), "--out", first) == 0
    assert run_cli(demo_pipeline_path(), "--out", second) == 0
    return first, second


@pytest.fixture
def folder(tmp_path):
    shutil.copy(demo_path(), tmp_path / "demo.sav")
    return tmp_path


def test_every_output_file_is_written(outputs):
    out, _ = outputs
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    formats = load_pipeline(demo_pipeline_path()).report.formats
    for name in prov["tables"]:
        for fmt in {"csv", "parquet"} & set(formats):
            assert (out / "tables" / f"{name}.{fmt}").stat().st_size > 0, name
    assert (out / "sipas-report.xlsx").is_file()
    charts = {p.name for p in (out / "charts").iterdir()}
    for stem in ("factors", "ranked_district", "items_distribution", "weights"):
        assert {f"{stem}.png", f"{stem}.svg"} <= charts
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".part")]
    assert leftovers == []


def test_tables_equal_the_library_results(outputs):
    out, _ = outputs
    pipe = load_pipeline(demo_pipeline_path())
    assert [s["method"] for s in pipe.steps] == ["nonresponse", "rake"]
    sd = sipas.read_survey(demo_path(), spec="demo")
    spec = sd.spec
    design = sipas.Design.from_spec(sd)
    design = sipas.nonresponse(design, "response", [1], nonrespondent=[2, 3],
                               classes=["district"])
    design = sipas.rake(design, [spec.margin(m) for m in pipe.steps[1]["margins"]],
                        tol=1e-10, max_iter=100)
    res = sipas.satisfaction_index(design, spec, missing_kinds=sd.missing,
                                   level=pipe.indices.level, ci={"item": pipe.indices.ci},
                                   rules=ReliabilityRules.preset(**pipe.raw.get("reliability", {})))
    by = sipas.satisfaction_index(design, spec, by="district", missing_kinds=sd.missing,
                                  level=pipe.indices.level, ci={"item": pipe.indices.ci})
    cols = ["estimate", "se", "ci_low", "ci_high", "df", "n"]
    for name, expected in (("index_overall", res.overall), ("index_factors", res.factors),
                           ("index_items", res.items), ("items_by_district", by.items)):
        got = pd.read_csv(out / "tables" / f"{name}.csv", encoding="utf-8-sig")
        np.testing.assert_allclose(got[cols].to_numpy(float), expected[cols].to_numpy(float),
                                   rtol=1e-12, atol=1e-15, err_msg=name)
        assert got["name"].tolist() == expected["name"].tolist()


def test_workbook_opens_with_the_sheets(outputs):
    out, _ = outputs
    wb = openpyxl.load_workbook(out / "sipas-report.xlsx")
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert wb.sheetnames[0] == "notes"
    assert set(prov["tables"]) <= set(wb.sheetnames)
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A4"
        assert len(ws.title) <= 31


def test_charts_are_non_trivial(outputs):
    out, _ = outputs
    pngs = sorted((out / "charts").glob("*.png"))
    assert len(pngs) >= 4
    for png in pngs:
        assert png.stat().st_size > 5_000, png.name
        assert imread(png)[..., :3].std() > 0.05, png.name


def test_provenance_names_the_input_sha256(outputs):
    out, _ = outputs
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["input"]["sha256"] == hashlib.sha256(demo_path().read_bytes()).hexdigest()
    assert prov["spec"]["synthetic"] is True


def _differing_files(first, second):
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file()
                   and p.name != "provenance.json")
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file()
                           and p.name != "provenance.json")
    return [str(f) for f in files if (first / f).read_bytes() != (second / f).read_bytes()]


def test_running_twice_gives_identical_outputs(outputs):
    """Tables, workbook and charts are byte-for-byte identical (seeded simulations, fixed
    start values of the omega factor model)."""
    assert _differing_files(*outputs) == []


@pytest.mark.parametrize(("text", "named"), [
    (MINIMAL + "colour = 'blue'\n", "colour"),                          # unknown key
    (MINIMAL.replace("demo.sav", "missing.sav"), "missing.sav"),        # missing file
    (MINIMAL + "decimals = 'one'\n", "decimals"),                       # wrong type
    (MINIMAL + "[nonsense]\nx = 1\n", "nonsense"),                      # unknown section
])
def test_a_bad_pipeline_file_exits_2_with_a_one_line_message(folder, capsys, text, named):
    path = folder / "bad.toml"
    path.write_text(text, encoding="utf-8")
    assert run_cli(path, "--out", folder / "out") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert named in err
    assert not (folder / "out").exists()


def test_a_missing_pipeline_file_exits_2(folder, capsys):
    assert run_cli(folder / "nope.toml", "--out", folder / "out") == 2
    assert "nope.toml" in capsys.readouterr().err


def test_a_non_empty_out_folder_is_refused_unless_overwrite(folder, capsys):
    """--overwrite replaces a folder an earlier run wrote (it carries the marker), and
    never a folder of the user's."""
    (folder / "p.toml").write_text(MINIMAL, encoding="utf-8")
    out = folder / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    for extra in ((), ("--overwrite",)):
        assert run_cli(folder / "p.toml", "--out", out, *extra) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--overwrite" in err
        assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"
    written = folder / "written"
    assert run_cli(folder / "p.toml", "--out", written) == 0
    (written / "stale.txt").write_text("old run", encoding="utf-8")
    assert run_cli(folder / "p.toml", "--out", written) == 2
    assert run_cli(folder / "p.toml", "--out", written, "--overwrite") == 0
    assert not (written / "stale.txt").exists()
    assert (written / "tables" / "index_overall.csv").is_file()
