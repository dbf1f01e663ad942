"""The conversation as the page shows it, and the outbox inside it.

One ordered list of messages, each with a status.  What the user typed is ``pending`` until the
server acknowledges its id (``sent``), or ``failed`` when the server refuses it; pending
messages are exactly the outbox, resent in order after every reconnect (the server de-duplicates
by id).  History from the server is merged by id, so nothing appears twice and nothing local is
lost::

    >>> c = Conversation()
    >>> c.send("m1", "hello")
    <Accepted.OK: 'ok'>
    >>> c.apply(Ack("m1")), [(m.id, m.status) for m in c.messages]
    ('m1', [('m1', 'sent')])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.chat.protocol import (
    MAX_TEXT,
    Ack,
    History,
    RunError,
    ServerError,
    ServerFrame,
    TextContent,
    TextEnd,
    TextStart,
)

ALL = "*"  # apply() result: everything may have changed
MAX_QUEUED = 100
MAX_QUEUED_BYTES = 256 * 1024


class Accepted(StrEnum):
    OK = "ok"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    QUEUE_FULL = "queue_full"


@dataclass
class Message:
    id: str
    role: str  # "user" | "assistant"
    text: str
    status: str  # user: pending/sent/failed; assistant: streaming/done/failed
    error: str | None = None


@dataclass
class Conversation:
    messages: list[Message] = field(default_factory=list)

    def find(self, message_id: str) -> Message | None:
        for message in self.messages:
            if message.id == message_id:
                return message
        return None

    def pending(self) -> list[Message]:
        """The outbox: what must (still) go out, in the order it was typed."""
        return [m for m in self.messages if m.role == "user" and m.status == "pending"]

    def send(self, message_id: str, text: str) -> Accepted:
        if not text.strip():
            return Accepted.EMPTY
        if len(text) > MAX_TEXT:
            return Accepted.TOO_LONG
        queued = self.pending()
        size = sum(len(m.text.encode("utf-8")) for m in queued) + len(text.encode("utf-8"))
        if len(queued) >= MAX_QUEUED or size > MAX_QUEUED_BYTES:
            return Accepted.QUEUE_FULL
        self.messages.append(Message(message_id, "user", text, "pending"))
        return Accepted.OK

    def retry(self, message_id: str) -> bool:
        message = self.find(message_id)
        if message is None or message.status != "failed" or message.role != "user":
            return False
        message.status, message.error = "pending", None
        return True

    def clear(self) -> None:
        self.messages.clear()

    def apply(self, frame: ServerFrame) -> str | None:
        """Fold one server frame in.  Returns the id of the message that changed, :data:`ALL`
        when the whole list may have, or ``None`` when nothing visible changed."""
        match frame:
            case History(messages=items):
                self._merge_history(items)
                return ALL
            case Ack(id=mid):
                message = self.find(mid)
                if message is not None and message.status != "sent":
                    message.status, message.error = "sent", None
                    return mid
            case ServerError(id=str() as mid, message=text):
                message = self.find(mid)
                if message is not None and message.role == "user":
                    message.status, message.error = "failed", text or "Not sent."
                    return mid
            case TextStart(message_id=mid):
                if self.find(mid) is None:
                    self.messages.append(Message(mid, "assistant", "", "streaming"))
                    return mid
            case TextContent(message_id=mid, delta=delta):
                message = self.find(mid)
                if message is None:  # joined mid-stream (after a reconnect)
                    message = Message(mid, "assistant", "", "streaming")
                    self.messages.append(message)
                if message.status == "streaming":
                    message.text += delta
                    return mid
            case TextEnd(message_id=mid):
                message = self.find(mid)
                if message is not None and message.status == "streaming":
                    message.status = "done"
                    return mid
            case RunError(message=text):
                streaming = [m for m in self.messages if m.status == "streaming"]
                for message in streaming:
                    message.status, message.error = "failed", text
                if not streaming:
                    self.messages.append(
                        Message(f"error-{len(self.messages)}", "assistant", "", "failed", text)
                    )
                return ALL
        return None

    def _merge_history(self, items) -> None:
        known = {item.id for item in items}
        merged = [
            Message(item.id, item.role, item.text, "sent" if item.role == "user" else "done")
            for item in items
        ]
        # Keep what the server has not stored yet: queued or failed messages, live streams.
        local = [
            m
            for m in self.messages
            if m.id not in known and m.status in ("pending", "failed", "streaming")
        ]
        self.messages = merged + local
