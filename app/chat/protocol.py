"""Client side of the chat wire format (docs/protocol.md): encode what we send, parse what
the server sends into small typed values.  Anything unexpected parses to :class:`Unknown`,
never to an exception, so a newer server cannot crash an older page::

    >>> parse('{"type": "ack", "id": "m1", "duplicate": false}')
    Ack(id='m1', duplicate=False)
    >>> parse('{"type": "TEXT_MESSAGE_CONTENT", "messageId": "a1", "delta": "Hi"}')
    TextContent(message_id='a1', delta='Hi')
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.wire import frames
from app.wire.limits import MAX_TEXT

__all__ = ["MAX_TEXT", "message_frame", "parse", "ping_frame"]


@dataclass(frozen=True)
class HistoryItem:
    id: str
    role: str
    text: str


@dataclass(frozen=True)
class Welcome:
    user: str


@dataclass(frozen=True)
class History:
    messages: tuple[HistoryItem, ...]


@dataclass(frozen=True)
class Ack:
    id: str
    duplicate: bool = False


@dataclass(frozen=True)
class Pong:
    pass


@dataclass(frozen=True)
class ServerError:
    code: str
    message: str
    id: str | None = None


@dataclass(frozen=True)
class TextStart:
    message_id: str


@dataclass(frozen=True)
class TextContent:
    message_id: str
    delta: str


@dataclass(frozen=True)
class TextEnd:
    message_id: str


@dataclass(frozen=True)
class RunError:
    message: str


@dataclass(frozen=True)
class Unknown:
    kind: str


ServerFrame = (
    Welcome
    | History
    | Ack
    | Pong
    | ServerError
    | TextStart
    | TextContent
    | TextEnd
    | RunError
    | Unknown
)


def _str(data: dict, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _history(items: object) -> History | None:
    if not isinstance(items, list):
        return None
    parsed = []
    for item in items:
        if not isinstance(item, dict):
            continue
        mid, role, text = _str(item, "id"), _str(item, "role"), _str(item, "text")
        if mid and role in ("user", "assistant") and text is not None:
            parsed.append(HistoryItem(mid, role, text))
    return History(tuple(parsed))


def parse(raw: str) -> ServerFrame:
    try:
        data = json.loads(raw)
    except ValueError:
        return Unknown("not json")
    if not isinstance(data, dict):
        return Unknown("not an object")
    kind = _str(data, "type") or ""
    mid = _str(data, "messageId")
    frame: ServerFrame | None = None
    if kind == "welcome":
        user = data.get("user")
        name = _str(user, "name") if isinstance(user, dict) else None
        frame = Welcome(name) if name else None
    elif kind == "history":
        frame = _history(data.get("messages"))
    elif kind == "ack" and _str(data, "id"):
        frame = Ack(data["id"], data.get("duplicate") is True)
    elif kind == "pong":
        frame = Pong()
    elif kind == "error":
        frame = ServerError(
            _str(data, "code") or "error", _str(data, "message") or "", _str(data, "id")
        )
    elif kind == "TEXT_MESSAGE_START" and mid:
        frame = TextStart(mid)
    elif kind == "TEXT_MESSAGE_CONTENT" and mid and _str(data, "delta") is not None:
        frame = TextContent(mid, data["delta"])
    elif kind == "TEXT_MESSAGE_END" and mid:
        frame = TextEnd(mid)
    elif kind == "RUN_ERROR":
        frame = RunError(_str(data, "message") or "The assistant failed.")
    return frame if frame is not None else Unknown(kind)


def message_frame(message_id: str, text: str) -> str:
    return json.dumps(frames.message(message_id, text))


def ping_frame(ping_id: int) -> str:
    return json.dumps(frames.ping(ping_id))
