"""User accounts: the rules for a new one and the argon2id hash, written once; the rows live
in either persistence (:class:`UserRows`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from backend.passwords import hash_password

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD = 256


class InvalidUser(ValueError):
    """The name or password does not meet the rules; the message says which and why."""


def check_new_user(name: str, password: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidUser(
            "user names are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidUser(f"passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters long")


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    password_hash: str


class UserRows(Protocol):
    async def insert(self, name: str, password_hash: str, created_at: float) -> int | None:
        """The new user's id, or ``None`` if the name is taken."""
        ...

    async def by_name(self, name: str) -> UserRecord | None: ...
    async def count(self) -> int: ...


class Users:
    def __init__(self, rows: UserRows, clock: Callable[[], float]) -> None:
        self._rows = rows
        self._clock = clock

    async def add(self, name: str, password: str) -> UserRecord:
        check_new_user(name, password)
        hashed = hash_password(password)
        user_id = await self._rows.insert(name, hashed, self._clock())
        if user_id is None:
            raise InvalidUser(f"a user called {name!r} already exists")
        return UserRecord(user_id, name, hashed)

    async def by_name(self, name: str) -> UserRecord | None:
        return await self._rows.by_name(name)

    async def count(self) -> int:
        return await self._rows.count()
