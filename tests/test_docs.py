"""Documentation and notebooks: they run, they are stored clean, and they match the code.

* Every notebook in ``notebooks/`` runs top to bottom on the bundled SYNTHETIC demo data
  with nbclient, on the ``python3`` kernel of ipykernel started with the interpreter that
  runs the tests, in an empty temporary folder, within 300 s (per cell and in total).
* Every notebook is stored without outputs (``outputs == []``, ``execution_count`` null), so
  diffs stay readable and no stale number is committed.
* ``mkdocs build --strict`` succeeds (any warning fails it: broken links, docstrings that do
  not parse); skipped with the reason when mkdocs, mkdocstrings or mkdocs-material are not
  installed.
* The code blocks fenced as ``python`` in every page run, in order, in one namespace per
  page, in an empty temporary folder (blocks fenced as ``py`` are illustrations that need
  the reader's own files and are not run).
* The reference pages name every pipeline key and weighting-step key the code accepts, the
  validation table matches ``tests/oracle/cases.json``, and the README keeps its two
  set-up commands.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED_NOTEBOOKS = {"01_quickstart.ipynb", "02_weighting.ipynb", "03_indices.ipynb",
                      "04_reproduce.ipynb", "05_par.ipynb", "06_drivers.ipynb",
                      "07_reform.ipynb", "08_your_survey.ipynb", "09_small_areas.ipynb"}
TIMEOUT = 300  # seconds, per notebook
DOCS_MODULES = ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python", "material")
DOCS_REQUIREMENTS = ('"mkdocs>=1.6" "mkdocstrings[python]>=1.0" "mkdocstrings-python>=1.19" '
                     '"mkdocs-material>=9.5"')
DOC_PAGES = sorted((ROOT / "docs").glob("*.md"))
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
README_COMMANDS = ('python -m pip install -e ".[dev]" && sipas demo',
                   'python -m pip install -e ".[dev]" && python -m pytest')


def _ids(path: Path) -> str:
    return path.name


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_expected_notebook_exists():
    missing = EXPECTED_NOTEBOOKS - {p.name for p in NOTEBOOKS}
    assert not missing, f"notebooks missing from notebooks/: {sorted(missing)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_is_stored_without_outputs(path):
    nb = _load(path)
    dirty = [i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or an execution count; "
                       "clear them (jupyter nbconvert --clear-output --inplace) before "
                       "committing.")
    assert "widgets" not in nb.get("metadata", {}), f"{path.name}: widget state is stored"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_says_the_data_are_synthetic(path):
    text = " ".join("".join(c["source"]) for c in _load(path)["cells"]
                    if c["cell_type"] == "markdown")
    assert "SYNTHETIC" in text, f"{path.name}: no markdown cell says the data are SYNTHETIC"


@pytest.fixture(scope="module")
def python3_kernel(tmp_path_factory):
    """A ``python3`` kernelspec that runs ipykernel with this interpreter, found first."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec_dir = folder / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join(
            [str(folder), *filter(None, [os.environ.get("JUPYTER_PATH")])]))
        mp.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        yield "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs_top_to_bottom(path, tmp_path, python3_kernel):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=TIMEOUT, kernel_name=python3_kernel,
                            resources={"metadata": {"path": str(tmp_path)}})
    start = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - start
    assert elapsed < TIMEOUT, f"{path.name} took {elapsed:.0f} s (limit {TIMEOUT} s)"
    assert not list(tmp_path.iterdir()), f"{path.name} wrote files into its working folder"


def test_docs_build_strict(tmp_path):
    missing = [m for m in DOCS_MODULES if importlib.util.find_spec(m.split(".")[0]) is None
               or importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the docs toolchain is not installed ({', '.join(missing)}): "
                    f"pip install {DOCS_REQUIREMENTS}")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
                          check=False)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-6000:]}"
    assert (tmp_path / "site" / "reference" / "index.html").is_file()


@pytest.mark.parametrize(
    "page", [p for p in DOC_PAGES if PYTHON_BLOCK.search(p.read_text(encoding="utf-8"))],
    ids=_ids)
def test_docs_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(PYTHON_BLOCK.findall(page.read_text(encoding="utf-8")), 1):
        exec(compile(block, f"docs/{page.name} (python block {i})", "exec"), namespace)


def test_pipeline_page_documents_every_key():
    from sipas.pipeline import SECTIONS
    from sipas.weighting.plan import STEP_KEYS

    page = (ROOT / "docs" / "pipeline.md").read_text(encoding="utf-8")
    missing = [f"[{s}]" for s in SECTIONS if f"`[{s}]`" not in page]
    missing += [f"[{s}] {k}" for s, keys in SECTIONS.items() for k in sorted(keys)
                if f"`{k}`" not in page]
    missing += [f"step {m}: {k}" for m, keys in STEP_KEYS.items() for k in sorted(keys)
                if f"`{k}`" not in page]
    assert not missing, f"docs/pipeline.md does not document: {missing}"


def test_validation_table_matches_the_oracle():
    spec = importlib.util.spec_from_file_location("gen_validation",
                                                  ROOT / "docs" / "gen_validation.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.current_block() == gen.render(), (
        "docs/validation.md is out of date with tests/oracle/cases.json: run "
        "python docs/gen_validation.py")


def test_readme_keeps_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in README_COMMANDS:
        assert command in readme
