"""Client side of the chat wire format (docs/protocol.md): encode what we send, parse what
the server sends into small typed values.  Anything unexpected parses to :class:`Unknown`,
never to an exception, so a newer server cannot crash an older page::

    >>> parse('{"type": "ack", "id": "m1", "duplicate": false}')
    Ack(id='m1', duplicate=False)
    >>> parse('{"type": "TEXT_MESSAGE_CONTENT", "messageId": "a1", "delta": "Hi"}')
    TextContent(message_id='a1', delta='Hi')
    >>> parse('{"type": "RUN_STARTED", "runId": "r", "metadata": {"replyTo": "m1"}}')
    RunStarted(reply_to='m1')

The agent's events are read for what the panel shows (docs/protocol.md, "Agent runs"); a
field the page does not need is not parsed, and an event without the fields it needs is
:class:`Unknown` too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.wire import frames
from app.wire.agent_runs import CUT_FAILED, CUT_STOPPED, REPLY_TO
from app.wire.limits import MAX_TEXT

__all__ = ["MAX_TEXT", "message_frame", "parse", "ping_frame", "stop_frame"]


@dataclass(frozen=True)
class HistoryItem:
    id: str
    role: str
    text: str
    cut: str | None = None  # "stopped" or "failed": a reply that was shown only in part


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
class RunStarted:
    """The run answering the user message ``reply_to`` began (``None``: an older server)."""

    reply_to: str | None


@dataclass(frozen=True)
class RunFinished:
    reply_to: str | None


@dataclass(frozen=True)
class RunError:
    message: str
    code: str = ""
    reply_to: str | None = None


@dataclass(frozen=True)
class ToolCallStart:
    call_id: str
    name: str


@dataclass(frozen=True)
class ToolCallArgs:
    call_id: str
    delta: str


@dataclass(frozen=True)
class ToolCallEnd:
    call_id: str


@dataclass(frozen=True)
class ToolCallResult:
    call_id: str
    content: str


@dataclass(frozen=True)
class StepStarted:
    name: str


@dataclass(frozen=True)
class StepFinished:
    name: str


@dataclass(frozen=True)
class ReasoningStart:
    message_id: str


@dataclass(frozen=True)
class ReasoningContent:
    message_id: str
    delta: str


@dataclass(frozen=True)
class ReasoningEnd:
    """The end of one reasoning text (``REASONING_MESSAGE_END``) or of the whole block
    (``REASONING_END``): either way, nothing more is coming for what is open."""

    message_id: str


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
    | RunStarted
    | RunFinished
    | RunError
    | ToolCallStart
    | ToolCallArgs
    | ToolCallEnd
    | ToolCallResult
    | StepStarted
    | StepFinished
    | ReasoningStart
    | ReasoningContent
    | ReasoningEnd
    | Unknown
)


def _str(data: dict, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _reply_to(data: dict) -> str | None:
    metadata = data.get("metadata")
    return _str(metadata, REPLY_TO) if isinstance(metadata, dict) else None


def _history(items: object) -> History | None:
    if not isinstance(items, list):
        return None
    parsed = []
    for item in items:
        if not isinstance(item, dict):
            continue
        mid, role, text = _str(item, "id"), _str(item, "role"), _str(item, "text")
        cut = _str(item, "cut")
        if mid and role in ("user", "assistant") and text is not None:
            parsed.append(
                HistoryItem(mid, role, text, cut if cut in (CUT_STOPPED, CUT_FAILED) else None)
            )
    return History(tuple(parsed))


def _agent_event(kind: str, data: dict) -> ServerFrame | None:
    """AG-UI events beyond text messages: runs, tool calls, steps, reasoning."""
    mid, call, delta = _str(data, "messageId"), _str(data, "toolCallId"), _str(data, "delta")
    if kind == "RUN_STARTED":
        return RunStarted(_reply_to(data))
    if kind == "RUN_FINISHED":
        return RunFinished(_reply_to(data))
    if kind == "RUN_ERROR":
        message = _str(data, "message") or "The assistant failed."
        return RunError(message, _str(data, "code") or "", _reply_to(data))
    if kind == "TOOL_CALL_START" and call and _str(data, "toolCallName"):
        return ToolCallStart(call, data["toolCallName"])
    if kind == "TOOL_CALL_ARGS" and call and delta is not None:
        return ToolCallArgs(call, delta)
    if kind == "TOOL_CALL_END" and call:
        return ToolCallEnd(call)
    if kind == "TOOL_CALL_RESULT" and call and _str(data, "content") is not None:
        return ToolCallResult(call, data["content"])
    if kind in ("STEP_STARTED", "STEP_FINISHED") and _str(data, "stepName"):
        step = StepStarted if kind == "STEP_STARTED" else StepFinished
        return step(data["stepName"])
    if kind == "REASONING_MESSAGE_START" and mid:
        return ReasoningStart(mid)
    if kind == "REASONING_MESSAGE_CONTENT" and mid and delta is not None:
        return ReasoningContent(mid, delta)
    if kind in ("REASONING_MESSAGE_END", "REASONING_END") and mid:
        return ReasoningEnd(mid)
    return None


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
    else:
        frame = _agent_event(kind, data)
    return frame if frame is not None else Unknown(kind)


def message_frame(message_id: str, text: str) -> str:
    return frames.dumps(frames.message(message_id, text))


def ping_frame(ping_id: int) -> str:
    return frames.dumps(frames.ping(ping_id))


def stop_frame(message_id: str) -> str:
    return frames.dumps(frames.stop(message_id))
