"""JS proxies of Python callbacks, and DOM listeners that are removed together.

Every proxy made through :func:`new_proxy` is counted until :func:`destroy`; the e2e tests read
the counts through ``window.pychatStats()`` to prove a sign-out leaves nothing behind.  The
shell's page-lifetime listeners are made uncounted: they live as long as the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyodide.ffi import create_proxy

COUNTS = {"sockets_created": 0, "live_proxies": 0, "live_timers": 0}


def new_proxy(handler: Callable[..., Any], counted: bool = True) -> Any:
    if counted:
        COUNTS["live_proxies"] += 1
    return create_proxy(handler)


def destroy(proxy: Any, counted: bool = True) -> None:
    proxy.destroy()
    if counted:
        COUNTS["live_proxies"] -= 1


class Listeners:
    """DOM event listeners owned by one component, removed and destroyed together."""

    def __init__(self, counted: bool = True) -> None:
        self.counted = counted
        self._items: list[tuple[Any, str, Any]] = []

    def add(self, target: Any, name: str, handler: Callable[[Any], None]) -> None:
        proxy = new_proxy(handler, self.counted)
        target.addEventListener(name, proxy)
        self._items.append((target, name, proxy))

    def clear(self) -> None:
        for target, name, proxy in self._items:
            target.removeEventListener(name, proxy)
            destroy(proxy, self.counted)
        self._items.clear()
