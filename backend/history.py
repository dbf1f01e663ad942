"""Chat history: every message a user wrote or received (stored by either persistence).

User messages are keyed by the client's id, so a message resent after a reconnect is stored
(and answered) once.  Assistant messages are stored when their run finishes, under the AG-UI
message id the client saw while they streamed, so history and live stream never double up.
A reply that was shown only in part (stopped, or its run failed) is stored as shown, with
``cut`` saying why (:data:`app.wire.agent_runs.CUT_STOPPED`,
:data:`~app.wire.agent_runs.CUT_FAILED`).
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
    cut: str | None = None

    def wire(self) -> dict:
        # Spelled out: dataclasses.asdict deep-copies every field, and a greeting sends up to
        # 100 of these (bench/server_load.py's handshakes measure it).
        wire = {"id": self.id, "role": self.role, "text": self.text, "created_at": self.created_at}
        if self.cut is not None:
            wire["cut"] = self.cut
        return wire


class History(Protocol):
    async def add(
        self, user_id: int, message_id: str, role: str, text: str, cut: str | None = None
    ) -> ChatMessage | None:
        """Store a message; ``None`` if this user already has one with that id."""
        ...

    async def recent(self, user_id: int, limit: int = 100) -> list[ChatMessage]:
        """The newest ``limit`` messages of the user, oldest first."""
        ...
