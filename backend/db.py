"""The embedded database: one SQLite file, schema created on open.

SQLite calls here are synchronous and short (indexed single-row reads and writes on a local
file in WAL mode, tens of microseconds), so they run on the event loop thread instead of paying
for a thread hop per query.  The stores in :mod:`backend.users` and :mod:`backend.sessions`
are the only code that issues SQL.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions(expires_at);
"""


def connect(path: Path | str) -> sqlite3.Connection:
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=5000")
    connection.executescript(SCHEMA)
    return connection


class Checkpointer:
    """Moves WAL checkpoints off the event loop.

    SQLite checkpoints automatically on the commit that fills the WAL, on the committing
    thread, with an fsync: a stall of tens to hundreds of milliseconds for every socket the
    loop serves (measured by bench/server_load.py as p99 spikes).  The serving connection turns
    that off (``wal_autocheckpoint=0``) and this thread checkpoints every ``every`` seconds
    with its own connection; a PASSIVE checkpoint never blocks the writer.
    """

    def __init__(self, path: Path | str, serving: sqlite3.Connection, every: float = 1.0) -> None:
        self.path = str(path)
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.path != ":memory:":
            serving.execute("PRAGMA wal_autocheckpoint=0")

    def start(self) -> None:
        if self.path == ":memory:" or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None)
        connection.execute("PRAGMA busy_timeout=5000")
        try:
            while not self._stop.wait(self.every):
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
