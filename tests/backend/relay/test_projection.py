"""What of an upstream's validated events reaches the page, and in which shape."""

from __future__ import annotations

from ag_ui.core import (
    ReasoningMessageChunkEvent,
    RunFinishedEvent,
    RunStartedEvent,
    StateSnapshotEvent,
    StepStartedEvent,
    TextMessageChunkEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallChunkEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)

from app.wire.agent_runs import RELAYED_EVENTS
from backend.agent import event_frame
from backend.relay.events import parse_event
from backend.relay.projection import Projection


def frames(*events, projection: Projection | None = None) -> list[dict]:
    projection = projection or Projection("thread-1", "run-1")
    return [event_frame(out) for event in events for out in projection.accept(event)]


def test_text_is_relayed_with_only_the_fields_the_page_reads():
    upstream = parse_event(
        '{"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "Hi", "timestamp": 1,'
        ' "rawEvent": {"secret": 1}, "metadata": {"secret": 2}, "secret": 3}'
    )
    out = frames(TextMessageStartEvent(message_id="m", role="assistant"), upstream)
    assert out == [
        {"type": "TEXT_MESSAGE_START", "messageId": "m", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "Hi"},
    ]


def test_an_empty_text_message_never_reaches_the_page():
    out = frames(
        TextMessageStartEvent(message_id="empty"),
        TextMessageContentEvent(message_id="empty", delta=""),
        TextMessageEndEvent(message_id="empty"),
        ToolCallStartEvent(tool_call_id="c", tool_call_name="weather", parent_message_id="empty"),
    )
    assert [f["type"] for f in out] == ["TOOL_CALL_START"]
    assert out[0] == {
        "type": "TOOL_CALL_START",
        "toolCallId": "c",
        "toolCallName": "weather",
        "parentMessageId": "empty",
    }


def test_text_in_another_role_is_not_relayed():
    out = frames(
        TextMessageStartEvent(message_id="s", role="system"),
        TextMessageContentEvent(message_id="s", delta="You are a bot"),
        TextMessageEndEvent(message_id="s"),
        TextMessageChunkEvent(message_id="u", role="user", delta="echo"),
        TextMessageChunkEvent(message_id="a", delta="shown"),
    )
    assert [(f["type"], f.get("delta")) for f in out] == [
        ("TEXT_MESSAGE_START", None),
        ("TEXT_MESSAGE_CONTENT", "shown"),
    ]


def test_text_chunks_expand_into_start_content_end():
    out = frames(
        TextMessageChunkEvent(message_id="a", delta="one "),
        TextMessageChunkEvent(delta="two"),
        TextMessageChunkEvent(message_id="b", delta="three"),
        StepStartedEvent(step_name="next"),
    )
    assert [(f["type"], f.get("messageId"), f.get("delta")) for f in out] == [
        ("TEXT_MESSAGE_START", "a", None),
        ("TEXT_MESSAGE_CONTENT", "a", "one "),
        ("TEXT_MESSAGE_CONTENT", "a", "two"),
        ("TEXT_MESSAGE_END", "a", None),
        ("TEXT_MESSAGE_START", "b", None),
        ("TEXT_MESSAGE_CONTENT", "b", "three"),
        ("TEXT_MESSAGE_END", "b", None),
        ("STEP_STARTED", None, None),
    ]


def test_tool_call_chunks_expand_and_results_become_text():
    out = frames(
        ToolCallChunkEvent(tool_call_id="c", tool_call_name="search", delta='{"q"'),
        ToolCallChunkEvent(delta=': "x"}'),
        parse_event(
            '{"type": "TOOL_CALL_RESULT", "messageId": "r", "toolCallId": "c", "content":'
            ' [{"type": "text", "text": "two"}, {"type": "image",'
            ' "source": {"type": "url", "value": "http://x/y.png"}}]}'
        ),
    )
    assert out == [
        {"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "search"},
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c", "delta": '{"q"'},
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c", "delta": ': "x"}'},
        {"type": "TOOL_CALL_END", "toolCallId": "c"},
        {
            "type": "TOOL_CALL_RESULT",
            "messageId": "r",
            "toolCallId": "c",
            "content": "two\n[image]",
            "role": "tool",
        },
    ]


def test_a_tool_chunk_that_opens_without_a_name_is_dropped():
    assert frames(ToolCallChunkEvent(tool_call_id="c", delta="{}")) == []


def test_reasoning_chunks_expand():
    out = frames(
        ReasoningMessageChunkEvent(message_id="r", delta="hmm"),
        TextMessageChunkEvent(message_id="a", delta="ok"),
    )
    assert [f["type"] for f in out] == [
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
    ]
    assert out[0] == {"type": "REASONING_MESSAGE_START", "messageId": "r", "role": "reasoning"}


def test_run_started_state_and_snapshots_are_not_relayed():
    assert (
        frames(
            RunStartedEvent(thread_id="their-thread", run_id="their-run"),
            StateSnapshotEvent(snapshot={"secret": True}),
        )
        == []
    )


def test_run_finished_closes_what_is_open_and_carries_our_ids():
    out = frames(
        TextMessageChunkEvent(message_id="a", delta="x"),
        ToolCallStartEvent(tool_call_id="c", tool_call_name="t"),
        ToolCallArgsEvent(tool_call_id="c", delta="{}"),
        TextMessageStartEvent(message_id="b"),
        TextMessageContentEvent(message_id="b", delta="y"),
        RunFinishedEvent(thread_id="their-thread", run_id="their-run", result={"big": "x"}),
    )
    kinds = [(f["type"], f.get("messageId") or f.get("toolCallId")) for f in out]
    assert kinds.index(("TEXT_MESSAGE_END", "a")) < kinds.index(("TOOL_CALL_START", "c"))
    assert kinds[-3:-1] == [("TOOL_CALL_END", "c"), ("TEXT_MESSAGE_END", "b")]
    assert out[-1] == {"type": "RUN_FINISHED", "threadId": "thread-1", "runId": "run-1"}


def test_every_kind_the_projection_emits_is_a_relayed_kind():
    seen = frames(
        TextMessageChunkEvent(message_id="a", delta="x"),
        ToolCallChunkEvent(tool_call_id="c", tool_call_name="t", delta="{}"),
        ToolCallResultEvent(message_id="r", tool_call_id="c", content="ok"),
        ReasoningMessageChunkEvent(message_id="r", delta="hmm"),
        parse_event('{"type": "REASONING_START", "messageId": "b"}'),
        parse_event('{"type": "REASONING_END", "messageId": "b"}'),
        parse_event('{"type": "STEP_STARTED", "stepName": "s"}'),
        parse_event('{"type": "STEP_FINISHED", "stepName": "s"}'),
        RunFinishedEvent(thread_id="t", run_id="r"),
    )
    assert {f["type"] for f in seen} <= set(RELAYED_EVENTS)
