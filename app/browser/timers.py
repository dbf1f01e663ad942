"""Named one-shot timers on the page's event loop.

Starting a name that is running replaces it, so a component holds at most one timer per
purpose.  ``scale()`` divides every delay (preview mode fast-forwards slow states with it);
counted timers show in ``window.pychatStats()``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable

from app.browser.proxies import COUNTS


class Timers:
    def __init__(self, scale: Callable[[], float] | None = None, counted: bool = True) -> None:
        self._scale = scale or (lambda: 1.0)
        self._counted = counted
        self._handles: dict[Hashable, asyncio.TimerHandle] = {}
        # name -> (scale it was started with, when it is due, what it calls)
        self._due: dict[Hashable, tuple[float, float, Callable[[], None]]] = {}

    def start(self, name: Hashable, delay: float, callback: Callable[[], None]) -> None:
        self.cancel(name)

        def fire() -> None:
            self._forget(name)
            callback()

        self._start(name, delay / self._scale(), fire)

    def rescale(self) -> None:
        """Apply a changed ``scale()`` to the timers already running (what is left of each).
        Pyodide's loop hands out handles that cannot tell when they are due, so we keep it."""
        now = time.monotonic()
        for name in list(self._handles):
            old, due, fire = self._due[name]
            self.cancel(name)
            self._start(name, max(0.0, due - now) * old / self._scale(), fire)

    def _start(self, name: Hashable, seconds: float, fire: Callable[[], None]) -> None:
        self._handles[name] = asyncio.get_event_loop().call_later(seconds, fire)
        self._due[name] = (self._scale(), time.monotonic() + seconds, fire)
        if self._counted:
            COUNTS["live_timers"] += 1

    def running(self, name: Hashable) -> bool:
        return name in self._handles

    def cancel(self, name: Hashable) -> None:
        handle = self._handles.get(name)
        if handle is not None:
            handle.cancel()
            self._forget(name)

    def cancel_all(self) -> None:
        for name in list(self._handles):
            self.cancel(name)

    def _forget(self, name: Hashable) -> None:
        self._due.pop(name, None)
        if self._handles.pop(name, None) is not None and self._counted:
            COUNTS["live_timers"] -= 1
