"""The package's layers: imports go down only, PuLP, highspy, folium, matplotlib and
the web stack each stay in their room, and ``import territory_opt`` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "territory_opt"
# who may import a third-party package (anywhere in the module, lazily or not)
ROOMS = {"pulp": ("solvers/mip.py",), "highspy": ("solvers/highs.py",),
         "numba": ("solvers/search/kernels.py", "geo.py", "solvers/candidates.py"),
         "folium": ("outputs/",), "matplotlib": ("outputs/",),
         "starlette": ("workbench/app.py",), "uvicorn": ("workbench/app.py",),
         "sqlalchemy": ("io/database.py", "io/sink.py"), "psycopg": ("io/database.py",)}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(path: Path, *, top_level: bool) -> list[tuple[str, list[str]]]:
    """(module, names) of the imports in a file that ever run (never those under
    ``if TYPE_CHECKING``); only those run at import time (outside functions) when
    ``top_level``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            skip = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                if not (top_level and lazy):
                    found.extend((a.name, []) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                if not (top_level and lazy):
                    found.append((child.module, [a.name for a in child.names]))
            visit(child, lazy or skip)
    visit(tree, False)
    return found


def test_no_import_cycle_at_import_time():
    graph = nx.DiGraph()
    names = modules()
    for name, path in names.items():
        graph.add_node(name)
        for module, items in imports(path, top_level=True):
            targets = [f"{module}.{i}" for i in items if f"{module}.{i}" in names] or \
                ([module] if module in names else [])
            for target in targets:
                if target != name and not name.startswith(target + "."):  # own package
                    graph.add_edge(name, target)
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], f"import cycles: {cycles}"


def test_no_private_name_crosses_modules():
    crossing = [(name, module, item) for name, path in modules().items()
                for module, items in imports(path, top_level=False)
                if module.startswith("territory_opt") for item in items
                if item.startswith("_") and item != "__version__"]
    assert crossing == []


@pytest.mark.parametrize("package", sorted(ROOMS))
def test_each_heavy_dependency_stays_in_its_room(package):
    outside = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
               if any(m == package or m.startswith(package + ".")
                      for m, _ in imports(path, top_level=False))
               and not str(path.relative_to(PACKAGE)).startswith(ROOMS[package])]
    assert outside == []


def test_importing_the_package_loads_no_map_or_chart_library():
    code = ("import sys, territory_opt; print(sorted(m for m in ('folium', 'matplotlib', "
            "'branca', 'starlette', 'uvicorn', 'sqlalchemy', 'psycopg') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# The model and the solvers import the package's own modules at the top only: an
# import inside a function there dodges a cycle the layout should not have.
# A third-party import may wait for its first use when it is slow to load (the
# CLI's start): it says so in a comment on its line.
MODEL_AND_SOLVERS = ("problem.py", "checks.py", "rules/", "solvers/")


def test_the_model_and_solvers_import_their_own_modules_at_the_top():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        if not rel.startswith(MODEL_AND_SOLVERS):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if not isinstance(inner, (ast.Import, ast.ImportFrom)):
                    continue
                names = ([inner.module or ""] if isinstance(inner, ast.ImportFrom)
                         else [a.name for a in inner.names])
                own = (isinstance(inner, ast.ImportFrom) and inner.level > 0) or any(
                    n == "territory_opt" or n.startswith("territory_opt.") for n in names)
                if own or "#" not in lines[inner.lineno - 1]:
                    found.append(f"{rel}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert found == [], "imports inside functions: " + "; ".join(found)
