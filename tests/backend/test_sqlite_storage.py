"""The embedded persistence's own concerns (the behaviour both storages share is in
test_storage_contract.py)."""

from __future__ import annotations

import sqlite3

from backend.sqlite_storage import SqliteHistory, connect


async def test_a_database_from_before_cut_replies_gains_the_column(tmp_path, clock):
    old = sqlite3.connect(tmp_path / "old.db")
    old.executescript(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
        " password_hash TEXT NOT NULL, created_at REAL NOT NULL);"
        "INSERT INTO users VALUES (1, 'ada', 'x', 0);"
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,"
        " id TEXT NOT NULL, role TEXT NOT NULL, text TEXT NOT NULL, created_at REAL NOT NULL,"
        " UNIQUE (user_id, id));"
        "INSERT INTO messages (user_id, id, role, text, created_at)"
        " VALUES (1, 'm1', 'user', 'hi', 1);"
    )
    old.close()
    store = SqliteHistory(connect(tmp_path / "old.db"), clock)
    await store.add(1, "a1", "assistant", "half", cut="failed")
    assert [(m.id, m.cut) for m in await store.recent(1)] == [("m1", None), ("a1", "failed")]
