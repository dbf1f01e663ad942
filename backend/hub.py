"""Live sockets, grouped by session and tab: the server half of "one socket per tab".

* A new socket from a tab that already has one replaces it (the old one is closed with 4409).
* A session holds at most :data:`MAX_PER_SESSION` sockets; the next is refused with 4429.
* Signing out, revoking or expiring a session closes every socket of it with 4401.
* Shutting down closes every socket with 1012 so clients spread their reconnects.

Expiry is found by a sweep twice a second that compares in-memory deadlines (cheap floats)
and asks the session store only about sessions whose deadline has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

log = logging.getLogger("pychat.ws")

MAX_PER_SESSION = 5
SWEEP_EVERY = 0.5


@dataclass(eq=False, slots=True)
class Connection:
    ws: web.WebSocketResponse
    session_hash: bytes
    user_id: int
    user_name: str
    tab: str
    connected_at: float
    deadline: float  # when the session expires unless it slides (idle) first
    expires_at: float = 0.0  # the session's absolute expiry
    last_touch: float = 0.0  # when this socket last slid the session (coalesced writes)
    closing: bool = field(default=False)

    async def send(self, frame: str) -> bool:
        if self.closing or self.ws.closed:
            return False
        try:
            await self.ws.send_str(frame)
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason.encode())


class Hub:
    def __init__(
        self, session_alive: Callable[[bytes], float | None], clock: Callable[[], float]
    ) -> None:
        """``session_alive(hash)`` returns the session's current deadline, or ``None``."""
        self._sessions: dict[bytes, dict[str, Connection]] = {}
        self._session_alive = session_alive
        self._clock = clock
        self._sweeper: asyncio.Task | None = None

    # -------------------------------------------------------------- membership

    def register(self, conn: Connection) -> Connection | str | None:
        """Add ``conn``.  Returns the connection it replaces (to close with 4409), ``None``,
        or ``"full"`` when the session already has its maximum of sockets."""
        tabs = self._sessions.setdefault(conn.session_hash, {})
        replaced = tabs.get(conn.tab)
        if replaced is None and len(tabs) >= MAX_PER_SESSION:
            if not tabs:
                del self._sessions[conn.session_hash]
            return "full"
        tabs[conn.tab] = conn
        return replaced

    def unregister(self, conn: Connection) -> None:
        tabs = self._sessions.get(conn.session_hash)
        if tabs is not None and tabs.get(conn.tab) is conn:
            del tabs[conn.tab]
            if not tabs:
                del self._sessions[conn.session_hash]

    def current(self, session_hash: bytes, tab: str) -> Connection | None:
        return self._sessions.get(session_hash, {}).get(tab)

    def count(self, session_hash: bytes | None = None) -> int:
        if session_hash is not None:
            return len(self._sessions.get(session_hash, {}))
        return sum(len(tabs) for tabs in self._sessions.values())

    def touch(self, session_hash: bytes, deadline: float) -> None:
        for conn in self._sessions.get(session_hash, {}).values():
            conn.deadline = deadline

    # -------------------------------------------------------------- closing

    async def close_session(
        self, session_hash: bytes, code: int = 4401, reason: str = "signed out"
    ) -> int:
        conns = list(self._sessions.pop(session_hash, {}).values())
        await asyncio.gather(*(c.close(code, reason) for c in conns))
        return len(conns)

    async def close_all(self, code: int = 1012, reason: str = "server restart") -> None:
        conns = [c for tabs in self._sessions.values() for c in tabs.values()]
        self._sessions.clear()
        await asyncio.gather(*(c.close(code, reason) for c in conns))

    async def sweep(self) -> None:
        now = self._clock()
        for session_hash, tabs in list(self._sessions.items()):
            if not tabs or min(c.deadline for c in tabs.values()) > now:
                continue
            deadline = self._session_alive(session_hash)
            if deadline is None:
                await self.close_session(session_hash, 4401, "session expired")
            else:
                self.touch(session_hash, deadline)

    async def run_sweeper(self, app: web.Application):
        async def loop() -> None:
            while True:
                await asyncio.sleep(SWEEP_EVERY)
                try:
                    await self.sweep()
                except Exception:  # the sweeper must never die
                    log.exception("session sweep failed")

        self._sweeper = asyncio.create_task(loop())
        yield
        self._sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._sweeper
