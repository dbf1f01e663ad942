"""What a server accepts from the page on the chat socket, parsed strictly.

The real server and the preview's simulated one both parse with this, so they refuse the same
frames with the same error codes.

Client frames are small JSON objects::

    {"type": "message", "id": "<client uuid>", "text": "hello"}
    {"type": "ping", "id": 7}
    {"type": "stop", "id": "<client uuid of the message whose reply should stop>"}

Parsing refuses what ``json.loads`` would let through: nesting deeper than :data:`MAX_DEPTH`,
``NaN``/``Infinity``, integers longer than 20 digits and lone UTF-16 surrogates.  A refusal is a
:class:`ProtocolError` whose ``code`` goes back to the client in an error event; it never
escapes as an unhandled exception.

    >>> parse_client_frame('{"type": "ping", "id": 1}')
    Ping(id=1)
    >>> parse_client_frame('{"type": "ping", "id": NaN}')
    Traceback (most recent call last):
    ...
    app.wire.client_frames.ProtocolError: invalid_json: NaN and Infinity are not JSON
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from app.wire import limits
from app.wire.frames import dumps

__all__ = ["ChatText", "Ping", "ProtocolError", "Stop", "dumps", "parse_client_frame"]

MAX_DEPTH = 8
ID_PATTERN = re.compile(limits.ID_PATTERN)
MAX_TEXT = limits.MAX_TEXT


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, message_id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.message_id = message_id


@dataclass(frozen=True)
class ChatText:
    id: str
    text: str


@dataclass(frozen=True)
class Ping:
    id: int | str | None = None


@dataclass(frozen=True)
class Stop:
    """Stop the reply to the user message ``id``; stopping what is not running is no error."""

    id: str


ClientFrame = ChatText | Ping | Stop


def _reject_constant(name: str) -> float:
    raise ProtocolError("invalid_json", "NaN and Infinity are not JSON")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > 20:
        raise ProtocolError("invalid_json", "number too large")
    return int(digits)


def _depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _check_strings(value: object) -> None:
    """Refuse lone surrogates anywhere (they cannot be stored or echoed as UTF-8)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError("invalid_json", "lone surrogates are not allowed") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def loads_strict(text: str) -> object:
    # Counting brackets is cheap; the character scan only runs when nesting is possible.
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise ProtocolError("invalid_json", f"nesting deeper than {MAX_DEPTH}")
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_int=_bounded_int)
    except ProtocolError:
        raise
    except (ValueError, RecursionError):
        raise ProtocolError("invalid_json", "the frame is not valid JSON") from None
    _check_strings(value)
    return value


def parse_client_frame(text: str) -> ClientFrame:
    data = loads_strict(text)
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "a frame is a JSON object")
    kind = data.get("type")
    if kind == "ping":
        ping_id = data.get("id")
        if ping_id is not None and not isinstance(ping_id, int | str):
            raise ProtocolError("invalid_message", "ping id must be a number or a string")
        if isinstance(ping_id, bool) or (isinstance(ping_id, str) and len(ping_id) > 64):
            raise ProtocolError("invalid_message", "ping id must be a number or a short string")
        return Ping(ping_id)
    if kind == "message":
        message_id, text_value = data.get("id"), data.get("text")
        if not isinstance(message_id, str) or not ID_PATTERN.fullmatch(message_id):
            raise ProtocolError("invalid_message", "id must be 1-64 letters, digits, - or _")
        if not isinstance(text_value, str):
            raise ProtocolError("invalid_message", "text must be a string", message_id)
        if not text_value.strip():
            raise ProtocolError("invalid_message", "text is empty", message_id)
        if len(text_value) > MAX_TEXT:
            raise ProtocolError(
                "message_too_long", f"text is longer than {MAX_TEXT} characters", message_id
            )
        return ChatText(message_id, text_value)
    if kind == "stop":
        message_id = data.get("id")
        if not isinstance(message_id, str) or not ID_PATTERN.fullmatch(message_id):
            raise ProtocolError("invalid_message", "id must be 1-64 letters, digits, - or _")
        return Stop(message_id)
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "type must be a string")
    raise ProtocolError("unknown_type", f"unknown message type {kind[:32]!r}")
