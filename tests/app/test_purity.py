"""The cores never import the browser: only app/browser/ may touch js, pyodide or pyscript."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
BROWSER_MODULES = {"js", "pyodide", "pyscript"}
CORE_FILES = sorted(
    p
    for p in APP.rglob("*.py")
    if "browser" not in p.relative_to(APP).parts and p.name != "main.py"
)


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_there_are_core_modules():
    assert len(CORE_FILES) >= 8


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(APP)))
def test_core_module_is_pure(path):
    assert not imported_roots(path) & BROWSER_MODULES


def test_start_up_file_list_matches_the_app():
    """Every start-up module is listed in pyscript.toml (a missing one fails only in the page)."""
    import tomllib

    config = tomllib.loads((APP.parent / "pyscript.toml").read_text())
    listed = set(config["files"])
    expected = {
        str(p.relative_to(APP.parent))
        for p in APP.rglob("*.py")
        if p.name != "main.py" and "chat" not in p.relative_to(APP).parts
    }
    assert listed == expected
    assert "packages" not in config
