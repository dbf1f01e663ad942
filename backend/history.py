"""Chat history: every message a user wrote or received (stored by either persistence).

User messages are keyed by the client's id, so a message resent after a reconnect is stored
(and answered) once.  Assistant messages are stored when their run finishes, under the AG-UI
message id the client saw while they streamed, so history and live stream never double up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ChatMessage:
    id: str
    role: str
    text: str
    created_at: float

    def wire(self) -> dict:
        # Spelled out: dataclasses.asdict deep-copies every field, and a greeting sends up to
        # 100 of these (bench/server_load.py's handshakes measure it).
        return {"id": self.id, "role": self.role, "text": self.text, "created_at": self.created_at}


class History(Protocol):
    async def add(self, user_id: int, message_id: str, role: str, text: str) -> ChatMessage | None:
        """Store a message; ``None`` if this user already has one with that id."""
        ...

    async def recent(self, user_id: int, limit: int = 100) -> list[ChatMessage]:
        """The newest ``limit`` messages of the user, oldest first."""
        ...
