"""The embedded persistence (``sqlite:///path``): users, sessions and history in one SQLite
file, the rest in memory (:mod:`backend.local`).  The only code that issues SQL.

SQLite calls here are synchronous and short (indexed single-row reads and writes on a local
file in WAL mode, tens of microseconds), so they run on the event loop thread instead of paying
for a thread hop per query.  The rules (expiry, sliding, duplicates) are not here: see
:mod:`backend.storage`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from backend.history import ChatMessage
from backend.local import LocalPresence, LocalRunBoard, LocalSignals, MemoryHits
from backend.sessions import SessionRow
from backend.users import UserRecord

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
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    created_at REAL NOT NULL,
    cut TEXT,
    UNIQUE (user_id, id)
);
-- recent() reads the newest rows of one user: without this it sorts all of them.
CREATE INDEX IF NOT EXISTS messages_by_user ON messages (user_id, seq);
-- "Sign out everywhere" deletes the sessions of one user.
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
-- Server-side keys made once and kept (the device cookies' signing key).
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
"""
# Databases made before replies could be cut gain the column on open.
CUT_COLUMN = "ALTER TABLE messages ADD COLUMN cut TEXT"


def connect(path: Path | str) -> sqlite3.Connection:
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=5000")
    connection.executescript(SCHEMA)
    columns = {row[1] for row in connection.execute("PRAGMA table_info(messages)")}
    if "cut" not in columns:
        connection.execute(CUT_COLUMN)
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


class SqliteUsers:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def insert(self, name: str, password_hash: str, created_at: float) -> int | None:
        try:
            cursor = self._db.execute(
                "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)",
                (name, password_hash, created_at),
            )
        except sqlite3.IntegrityError:
            return None
        return int(cursor.lastrowid)  # type: ignore[arg-type]

    async def by_name(self, name: str) -> UserRecord | None:
        row = self._db.execute(
            "SELECT id, name, password_hash FROM users WHERE name = ?", (name,)
        ).fetchone()
        return UserRecord(*row) if row else None

    async def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM users").fetchone()[0])


class SqliteSessions:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def insert(self, digest: bytes, row: SessionRow, keep_for: float) -> None:
        self._db.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (digest, row.user_id, row.created_at, row.last_seen, row.expires_at),
        )

    async def get(self, digest: bytes) -> SessionRow | None:
        row = self._db.execute(
            "SELECT s.user_id, u.name, s.created_at, s.last_seen, s.expires_at"
            " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
            (digest,),
        ).fetchone()
        return SessionRow(*row) if row else None

    async def touch(self, digest: bytes, last_seen: float, keep_for: float) -> None:
        self._db.execute(
            "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (last_seen, digest)
        )

    async def delete(self, digest: bytes) -> None:
        self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (digest,))

    async def delete_user(self, user_id: int) -> list[bytes]:
        rows = self._db.execute(
            "DELETE FROM sessions WHERE user_id = ? RETURNING token_hash", (user_id,)
        ).fetchall()
        return [row[0] for row in rows]

    async def delete_idle_or_expired(self, now: float, idle_timeout: float) -> int:
        cursor = self._db.execute(
            "DELETE FROM sessions WHERE expires_at <= ? OR last_seen + ? <= ?",
            (now, idle_timeout, now),
        )
        return cursor.rowcount


class SqliteHistory:
    """User messages are keyed by the client's id, so a message resent after a reconnect is
    stored (and answered) once.  Assistant messages are stored under the AG-UI message id the
    client saw while they streamed, so history and live stream never double up."""

    def __init__(self, db: sqlite3.Connection, clock) -> None:
        self._db = db
        self._clock = clock

    async def add(
        self, user_id: int, message_id: str, role: str, text: str, cut: str | None = None
    ) -> ChatMessage | None:
        now = self._clock()
        try:
            self._db.execute(
                "INSERT INTO messages (user_id, id, role, text, created_at, cut)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, message_id, role, text, now, cut),
            )
        except sqlite3.IntegrityError:
            return None
        return ChatMessage(message_id, role, text, now, cut)

    async def recent(self, user_id: int, limit: int = 100) -> list[ChatMessage]:
        rows = self._db.execute(
            "SELECT id, role, text, created_at, cut FROM messages WHERE user_id = ?"
            " ORDER BY seq DESC LIMIT ?",
            (user_id, limit),
        ).fetchall()
        return [ChatMessage(*row) for row in reversed(rows)]


class SqlitePersistence:
    """Owns the database connection and its checkpoint thread."""

    def __init__(self, path: Path | str, clock) -> None:
        self.path = path
        self.db = connect(path)
        self.users = SqliteUsers(self.db)
        self.sessions = SqliteSessions(self.db)
        self.history = SqliteHistory(self.db, clock)
        self.hits = MemoryHits()
        self.presence = LocalPresence()
        self.signals = LocalSignals()
        self.runs = LocalRunBoard()
        self._checkpointer = Checkpointer(path, self.db)

    async def start(self) -> None:
        self._checkpointer.start()

    async def close(self) -> None:
        await asyncio.to_thread(self._checkpointer.stop)
        self.db.close()

    async def secret(self, name: str, new: bytes) -> bytes:
        self.db.execute("INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", (name, new))
        row = self.db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return bytes(row[0])

    async def health(self) -> bool:
        self.db.execute("SELECT 1").fetchone()
        return True
