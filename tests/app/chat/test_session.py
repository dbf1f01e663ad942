"""The chat-session core, row by row: events in, effects out, no browser and no clock."""

from __future__ import annotations

import json
import random

import pytest

from app.chat.conversation import Accepted
from app.chat.session import (
    CancelTimer,
    Changed,
    ChatSession,
    CheckSession,
    Closed,
    CloseSocket,
    FrameReceived,
    Offline,
    Online,
    Opened,
    OpenSocket,
    Refused,
    RetryMessage,
    RetryRequested,
    RetryTurn,
    SendFrame,
    SendText,
    SessionChecked,
    SessionEnded,
    Start,
    StartTimer,
    Stop,
    StopReply,
    Timer,
    TimerFired,
    Visible,
)
from app.net.connection import ConnState
from app.wire import frames
from app.wire.close_codes import ABNORMAL, NORMAL, UNAUTHORIZED
from app.wire.limits import MAX_TEXT

WELCOME = json.dumps(frames.welcome("ada", "2030-01-01T00:00:00Z", "t"))


def sent(effects) -> list[dict]:
    return [json.loads(e.text) for e in effects if isinstance(e, SendFrame)]


def fresh(online: bool = True) -> ChatSession:
    return ChatSession(random.Random(7), online=online)


def opened() -> ChatSession:
    """A session whose first socket (generation 1) has been welcomed."""
    session = fresh()
    session.handle(Start(0.0))
    session.handle(Opened(1, 0.1))
    session.handle(FrameReceived(1, WELCOME, 0.2))
    assert session.conn.state is ConnState.OPEN
    return session


def test_start_opens_a_socket_and_says_the_connection_changed():
    effects = fresh().handle(Start(0.0))
    assert OpenSocket(1) in effects and Changed(connection=True) in effects
    assert StartTimer(Timer.HANDSHAKE, 10.0, 1) in effects


def test_starting_offline_opens_nothing():
    session = fresh(online=False)
    assert session.handle(Start(0.0)) == [Changed(connection=True)]
    assert session.conn.state is ConnState.OFFLINE


def test_a_message_typed_before_the_welcome_waits_then_goes_out_with_it():
    session = fresh()
    session.handle(Start(0.0))
    assert session.handle(SendText("m1", "early")) == [Changed(messages=("m1",))]
    session.handle(Opened(1, 0.1))
    effects = session.handle(FrameReceived(1, WELCOME, 0.2))
    assert sent(effects) == [frames.message("m1", "early")]
    assert Changed(connection=True) in effects


def test_a_message_on_an_open_socket_goes_out_at_once():
    session = opened()
    effects = session.handle(SendText("m2", "now"))
    assert effects == [
        SendFrame(1, frames.dumps(frames.message("m2", "now"))),
        Changed(messages=("m2",)),
    ]


@pytest.mark.parametrize(
    ("text", "why"), [("   ", Accepted.EMPTY), ("x" * (MAX_TEXT + 1), Accepted.TOO_LONG)]
)
def test_refused_messages_are_neither_queued_nor_sent(text, why):
    session = opened()
    assert session.handle(SendText("m", text)) == [Refused("m", why)]
    assert session.conversation.messages == []


def test_an_ack_marks_the_message_sent_and_names_it():
    session = opened()
    session.handle(SendText("m1", "hi"))
    effects = session.handle(FrameReceived(1, json.dumps(frames.ack("m1", False)), 1.0))
    assert effects == [Changed(messages=("m1",))]
    assert session.conversation.find("m1").status == "sent"


def test_history_changes_everything_and_unknown_frames_change_nothing():
    session = opened()
    history = frames.history([{"id": "h1", "role": "user", "text": "x", "created_at": 0}])
    assert session.handle(FrameReceived(1, json.dumps(history), 1.0)) == [
        Changed(all_messages=True)
    ]
    assert session.handle(FrameReceived(1, json.dumps(frames.pong(1)), 1.0)) == []


def test_frames_of_a_replaced_socket_are_ignored():
    session = opened()
    session.handle(Closed(1, ABNORMAL, 1.0))
    session.handle(TimerFired(Timer.BACKOFF, 1, 5.0))  # reconnect: generation 2
    assert session.conn.generation == 2
    late = json.dumps(frames.history([{"id": "x", "role": "user", "text": "late"}]))
    assert session.handle(FrameReceived(1, late, 5.1)) == []
    assert session.conversation.messages == []


