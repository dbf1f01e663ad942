"""The wire facts of agent runs: the stop frame and the words of every early end."""

from __future__ import annotations

import pytest

from app.wire import frames
from app.wire.agent_runs import RUN_ERROR_CODES, STOPPED, duration, failure
from app.wire.client_frames import ProtocolError, Stop, dumps, parse_client_frame


def test_the_stop_frame_the_page_builds_is_the_one_the_server_parses():
    assert parse_client_frame(dumps(frames.stop("m-1"))) == Stop("m-1")


@pytest.mark.parametrize(
    "raw", ['{"type": "stop"}', '{"type": "stop", "id": 5}', '{"type": "stop", "id": "a b"}']
)
def test_a_stop_frame_of_the_wrong_shape_is_an_invalid_message(raw):
    with pytest.raises(ProtocolError) as refused:
        parse_client_frame(raw)
    assert refused.value.code == "invalid_message"


FACTS = {"status": 503, "duration": "30 seconds", "kib": 1024, "detail": "model overloaded"}


@pytest.mark.parametrize("code", sorted(RUN_ERROR_CODES))
def test_every_code_has_a_sentence(code):
    words = failure(code, **FACTS).message
    assert words[0].isupper()
    assert words.endswith(".") or code == "upstream_error"  # ends with the upstream's words
    assert "{" not in words


def test_durations_read_as_words():
    assert [duration(s) for s in (30.0, 1.0, 0.5)] == ["30 seconds", "1 second", "0.5 seconds"]


def test_the_facts_are_in_the_words():
    assert "HTTP 401" in failure("upstream_refused", status=401).message
    assert "1024 KiB" in failure("too_big", kib=1024).message


def test_a_stopped_run_has_its_own_code_among_the_others():
    assert STOPPED in RUN_ERROR_CODES
    assert failure(STOPPED).message == "Stopped."
