"""Apps depend downward only: exports/syncs -> jobs -> syncservice (DESIGN.md, "Layout").

Read from the source (every import statement, including those inside functions), so an import
that only runs on some code path counts too. The project's wiring names the apps by dotted
string (INSTALLED_APPS, ``include("syncs.api.urls")``), which is not an import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> dict[str, set[str]]:
    """Per source file of ``package`` (a directory under the project root), the absolute
    module names its import statements name (``from a.b import c`` names ``a.b``)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offending(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    return {path: sorted(name for name in names
                         if name.split(".")[0] in forbidden)
            for path, names in imported_modules(package).items()
            if any(name.split(".")[0] in forbidden for name in names)}


def test_the_package_walk_sees_imports_inside_functions(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("import os\n\ndef f():\n    from jobs.models import Job\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert offending("pkg", ("jobs",)) == {"pkg/mod.py": ["jobs.models"]}


@pytest.mark.parametrize(("package", "forbidden"), [
    ("syncservice", ("jobs", "exports", "syncs")),
    ("jobs", ("exports", "syncs")),
])
def test_no_layer_imports_a_layer_above_it(package, forbidden):
    assert imported_modules(package)  # the walk found the package's sources
    assert offending(package, forbidden) == {}
