from __future__ import annotations

import json

import pytest

from app.chat.protocol import (
    Ack,
    History,
    HistoryItem,
    Pong,
    RunError,
    ServerError,
    TextContent,
    TextEnd,
    TextStart,
    Unknown,
    Welcome,
    message_frame,
    parse,
    ping_frame,
)


@pytest.mark.parametrize(
    ("frame", "parsed"),
    [
        ({"type": "welcome", "user": {"name": "ada"}}, Welcome("ada")),
        (
            {
                "type": "history",
                "messages": [
                    {"id": "1", "role": "user", "text": "hi", "created_at": 1},
                    {"bad": 1},
                    5,
                ],
            },
            History((HistoryItem("1", "user", "hi"),)),
        ),
        ({"type": "ack", "id": "m", "duplicate": True}, Ack("m", True)),
        ({"type": "pong", "id": 3}, Pong()),
        (
            {"type": "error", "code": "rate_limited", "message": "slow", "id": "m"},
            ServerError("rate_limited", "slow", "m"),
        ),
        ({"type": "TEXT_MESSAGE_START", "messageId": "a", "role": "assistant"}, TextStart("a")),
        ({"type": "TEXT_MESSAGE_CONTENT", "messageId": "a", "delta": "x"}, TextContent("a", "x")),
        ({"type": "TEXT_MESSAGE_END", "messageId": "a"}, TextEnd("a")),
        ({"type": "RUN_ERROR", "message": "boom"}, RunError("boom")),
        ({"type": "RUN_STARTED", "threadId": "t", "runId": "r"}, Unknown("RUN_STARTED")),
        (
            {"type": "TEXT_MESSAGE_CONTENT", "messageId": 5, "delta": "x"},
            Unknown("TEXT_MESSAGE_CONTENT"),
        ),
        ({"type": "ack"}, Unknown("ack")),
    ],
)
def test_frames(frame, parsed):
    assert parse(json.dumps(frame)) == parsed


@pytest.mark.parametrize("raw", ["", "nope", "[]", "5", '"x"'])
def test_garbage_never_raises(raw):
    assert isinstance(parse(raw), Unknown)


def test_client_frames():
    assert json.loads(message_frame("m1", "hi")) == {"type": "message", "id": "m1", "text": "hi"}
    assert json.loads(ping_frame(4)) == {"type": "ping", "id": 4}
