"""The wire module's builders, parser and words, as both servers and the page rely on them."""

from __future__ import annotations

import pytest

from app.wire import frames, guide
from app.wire.client_frames import ChatText, Ping, ProtocolError, dumps, parse_client_frame
from app.wire.limits import MAX_FRAME, MAX_TEXT


def test_every_server_frame_has_its_type_and_an_error_names_its_message_only_when_known():
    assert frames.run_error("The assistant failed.", "agent_error", "m1") == {
        "type": "RUN_ERROR",
        "message": "The assistant failed.",
        "code": "agent_error",
        "metadata": {"replyTo": "m1"},
    }
    assert "id" not in frames.error("rate_limited", "Slow down")
    assert frames.error("message_too_long", "long", "m1")["id"] == "m1"
    assert frames.text_start("a1")["role"] == "assistant"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type": "ping"}', Ping(None)),
        ('{"type": "ping", "id": "p1"}', Ping("p1")),
        (
            '{"type": "message", "id": "m1", "text": "a \\"quoted\\" [{"}',
            ChatText("m1", 'a "quoted" [{'),
        ),
    ],
)
def test_frames_the_client_may_send(raw, expected):
    assert parse_client_frame(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"type": "ping", "id": [1]}', "invalid_message"),
        ('{"type": "ping", "id": "' + "x" * 65 + '"}', "invalid_message"),
        (
            '{"k": "\\\\\\"[[[[[[[[[", "type": "ping", "d": ' + "[" * 9 + "]" * 9 + "}",
            "invalid_json",
        ),
        (
            '{"type": "message", "id": "m", "text": "' + "x" * (MAX_TEXT + 1) + '"}',
            "message_too_long",
        ),
        ('{"\\ud800": 1}', "invalid_json"),
    ],
)
def test_frames_the_client_may_not_send(raw, code):
    with pytest.raises(ProtocolError) as refused:
        parse_client_frame(raw)
    assert refused.value.code == code


def test_brackets_inside_strings_do_not_count_as_nesting():
    deep_looking = '{"type": "message", "id": "m", "text": "' + "[{" * 20 + '\\\\"}'
    assert parse_client_frame(deep_looking).text == "[{" * 20 + "\\"


def test_frames_are_sent_compact_and_unescaped():
    assert dumps({"type": "ack", "text": "é"}) == '{"type":"ack","text":"é"}'


def test_status_reports_the_session_and_the_connections():
    facts = guide.Facts("ada", 1_800_000_000.0, 1800.0, 1_800_000_000.0, 2)
    answer = guide.reply("/STATUS please", facts)
    assert "signed in as **ada**" in answer and "30 minutes" in answer
    assert "2 open connections" in answer and "UTC on 2027-01-15" in answer
    assert "1 open connection." in guide.reply("/status", guide.Facts("a", 0, 60, 0, 1))


def test_help_empty_text_and_chunks():
    assert guide.reply("/help", guide.Facts("a", 0, 0, 0, 1)) == guide.HELP
    assert guide.reply("", guide.Facts("a", 0, 0, 0, 1)).startswith("You said:")
    assert guide.chunks("", 3) == [""]


@pytest.mark.parametrize(
    "char",
    ["x", "é", "€", "😀", "\x01", '"'],
    ids=["ascii", "2-byte", "3-byte", "4-byte", "control", "quote"],
)
def test_a_message_at_the_limit_fits_in_a_frame_whatever_it_is_made_of(char):
    frame = dumps(frames.message("m" * 64, char * MAX_TEXT))
    assert len(frame.encode("utf-8")) <= MAX_FRAME
    parsed = parse_client_frame(frame)
    assert isinstance(parsed, ChatText) and len(parsed.text) == MAX_TEXT


def test_non_ascii_travels_as_itself():
    assert dumps({"text": "😀é"}) == '{"text":"😀é"}'
