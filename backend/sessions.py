"""Sessions: the rules, written once; the rows live in either persistence.

A token is 256 random bits from :mod:`secrets`, and only its SHA-256 is ever stored, so a
stolen database yields no usable credential.  Sessions slide: each use pushes the idle
deadline forward (written at most once every :data:`TOUCH_EVERY` seconds), but never past the
absolute expiry fixed at sign-in, so a stolen cookie dies then whatever its holder does::

    >>> rules = Rules(idle_timeout=600, absolute_timeout=3600)
    >>> rules.live(b"h", SessionRow(1, "ada", 0.0, 0.0, 3600.0), now=599.0).idle_expires_at
    600.0
    >>> rules.live(b"h", SessionRow(1, "ada", 0.0, 0.0, 3600.0), now=600.0) is None
    True

The persistence (:class:`SessionRows`: SQLite in :mod:`backend.sqlite_storage`, Redis in
:mod:`backend.redis_storage`) only stores and finds rows; it decides nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

TOUCH_EVERY = 60.0  # seconds; coalesces last_seen writes
MAX_TOKEN = 128  # characters; anything longer is not one of ours and is not even hashed


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class Session:
    token_hash: bytes
    user_id: int
    user_name: str
    expires_at: float  # absolute
    idle_expires_at: float


@dataclass(frozen=True)
class SessionRow:
    """What is stored per session, under the token's hash."""

    user_id: int
    user_name: str
    created_at: float
    last_seen: float
    expires_at: float  # absolute


class SessionRows(Protocol):
    """Persistence.  ``keep_for`` is how long the row matters (a store that can expire keys
    uses it; the rules still check every row they read)."""

    async def insert(self, digest: bytes, row: SessionRow, keep_for: float) -> None: ...
    async def get(self, digest: bytes) -> SessionRow | None: ...
    async def touch(self, digest: bytes, last_seen: float, keep_for: float) -> None: ...
    async def delete(self, digest: bytes) -> None: ...
    async def delete_user(self, user_id: int) -> list[bytes]:
        """Delete every session of the user at once (a sign-in racing it is either deleted
        too or starts after it); the hashes of those deleted."""
        ...

    async def delete_idle_or_expired(self, now: float, idle_timeout: float) -> int: ...


@dataclass(frozen=True)
class Rules:
    idle_timeout: float
    absolute_timeout: float

    def idle_deadline(self, row: SessionRow) -> float:
        return min(row.expires_at, row.last_seen + self.idle_timeout)

    def live(self, digest: bytes, row: SessionRow | None, now: float) -> Session | None:
        """The session, or ``None`` once it is idle too long or past its absolute expiry."""
        if row is None:
            return None
        idle_expires_at = self.idle_deadline(row)
        if now >= row.expires_at or now >= idle_expires_at:
            return None
        return Session(digest, row.user_id, row.user_name, row.expires_at, idle_expires_at)

    def keep_for(self, row: SessionRow, now: float) -> float:
        return self.idle_deadline(row) - now


def acceptable(token: str | None) -> bool:
    return bool(token) and len(token) <= MAX_TOKEN  # type: ignore[arg-type]


class Sessions:
    def __init__(
        self,
        rows: SessionRows,
        clock: Callable[[], float],
        idle_timeout: float,
        absolute_timeout: float,
    ) -> None:
        self._rows = rows
        self._clock = clock
        self.rules = Rules(idle_timeout, absolute_timeout)

    async def create(self, user_id: int, user_name: str) -> tuple[str, Session]:
        token = new_token()
        digest = token_hash(token)
        now = self._clock()
        row = SessionRow(user_id, user_name, now, now, now + self.rules.absolute_timeout)
        await self._rows.insert(digest, row, self.rules.keep_for(row, now))
        session = self.rules.live(digest, row, now)
        assert session is not None  # a new session is live for its whole idle timeout
        return token, session

    async def validate(self, token: str | None) -> Session | None:
        """The live session for ``token``, sliding its idle deadline; ``None`` if it is
        unknown, idle too long, past its absolute expiry or revoked."""
        if not acceptable(token):
            return None
        return await self.validate_hash(token_hash(token))  # type: ignore[arg-type]

    async def validate_hash(self, digest: bytes) -> Session | None:
        """Like :meth:`validate` for a session known by its hash (a live socket's)."""
        now = self._clock()
        row = await self._rows.get(digest)
        session = self.rules.live(digest, row, now)
        if session is not None and row is not None and now - row.last_seen >= TOUCH_EVERY:
            row = replace(row, last_seen=now)
            await self._rows.touch(digest, now, self.rules.keep_for(row, now))
            session = self.rules.live(digest, row, now)
        return session

    async def deadline(self, digest: bytes) -> float | None:
        """When the session ends if nobody uses it, or ``None`` if it already has (no touch)."""
        session = self.rules.live(digest, await self._rows.get(digest), self._clock())
        return None if session is None else session.idle_expires_at

    async def revoke(self, token: str | None) -> Session | None:
        if not acceptable(token):
            return None
        digest = token_hash(token)  # type: ignore[arg-type]
        session = self.rules.live(digest, await self._rows.get(digest), self._clock())
        await self._rows.delete(digest)
        return session

    async def revoke_all(self, user_id: int) -> list[bytes]:
        """End every session of the user ("sign out everywhere"); the hashes of those ended,
        whose sockets the caller closes."""
        return await self._rows.delete_user(user_id)

    async def purge_expired(self) -> int:
        return await self._rows.delete_idle_or_expired(self._clock(), self.rules.idle_timeout)
