"""Adapters run here against :mod:`tests.app.browser.fakejs`, installed as ``js`` and
``pyodide.ffi`` before any adapter is imported."""

from __future__ import annotations

import sys

import pytest

from tests.app.browser import fakejs

sys.modules.setdefault("js", fakejs.js)
sys.modules.setdefault("pyodide", fakejs.pyodide)
sys.modules.setdefault("pyodide.ffi", fakejs.ffi)


@pytest.fixture
def page():
    """A fresh page (the real index.html): the adapters' counters at zero, no chat registry
    and no Markdown install yet (each test runs on its own event loop; a page has one)."""
    from app.browser import chat, markdown_install
    from app.browser.proxies import COUNTS

    for key in COUNTS:
        COUNTS[key] = 0
    chat.ENTRY.registry = None
    markdown_install._install = None
    return fakejs.reset()


@pytest.fixture
def shared_page(page):
    """The same fresh page in a browser with Web Locks and BroadcastChannel."""
    return fakejs.reset(shared=True)
