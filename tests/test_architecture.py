"""The layers point one way (docs/architecture.md), and nothing goes round in circles.

Every import of a sipas module is read, at module level and inside functions alike
(``TYPE_CHECKING`` imports too): a module may import modules of its own layer or of layers
below it, never above. Imports of the package root (``import sipas``) are refused inside the
package, because the root re-exports the upper layers and would hide the real edge. The
graph of modules has no cycle, and no module holds more than about 500 lines of code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sipas

ROOT = Path(sipas.__file__).parent
LAYERS = [
    ["errors", "_validate", "_codes", "_version", "schema", "_readonly"],
    ["spec"],
    ["io", "_cells", "describe", "datasets", "units", "starter"],
    ["engine"],
    ["backends"],
    ["design"],
    ["estimation"],
    ["weighting"],
    ["indices", "compare", "tables", "reform", "models", "drivers", "multiple", "plan",
     "small_area"],
    ["par", "reproduction"],
    ["report"],
    ["pipeline"],
    ["cli"],
]
LEVEL = {name: i for i, names in enumerate(LAYERS) for name in names}
#: lines of code (not blank, not comments, docstrings included) a module may hold
MAX_LINES = 560


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["sipas", *parts])] = path
    return out


MODULES = _modules()


def _imports(path: Path, name: str) -> list[str]:
    """Every sipas module ``path`` imports, wherever the import statement stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.split(".")[0] == "sipas"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if base.split(".")[0] != "sipas":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.append(full if full in MODULES else base)
    return out


def _layer(module: str) -> int:
    return LEVEL[module.split(".")[1]]


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if m != "sipas" and m.split(".")[1] not in LEVEL]
    assert missing == []


def test_no_module_imports_a_higher_layer_or_the_root():
    bad = []
    for name, path in MODULES.items():
        if name == "sipas":
            continue
        own = _layer(name)
        for target in _imports(path, name):
            if target == "sipas":
                bad.append(f"{name} imports the package root (import the module instead)")
            elif _layer(target) > own:
                bad.append(f"{name} imports {target}")
    assert bad == []


def test_the_import_graph_has_no_cycle():
    graph = {name: {t for t in _imports(path, name) if t in MODULES and t != "sipas"}
             for name, path in MODULES.items() if name != "sipas"}
    # a package imports its own modules to re-export them; that edge is not a dependency
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_module_is_too_long():
    long = []
    for name, path in MODULES.items():
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                 if ln.strip() and not ln.strip().startswith("#")]
        if len(lines) > MAX_LINES:
            long.append(f"{name}: {len(lines)}")
    assert long == []


def test_the_architecture_page_names_every_package():
    page = (ROOT.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert [p for names in LAYERS for p in names if f"`{p}" not in page] == []


def test_a_layer_violation_is_caught(tmp_path):
    """The checker itself: a function-level import of an upper layer is found."""
    module = tmp_path / "probe.py"
    module.write_text("def f():\n    from sipas.report import build\n", encoding="utf-8")
    assert _imports(module, "sipas.engine.probe") == ["sipas.report.build"]
    assert _layer("sipas.report.build") > _layer("sipas.engine.probe")
