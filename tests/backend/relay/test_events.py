"""Upstream events are validated with the ag-ui-protocol models; 0.x thinking is translated."""

from __future__ import annotations

import json

import pytest
from ag_ui.core import (
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    TextMessageContentEvent,
    ToolCallResultEvent,
)

from backend.relay.events import InvalidEvent, LegacyThinking, parse_event


def test_a_valid_event_becomes_its_model():
    event = parse_event('{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "Hi"}')
    assert isinstance(event, TextMessageContentEvent)
    assert (event.message_id, event.delta) == ("m", "Hi")


def test_tool_results_with_content_parts_validate():
    event = parse_event(
        json.dumps(
            {
                "type": "TOOL_CALL_RESULT",
                "messageId": "r",
                "toolCallId": "c",
                "content": [{"type": "text", "text": "ok"}],
            }
        )
    )
    assert isinstance(event, ToolCallResultEvent)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"messageId": "m"}', "event without a type"),
        ('{"type": "NOT_AN_EVENT"}', "NOT_AN_EVENT"),
        ('{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m"}', "delta: Field required"),
        ('{"type": "TEXT_MESSAGE_CONTENT", "messageId": 5, "delta": "x"}', "messageId"),
        ('{"type": "TEXT_MESSAGE_START", "messageId": "m", "role": "tool"}', "role"),
        ('{"type": "RUN_STARTED", "threadId": "t"}', "runId: Field required"),
        ('{"type": "STEP_STARTED"}', "stepName: Field required"),
        ('{"type": "THINKING_TEXT_MESSAGE_CONTENT"}', "delta: Field required"),
    ],
)
def test_what_does_not_validate_is_refused_with_its_type_and_fields(data, words):
    with pytest.raises(InvalidEvent) as refused:
        parse_event(data)
    assert words in str(refused.value)


def test_a_refusal_never_repeats_the_upstreams_values():
    with pytest.raises(InvalidEvent) as refused:
        parse_event('{"type": "TEXT_MESSAGE_CONTENT", "messageId": ["<script>secret"]}')
    assert "secret" not in str(refused.value) and "script" not in str(refused.value)


def test_legacy_thinking_becomes_reasoning_with_minted_ids():
    legacy = LegacyThinking()
    stream = [
        '{"type": "THINKING_START", "title": "hmm"}',
        '{"type": "THINKING_TEXT_MESSAGE_START"}',
        '{"type": "THINKING_TEXT_MESSAGE_CONTENT", "delta": "let me see"}',
        '{"type": "THINKING_TEXT_MESSAGE_END"}',
        '{"type": "THINKING_END"}',
        '{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "done"}',
    ]
    out = [e for data in stream for e in legacy.translate(parse_event(data))]
    kinds = [type(e) for e in out]
    assert kinds == [
        ReasoningStartEvent,
        ReasoningMessageStartEvent,
        ReasoningMessageContentEvent,
        ReasoningMessageEndEvent,
        ReasoningEndEvent,
        TextMessageContentEvent,
    ]
    block, message = out[0].message_id, out[1].message_id
    assert block != message
    assert out[2].message_id == out[3].message_id == message and out[2].delta == "let me see"
    assert out[4].message_id == block


def test_legacy_thinking_content_without_a_start_still_gets_a_message():
    legacy = LegacyThinking()
    out = legacy.translate(parse_event('{"type": "THINKING_TEXT_MESSAGE_CONTENT", "delta": "x"}'))
    assert [type(e) for e in out] == [ReasoningMessageStartEvent, ReasoningMessageContentEvent]
    assert legacy.translate(parse_event('{"type": "THINKING_END"}')) == []


def test_an_unreadable_type_is_not_repeated_either():
    with pytest.raises(InvalidEvent) as refused:
        parse_event('{"type": "X\\nforged log line"}')
    assert "forged" not in str(refused.value) and "\n" not in str(refused.value)
