"""The shape of the code: import contracts, no import cycles, modules of a readable size,
and leaf packages that import without the window."""
from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aegui"
MAX_LINES = 600  # STYLE.md aims for 80-400; past 600 a module is doing more than one job


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module):
    """Import statements run when the module is imported: the module body, and blocks under
    a module-level if/try/with, but not functions, classes or `if TYPE_CHECKING:`. An import
    inside a function is the accepted way to defer a dependency, so it cannot make a cycle."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                stack.extend(node.body)
            stack.extend(node.orelse)
        elif isinstance(node, ast.Try):
            stack.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                stack.extend(handler.body)
        elif isinstance(node, ast.With):
            stack.extend(node.body)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the aegui modules it imports at import time (grimp's meaning of an import:
    `from a.b import c` is an import of a.b.c when that is a module, otherwise of a.b)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _module_level_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = name.split(".")
                    base = base[: len(base) - node.level + (1 if is_package else 0)]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                targets = [
                    f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                    for alias in node.names
                ]
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def cycle_path(graph: dict[str, set[str]], component: list[str]) -> str:
    """One concrete loop through a component, for a readable failure message."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    while True:
        nxt = sorted(graph[path[-1]] & members)
        back = start if start in nxt else None
        if back and len(path) > 1:
            return " -> ".join(path + [start])
        fresh = [m for m in nxt if m not in seen]
        if not fresh:  # walked into a side loop; the component is still a cycle
            return " <-> ".join(component)
        path.append(fresh[0])
        seen.add(fresh[0])


# --- import contracts (pyproject.toml [tool.importlinter]) ---------------------------------


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml on Python 3.10 needs tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_import_contracts_in_pyproject_are_kept(capsys):
    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install -e '.[test]')")
    from importlinter import configuration
    from importlinter.application.use_cases import lint_imports

    configuration.configure()  # what the lint-imports command does first: registers the readers
    options = {"no_logo": True} if "no_logo" in inspect.signature(lint_imports).parameters else {}
    # cache_dir=None: no .import_linter_cache left in the checkout.
    kept = lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, **options)
    report = capsys.readouterr().out
    assert kept, f"import contracts broken (pyproject.toml [tool.importlinter]):\n{report}"


def test_every_module_under_aegui_is_in_the_contracts_graph():
    """grimp silently skips a folder without __init__.py inside a package, and a contract
    about a module that is not in the graph is kept vacuously."""
    grimp = pytest.importorskip("grimp", reason="import-linter (and its grimp) is not installed")
    roots = _pyproject()["tool"]["importlinter"]["root_packages"]
    graph = grimp.build_graph(*roots, cache_dir=None)
    missing = sorted(set(package_modules()) - set(graph.modules))
    assert not missing, (
        "modules the import contracts cannot see (give their folder an __init__.py, or name it "
        f"in [tool.importlinter] root_packages): {missing}"
    )


# --- cycles and size ------------------------------------------------------------------------


def test_no_import_cycles_inside_aegui():
    graph = import_graph(package_modules())
    cycles = import_cycles(graph)
    assert not cycles, "import cycles (module-level imports):\n" + "\n".join(
        cycle_path(graph, c) for c in cycles
    )


def test_no_module_under_aegui_is_over_600_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in package_modules().items()}
    over = sorted((n, name) for name, n in sizes.items() if n > MAX_LINES)
    assert not over, f"modules over {MAX_LINES} lines (split them by concept): " + ", ".join(
        f"{name} ({n})" for n, name in over
    )


def test_the_cycle_check_sees_relative_imports_and_ignores_deferred_ones(tmp_path):
    sources = {
        "pkg/__init__.py": "from .a import thing\n",
        "pkg/a.py": "from . import b\nif TYPE_CHECKING:\n    from .b import Never\n",
        "pkg/b.py": "import os\ntry:\n    from .a import thing\nexcept ImportError:\n    pass\n",
    }
    for rel, text in sources.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(text)
    modules = {"pkg": tmp_path / "pkg/__init__.py", "pkg.a": tmp_path / "pkg/a.py", "pkg.b": tmp_path / "pkg/b.py"}
    graph = import_graph(modules)
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert import_cycles(graph) == [["pkg.a", "pkg.b"]]
    assert cycle_path(graph, ["pkg.a", "pkg.b"]) == "pkg.a -> pkg.b -> pkg.a"

    modules["pkg.b"].write_text("def later():\n    from .a import thing\n")
    assert import_cycles(import_graph(modules)) == []


# --- leaf packages import on their own ------------------------------------------------------

WIDGETS_SCRIPT = r"""
import importlib, json, pkgutil, sys
import aegui.gui.widgets as widgets
for info in pkgutil.iter_modules(widgets.__path__):
    importlib.import_module(f"aegui.gui.widgets.{info.name}")
heavy = ("aegui.gui.main_window", "aegui.gui.panels", "aegui.gui.dashboard", "aegui.gui.controller")
print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))
"""


def test_importing_the_widgets_does_not_import_the_window_or_the_panels():
    proc = subprocess.run(
        [sys.executable, "-c", WIDGETS_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert imported == [], f"importing aegui.gui.widgets pulled in: {imported}"
