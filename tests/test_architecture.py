"""Layers point one way (design.md section 2): a module may import, at module level, only
modules of its own layer or of layers below it. Imports inside functions (the Dask back
end, the pipeline) are deliberate late bindings and are not counted."""

from __future__ import annotations

import ast
from pathlib import Path

import sipas

ROOT = Path(sipas.__file__).parent
LAYERS = [
    ["errors", "_validate", "_codes", "schema"],
    ["spec"],
    ["io", "describe", "datasets"],
    ["design", "reduction", "backends"],
    ["variance", "replication"],
    ["ci", "recipes", "fitting", "estimate", "estimation", "quantiles", "_likelihood",
     "reliability"],
    ["weighting"],
    ["indices", "psychometrics", "compare"],
    ["par", "reproduce"],
    ["report", "pipeline"],
    ["cli"],
]
LEVEL = {name: i for i, names in enumerate(LAYERS) for name in names}


def _layer(module: str) -> int:
    head = module.split(".")[1] if module.startswith("sipas.") else module
    return LEVEL[head]


def _module_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sipas"):
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("sipas")]
    return out


def test_every_module_has_a_layer():
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        if rel[0] == "__init__.py":
            continue
        assert rel[0].removesuffix(".py") in LEVEL, path


def test_no_module_imports_a_higher_layer():
    bad = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        if rel[0] == "__init__.py":
            continue
        own = LEVEL[rel[0].removesuffix(".py")]
        for target in _module_level_imports(path):
            if target != "sipas" and _layer(target) > own:
                bad.append(f"{'/'.join(rel)} imports {target}")
    assert bad == []
