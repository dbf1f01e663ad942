from __future__ import annotations

import json

import pytest

from app.chat.protocol import (
    Ack,
    History,
    HistoryItem,
    Pong,
    ReasoningContent,
    ReasoningEnd,
    ReasoningStart,
    RunError,
    RunFinished,
    RunStarted,
    ServerError,
    StepFinished,
    StepStarted,
    TextContent,
    TextEnd,
    TextStart,
    ToolCallArgs,
    ToolCallEnd,
    ToolCallResult,
    ToolCallStart,
    Unknown,
    Welcome,
    message_frame,
    parse,
    ping_frame,
    stop_frame,
)
from app.wire import frames
from app.wire.limits import MAX_FRAME, MAX_TEXT


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
        (
            {
                "type": "history",
                "messages": [
                    {"id": "a", "role": "assistant", "text": "Half", "cut": "stopped"},
                    {"id": "b", "role": "assistant", "text": "Half", "cut": "sideways"},
                ],
            },
            History(
                (
                    HistoryItem("a", "assistant", "Half", "stopped"),
                    HistoryItem("b", "assistant", "Half"),
                )
            ),
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
        ({"type": "RUN_ERROR"}, RunError("The assistant failed.")),
        (frames.run_error("Stopped.", "stopped", "m1"), RunError("Stopped.", "stopped", "m1")),
        ({"type": "RUN_STARTED", "threadId": "t", "runId": "r"}, RunStarted(None)),
        (frames.run_started("t", "r", "m1"), RunStarted("m1")),
        ({"type": "RUN_STARTED", "metadata": {"replyTo": 5}}, RunStarted(None)),
        ({"type": "RUN_STARTED", "metadata": "m1"}, RunStarted(None)),
        (frames.run_finished("t", "r", "m1"), RunFinished("m1")),
        (
            {"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "weather"},
            ToolCallStart("c", "weather"),
        ),
        ({"type": "TOOL_CALL_START", "toolCallId": "c"}, Unknown("TOOL_CALL_START")),
        ({"type": "TOOL_CALL_ARGS", "toolCallId": "c", "delta": "{"}, ToolCallArgs("c", "{")),
        ({"type": "TOOL_CALL_ARGS", "toolCallId": "c"}, Unknown("TOOL_CALL_ARGS")),
        ({"type": "TOOL_CALL_END", "toolCallId": "c"}, ToolCallEnd("c")),
        (
            {"type": "TOOL_CALL_RESULT", "toolCallId": "c", "content": "sunny", "role": "tool"},
            ToolCallResult("c", "sunny"),
        ),
        (
            {"type": "TOOL_CALL_RESULT", "toolCallId": "c", "content": [{"text": "x"}]},
            Unknown("TOOL_CALL_RESULT"),
        ),
        ({"type": "STEP_STARTED", "stepName": "plan"}, StepStarted("plan")),
        ({"type": "STEP_FINISHED", "stepName": "plan"}, StepFinished("plan")),
        ({"type": "STEP_STARTED"}, Unknown("STEP_STARTED")),
        ({"type": "REASONING_START", "messageId": "r"}, Unknown("REASONING_START")),
        ({"type": "REASONING_MESSAGE_START", "messageId": "r"}, ReasoningStart("r")),
        (
            {"type": "REASONING_MESSAGE_CONTENT", "messageId": "r", "delta": "hm"},
            ReasoningContent("r", "hm"),
        ),
        ({"type": "REASONING_MESSAGE_END", "messageId": "r"}, ReasoningEnd("r")),
        ({"type": "REASONING_END", "messageId": "r"}, ReasoningEnd("r")),
        ({"type": "STATE_SNAPSHOT", "snapshot": {}}, Unknown("STATE_SNAPSHOT")),
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


def test_the_page_sends_non_ascii_unescaped_so_a_message_at_the_limit_fits_a_frame():
    frame = message_frame("m1", "😀" * MAX_TEXT)
    assert "\\u" not in frame and len(frame.encode("utf-8")) <= MAX_FRAME
    assert json.loads(frame)["text"] == "😀" * MAX_TEXT


def test_client_frames():
    assert json.loads(message_frame("m1", "hi")) == {"type": "message", "id": "m1", "text": "hi"}
    assert json.loads(ping_frame(4)) == {"type": "ping", "id": 4}
    assert json.loads(stop_frame("m1")) == {"type": "stop", "id": "m1"}
