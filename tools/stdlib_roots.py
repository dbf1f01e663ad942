"""Writes ``backend/stdlib_roots.txt``: the standard-library modules the page imports.

    .venv/bin/python -m tools.stdlib_roots

It serves the app with a real ``server.py``, hands the page Pyodide's whole standard library in
place of the cut one, drives it in Chromium through every journey that loads code (signed out,
a refused sign-in, sign-in, the chat with Markdown rendered and a reply streamed, sign-out, a
restored session, preview mode through each of its states), and after each one reads
``sys.modules`` in the page.  Every module of the standard library it saw, and every one the
app's own sources import anywhere (read with ``ast``), is a root; set-up then keeps the roots
and what they import (``backend/stdlib_prune.py``).  Run it again when the app, PyScript or
Pyodide starts importing something new; ``tests/backend/test_stdlib.py`` says when.
"""

from __future__ import annotations

import ast
import json
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from backend.runtime import APP_FOLDER, STDLIB, STDLIB_ROOTS, versions
from tests.support import CHROMIUM, CHROMIUM_ARGS, PASSWORD, ROOT, ServerProcess, add_user

HEADER = """\
# The standard-library modules the page imports: backend/stdlib_prune.py keeps these and what
# they import at import time, and set-up writes that cut library for the page.
# Written by `python -m tools.stdlib_roots` (it drives the page through its journeys with the
# whole library); run it again when the app starts importing something new.
"""
# Codecs are looked up by name when text is encoded or decoded, never imported by name, so
# neither the journeys nor the import-time closure can be relied on to meet them; these are the
# ones a web page's text can name (a few KB in all).
CODECS = {
    f"encodings.{name}"
    for name in (
        "ascii",
        "latin_1",
        "utf_8",
        "utf_8_sig",
        "utf_16",
        "utf_16_be",
        "utf_16_le",
        "utf_32",
        "idna",
        "punycode",
        "unicode_escape",
        "raw_unicode_escape",
        "cp1252",
        "base64_codec",
    )
}
# In the page: every loaded module that belongs to the standard library (built into the
# interpreter, or read from the mounted zip, which also holds Pyodide's own packages).
SEEN = """async () => {
  // The module instance the page runs (it is named with the release), not a second runtime.
  const runtime = await import(document.querySelector('script[src*="pyodide-early.mjs"]').src);
  const pyodide = await runtime.loadPyodide();
  return JSON.parse(pyodide.runPython(`
import json, sys
json.dumps(sorted(
    name for name, module in list(sys.modules.items())
    if name.split(".")[0] in sys.stdlib_module_names
    or (getattr(module, "__file__", None) or "").startswith("/lib/python3")
    and ".zip/" in (getattr(module, "__file__", None) or "")
))
`));
}"""


def app_imports(root: Path = ROOT) -> set[str]:
    """Top-level names of every ``import`` in app/, wherever it stands."""
    names: set[str] = set()
    for path in (root / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module)
    return names


def stdlib_imports_of_app(root: Path = ROOT) -> set[str]:
    return {name for name in app_imports(root) if name.split(".")[0] in sys.stdlib_module_names}


def whole_library(page: Page) -> None:
    """The page mounts Pyodide's own zip instead of the cut one."""
    full = (ROOT / "vendor" / "pyodide" / versions()["pyodide"] / "python_stdlib.zip").read_bytes()
    page.route(
        f"**/{APP_FOLDER}/{STDLIB}*",  # with the page's ?v=<release>
        lambda route: route.fulfill(status=200, body=full, content_type="application/zip"),
    )


def journeys(page: Page, seen: set[str]) -> None:
    def look() -> None:
        seen.update(page.evaluate(SEEN))

    page.goto("/?start=normal")
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=60_000)
    look()
    page.fill("#username", "roots")
    page.fill("#password", "not the password")
    page.click("#login-submit")
    page.wait_for_selector("#login-error:not(:empty)")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector('#chat-panel[data-markdown="ready"]', timeout=60_000)
    page.fill("#chat-input", "**bold** `code` [a link](https://example.com)\n\n```py\nx = 1\n```")
    page.press("#chat-input", "Enter")
    page.wait_for_selector('.chat-message[data-role="assistant"][data-status="done"]')
    look()
    page.goto("/?start=normal")  # a restored session
    page.wait_for_selector('#chat-panel[data-connection="open"]', timeout=60_000)
    look()
    page.click("#logout")
    page.wait_for_selector('body[data-auth="anonymous"]')
    look()
    page.goto("/?preview=1&start=normal")
    page.wait_for_selector("button.preview-state", timeout=60_000)
    for index in range(page.locator("button.preview-state").count()):
        button = page.locator("button.preview-state").nth(index)
        state = button.get_attribute("data-state")
        button.click()
        page.wait_for_selector(f'body[data-preview-state="{state}"]', timeout=30_000)
    look()


def main() -> None:
    seen: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "roots.db"
        add_user(db, "roots", PASSWORD)
        server = ServerProcess(db).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                context = browser.new_context(base_url=server.url)
                page = context.new_page()
                whole_library(page)
                journeys(page, seen)
                browser.close()
        finally:
            server.stop()
    roots = sorted(seen | stdlib_imports_of_app() | CODECS)
    STDLIB_ROOTS.write_text(HEADER + "".join(f"{name}\n" for name in roots))
    print(json.dumps({"roots": len(roots), "file": str(STDLIB_ROOTS.relative_to(ROOT))}))


if __name__ == "__main__":
    main()
