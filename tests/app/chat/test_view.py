"""What the panel says, row by row: messages, tool-call lines, steps, reasoning, the send
button."""

from __future__ import annotations

import pytest

from app.chat.conversation import Accepted, Message
from app.chat.cut import LOST, REGENERATE, RETRY
from app.chat.view import (
    SEND,
    STOP,
    STOPPING,
    activity_view,
    message_view,
    refusal,
    send_button,
    words_of,
)


@pytest.mark.parametrize(
    ("message", "who", "state", "retry", "retry_turn"),
    [
        (Message("m", "user", "hi", "pending"), "You", "Waiting to send", False, None),
        (Message("m", "user", "hi", "sent"), "You", "", False, None),
        (Message("m", "user", "hi", "failed", "Slow down"), "You", "Slow down", True, None),
        (Message("m", "user", "hi", "failed"), "You", "Not sent", True, None),
        (Message("a", "assistant", "", "streaming"), "Assistant", "Typing…", False, None),
        (Message("a", "assistant", "x", "done"), "Assistant", "", False, None),
        (Message("a", "assistant", "x", "stopped"), "Assistant", "Stopped.", False, None),
        (
            Message("a", "assistant", "1 2", "stopped", "Stopped.", "m1"),
            "Assistant",
            "Stopped.",
            False,
            None,
        ),
        (  # a reply history keeps as cut
            Message("a", "assistant", "Half", "failed"),
            "Assistant",
            "The answer was cut off.",
            False,
            None,
        ),
        (  # a failed turn, live: its words and a Retry that asks m1 again
            Message("e", "assistant", "", "failed", "The service failed (HTTP 500).", "m1"),
            "Assistant",
            "The service failed (HTTP 500).",
            False,
            "m1",
        ),
        (
            Message("e", "assistant", "", "failed", "Failed.", "m1", retried=True),
            "Assistant",
            "Failed.",
            False,
            None,
        ),
    ],
)
def test_message_views(message, who, state, retry, retry_turn):
    view = message_view(message)
    assert (view.who, view.state, view.retry, view.retry_turn) == (who, state, retry, retry_turn)


@pytest.mark.parametrize(
    ("name", "status", "line"),
    [
        ("get_weather", "running", "Looking up the weather…"),
        ("get_weather", "done", "Looked up the weather ✓"),
        ("getWeather", "done", "Looked up the weather ✓"),
        ("look_up_user", "done", "Looked up the user ✓"),
        ("search-docs", "running", "Searching the docs…"),
        ("findFlights", "done", "Looked for the flights ✓"),
        ("run", "done", "Ran ✓"),
        ("weather", "done", "Used the weather tool ✓"),
        ("python_repl", "running", "Using the python repl tool…"),
        ("weather", "stopped", "Using the weather tool: stopped"),
        ("send_email", "failed", "Sending the email: did not finish"),
        ("__", "done", "Used a tool ✓"),
    ],
)
def test_a_tool_call_line_says_what_the_tool_does(name, status, line):
    assert activity_view(Message("c", "tool", "", status, name=name)).summary == line


def test_a_tool_calls_details_are_its_arguments_and_its_answer():
    waiting = activity_view(Message("c", "tool", "", "running", name="weather"))
    assert waiting.kind == "tool" and waiting.details == "Asked with: (nothing)"
    done = Message("c", "tool", '{"city": "Paris"}', "done", name="weather", result="sunny")
    assert activity_view(done).details == 'Asked with: {"city": "Paris"}\nAnswer: sunny'


@pytest.mark.parametrize(
    ("status", "line"),
    [
        ("running", "Look things up…"),
        ("done", "Look things up ✓"),
        ("stopped", "Look things up: stopped"),
    ],
)
def test_a_step_is_one_line_with_nothing_to_open(status, line):
    view = activity_view(Message("s", "step", "look things up", status))
    assert (view.kind, view.summary, view.details) == ("step", line, "")


@pytest.mark.parametrize(
    ("status", "summary"),
    [
        ("streaming", "Thinking…"),
        ("done", "Reasoning"),
        ("stopped", "Reasoning: stopped"),
        ("failed", "Reasoning: did not finish"),
    ],
)
def test_reasoning_is_a_line_whose_text_opens_on_request(status, summary):
    view = activity_view(Message("r", "reasoning", "So I do.", status))
    assert (view.kind, view.summary, view.details) == ("reasoning", summary, "So I do.")


@pytest.mark.parametrize(
    ("answering", "stopping", "connected", "button"),
    [
        (False, False, True, SEND),
        (True, False, True, STOP),
        (True, True, True, STOPPING),
        (True, False, False, SEND),  # a stop could not reach the server
    ],
)
def test_the_send_button_is_stop_while_an_answer_streams(answering, stopping, connected, button):
    assert send_button(answering, stopping, connected) == button


def test_the_buttons_say_what_they_do():
    assert (STOP.action, STOP.label, STOP.disabled) == ("stop", "Stop", False)
    assert STOPPING.disabled and SEND.action == "send"


def test_tool_names_read_as_words():
    assert words_of("getWeatherNow") == ["get", "weather", "now"]
    assert words_of("web.search/v2") == ["web", "search", "v2"]


def test_refusals():
    assert "8000" in refusal(Accepted.TOO_LONG)
    assert refusal(Accepted.EMPTY) == ""


def test_a_lost_answer_offers_regenerate_and_a_failed_one_retry():
    lost = Message("lost-m1", "assistant", "", "failed", LOST, "m1", lost=True)
    view = message_view(lost)
    assert (view.state, view.retry_turn, view.turn_button) == (LOST, "m1", REGENERATE)
    failed = message_view(Message("e", "assistant", "", "failed", "Failed.", "m1"))
    assert failed.turn_button == RETRY
    used = message_view(
        Message("lost-m1", "assistant", "", "failed", LOST, "m1", retried=True, lost=True)
    )
    assert (used.retry_turn, used.turn_button) == (None, None)  # its one press is spent
