"""The page's cut standard library: what it keeps, and that the roots cover the app's imports."""

from __future__ import annotations

import doctest
import io
import sys
import zipfile

import pytest

from backend import stdlib_prune
from backend.runtime import STDLIB_ROOTS
from backend.stdlib_prune import Module, imported_names, keep, read_roots, write
from tools.stdlib_roots import CODECS, stdlib_imports_of_app


def archive(files: dict[str, str]) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, source in files.items():
            z.writestr(name, source)
    return zipfile.ZipFile(buffer)


def test_doctests():
    assert doctest.testmod(stdlib_prune).failed == 0


def test_imports_at_import_time_count_and_those_in_functions_do_not():
    source = """
import a
from b import c
if flag:
    import d
try:
    import e
except ImportError:
    import f
class K:
    import g
@decorate(__import__("ignored"))
def later():
    import h
lam = lambda: __import__("i")
async def later_too():
    from j import k
"""
    names = imported_names(source, Module("m", "m.py", False))
    assert {"a", "b", "b.c", "d", "e", "f", "g"} <= names
    assert not names & {"h", "j", "j.k"}


def test_type_checking_blocks_are_not_imports_but_their_else_is():
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nelse:\n    import b\n"
    )
    names = imported_names(source, Module("m", "m.py", False))
    assert "b" in names and "a" not in names


@pytest.mark.parametrize(
    ("module", "statement", "expected"),
    [
        (Module("pkg.mod", "pkg/mod.py", False), "from . import sib", {"pkg", "pkg.sib"}),
        (Module("pkg", "pkg/__init__.py", True), "from .sub import x", {"pkg.sub", "pkg.sub.x"}),
        (Module("a.b.c", "a/b/c.py", False), "from .. import d", {"a", "a.d"}),
    ],
)
def test_relative_imports_resolve_against_the_package(module, statement, expected):
    assert imported_names(statement, module) == expected


def test_keep_follows_imports_transitively_with_packages_and_ignores_builtins():
    zip_ = archive(
        {
            "app.py": "import pkg.inner\n",
            "pkg/__init__.py": "from . import helper\n",
            "pkg/inner.py": "import json\n",
            "pkg/helper.py": "",
            "json/__init__.py": "from .decoder import x\n",
            "json/decoder.py": "",
            "unused.py": "import app\n",
        }
    )
    assert keep(zip_, ["app", "math"]) == {
        "app", "pkg", "pkg.inner", "pkg.helper", "json", "json.decoder",
    }  # fmt: skip


def test_write_keeps_members_of_kept_packages_in_order_and_the_same_bytes_twice(tmp_path):
    zip_ = archive(
        {
            "pkg/__init__.py": "",
            "pkg/py.typed": "",
            "pkg/data.txt": "x",
            "other/__init__.py": "",
            "other/py.typed": "",
            "top.py": "",
        }
    )
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    write(zip_, {"pkg", "top"}, str(first), zipfile.ZIP_DEFLATED)
    write(zip_, {"pkg", "top"}, str(second), zipfile.ZIP_DEFLATED)
    assert zipfile.ZipFile(first).namelist() == [
        "pkg/__init__.py", "pkg/py.typed", "pkg/data.txt", "top.py",
    ]  # fmt: skip
    assert first.read_bytes() == second.read_bytes()


def test_read_roots_skips_comments_and_blank_lines():
    assert read_roots("# header\n\nasyncio\n json  # why\n") == ["asyncio", "json"]


def test_every_standard_module_the_app_imports_is_a_root():
    """Imports inside functions are kept only when they are roots: an app module that starts
    importing a new part of the library must regenerate the roots (python -m
    tools.stdlib_roots), or the page fails where that import runs."""
    roots = set(read_roots(STDLIB_ROOTS.read_text()))
    missing = sorted(stdlib_imports_of_app() - roots)
    assert not missing, f"not in backend/stdlib_roots.txt: {missing}"
    assert roots >= CODECS


def test_the_app_is_checked_for_its_imports_wherever_they_stand(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "m.py").write_text("def f():\n    import fractions\n")
    assert "fractions" in stdlib_imports_of_app(tmp_path)
    assert "fractions" in sys.stdlib_module_names
