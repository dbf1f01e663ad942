"""Release-versioned URLs: a repeat visit asks the network for the page itself and nothing else.

The app's own files keep fixed names (``static/boot.js``, ``pyscript.json``, ``app/**/*.py``,
the runtime files set-up makes from the app under ``vendor/pyodide/<version>/app/``) and change
with every deploy, so under those names they can only be served ``no-cache``: revalidated on
every visit.  On a 150 ms line the page's chain of such round trips (the page names the
scripts, the scripts name the config, the config names two dozen Python files) costs more than
the interpreter's whole start from the snapshot.

So the page is served *rendered*: every such URL in it, and in the config it names, carries
``?v=<release>``, a digest of the content of all of those files, and a request that carries the
current release is answered ``immutable``.  A deploy changes the release, so the next page
names new URLs; nothing stale can be served under a current one.  ``<html data-release>``
tells the page's own loaders (static/pyodide-early.mjs, app/browser/loader.py) the release
for the files they fetch themselves.  The source ``index.html`` stays plain, so the
repository still works from any static server as it is::

    >>> render_page('<script src="static/boot.js"></script>', "abc")
    '<script src="static/boot.js?v=abc"></script>'
    >>> render_page('<link href="vendor/pyscript/0.7.31/core.css">', "abc")
    '<link href="vendor/pyscript/0.7.31/core.css">'
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

QUERY = "v"
# Paths (relative to the page) whose content changes with the app; the rest of vendor/ is the
# pinned runtime, versioned by its folder name and immutable already.
VERSIONED = re.compile(r"^(?:static/|app/|pyscript\.json$|vendor/pyodide/[^/]+/app/)")
URL_ATTRIBUTE = re.compile(r'\b(src|href|config)="([^"?#]+)"')
HTML_TAG = re.compile(r"<html(\s[^>]*)?>")


def versioned(url: str, release: str) -> str:
    return f"{url}?{QUERY}={release}" if VERSIONED.match(url) else url


def release_of(root: Path) -> str:
    """A digest of every file a rendered page names with ``?v=`` (12 hex digits).  The runtime
    files made from the app enter through their manifest, which holds their own digests."""
    digest = hashlib.sha256()
    files = [
        *sorted((root / "static").rglob("*")),
        *sorted((root / "app").rglob("*.py")),
        root / "pyscript.json",
        *sorted((root / "vendor" / "pyodide").glob("*/app/runtime.json")),
    ]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def render_page(html: str, release: str) -> str:
    """``index.html`` as served: versioned URLs, and ``data-release`` on ``<html>``."""
    html = URL_ATTRIBUTE.sub(lambda m: f'{m.group(1)}="{versioned(m.group(2), release)}"', html)
    return HTML_TAG.sub(lambda m: f'<html{m.group(1) or ""} data-release="{release}">', html, 1)


def render_config(config: str, release: str) -> str:
    """``pyscript.json`` as served: the interpreter module and every start-up file versioned
    (the same module URL as the page's, so PyScript gets the instance already booting)."""
    data = json.loads(config)
    data["interpreter"] = versioned(data["interpreter"], release)
    data["files"] = {versioned(url, release): path for url, path in data.get("files", {}).items()}
    return json.dumps(data, indent=2) + "\n"
