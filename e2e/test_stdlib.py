"""The cut standard library the page mounts holds every module the app can reach.

backend/stdlib_prune.py keeps the roots and what they import at import time; a module that is
only imported inside a function, on a path the roots tool did not walk, would be missing. So
here the real page, on the served zip, imports every module of the app (the start-up files, the
lazily loaded chat and preview) and of the wheels it installs (markdown-it-py, mdurl,
micropip), and the test fails on any ImportError.
"""

from __future__ import annotations

import json

from e2e.conftest import chat_open, sign_in
from tests.support import ROOT

# Not modules the page can reach: main.py runs the page (top-level await); markdown-it's
# command line; micropip's code for CPython; the parts of micropip's vendored `packaging` that
# micropip never imports (licenses names `packaging` absolutely and cannot import there at all).
NOT_IMPORTED = (
    "app.main",
    "markdown_it.cli",
    "micropip._compat._compat_not_in_pyodide",
    "micropip._vendored.packaging.src.packaging.licenses",
    "micropip._vendored.packaging.src.packaging.metadata",
)

IMPORT_ALL = """async ({files, skip}) => {
  // The module instance the page runs (it is named with the release), not a second runtime.
  const runtime = await import(document.querySelector('script[src*="pyodide-early.mjs"]').src);
  const pyodide = await runtime.loadPyodide();
  for (const path of files) {
    const text = await (await fetch(path)).text();
    pyodide.FS.mkdirTree(path.split("/").slice(0, -1).join("/"));
    pyodide.FS.writeFile(path, text);
  }
  pyodide.globals.set("SKIP", JSON.stringify(skip));
  return JSON.parse(await pyodide.runPythonAsync(`
import importlib, json, os, site, sys
importlib.invalidate_caches()
packages = site.getsitepackages()[0]
roots = ["app"] + [os.path.join(packages, name) for name in ("markdown_it", "mdurl", "micropip")]
names = []
for root in roots:
    for folder, _dirs, found in os.walk(root):
        for file in found:
            if file.endswith(".py"):
                path = os.path.relpath(os.path.join(folder, file), os.path.dirname(root))
                names.append(path[:-3].replace("/", ".").removesuffix(".__init__"))
failed = {}
for name in sorted(names):
    if name.startswith(tuple(json.loads(SKIP))):
        continue
    try:
        importlib.import_module(name)
    except ImportError as error:
        failed[name] = repr(error)
outside = sorted(
    name for name, module in list(sys.modules.items())
    if name.split(".")[0] in sys.stdlib_module_names
    and (getattr(module, "__file__", None) or "").startswith("/lib/python3.")
    and ".zip/" not in module.__file__
)
json.dumps({"imported": len(names), "failed": failed, "outside": outside})
`));
}"""


def test_every_module_of_the_app_and_its_wheels_imports_from_the_served_library(pages):
    page, _ = pages.new()
    page.goto("/")
    sign_in(page, "md-stdlib")
    chat_open(page)
    page.wait_for_selector('#chat-panel[data-markdown="ready"]', timeout=60_000)
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "app").rglob("*.py"))
    result = page.evaluate(IMPORT_ALL, {"files": files, "skip": list(NOT_IMPORTED)})
    assert result["failed"] == {}, json.dumps(result["failed"], indent=1)
    assert result["outside"] == []  # the standard library comes from the mounted zip only
    assert result["imported"] > len(files) + 50  # the app, and the wheels' many modules
