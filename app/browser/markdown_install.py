"""Installs the Markdown library in the page, after sign-in, from our own origin only.

micropip itself is loaded by URL from ``/wheels/files/``: Pyodide's lock file names a micropip
build whose hash differs from PyPI's wheel (and the npm Pyodide ships no wheels at all), so
going through the lock file would either fail or reach for a CDN.  micropip then installs
markdown-it-py (and its dependency mdurl) from our PEP 691 index at ``/wheels/simple/``,
checking each wheel's sha256 against the index.  Any failure leaves messages as plain text and
logs one line.
"""

from __future__ import annotations

import asyncio
from typing import Any

import js
from pyodide.ffi import create_proxy, to_js

MICROPIP_WHEEL = "micropip-0.11.1-py3-none-any.whl"  # as pinned in browser-wheels.txt
REQUIREMENT = "markdown-it-py==4.3.0"

_install: asyncio.Future | None = None


async def _install_now() -> bool:
    try:
        import pyodide_js

        base = str(js.URL.new("wheels/", js.location.href).href)
        # Pyodide would print its own progress and errors (PyScript turns the latter into a
        # .py-error box); our one warning below is the only thing a failure should leave.
        quiet = create_proxy(lambda *_args: None)
        try:
            options = to_js(
                {"messageCallback": quiet, "errorCallback": quiet},
                dict_converter=js.Object.fromEntries,
            )
            await pyodide_js.loadPackage(base + "files/" + MICROPIP_WHEEL, options)
        finally:
            quiet.destroy()
        import micropip

        await micropip.install(REQUIREMENT, index_urls=[base + "simple/{package_name}/"])
        import markdown_it  # noqa: F401 - proves the install worked
    except Exception as exc:  # plain text it is; say so once
        js.console.warn(f"Markdown formatting unavailable, showing plain text: {exc}")
        return False
    return True


def ensure_installed() -> Any:
    """Start the install once per page; returns the future that says whether it worked."""
    global _install
    if _install is None:
        _install = asyncio.ensure_future(_install_now())
    return _install
