"""No module of the project imports another in a circle.

The import graph is read from the AST of every module of ``jobs``, ``exports``, ``syncs`` and
``syncservice`` (not ``tests`` or ``benchmarks``): an edge per ``import`` / ``from … import``
of another project module, relative imports resolved, ``from package import name`` counted as
an import of the submodule ``package.name`` when there is one. Imports inside functions count
too: deferring an import into a function hides a circle from Python at import time, not from
the design (the job backend, say, is chosen through ``jobs.backends``' registry, by dotted
path, rather than imported by the module that dispatches). An import under
``if TYPE_CHECKING:`` is never counted (it does not run).

A package's implicit import of its ``__init__`` by its submodules is not an edge: only what
the source says.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("jobs", "exports", "syncs", "syncservice")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {_module_name(path): path
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST, *, in_functions: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements under ``node`` that run: at module level (``in_functions``
    False) or anywhere; never under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.orelse:
                yield from _imports(ast.Module(body=[statement], type_ignores=[]),
                                    in_functions=in_functions)
        elif not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) or in_functions:
            yield from _imports(child, in_functions=in_functions)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
              modules: dict[str, Path]) -> set[str]:
    """The project modules ``node`` (in ``module``) imports."""
    def deepest(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[:len(package) - (node.level - 1)]
            base = ".".join([*package, *([node.module] if node.module else [])])
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                 for alias in node.names]
    return {found for name in names if (found := deepest(name)) is not None}


def import_graph(*, in_functions: bool) -> dict[str, set[str]]:
    """module -> the project modules it imports (at module level, or anywhere)."""
    modules = project_modules()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = set()
        for node in _imports(tree, in_functions=in_functions):
            targets |= _imported(node, module, path.name == "__init__.py", modules)
        graph[module] = targets - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules, the first repeated at the end), or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)) is not None:
            return cycle
    return None


def test_find_cycle_reports_a_cycle_and_none_in_an_acyclic_graph():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_module_and_function_level_imports_but_not_type_checking_ones():
    module_level = import_graph(in_functions=False)
    assert "jobs.models" in module_level["jobs.services"]
    # jobs.celery imports the queue's modules in its task functions only.
    assert "jobs.claiming" not in module_level["jobs.celery"]
    assert "jobs.claiming" in import_graph(in_functions=True)["jobs.celery"]
    # jobs.runner imports jobs.worker only for its annotations (under TYPE_CHECKING).
    assert "jobs.worker" not in import_graph(in_functions=True)["jobs.runner"]


def test_no_import_cycle_in_the_project():
    cycle = find_cycle(import_graph(in_functions=True))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
