"""The socket's frames as the page and both servers build them (docs/protocol.md).

Each builder returns the JSON object as a ``dict``; the sender serialises it.  The agent's
events are AG-UI's shapes (camelCase keys), as the ``ag-ui-protocol`` package serialises them
on the real server::

    >>> ack("m1", duplicate=False)
    {'type': 'ack', 'id': 'm1', 'duplicate': False}
    >>> text_content("a1", "Hi")
    {'type': 'TEXT_MESSAGE_CONTENT', 'messageId': 'a1', 'delta': 'Hi'}
"""

from __future__ import annotations

import json

from app.wire.agent_runs import REPLY_TO


def dumps(frame: dict) -> str:
    """A frame as both ends send it: compact, non-ASCII as itself (an escaped emoji takes 12
    bytes instead of 4, and would push a message within :data:`~app.wire.limits.MAX_TEXT`
    past :data:`~app.wire.limits.MAX_FRAME`).

    >>> dumps(message("m1", "héllo 👋"))
    '{"type":"message","id":"m1","text":"héllo 👋"}'
    """
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------- from the client


def message(message_id: str, text: str) -> dict:
    return {"type": "message", "id": message_id, "text": text}


def ping(ping_id: int | str | None) -> dict:
    return {"type": "ping", "id": ping_id}


def stop(message_id: str) -> dict:
    """Stop the reply to the user message ``message_id`` (docs/protocol.md, "Stop")."""
    return {"type": "stop", "id": message_id}


# ---------------------------------------------------------------------- from the server


def welcome(user: str, expires_at: str, tab: str | None) -> dict:
    """``tab`` is the tab id of a per-tab socket, ``None`` for the session's one socket."""
    return {"type": "welcome", "user": {"name": user}, "expires_at": expires_at, "tab": tab}


def history(messages: list[dict]) -> dict:
    """``messages``: ``{id, role, text, created_at}`` rows, oldest first."""
    return {"type": "history", "messages": messages}


def ack(message_id: str, duplicate: bool) -> dict:
    return {"type": "ack", "id": message_id, "duplicate": duplicate}


def pong(ping_id: int | str | None) -> dict:
    return {"type": "pong", "id": ping_id}


def error(code: str, text: str, message_id: str | None = None) -> dict:
    frame: dict = {"type": "error", "code": code, "message": text}
    if message_id is not None:
        frame["id"] = message_id
    return frame


# ------------------------------------------------------------------- the agent (AG-UI)


def _answering(reply_to: str) -> dict:
    return {REPLY_TO: reply_to}


def run_started(thread_id: str, run_id: str, reply_to: str) -> dict:
    """``reply_to``: the client id of the user message this run answers."""
    return {
        "type": "RUN_STARTED",
        "threadId": thread_id,
        "runId": run_id,
        "metadata": _answering(reply_to),
    }


def text_start(message_id: str) -> dict:
    return {"type": "TEXT_MESSAGE_START", "messageId": message_id, "role": "assistant"}


def text_content(message_id: str, delta: str) -> dict:
    return {"type": "TEXT_MESSAGE_CONTENT", "messageId": message_id, "delta": delta}


def text_end(message_id: str) -> dict:
    return {"type": "TEXT_MESSAGE_END", "messageId": message_id}


def run_finished(thread_id: str, run_id: str, reply_to: str) -> dict:
    return {
        "type": "RUN_FINISHED",
        "threadId": thread_id,
        "runId": run_id,
        "metadata": _answering(reply_to),
    }


def run_error(text: str, code: str, reply_to: str) -> dict:
    """A run that ended early: ``text`` is for a person, ``code`` for the page
    (:data:`app.wire.agent_runs.STOPPED` marks the reply stopped, anything else failed)."""
    return {"type": "RUN_ERROR", "message": text, "code": code, "metadata": _answering(reply_to)}
