"""The Web Lock that makes one tab the chat's leader (``navigator.locks``), as core events.

:meth:`TabLock.request` asks for the lock, queued behind its holder or, with ``steal``, taken
from it at once; the grant is reported with ``on_granted(lock)``, and a lock we held that
another tab stole with ``on_lost(lock)``.  :meth:`TabLock.release` gives a request up, whether
it is held (its promise resolves, so the browser passes the lock on) or still queued (it is
aborted).  The browser releases everything by itself when the page goes away, crash included,
which is why a lock and not a heartbeat decides who leads.

Requests are numbered by the core (:mod:`app.net.leadership`); a grant nobody wants any more is
released at once.  Each request's callback proxy lives until its promise settles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import to_js

from app.browser.proxies import destroy, new_proxy


class _Request:
    __slots__ = ("abort", "callback", "held", "release", "unwanted")

    def __init__(self) -> None:
        self.abort: Any = None  # an AbortController while queued (a steal cannot have one)
        self.callback: Any = None
        self.release: Any = None  # resolves the promise the lock is held by
        self.held = False
        self.unwanted = False


class TabLock:
    def __init__(
        self,
        name: str,
        on_granted: Callable[[int], None],
        on_lost: Callable[[int], None],
    ) -> None:
        self.name = name
        self.on_granted = on_granted
        self.on_lost = on_lost
        self._requests: dict[int, _Request] = {}
        self._tasks: set[asyncio.Future] = set()

    @staticmethod
    def available() -> bool:
        """Web Locks exist only in secure contexts (https, or loopback) of browsers that have
        them; without them every tab keeps its own socket."""
        return getattr(js.navigator, "locks", None) is not None

    def holds(self) -> bool:
        return any(r.held and not r.unwanted for r in self._requests.values())

    def request(self, lock: int, steal: bool) -> None:
        entry = _Request()
        options: dict[str, Any] = {"steal": True}
        if not steal:
            entry.abort = js.AbortController.new()
            options = {"signal": entry.abort.signal}
        entry.callback = new_proxy(lambda _lock: self._granted(lock, entry))
        self._requests[lock] = entry
        promise = js.navigator.locks.request(
            self.name, to_js(options, dict_converter=js.Object.fromEntries), entry.callback
        )
        task = asyncio.ensure_future(self._watch(lock, entry, promise))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def release(self, lock: int) -> None:
        entry = self._requests.get(lock)
        if entry is None or entry.unwanted:
            return
        entry.unwanted = True
        if entry.held:
            entry.release()
        elif entry.abort is not None:
            entry.abort.abort()
        # a steal not yet granted is released by _granted as soon as it is

    def release_all(self) -> None:
        for lock in list(self._requests):
            self.release(lock)

    def _granted(self, lock: int, entry: _Request) -> Any:
        """The browser's callback: hold the lock until our promise resolves."""
        resolvers = js.Promise.withResolvers()
        entry.release, entry.held = resolvers.resolve, True
        if entry.unwanted:
            entry.release()
        else:
            self.on_granted(lock)
        return resolvers.promise

    async def _watch(self, lock: int, entry: _Request, promise: Any) -> None:
        try:
            await promise
        except Exception:  # AbortError: withdrawn while queued (ours), or stolen while held
            if entry.held and not entry.unwanted:
                entry.unwanted = True
                self.on_lost(lock)
        finally:
            if self._requests.get(lock) is entry:
                del self._requests[lock]
            destroy(entry.callback)
