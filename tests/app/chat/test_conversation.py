from __future__ import annotations

from app.chat.conversation import ALL, Accepted, Conversation
from app.chat.cut import LOST
from app.chat.protocol import (
    Ack,
    History,
    HistoryItem,
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
)
from app.wire.agent_runs import SERVER_GONE, STOPPED


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


def test_a_reply_told_again_from_its_start_replaces_what_was_shown_never_doubles_it():
    c = Conversation()
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "Hel"))  # then the line is cut: "lo, wor" never arrives
    assert c.apply(TextStart("a1")) == "a1"  # the new socket: the reply so far, then the rest
    c.apply(TextContent("a1", "Hello, wor"))
    c.apply(TextContent("a1", "ld"))
    c.apply(TextEnd("a1"))
    assert [(m.text, m.status) for m in c.messages] == [("Hello, world", "done")]
    assert c.apply(TextStart("a1")) is None  # a finished reply is not restarted
    assert c.messages[0].text == "Hello, world"


def test_a_reply_marked_lost_and_told_again_opens_with_the_words_so_far():
    c = Conversation()
    c.send("m1", "hi")
    c.apply(Ack("m1"))
    c.apply(RunStarted("m1"))
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "Hel"))
    c.new_socket()
    c.apply(History((HistoryItem("m1", "user", "hi"),)))  # unanswered, unnamed: lost
    assert c.messages[-1].lost
    assert c.apply(TextStart("a1")) == ALL
    c.apply(TextContent("a1", "Hello"))
    assert [(m.text, m.status, m.lost) for m in c.messages[1:]] == [("Hello", "streaming", False)]


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


# ------------------------------------------------------------------------------ agent turns


def turn(c: Conversation, mid: str = "m1", text: str = "weather in Paris") -> Conversation:
    """``mid`` was sent and acknowledged, and its run has started."""
    c.send(mid, text)
    c.apply(Ack(mid))
    c.apply(RunStarted(mid))
    return c


def test_everything_a_turn_shows_is_marked_with_the_message_it_answers():
    c = turn(Conversation())
    c.apply(StepStarted("look things up"))
    c.apply(ToolCallStart("call-1", "weather"))
    c.apply(ToolCallArgs("call-1", '{"city": '))
    c.apply(ToolCallArgs("call-1", '"Paris"}'))
    c.apply(ToolCallEnd("call-1"))
    assert c.find("call-1").status == "running"  # until its result arrives
    assert c.apply(ToolCallResult("call-1", "sunny in Paris")) == "call-1"
    c.apply(StepFinished("look things up"))
    c.apply(ReasoningStart("r1"))
    c.apply(ReasoningContent("r1", "So I do."))
    c.apply(ReasoningEnd("r1"))
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "It is sunny."))
    c.apply(TextEnd("a1"))
    assert c.apply(RunFinished("m1")) == ALL
    assert [(m.role, m.status, m.reply_to) for m in c.messages] == [
        ("user", "sent", None),
        ("step", "done", "m1"),
        ("tool", "done", "m1"),
        ("reasoning", "done", "m1"),
        ("assistant", "done", "m1"),
    ]
    tool = c.find("call-1")
    assert (tool.name, tool.text, tool.result) == ("weather", '{"city": "Paris"}', "sunny in Paris")
    assert c.find("r1").text == "So I do." and c.answering() == []


def test_a_finished_run_closes_what_it_left_open():
    c = turn(Conversation())
    c.apply(ToolCallStart("call-1", "weather"))
    c.apply(StepStarted("think"))
    c.apply(RunFinished("m1"))
    assert [m.status for m in c.messages[1:]] == ["done", "done"]


