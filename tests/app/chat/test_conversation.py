from __future__ import annotations

from app.chat.conversation import ALL, Accepted, Conversation
from app.chat.protocol import (
    Ack,
    History,
    HistoryItem,
    RunError,
    ServerError,
    TextContent,
    TextEnd,
    TextStart,
)


def statuses(c):
    return [(m.id, m.role, m.status) for m in c.messages]


def test_pending_until_acknowledged():
    c = Conversation()
    assert c.send("m1", "hi") is Accepted.OK
    assert [m.id for m in c.pending()] == ["m1"]
    assert c.apply(Ack("m1")) == "m1"
    assert c.pending() == [] and statuses(c) == [("m1", "user", "sent")]


def test_refused_message_fails_and_can_be_retried():
    c = Conversation()
    c.send("m1", "hi")
    c.apply(ServerError("rate_limited", "Slow down", "m1"))
    assert statuses(c) == [("m1", "user", "failed")] and c.messages[0].error == "Slow down"
    assert c.pending() == []
    assert c.retry("m1") and c.pending()[0].id == "m1"


def test_streamed_reply():
    c = Conversation()
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "Hel"))
    c.apply(TextContent("a1", "lo"))
    assert statuses(c) == [("a1", "assistant", "streaming")]
    c.apply(TextEnd("a1"))
    assert c.messages[0].text == "Hello" and c.messages[0].status == "done"
    assert c.apply(TextContent("a1", "late")) is None


def test_content_without_start_after_a_reconnect_still_shows():
    c = Conversation()
    c.apply(TextContent("a1", "...rest"))
    assert statuses(c) == [("a1", "assistant", "streaming")]


def test_history_merges_by_id_and_keeps_the_local_queue():
    c = Conversation()
    c.send("m1", "first")
    c.send("m2", "queued while offline")
    history = History((HistoryItem("m1", "user", "first"), HistoryItem("a1", "assistant", "Hi")))
    assert c.apply(history) == ALL
    assert statuses(c) == [
        ("m1", "user", "sent"),
        ("a1", "assistant", "done"),
        ("m2", "user", "pending"),
    ]
    assert c.apply(history) == ALL
    assert len(c.messages) == 3  # nothing twice


def test_run_error_marks_the_stream_failed():
    c = Conversation()
    c.apply(TextStart("a1"))
    c.apply(RunError("The assistant failed."))
    assert c.messages[0].status == "failed" and c.messages[0].error == "The assistant failed."


def test_limits():
    c = Conversation()
    assert c.send("e", "   ") is Accepted.EMPTY
    assert c.send("l", "x" * 8001) is Accepted.TOO_LONG
    for i in range(100):
        assert c.send(f"m{i}", "x") is Accepted.OK
    assert c.send("m100", "x") is Accepted.QUEUE_FULL
    big = Conversation()
    for i in range(32):
        assert big.send(f"b{i}", "x" * 8000) is Accepted.OK
    assert big.send("b32", "x" * 8000) is Accepted.QUEUE_FULL  # 256 KiB of queued text


def test_clear_drops_the_queue():
    c = Conversation()
    c.send("m1", "secret")
    c.clear()
    assert c.pending() == [] and c.messages == []
