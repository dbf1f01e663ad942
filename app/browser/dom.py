"""The few DOM operations every adapter needs, written once."""

from __future__ import annotations

from typing import Any

import js


def by_id(element_id: str) -> Any:
    return js.document.getElementById(element_id)


def present(value: Any) -> bool:
    """DOM look-ups answer JS ``null`` (Pyodide's ``JsNull``), which is not ``None``."""
    return value is not None and type(value).__name__ != "JsNull"


def make(tag: str, attrs: dict[str, str] | None = None, text: str | None = None) -> Any:
    """A new element; ``text`` is set as text, never parsed as HTML."""
    node = js.document.createElement(tag)
    for name, value in (attrs or {}).items():
        node.setAttribute(name, value)
    if text is not None:
        node.textContent = text
    return node