def test_a_failed_message_is_resent_on_retry_and_unknown_ids_do_nothing():
    session = opened()
    session.handle(SendText("m1", "hi"))
    session.handle(FrameReceived(1, json.dumps(frames.error("x", "no", "m1")), 1.0))
    assert session.conversation.find("m1").status == "failed"
    assert sent(session.handle(RetryMessage("m1"))) == [frames.message("m1", "hi")]
    assert session.handle(RetryMessage("nope")) == []


def test_a_retried_message_waits_while_the_socket_is_down():
    session = opened()
    session.handle(SendText("m1", "hi"))
    session.handle(FrameReceived(1, json.dumps(frames.error("x", "no", "m1")), 1.0))
    session.handle(Closed(1, ABNORMAL, 2.0))
    assert session.handle(RetryMessage("m1")) == [Changed(messages=("m1",))]


def test_pings_are_numbered_frames_on_the_current_socket():
    session = opened()
    assert sent(session.handle(TimerFired(Timer.PING, 1, 25.0))) == [frames.ping(1)]
    assert sent(session.handle(Visible(30.0))) == [frames.ping(2)]


def test_stop_closes_normally_and_drops_the_outbox():
    session = opened()
    session.handle(Closed(1, ABNORMAL, 1.0))
    session.handle(SendText("m1", "queued"))
    effects = session.handle(Stop())
    assert CancelTimer(Timer.BACKOFF) in effects and Changed(all_messages=True) in effects
    assert session.conversation.messages == []
    assert session.conversation.pending() == []


def test_stop_on_an_open_socket_closes_it():
    effects = opened().handle(Stop())
    assert CloseSocket(1, NORMAL, "signed out") in effects


def test_4401_ends_the_session():
    assert SessionEnded() in opened().handle(Closed(1, UNAUTHORIZED, 1.0))


def test_offline_online_and_a_manual_retry_reconnect():
    session = opened()
    session.handle(Offline())
    session.handle(Closed(1, ABNORMAL, 1.0))
    assert session.conn.state is ConnState.OFFLINE
    assert OpenSocket(2) in session.handle(Online(2.0))
    session.handle(Closed(2, ABNORMAL, 3.0))
    assert OpenSocket(3) in session.handle(RetryRequested(3.5))


def test_a_session_check_that_fails_signs_out():
    session = opened()
    effects = session.handle(SessionChecked(401))
    assert SessionEnded() in effects and CheckSession() not in effects
    assert session.handle(SessionChecked(403)) == []  # already closed: nothing more


@pytest.mark.parametrize("status", [200, 500, None])
def test_a_session_check_that_does_not_say_401_keeps_the_session(status):
    assert opened().handle(SessionChecked(status)) == []


def test_received_frames_do_not_report_a_connection_change():
    session = opened()
    assert session.handle(FrameReceived(1, json.dumps(frames.pong(1)), 9.0)) == []


# ------------------------------------------------------------------------------ agent turns


def frame(session: ChatSession, value: dict, generation: int = 1):
    return session.handle(FrameReceived(generation, json.dumps(value), 1.0))


def answering(session: ChatSession, mid: str = "m1") -> ChatSession:
    """The user's message ``mid`` is acknowledged and its answer is streaming."""
    session.handle(SendText(mid, "count slowly"))
    frame(session, frames.ack(mid, False))
    frame(session, frames.run_started("t", "r", mid))
    frame(session, frames.text_start("a1"))
    frame(session, frames.text_content("a1", "1 2 "))
    return session


def test_run_started_names_the_turn_it_answers():
    session = opened()
    session.handle(SendText("m1", "hi"))
    assert frame(session, frames.run_started("t", "r", "m1")) == [Changed(messages=("m1",))]
    assert session.conversation.answering() == ["m1"]


def test_stop_sends_one_stop_frame_for_the_answer_that_streams():
    session = answering(opened())
    assert session.handle(StopReply()) == [
        SendFrame(1, frames.dumps(frames.stop("m1"))),
        Changed(messages=("m1",)),
    ]
    assert session.conversation.stopping()
    assert session.handle(StopReply()) == []  # asked once; the server's answer is awaited


def test_stop_with_nothing_streaming_sends_nothing():
    assert opened().handle(StopReply()) == []


def test_stop_while_the_socket_is_down_sends_nothing_and_keeps_nothing():
    session = answering(opened())
    session.handle(Closed(1, ABNORMAL, 2.0))
    assert session.handle(StopReply()) == []
    assert not session.conversation.stopping()


