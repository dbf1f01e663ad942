"""What the chat panel says about a message or a refusal, decided without the DOM.

>>> from app.chat.conversation import Message
>>> message_view(Message("m1", "user", "hi", "failed", None))
MessageView(who='You', state='Not sent', retry=True)
"""

from __future__ import annotations

from dataclasses import dataclass

from app.chat.conversation import Accepted, Message
from app.wire.limits import MAX_TEXT

WHO = {"user": "You", "assistant": "Assistant"}
STATUS_WORDS = {
    "pending": "Waiting to send",
    "sent": "",
    "failed": "Not sent",
    "streaming": "Typing…",
    "done": "",
}
REFUSALS = {
    Accepted.TOO_LONG: f"Messages can be at most {MAX_TEXT} characters long.",
    Accepted.QUEUE_FULL: "Too many messages are waiting to be sent. Wait for the connection "
    "to come back, then send the rest.",
}
EMPTY_LOG = "No messages yet. Say hello, or type /help."


@dataclass(frozen=True)
class MessageView:
    who: str
    state: str  # the small status line under the text
    retry: bool  # show a Retry button (a failed message of the user's)


def message_view(message: Message) -> MessageView:
    return MessageView(
        who=WHO.get(message.role, ""),
        state=message.error or STATUS_WORDS.get(message.status, ""),
        retry=message.status == "failed" and message.role == "user",
    )


def refusal(why: Accepted) -> str:
    """The notice for a message the outbox did not take (empty text needs no words)."""
    return REFUSALS.get(why, "")
