"""Chat history: every message a user wrote or received, in the database.

User messages are keyed by the client's id, so a message resent after a reconnect is stored
(and answered) once.  Assistant messages are stored when their run finishes, under the AG-UI
message id the client saw while they streamed, so history and live stream never double up.
A reply that was shown only in part (stopped, or its run failed) is stored as shown, with
``cut`` saying why (:data:`backend.run_wire.CUT_STOPPED`, :data:`~backend.run_wire.CUT_FAILED`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

SCHEMA = """
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
"""
# Databases made before replies could be cut gain the column on open.
CUT_COLUMN = "ALTER TABLE messages ADD COLUMN cut TEXT"


@dataclass(frozen=True)
class ChatMessage:
    id: str
    role: str
    text: str
    created_at: float
    cut: str | None = None

    def wire(self) -> dict:
        # Spelled out: dataclasses.asdict deep-copies every field, and a greeting sends up to
        # 100 of these (it was 40 % of a handshake's CPU in bench/server_load.py).
        wire = {"id": self.id, "role": self.role, "text": self.text, "created_at": self.created_at}
        if self.cut is not None:
            wire["cut"] = self.cut
        return wire


class HistoryStore:
    def __init__(self, db: sqlite3.Connection, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock
        db.executescript(SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
        if "cut" not in columns:
            db.execute(CUT_COLUMN)

    async def add(
        self, user_id: int, message_id: str, role: str, text: str, cut: str | None = None
    ) -> ChatMessage | None:
        """Store a message; ``None`` if this user already has one with that id."""
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
