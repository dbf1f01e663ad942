"""Downloading Python files after start-up (the chat, the preview) and importing them.

Each is asked for with the page's release (``<html data-release>``, backend/release.py), so a
repeat visit finds them in the HTTP cache without asking the server again.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from typing import Any

import js


def release_query() -> str:
    release = js.document.documentElement.getAttribute("data-release")
    return f"?v={release}" if isinstance(release, str) and release else ""


async def _fetch_text(path: str, query: str = "") -> str:
    response = await js.fetch(path + query)
    if not response.ok:
        raise OSError(f"{path}: HTTP {response.status}")
    return str(await response.text())


async def load_modules(files: tuple[str, ...], entry: str) -> Any:
    """Fetch ``files`` in parallel (each fetch and read one task), write them where imports
    look, import ``entry``."""
    query = release_query()
    texts = await asyncio.gather(*(_fetch_text(path, query) for path in files))
    for path, text in zip(files, texts, strict=True):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    _forget_listings_under(os.getcwd())  # the files were written after imports looked
    return importlib.import_module(entry)


def _forget_listings_under(root: str) -> None:
    """What ``importlib.invalidate_caches()`` does, for our own folders only.  Under Pyodide's
    Python 3.14 that function also imports ``importlib.metadata`` and ``email`` on its first
    call (measured: 109 ms right after a snapshot start, most of a chat start's import time)."""
    for path, finder in list(sys.path_importer_cache.items()):
        if finder is not None and (path in ("", ".") or path.startswith(root)):
            finder.invalidate_caches()
