"""Sessions: opaque random tokens whose SHA-256 is all the database ever sees.

A token is 256 random bits from :mod:`secrets`.  Sessions slide: each use pushes the idle
deadline forward (written at most once a minute), but never past the absolute expiry fixed at
sign-in.  A stolen database therefore yields no usable credential, and a stolen cookie dies at
the absolute expiry whatever its holder does.  This is the embedded implementation of
:class:`backend.storage.Sessions`; :mod:`backend.redis_storage` has the shared one.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

TOUCH_EVERY = 60.0  # seconds; coalesces last_seen writes


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


class SessionStore:
    def __init__(
        self,
        db: sqlite3.Connection,
        clock: Callable[[], float],
        idle_timeout: float,
        absolute_timeout: float,
    ) -> None:
        self._db = db
        self._clock = clock
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout

    def now(self) -> float:
        return self._clock()

    async def create(self, user_id: int, user_name: str) -> tuple[str, Session]:
        token = new_token()
        now = self._clock()
        expires_at = now + self.absolute_timeout
        self._db.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (token_hash(token), user_id, now, now, expires_at),
        )
        return token, self._lookup(token_hash(token), now)  # type: ignore[return-value]

    async def validate(self, token: str | None) -> Session | None:
        """The live session for ``token``, sliding its idle deadline; ``None`` if it is
        unknown, idle too long, past its absolute expiry or revoked."""
        if not token or len(token) > 128:
            return None
        return await self.validate_hash(token_hash(token))

    async def validate_hash(self, digest: bytes) -> Session | None:
        """Like :meth:`validate` for a session known by its hash (a live socket's)."""
        now = self._clock()
        session = self._lookup(digest, now)
        if (
            session is not None
            and now - (session.idle_expires_at - self.idle_timeout) >= TOUCH_EVERY
        ):
            self._db.execute(
                "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, digest)
            )
            session = self._lookup(digest, now)
        return session

    async def deadline(self, digest: bytes) -> float | None:
        """When the session ends if nobody uses it, or ``None`` if it already has (no touch)."""
        session = self._lookup(digest, self._clock())
        return None if session is None else session.idle_expires_at

    async def revoke(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        digest = token_hash(token)
        session = self._lookup(digest, self._clock())
        self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (digest,))
        return session

    async def purge_expired(self) -> int:
        now = self._clock()
        cursor = self._db.execute(
            "DELETE FROM sessions WHERE expires_at <= ? OR last_seen + ? <= ?",
            (now, self.idle_timeout, now),
        )
        return cursor.rowcount

    def _lookup(self, digest: bytes, now: float) -> Session | None:
        row = self._db.execute(
            "SELECT s.token_hash, s.user_id, u.name, s.expires_at, s.last_seen"
            " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        digest, user_id, name, expires_at, last_seen = row
        idle_expires_at = min(expires_at, last_seen + self.idle_timeout)
        if now >= expires_at or now >= idle_expires_at:
            return None
        return Session(digest, user_id, name, expires_at, idle_expires_at)
