"""Upstream AG-UI events, validated: JSON text in, an ``ag-ui-protocol`` model out, or a refusal.

Every event an upstream sends goes through the protocol package's own discriminated union
(:data:`ag_ui.core.Event`), so a type we do not know, a missing field or a wrong type is refused
here and never reaches the page.  The ``THINKING_*`` events that 0.x servers (and Pydantic AI
told to speak 0.1.10) still send left the protocol in 1.0; they are read with the 0.x shapes and
translated to the ``REASONING_*`` events that replaced them, as the protocol's TypeScript client
does for its consumers.

    >>> parse_event('{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "Hi"}').delta
    'Hi'
    >>> parse_event('{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m"}')
    Traceback (most recent call last):
    ...
    backend.relay.events.InvalidEvent: TEXT_MESSAGE_CONTENT: delta: Field required
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated, Literal

from ag_ui.core import (
    BaseEvent,
    Event,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
)
from pydantic import Field, TypeAdapter, ValidationError


class InvalidEvent(ValueError):
    """An upstream event that does not validate.  The text names the event type and the
    failing fields, never the values (they are the upstream's, and may be anything)."""


class ThinkingStartEvent(BaseEvent):
    type: Literal["THINKING_START"] = "THINKING_START"  # type: ignore[assignment]
    title: str | None = None


class ThinkingEndEvent(BaseEvent):
    type: Literal["THINKING_END"] = "THINKING_END"  # type: ignore[assignment]


class ThinkingTextMessageStartEvent(BaseEvent):
    type: Literal["THINKING_TEXT_MESSAGE_START"] = "THINKING_TEXT_MESSAGE_START"  # type: ignore[assignment]


class ThinkingTextMessageContentEvent(BaseEvent):
    type: Literal["THINKING_TEXT_MESSAGE_CONTENT"] = "THINKING_TEXT_MESSAGE_CONTENT"  # type: ignore[assignment]
    delta: str


class ThinkingTextMessageEndEvent(BaseEvent):
    type: Literal["THINKING_TEXT_MESSAGE_END"] = "THINKING_TEXT_MESSAGE_END"  # type: ignore[assignment]


_LEGACY = TypeAdapter(
    Annotated[
        ThinkingStartEvent
        | ThinkingEndEvent
        | ThinkingTextMessageStartEvent
        | ThinkingTextMessageContentEvent
        | ThinkingTextMessageEndEvent,
        Field(discriminator="type"),
    ]
)
_EVENT = TypeAdapter(Event)
_KIND = re.compile(r"[A-Za-z0-9_]{1,40}")  # what of an upstream's type may reach a log line


def _describe(error: ValidationError, kind: str) -> str:
    problems = []
    for item in error.errors(include_input=False, include_url=False)[:3]:
        if item["type"] == "union_tag_invalid":  # its message repeats the upstream's tag
            problems.append("not an AG-UI event type")
            continue
        where = ".".join(str(part) for part in item["loc"][1:]) or "event"
        where = where if _KIND.fullmatch(where.replace(".", "_")) else "a field"
        problems.append(f"{where}: {item['msg'][:100]}")
    return f"{kind}: " + "; ".join(problems)


def parse_event(text: str) -> BaseEvent:
    """One event's ``data`` as a validated model (legacy thinking events included)."""
    try:
        head = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidEvent("not JSON") from None
    if not isinstance(head, dict):
        raise InvalidEvent("not a JSON object")
    kind = head.get("type")
    if not isinstance(kind, str):
        shown = "event without a type"
    else:
        shown = kind if _KIND.fullmatch(kind) else "event of an unreadable type"
    adapter = _LEGACY if isinstance(kind, str) and kind.startswith("THINKING_") else _EVENT
    try:
        return adapter.validate_python(head)
    except ValidationError as exc:
        raise InvalidEvent(_describe(exc, shown)) from None


class LegacyThinking:
    """Turns a 0.x ``THINKING_*`` sequence into 1.0 ``REASONING_*`` events, minting the message
    ids 0.x did not carry.  Other events pass through unchanged."""

    def __init__(self) -> None:
        self._block: str | None = None  # REASONING_START's id
        self._message: str | None = None

    def translate(self, event: BaseEvent) -> list[BaseEvent]:
        match event:
            case ThinkingStartEvent():
                self._block = f"reasoning-{uuid.uuid4().hex}"
                return [ReasoningStartEvent(message_id=self._block)]
            case ThinkingTextMessageStartEvent():
                self._message = f"reasoning-{uuid.uuid4().hex}"
                return [ReasoningMessageStartEvent(message_id=self._message)]
            case ThinkingTextMessageContentEvent(delta=delta):
                if self._message is None:
                    self._message = f"reasoning-{uuid.uuid4().hex}"
                    return [
                        ReasoningMessageStartEvent(message_id=self._message),
                        ReasoningMessageContentEvent(message_id=self._message, delta=delta),
                    ]
                return [ReasoningMessageContentEvent(message_id=self._message, delta=delta)]
            case ThinkingTextMessageEndEvent():
                message, self._message = self._message, None
                return [ReasoningMessageEndEvent(message_id=message)] if message else []
            case ThinkingEndEvent():
                block, self._block = self._block, None
                return [ReasoningEndEvent(message_id=block)] if block else []
        return [event]
