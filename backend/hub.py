"""Live sockets, grouped by session and slot: the server half of "one socket per session".

A socket's slot is :data:`SESSION_SLOT` (the session's one socket, which the user's tabs
share) or, in per-tab mode (the fallback of browsers whose tabs cannot share), its tab id.

* A new socket in a slot that already has one replaces it (the old one is closed with 4409).
* A session holds at most :data:`MAX_PER_SESSION` sockets; the next is refused with 4429.
* Signing out, revoking or expiring a session closes every socket of it with 4401.
* Shutting down closes every socket with 1012 so clients spread their reconnects.

The rules hold across replicas: who holds which tab is kept in the storage's
:class:`~backend.storage.Presence`, and closes that concern sockets on other replicas travel
as :class:`~backend.storage.Signals` (in-process when embedded, Redis pub/sub when shared).
Expiry is found by a sweep twice a second that compares in-memory deadlines (cheap floats)
and asks the session store only about sessions whose deadline has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from app.wire.close_codes import REPLACED, SERVICE_RESTART, UNAUTHORIZED
from app.wire.limits import SOCKETS_PER_SESSION
from backend.storage import (
    Claim,
    Presence,
    SessionClosed,
    Signal,
    Signals,
    StorageUnavailable,
    TabClaimed,
)

log = logging.getLogger("pychat.ws")

MAX_PER_SESSION = SOCKETS_PER_SESSION
SESSION_SLOT = "*"  # the session's one socket: no tab id can look like this
SWEEP_EVERY = 0.5
REFRESH_EVERY = 10.0  # seconds between presence refreshes (shared storage forgets after 30)


@dataclass(eq=False, slots=True)
class Connection:
    ws: web.WebSocketResponse
    session_hash: bytes
    user_id: int
    user_name: str
    tab: str  # the slot: a tab id, or SESSION_SLOT
    connected_at: float
    deadline: float  # when the session expires unless it slides (idle) first
    expires_at: float = 0.0  # the session's absolute expiry
    last_touch: float = 0.0  # when this socket last slid the session (coalesced writes)
    owner: str = ""  # unique across replicas: "<replica>:<random>"
    closing: bool = field(default=False)
    closed_with: int | None = None  # the code we closed it with (None: the client closed it)

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
        self.closing, self.closed_with = True, code
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason.encode())


class Hub:
    def __init__(
        self,
        session_alive: Callable[[bytes], Awaitable[float | None]],
        clock: Callable[[], float],
        presence: Presence,
        signals: Signals,
        replica: str | None = None,
    ) -> None:
        """``session_alive(hash)`` is awaited for the session's current deadline, or ``None``."""
        self._sessions: dict[bytes, dict[str, Connection]] = {}
        self._session_alive = session_alive
        self._clock = clock
        self._presence = presence
        self._signals = signals
        self.replica = replica or uuid.uuid4().hex[:12]
        # Told of every session whose sockets close here (sign-out, revocation, expiry), even
        # one with no socket here: what else the session owns ends with it (agent runs).
        self.session_listeners: list[Callable[[bytes], object]] = []
        # Awaited for every socket this replica registers, before it is greeted: what the
        # socket must hear first (the turns its user's runs are answering).
        self.join_listeners: list[Callable[[Connection], Awaitable[None]]] = []
        self._sweeper: asyncio.Task | None = None
        signals.subscribe(self._on_signal)

    def new_owner(self) -> str:
        return f"{self.replica}:{uuid.uuid4().hex}"

    # -------------------------------------------------------------- membership

    async def register(self, conn: Connection) -> Claim:
        """Add ``conn``; :attr:`Claim.FULL` (and nothing added) when its session already has
        its maximum of sockets.  A socket it replaces (:attr:`Claim.REPLACED`), here or on
        another replica, is closed with 4409.  Then :attr:`join_listeners` are awaited."""
        claim = await self._presence.claim(conn.session_hash, conn.tab, conn.owner, MAX_PER_SESSION)
        if claim is Claim.FULL:
            return claim
        tabs = self._sessions.setdefault(conn.session_hash, {})
        replaced = tabs.get(conn.tab)
        tabs[conn.tab] = conn
        if replaced is not None and replaced is not conn:
            await replaced.close(REPLACED, "replaced by a newer connection")
        if claim is Claim.REPLACED:
            await self._signals.publish(TabClaimed(conn.session_hash, conn.tab, conn.owner))
        for listener in self.join_listeners:
            await listener(conn)
        return claim

    async def unregister(self, conn: Connection) -> None:
        tabs = self._sessions.get(conn.session_hash)
        if tabs is not None and tabs.get(conn.tab) is conn:
            del tabs[conn.tab]
            if not tabs:
                del self._sessions[conn.session_hash]
        with contextlib.suppress(StorageUnavailable):  # shared presence forgets it in 30 s
            await self._presence.release(conn.session_hash, conn.tab, conn.owner)

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

    async def end_session(
        self, session_hash: bytes, code: int = UNAUTHORIZED, reason: str = "signed out"
    ) -> int:
        """Close every socket of the session on every replica; returns how many were here."""
        closed = await self.close_session(session_hash, code, reason)
        await self._signals.publish(SessionClosed(session_hash, code, reason))
        return closed

    async def close_session(
        self, session_hash: bytes, code: int = UNAUTHORIZED, reason: str = "signed out"
    ) -> int:
        """Close this replica's sockets of the session."""
        for listener in self.session_listeners:
            listener(session_hash)
        conns = list(self._sessions.pop(session_hash, {}).values())
        await asyncio.gather(*(c.close(code, reason) for c in conns))
        return len(conns)

    async def close_all(self, code: int = SERVICE_RESTART, reason: str = "server restart") -> None:
        conns = [c for tabs in self._sessions.values() for c in tabs.values()]
        self._sessions.clear()
        await asyncio.gather(*(c.close(code, reason) for c in conns))

    async def _on_signal(self, signal: Signal) -> None:
        match signal:
            case SessionClosed(session=session, code=code, reason=reason):
                await self.close_session(session, code, reason)
            case TabClaimed(session=session, tab=tab, owner=owner):
                conn = self.current(session, tab)
                if conn is not None and conn.owner != owner:
                    del self._sessions[session][tab]
                    if not self._sessions[session]:
                        del self._sessions[session]
                    await conn.close(REPLACED, "replaced by a newer connection")

    async def sweep(self) -> None:
        now = self._clock()
        for session_hash, tabs in list(self._sessions.items()):
            if not tabs or min(c.deadline for c in tabs.values()) > now:
                continue
            try:
                deadline = await self._session_alive(session_hash)
            except StorageUnavailable:
                return  # unknown is not expired: look again on the next sweep
            if deadline is None:
                await self.close_session(session_hash, UNAUTHORIZED, "session expired")
            else:
                self.touch(session_hash, deadline)

    async def refresh(self) -> None:
        held = [
            (conn.session_hash, conn.tab, conn.owner)
            for tabs in self._sessions.values()
            for conn in tabs.values()
        ]
        await self._presence.refresh(held)

    async def run_sweeper(self, app: web.Application):
        async def loop() -> None:
            sweeps_per_refresh = int(REFRESH_EVERY / SWEEP_EVERY)
            count = 0
            while True:
                await asyncio.sleep(SWEEP_EVERY)
                count += 1
                try:
                    await self.sweep()
                    if count % sweeps_per_refresh == 0:
                        await self.refresh()
                except StorageUnavailable:
                    pass  # the storage is back soon; sockets stay as they are meanwhile
                except Exception:  # the sweeper must never die
                    log.exception("session sweep failed")

        self._sweeper = asyncio.create_task(loop())
        yield
        self._sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._sweeper
