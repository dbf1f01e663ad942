"""Release-versioned URLs in the page and its config (backend/release.py)."""

from __future__ import annotations

import doctest
import json

from backend import release
from backend.release import render_config, render_page


def test_doctests():
    assert doctest.testmod(release).failed == 0


def test_only_the_app_s_own_files_are_versioned_and_nothing_twice():
    html = (
        '<html lang="en"><script src="static/boot.js"></script>'
        '<link href="vendor/pyodide/314.0.7/app/stdlib.zip">'
        '<link href="vendor/pyodide/314.0.7/pyodide.asm.wasm">'
        '<a href="#main"></a><link rel="icon" href="data:,">'
        '<script type="py" src="app/main.py" config="pyscript.json"></script>'
        '<link href="static/app.css?v=old"></html>'
    )
    out = render_page(html, "r1")
    assert '<html lang="en" data-release="r1">' in out
    assert 'src="static/boot.js?v=r1"' in out
    assert 'href="vendor/pyodide/314.0.7/app/stdlib.zip?v=r1"' in out
    assert 'href="vendor/pyodide/314.0.7/pyodide.asm.wasm"' in out
    assert 'href="#main"' in out and 'href="data:,"' in out
    assert 'src="app/main.py?v=r1" config="pyscript.json?v=r1"' in out
    assert 'href="static/app.css?v=old"' in out  # already carries a query: left alone


def test_the_config_names_the_same_interpreter_module_as_the_page():
    config = {"interpreter": "static/pyodide-early.mjs", "files": {"app/a.py": "app/a.py"}}
    out = json.loads(render_config(json.dumps(config), "r1"))
    assert out["interpreter"] == "static/pyodide-early.mjs?v=r1"
    assert out["files"] == {"app/a.py?v=r1": "app/a.py"}