def test_a_stopped_turn_marks_what_it_showed_stopped_and_says_so_on_its_text():
    c = turn(Conversation())
    c.apply(ToolCallStart("call-1", "weather"))
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "1 2 3"))
    assert c.stop() == ["m1"] and c.stopping() and c.stop() == []
    c.apply(RunError("Stopped.", STOPPED, "m1"))
    assert [(m.role, m.status, m.error) for m in c.messages[1:]] == [
        ("tool", "stopped", None),
        ("assistant", "stopped", "Stopped."),
    ]
    assert c.find("a1").text == "1 2 3" and not c.stopping()


def test_a_turn_that_failed_before_any_text_gets_a_line_that_says_why():
    c = turn(Conversation())
    c.apply(RunError("The assistant service failed (HTTP 500).", "upstream_failed", "m1"))
    [ended] = [m for m in c.messages if m.role == "assistant"]
    assert (ended.status, ended.error, ended.reply_to) == (
        "failed",
        "The assistant service failed (HTTP 500).",
        "m1",
    )


def test_a_turn_that_never_started_can_fail_too():
    c = Conversation()
    c.send("m1", "hi")
    c.apply(Ack("m1"))
    c.apply(RunError("Too many messages are waiting.", "queue_full", "m1"))
    assert c.messages[-1].reply_to == "m1" and c.messages[-1].status == "failed"


def test_an_end_without_a_turn_closes_whatever_is_open():
    c = Conversation()
    c.apply(TextStart("a1"))
    assert c.apply(RunStarted(None)) is None and c.answering() == []
    c.apply(RunFinished(None))
    assert c.find("a1").status == "done"


def test_the_end_of_one_turn_leaves_another_alone():
    c = turn(Conversation())
    c.apply(TextStart("a1"))
    turn(c, "m2", "second")
    c.apply(TextStart("a2"))
    c.apply(RunError("Stopped.", STOPPED, "m1"))
    assert c.find("a1").status == "stopped" and c.find("a2").status == "streaming"
    assert c.answering() == ["m2"]


def test_a_failed_turn_can_be_retried_once_under_a_new_id():
    c = turn(Conversation(), text="are you there")
    c.apply(RunError("The assistant did not start answering.", "upstream_timeout", "m1"))
    assert c.retry_turn("m1", "m2") is Accepted.OK
    assert (c.messages[-1].id, c.messages[-1].text, c.messages[-1].status) == (
        "m2",
        "are you there",
        "pending",
    )
    assert c.retry_turn("m1", "m3") is None


def test_only_a_failed_turn_of_a_known_message_can_be_retried():
    c = turn(Conversation())
    c.apply(RunError("Stopped.", STOPPED, "m1"))
    assert c.retry_turn("m1", "m2") is None  # stopped on purpose
    c.apply(RunError("Busy.", "server_busy", "gone"))
    assert c.retry_turn("gone", "m3") is None  # no such message here


def test_a_retried_turn_the_outbox_cannot_take_stays_retryable():
    c = turn(Conversation())
    c.apply(RunError("Busy.", "server_busy", "m1"))
    for n in range(100):
        c.send(f"q{n}", "queued")
    assert c.retry_turn("m1", "m2") is Accepted.QUEUE_FULL
    [ended] = [m for m in c.messages if m.role == "assistant"]
    assert not ended.retried and c.find("m2") is None


def test_events_for_lines_that_are_closed_or_unknown_change_nothing():
    c = turn(Conversation())
    c.apply(ToolCallStart("call-1", "weather"))
    c.apply(RunFinished("m1"))
    assert c.apply(ToolCallArgs("call-1", "late")) is None
    assert c.apply(ToolCallArgs("nope", "x")) is None
    assert c.apply(ToolCallResult("nope", "x")) is None
    assert c.apply(ToolCallStart("call-1", "again")) is None
    assert c.apply(TextEnd("nope")) is None
    assert c.apply(StepFinished("never started")) is None
    assert c.apply(TextStart("a1")) == "a1" and c.apply(TextStart("a1")) is None


