"""What the server keeps: the policy objects handlers use, over a persistence they do not see.

The rules (sliding expiry, token checks, throttle windows, account rules) are written once, in
:mod:`backend.sessions`, :mod:`backend.throttle` and :mod:`backend.users`.  A
:class:`Persistence` only stores and finds; it owns its resources (a database file and its
checkpoint thread, a Redis client and its subscriber) and is chosen by URL
(:func:`backend.storage_url.open_storage`):

* ``sqlite:///path``: :mod:`backend.sqlite_storage`, one process, nothing else to run;
* ``redis://…``: :mod:`backend.redis_storage`, so several replicas behind a proxy act as one
  server (a session, a revocation, a throttle counter, the history and the "one socket per
  session, or per tab in per-tab mode, five at most" rule hold whichever replica answers).

A persistence that cannot be reached raises :class:`StorageUnavailable`; the HTTP layer
answers 503 and the socket closes with 1013, so a client retries later and nothing is
half-done (fail closed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from backend.history import History
from backend.sessions import SessionRows, Sessions
from backend.throttle import Devices, HitLog, LoginThrottle
from backend.users import UserRows, Users


class StorageUnavailable(Exception):
    """The storage did not answer (Redis down, timed out): refuse, never guess."""


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


@dataclass(frozen=True)
class RunAsked:
    """To replica ``replica``, which runs the answer to ``reply_to``: ``action`` it for the
    socket of ``session``/``tab`` on replica ``asker``.  ``"watch"``: send that socket the
    text so far and the rest of the run; ``"stop"``: stop the run (its Stop button)."""

    replica: str
    user_id: int
    reply_to: str
    action: str  # "watch" or "stop"
    session: bytes
    tab: str
    asker: str


@dataclass(frozen=True)
class RunRelayed:
    """To replica ``replica``: ``frame`` of the run answering ``reply_to`` on another replica,
    for its socket of ``session``/``tab`` (``last``: the frame that ends the run).  ``frame``
    ``None``: that replica does not know the run (not even as one that ended just now)."""

    replica: str
    session: bytes
    tab: str
    reply_to: str
    frame: str | None
    last: bool = False


Signal = SessionClosed | TabClaimed | RunAsked | RunRelayed
Handler = Callable[[Signal], Awaitable[None]]


class Signals(Protocol):
    async def publish(self, signal: Signal) -> None: ...
    def subscribe(self, handler: Handler) -> None: ...


class Claim(StrEnum):
    OK = "ok"  # the tab had no socket
    REPLACED = "replaced"  # the tab had one; it must close with 4409
    FULL = "full"  # the session already has its maximum of sockets: refuse with 4429


class Presence(Protocol):
    """Which sockets exist, per session and tab, across every replica."""

    async def claim(self, session: bytes, tab: str, owner: str, limit: int) -> Claim: ...
    async def release(self, session: bytes, tab: str, owner: str) -> None: ...
    async def refresh(self, held: list[tuple[bytes, str, str]]) -> None: ...


@dataclass(frozen=True)
class OpenRun:
    """An agent run open on some replica: answering ``reply_to``, waiting or streaming."""

    reply_to: str
    run_id: str
    replica: str
    opened_at: float


class RunBoard(Protocol):
    """The agent runs open per user, across every replica, so a socket that joins on one
    replica hears of a run another is streaming.  A replica refreshes its entries every 2 s; a
    shared board forgets an entry not refreshed for 10 s (a replica that died)."""

    async def open(self, user_id: int, run: OpenRun) -> None: ...
    async def close(self, user_id: int, run: OpenRun) -> None: ...
    async def refresh(self, held: list[tuple[int, OpenRun]]) -> None: ...
    async def listed(self, user_id: int) -> list[OpenRun]:
        """The user's open runs, oldest first."""
        ...


class Persistence(Protocol):
    users: UserRows
    sessions: SessionRows
    hits: HitLog
    history: History
    presence: Presence
    signals: Signals
    runs: RunBoard

    async def start(self) -> None:
        """Once serving starts (background work: checkpoints, the signal subscriber)."""
        ...

    async def close(self) -> None: ...
    async def health(self) -> bool: ...
    async def secret(self, name: str, new: bytes) -> bytes:
        """The server-side key called ``name``, made ``new`` if there is none yet (the same
        for every replica, kept across restarts)."""
        ...


class Storage:
    """The eight things handlers use, and the persistence's life cycle."""

    def __init__(self, persistence: Persistence, settings) -> None:
        clock = settings.clock
        self.persistence = persistence
        self.users = Users(persistence.users, clock)
        self.sessions = Sessions(
            persistence.sessions, clock, settings.idle_timeout, settings.absolute_timeout
        )
        self.throttle = LoginThrottle(persistence.hits, settings, clock)
        self.devices = Devices(persistence.secret, clock)
        self.history = persistence.history
        self.presence = persistence.presence
        self.signals = persistence.signals
        self.runs = persistence.runs

    async def start(self) -> None:
        await self.persistence.start()

    async def close(self) -> None:
        await self.persistence.close()

    async def health(self) -> bool:
        return await self.persistence.health()
