"""User accounts: names and argon2id hashes in the users table (the embedded implementation
of :class:`backend.storage.Users`; :mod:`backend.redis_storage` has the shared one)."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from backend.passwords import hash_password

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD = 256


class InvalidUser(ValueError):
    """The name or password does not meet the rules; the message says which and why."""


def check_new_user(name: str, password: str) -> None:
    """The rules for a new account, the same for every storage."""
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


class UserStore:
    def __init__(self, db: sqlite3.Connection, clock) -> None:
        self._db = db
        self._clock = clock

    async def add(self, name: str, password: str) -> UserRecord:
        check_new_user(name, password)
        try:
            cursor = self._db.execute(
                "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)",
                (name, hash_password(password), self._clock()),
            )
        except sqlite3.IntegrityError:
            raise InvalidUser(f"a user called {name!r} already exists") from None
        return self._by_id(int(cursor.lastrowid))  # type: ignore[arg-type]

    async def by_name(self, name: str) -> UserRecord | None:
        row = self._db.execute(
            "SELECT id, name, password_hash FROM users WHERE name = ?", (name,)
        ).fetchone()
        return UserRecord(*row) if row else None

    def _by_id(self, user_id: int) -> UserRecord:
        row = self._db.execute(
            "SELECT id, name, password_hash FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        return UserRecord(*row)

    async def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM users").fetchone()[0])