def test_a_late_result_still_shows_on_a_closed_tool_call():
    c = turn(Conversation())
    c.apply(ToolCallStart("call-1", "weather"))
    c.apply(RunError("Stopped.", STOPPED, "m1"))
    assert c.apply(ToolCallResult("call-1", "sunny")) == "call-1"
    assert (c.find("call-1").status, c.find("call-1").result) == ("stopped", "sunny")


def test_the_end_of_a_reasoning_block_closes_its_texts():
    c = turn(Conversation())
    c.apply(ReasoningContent("r1", "joined mid-way"))
    c.apply(ReasoningStart("r2"))
    assert c.apply(ReasoningEnd("block")) == ALL
    assert [c.find(r).status for r in ("r1", "r2")] == ["done", "done"]
    assert c.find("r1").reply_to == "m1"


def test_a_new_socket_starts_without_open_turns_until_one_streams_on():
    c = turn(Conversation())
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "1 "))
    c.new_socket()
    assert c.answering() == []
    c.apply(RunStarted("m1"))  # the server names the turn it answers as the socket joins
    c.apply(History((HistoryItem("m1", "user", "weather in Paris"),)))
    assert c.answering() == ["m1"] and c.find("a1").status == "streaming"
    c.apply(TextContent("a1", "2 "))  # the rest of the reply, on the new socket
    assert (c.find("a1").text, c.find("a1").error) == ("1 2 ", None)


def test_history_keeps_the_lines_it_does_not_store_after_the_message_they_followed():
    c = turn(Conversation())
    c.apply(ToolCallStart("call-1", "weather"))
    c.apply(ToolCallResult("call-1", "sunny"))
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "It is sunny."))
    c.apply(TextEnd("a1"))
    c.apply(RunFinished("m1"))
    c.send("m2", "typed while away")
    c.apply(
        History(
            (
                HistoryItem("m0", "user", "older"),
                HistoryItem("m1", "user", "weather in Paris"),
                HistoryItem("a1", "assistant", "It is sunny."),
            )
        )
    )
    assert [m.id for m in c.messages] == ["m0", "m1", "call-1", "a1", "m2"]


def test_history_drops_lines_of_turns_older_than_what_it_sends():
    c = turn(Conversation())
    c.apply(ToolCallStart("call-1", "weather"))
    c.apply(History((HistoryItem("m9", "user", "newer"), HistoryItem("a9", "assistant", "Yes"))))
    assert [m.id for m in c.messages] == ["m9", "a9"]


def test_a_cut_reply_in_history_shows_as_cut_and_keeps_the_words_this_page_had():
    c = turn(Conversation())
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "Half"))
    c.apply(RunError("It broke off.", "upstream_dropped", "m1"))
    c.apply(
        History(
            (
                HistoryItem("m1", "user", "weather in Paris"),
                HistoryItem("a1", "assistant", "Half", cut="failed"),
                HistoryItem("a0", "assistant", "Older half", cut="stopped"),
            )
        )
    )
    assert [(m.id, m.status, m.error) for m in c.messages] == [
        ("m1", "sent", None),
        ("a1", "failed", "It broke off."),
        ("a0", "stopped", None),
    ]


# ------------------------------------------------------------------ a server that went away


def reconnected(c: Conversation, *items: HistoryItem, answering: tuple[str, ...] = ()):
    """A new socket: the turns its server names (before its greeting), then its history."""
    c.new_socket()
    for turn_id in answering:
        c.apply(RunStarted(turn_id))
    return c.apply(History(items))


QUESTION = HistoryItem("m1", "user", "weather in Paris")