def test_the_servers_stopped_error_marks_the_reply_stopped_not_failed():
    session = answering(opened())
    session.handle(StopReply())
    error = frames.run_error("Stopped.", "stopped", "m1")
    assert frame(session, error) == [Changed(all_messages=True)]
    reply = session.conversation.find("a1")
    assert (reply.status, reply.error, reply.text) == ("stopped", "Stopped.", "1 2 ")
    assert session.conversation.answering() == []


def test_a_failed_turn_is_sent_again_under_a_new_id():
    session = answering(opened())
    frame(session, frames.run_error("The answer broke off.", "upstream_dropped", "m1"))
    effects = session.handle(RetryTurn("m1", "m2"))
    assert sent(effects) == [frames.message("m2", "count slowly")]
    assert Changed(all_messages=True) in effects
    assert session.handle(RetryTurn("m1", "m3")) == []  # its Retry is used up


def test_a_retried_turn_waits_in_the_outbox_while_the_socket_is_down():
    session = answering(opened())
    frame(session, frames.run_error("Busy.", "server_busy", "m1"))
    session.handle(Closed(1, ABNORMAL, 2.0))
    effects = session.handle(RetryTurn("m1", "m2"))
    assert sent(effects) == [] and [m.id for m in session.conversation.pending()] == ["m2"]


def test_retrying_a_turn_that_did_not_fail_does_nothing():
    session = answering(opened())
    assert session.handle(RetryTurn("m1", "m2")) == []


def test_a_retried_turn_the_outbox_cannot_take_is_refused():
    session = answering(opened())
    frame(session, frames.run_error("Busy.", "server_busy", "m1"))
    session.handle(Closed(1, ABNORMAL, 2.0))
    for n in range(100):
        session.handle(SendText(f"q{n}", "queued"))
    assert session.handle(RetryTurn("m1", "m2")) == [Refused("m2", Accepted.QUEUE_FULL)]


def test_hand_over_closes_the_socket_and_keeps_the_conversation_and_outbox():
    from app.chat.session import HandOver

    session = opened()
    session.handle(Offline())  # so the next message waits
    session.handle(SendText("m1", "still mine"))
    effects = session.handle(HandOver())
    assert CloseSocket(1, NORMAL, "handed over to another tab") in effects
    assert session.conn.state is ConnState.CLOSED
    assert [(m.id, m.status) for m in session.conversation.pending()] == [("m1", "pending")]


def test_a_session_started_from_what_a_tab_shows_flushes_it_on_welcome():
    from app.chat.conversation import Conversation

    shown = Conversation()
    shown.send("m1", "typed in another tab")
    session = ChatSession(random.Random(7), conversation=shown, generation=4, opened_once=True)
    assert OpenSocket(5) in session.handle(Start(0.0))
    assert session.conversation is shown
    effects = session.handle(FrameReceived(5, WELCOME, 0.1))
    assert [f["id"] for f in sent(effects)] == ["m1"]


# ------------------------------------------------------------------ a server that went away


def test_a_new_socket_forgets_the_turns_of_the_last_one_and_finds_the_lost_one():
    session = answering(opened())
    session.handle(Closed(1, ABNORMAL, 2.0))
    session.handle(TimerFired(Timer.BACKOFF, 1, 9.0))
    session.handle(Opened(2, 9.1))
    assert session.conversation.answering() == []
    frame(session, json.loads(WELCOME), generation=2)
    history = frames.history([{"id": "m1", "role": "user", "text": "count slowly"}])
    assert frame(session, history, generation=2) == [Changed(all_messages=True)]
    reply = session.conversation.find("a1")
    assert (reply.status, reply.lost) == ("failed", True)
    effects = session.handle(RetryTurn("m1", "m2"))  # Regenerate
    assert sent(effects) == [frames.message("m2", "count slowly")]
    assert session.handle(RetryTurn("m1", "m3")) == []  # a second press sends nothing


def test_a_turn_the_new_socket_is_told_of_before_its_greeting_goes_on():
    session = answering(opened())
    session.handle(Closed(1, ABNORMAL, 2.0))
    session.handle(TimerFired(Timer.BACKOFF, 1, 9.0))
    session.handle(Opened(2, 9.1))
    frame(session, frames.run_started("t", "r", "m1"), generation=2)
    frame(session, json.loads(WELCOME), generation=2)
    frame(session, frames.history([{"id": "m1", "role": "user", "text": "count slowly"}]), 2)
    assert session.conversation.answering() == ["m1"]
    assert session.conversation.find("a1").status == "streaming"


def test_a_late_open_of_a_replaced_socket_forgets_nothing():
    session = answering(opened())
    session.handle(Opened(0, 3.0))
    assert session.conversation.answering() == ["m1"]
