"""``localStorage`` and ``sessionStorage`` as plain strings (``None`` for a missing key)."""

from __future__ import annotations

import js


class KeyValue:
    def __init__(self, area: str = "localStorage") -> None:
        self.area = area

    def read(self, key: str) -> str | None:
        raw = getattr(js, self.area).getItem(key)
        return raw if isinstance(raw, str) else None  # a missing key is JS null

    def write(self, key: str, value: str) -> None:
        getattr(js, self.area).setItem(key, value)

    def remove(self, key: str) -> None:
        getattr(js, self.area).removeItem(key)