def test_a_reply_cut_by_a_dead_server_ends_failed_with_words_and_can_be_regenerated():
    c = turn(Conversation())
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "It is"))
    c.send("m2", "typed while away")
    assert reconnected(c, QUESTION) == ALL
    reply = c.find("a1")
    assert (reply.status, reply.text, reply.error, reply.lost) == ("failed", "It is", LOST, True)
    assert [m.id for m in c.messages] == ["m1", "a1", "m2"] and c.answering() == []
    assert c.retry_turn("m1", "m3") is Accepted.OK
    assert [m.text for m in c.pending()] == ["typed while away", "weather in Paris"]
    assert c.retry_turn("m1", "m4") is None  # one press, one message
    assert reconnected(c, QUESTION) == ALL  # still unanswered: it keeps its words
    assert [m.id for m in c.messages].count("a1") == 1 and c.find("a1").error == LOST


def test_a_question_whose_reply_never_began_gets_a_cut_line_of_its_own_after_it():
    c = turn(Conversation())
    c.apply(ToolCallStart("call-1", "weather"))
    c.send("m2", "typed while away")
    reconnected(
        c, HistoryItem("m0", "user", "older"), HistoryItem("a0", "assistant", "ok"), QUESTION
    )
    assert [(m.id, m.status) for m in c.messages] == [
        ("m0", "sent"),
        ("a0", "done"),
        ("m1", "sent"),
        ("call-1", "failed"),
        ("lost-m1", "failed"),
        ("m2", "pending"),
    ]
    assert c.find("lost-m1").reply_to == "m1" and c.find("lost-m1").error == LOST


def test_a_page_opened_after_the_crash_sees_the_cut_turn_from_history_alone():
    c = Conversation()
    reconnected(c, QUESTION)
    assert [(m.id, m.status, m.error) for m in c.messages] == [
        ("m1", "sent", None),
        ("lost-m1", "failed", LOST),
    ]
    reconnected(c, QUESTION)  # decided once: the next greeting adds nothing
    assert [m.id for m in c.messages] == ["m1", "lost-m1"]


def test_a_run_whose_server_is_gone_ends_cut_with_its_words_kept_as_history_would_show_it():
    c = turn(Conversation())
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "It is"))
    assert c.apply(RunError("ignored: the page says it its own way", SERVER_GONE, "m1")) == ALL
    reply = c.find("a1")
    assert (reply.status, reply.text, reply.error, reply.lost) == ("failed", "It is", LOST, True)
    assert c.answering() == [] and c.retry_turn("m1", "m2") is Accepted.OK
    quiet = turn(Conversation())  # nothing shown yet: a cut line of its own
    quiet.apply(RunError("", SERVER_GONE, "m1"))
    assert [(m.id, m.error, m.lost) for m in quiet.messages[-1:]] == [("lost-m1", LOST, True)]


def test_a_turn_the_server_names_is_not_lost_and_nor_is_one_this_page_saw_end():
    c = turn(Conversation())
    c.apply(TextStart("a1"))
    reconnected(c, QUESTION, answering=("m1",))
    assert c.find("a1").status == "streaming" and c.answering() == ["m1"]
    c.apply(RunError("The assistant failed.", "agent_error", "m1"))
    reconnected(c, QUESTION)
    assert (c.find("a1").status, c.find("a1").error) == ("failed", "The assistant failed.")
    assert not c.find("a1").lost and c.find("lost-m1") is None


def test_more_of_a_turn_marked_lost_takes_the_mark_back():
    c = turn(Conversation())
    c.apply(TextStart("a1"))
    c.apply(TextContent("a1", "1 "))
    reconnected(c, QUESTION)  # a server that answers on without saying so first
    assert c.apply(TextContent("a1", "2 ")) == ALL
    reply = c.find("a1")
    assert (reply.status, reply.text, reply.error, reply.lost) == ("streaming", "1 2 ", None, False)
    assert c.answering() == ["m1"]
    assert c.apply(RunStarted("m1")) == "m1"  # nothing more to take back


def test_a_turn_named_after_its_history_loses_its_cut_off_line():
    c = Conversation()
    reconnected(c, QUESTION)
    assert c.apply(RunStarted("m1")) == ALL
    assert [m.id for m in c.messages] == ["m1"] and c.answering() == ["m1"]
