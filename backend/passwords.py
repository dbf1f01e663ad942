"""Password hashing with argon2id, off the event loop and with a cap on concurrency.

Each hash takes 19 MiB and tens of milliseconds of CPU, so a burst of logins must neither block
the loop nor run unbounded in parallel: at most ``max_concurrent`` hashes run (in threads),
at most ``max_waiting`` wait, and anyone beyond that is told to come back (:class:`Busy`).
Unknown users are checked against a dummy hash so both failures cost the same time.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's argon2id minimum: m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


class Busy(Exception):
    """Too many password checks are already queued."""


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class PasswordChecker:
    def __init__(self, max_concurrent: int, max_waiting: int) -> None:
        self._slots = asyncio.Semaphore(max_concurrent)
        self._max_pending = max_concurrent + max_waiting
        self._pending = 0
        self._dummy: str | None = None

    async def verify(self, stored: str | None, password: str) -> bool:
        """True only if ``stored`` is set and matches; costs one hash either way."""
        if self._pending >= self._max_pending:
            raise Busy
        self._pending += 1
        try:
            async with self._slots:
                if stored is None:
                    if self._dummy is None:
                        self._dummy = await asyncio.to_thread(
                            hash_password, secrets.token_urlsafe(16)
                        )
                    await asyncio.to_thread(_verify, self._dummy, password)
                    return False
                return await asyncio.to_thread(_verify, stored, password)
        finally:
            self._pending -= 1
