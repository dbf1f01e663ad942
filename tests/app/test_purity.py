"""Only app/browser/ touches the browser: no other module reaches js, pyodide or pyscript,
directly or through any module it imports (at the top or inside a function)."""

from __future__ import annotations

import ast
import tomllib

import pytest

from app.ui.chat_loader import CHAT_FILES
from app.ui.preview_loader import PREVIEW_FILES
from tests.imports import ROOT, import_graph, module_file, reachable

APP = ROOT / "app"
BROWSER_MODULES = {"js", "pyodide", "pyscript", "pyodide_js", "micropip"}
ALL_FILES = sorted(str(p.relative_to(ROOT)) for p in APP.rglob("*.py"))
ADAPTERS = {f for f in ALL_FILES if f.startswith("app/browser/")} | {"app/main.py"}
CORE_FILES = [f for f in ALL_FILES if f not in ADAPTERS]
GRAPH = import_graph(["app"])


def test_there_are_core_modules_and_adapters():
    assert len(CORE_FILES) >= 30 and len(ADAPTERS) >= 10


@pytest.mark.parametrize("path", CORE_FILES)
def test_core_module_never_reaches_the_browser(path):
    """Transitively: a core module importing an adapter would drag ``js`` in with it."""
    reached = reachable(GRAPH, path)
    assert not reached & BROWSER_MODULES, sorted(reached & BROWSER_MODULES)
    assert not {m for m in reached if module_file(m) in ADAPTERS}


def test_the_check_would_see_an_indirect_import():
    graph = {"app/ui/layout.py": {"app.auth.model"}, "app/auth/model.py": {"js"}}
    assert "js" in reachable(graph, "app/ui/layout.py")


def test_start_up_file_list_is_everything_but_the_chat_and_the_preview():
    """pyscript.toml lists every start-up module (a missing one fails only in the page) and
    none of the chat's, which must not be downloaded before sign-in, nor the preview's."""
    config = tomllib.loads((ROOT / "pyscript.toml").read_text())
    listed = set(config["files"])
    assert listed == set(ALL_FILES) - set(CHAT_FILES) - set(PREVIEW_FILES) - {"app/main.py"}
    assert all(config["files"][key] == key for key in listed)
    assert "packages" not in config


@pytest.mark.parametrize(
    ("entry", "files"),
    [
        ("app/browser/shell.py", ()),
        ("app/main.py", ()),
        ("app/browser/chat.py", CHAT_FILES),
        ("app/browser/preview_toolbar.py", PREVIEW_FILES),
    ],
)
def test_what_a_module_imports_on_load_has_been_written_to_the_page(entry, files):
    """A start-up module may import at load time only start-up files; the chat's and the
    preview's entries only those plus their own lists (a miss fails only in the page)."""
    start_up = set(tomllib.loads((ROOT / "pyscript.toml").read_text())["files"])
    eager = import_graph(["app"], eager=True)
    needed = {module_file(m) for m in reachable(eager, entry) if module_file(m)}
    assert needed <= start_up | set(files), sorted(needed - start_up - set(files))


def test_chat_files_exist_and_cover_the_chat_package():
    assert all((ROOT / f).is_file() for f in CHAT_FILES)
    assert {f for f in ALL_FILES if f.startswith("app/chat/")} <= set(CHAT_FILES)


def test_preview_files_exist_and_cover_the_preview_package():
    assert all((ROOT / f).is_file() for f in PREVIEW_FILES)
    assert {f for f in ALL_FILES if f.startswith("app/preview/")} <= set(PREVIEW_FILES)


def test_only_the_http_adapter_constructs_a_websocket():
    users = [f for f in ALL_FILES if "WebSocket.new" in (ROOT / f).read_text()]
    assert users == ["app/browser/http.py"]


def test_micropip_is_loaded_by_the_exact_pinned_wheel():
    source = (ROOT / "app/browser/markdown_install.py").read_text()
    constants = {
        node.targets[0].id: node.value.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    }
    MICROPIP_WHEEL, REQUIREMENT = constants["MICROPIP_WHEEL"], constants["REQUIREMENT"]
    pins = (ROOT / "browser-wheels.txt").read_text()
    name, version = MICROPIP_WHEEL.split("-")[:2]
    assert f"{name}=={version} --hash=sha256:" in pins
    assert f"{REQUIREMENT} --hash=sha256:" in pins


def test_pyscript_json_is_generated_from_pyscript_toml():
    """The page loads pyscript.json; pyscript.toml is the source (python -m backend.pyconfig)."""
    import json

    from backend.pyconfig import render

    assert json.loads((ROOT / "pyscript.json").read_text()) == json.loads(render(ROOT))
    assert 'config="pyscript.json"' in (ROOT / "index.html").read_text()


def test_the_error_plugin_is_never_excluded():
    """PyScript's error plugin is page-wide: "!error" in any config (even <mpy-config>) turns
    off every .py-error box, and with it the e2e tests' way of seeing Python errors."""
    assert '"!error"' not in (ROOT / "index.html").read_text()
    assert "!error" not in (ROOT / "pyscript.toml").read_text()


def test_every_preloaded_file_exists():
    """index.html preloads runtime files by name (chunk names carry hashes): an upgrade of
    @pyscript/core or pyodide must update them, or the page would preload 404s."""
    import re

    html = (ROOT / "index.html").read_text()
    hrefs = re.findall(r'<link rel="(?:module)?preload" href="([^"]+)"', html)
    assert len(hrefs) >= 8
    for href in hrefs:
        assert (ROOT / href).is_file(), href


def test_the_early_runtime_module_is_the_interpreter_and_loads_the_pinned_pyodide():
    """static/pyodide-early.mjs starts Pyodide before PyScript asks for it; PyScript only gets
    that runtime if its `interpreter` is the same URL, and the module must load the served,
    pinned Pyodide (not a CDN, not a stale version after an upgrade)."""
    import json
    import re
    import tomllib

    config = tomllib.loads((ROOT / "pyscript.toml").read_text())
    assert config["interpreter"] == "static/pyodide-early.mjs"
    html = (ROOT / "index.html").read_text()
    assert '<script type="module" src="static/pyodide-early.mjs" async></script>' in html
    assert html.index("static/pyodide-early.mjs") < html.index("pyscript/0.7.31/core.js")

    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["pyodide"]
    module = (ROOT / "static" / "pyodide-early.mjs").read_text()
    paths = set(re.findall(r'"(\.\./vendor/pyodide/[^"]+)"', module))
    assert paths == {f"../vendor/pyodide/{pinned}/pyodide.mjs", f"../vendor/pyodide/{pinned}/"}
    for path in paths:
        assert (ROOT / "static" / path).resolve().exists(), path
    assert "://" not in module  # nothing from another origin
