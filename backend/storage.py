"""Everything the server keeps, behind small interfaces with two implementations.

* embedded (the default): SQLite for users, sessions and history, memory for throttling, and
  in-process signals and socket presence: one process, nothing else to run;
* shared (``--redis-url``): all of it in Redis (:mod:`backend.redis_storage`), so several
  replicas behind a proxy act as one server: a session, a revocation, a throttle counter, the
  history and the "one socket per tab, five per session" rule hold whichever replica answers.

Handlers only see :class:`Storage`.  A storage that cannot be reached raises
:class:`StorageUnavailable`; the HTTP layer answers 503 and the socket closes with 1013, so a
client retries later and nothing is half-done (fail closed).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from backend.history import ChatMessage, HistoryStore
from backend.sessions import Session, SessionStore
from backend.throttle import LoginThrottle
from backend.users import UserRecord, UserStore

log = logging.getLogger("pychat.storage")


class StorageUnavailable(Exception):
    """The storage did not answer (Redis down, timed out): refuse, never guess."""


# ------------------------------------------------------------------------------ interfaces


class Users(Protocol):
    async def add(self, name: str, password: str) -> UserRecord: ...
    async def by_name(self, name: str) -> UserRecord | None: ...
    async def count(self) -> int: ...


class Sessions(Protocol):
    idle_timeout: float
    absolute_timeout: float

    def now(self) -> float: ...
    async def create(self, user_id: int, user_name: str) -> tuple[str, Session]: ...
    async def validate(self, token: str | None) -> Session | None: ...
    async def validate_hash(self, digest: bytes) -> Session | None: ...
    async def deadline(self, digest: bytes) -> float | None: ...
    async def revoke(self, token: str | None) -> Session | None: ...
    async def purge_expired(self) -> int: ...


class Throttle(Protocol):
    async def check(self, account: str, address: str) -> int | None: ...
    async def record(self, account: str, address: str, success: bool) -> None: ...


class History(Protocol):
    async def add(
        self, user_id: int, message_id: str, role: str, text: str, cut: str | None = None
    ) -> ChatMessage | None: ...
    async def recent(self, user_id: int, limit: int = 100) -> list[ChatMessage]: ...


# -------------------------------------------------------------- signals between replicas


@dataclass(frozen=True)
class SessionClosed:
    """Close every socket of this session, wherever it is (sign-out, revocation)."""

    session: bytes
    code: int
    reason: str


@dataclass(frozen=True)
class TabClaimed:
    """The tab's socket is now ``owner``; any other socket of that tab is replaced (4409)."""

    session: bytes
    tab: str
    owner: str


Signal = SessionClosed | TabClaimed
Handler = Callable[[Signal], Awaitable[None]]


class Signals(Protocol):
    async def publish(self, signal: Signal) -> None: ...
    def subscribe(self, handler: Handler) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Claim(StrEnum):
    OK = "ok"  # the tab had no socket
    REPLACED = "replaced"  # the tab had one; it must close with 4409
    FULL = "full"  # the session already has its maximum of sockets: refuse with 4429


class Presence(Protocol):
    """Which sockets exist, per session and tab, across every replica."""

    async def claim(self, session: bytes, tab: str, owner: str, limit: int) -> Claim: ...
    async def release(self, session: bytes, tab: str, owner: str) -> None: ...
    async def refresh(self, held: list[tuple[bytes, str, str]]) -> None: ...


@dataclass
class Storage:
    users: Users
    sessions: Sessions
    throttle: Throttle
    history: History
    presence: Presence
    signals: Signals
    close: Callable[[], Awaitable[None]]
    health: Callable[[], Awaitable[bool]]
    kind: str = "embedded"


# ------------------------------------------------------------------ embedded implementation


class LocalSignals:
    """In-process signals: delivered at once to this process's handlers."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    async def publish(self, signal: Signal) -> None:
        for handler in list(self._handlers):
            await handler(signal)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class LocalPresence:
    """Socket presence of one process: a dict of sessions to their tabs' owners."""

    def __init__(self) -> None:
        self._tabs: dict[bytes, dict[str, str]] = {}

    async def claim(self, session: bytes, tab: str, owner: str, limit: int) -> Claim:
        tabs = self._tabs.setdefault(session, {})
        if tab in tabs:
            tabs[tab] = owner
            return Claim.REPLACED
        if len(tabs) >= limit:
            if not tabs:
                del self._tabs[session]
            return Claim.FULL
        tabs[tab] = owner
        return Claim.OK

    async def release(self, session: bytes, tab: str, owner: str) -> None:
        tabs = self._tabs.get(session)
        if tabs is not None and tabs.get(tab) == owner:
            del tabs[tab]
            if not tabs:
                del self._tabs[session]

    async def refresh(self, held: list[tuple[bytes, str, str]]) -> None:
        return None  # nothing can go stale inside one process


def embedded(db: sqlite3.Connection, settings) -> Storage:
    async def close() -> None:
        return None  # the app closes the database itself (it may be shared with tests)

    async def health() -> bool:
        db.execute("SELECT 1").fetchone()
        return True

    return Storage(
        users=UserStore(db, settings.clock),
        sessions=SessionStore(db, settings.clock, settings.idle_timeout, settings.absolute_timeout),
        throttle=LoginThrottle(settings, settings.clock),
        history=HistoryStore(db, settings.clock),
        presence=LocalPresence(),
        signals=LocalSignals(),
        close=close,
        health=health,
    )
