"""The event-stream decoder, fed the ways a network splits bytes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.relay.sse import ServerSentEvent, SSEDecoder, SSEError

STREAM = (
    b"\xef\xbb\xbf: a comment first\r\n"
    b'event: update\r\nid: 7\r\ndata: {"a":\r\ndata:1}\r\n\r\n'
    b"data:  two spaces keep one\n\n"
    b"retry: 100\rdata: cr only\r\r"
    b"data\n\n"
    b"\n\n"
    b"data: unfinished"
)
EXPECTED = [
    ServerSentEvent('{"a":\n1}', "update", "7"),
    ServerSentEvent(" two spaces keep one", "message", "7"),
    ServerSentEvent("cr only", "message", "7"),
    ServerSentEvent("", "message", "7"),
]


def test_whole_stream():
    assert SSEDecoder().feed(STREAM) == EXPECTED


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), unique=True, max_size=30))
def test_the_same_events_however_the_bytes_are_split(cuts):
    decoder = SSEDecoder()
    events = []
    edges = [0, *sorted(cuts), len(STREAM)]
    for start, end in itertools.pairwise(edges):
        events += decoder.feed(STREAM[start:end])
    assert events == EXPECTED


def test_crlf_split_across_chunks_is_one_line_end():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r\n") == [ServerSentEvent("a\nb")]


def test_an_event_is_only_dispatched_by_a_blank_line():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent("x")]


def test_bytes_that_are_not_utf8_are_refused():
    with pytest.raises(SSEError, match="UTF-8"):
        SSEDecoder().feed(b"data: \xff\xfe\n\n")


def test_a_utf8_character_split_between_chunks_is_fine():
    decoder = SSEDecoder()
    encoded = "data: é\n\n".encode()
    assert decoder.feed(encoded[:7]) == []
    assert decoder.feed(encoded[7:]) == [ServerSentEvent("é")]


def test_an_event_larger_than_the_limit_is_refused_even_without_line_ends():
    decoder = SSEDecoder(max_event=100)
    with pytest.raises(SSEError, match="larger than 100"):
        decoder.feed(b"data: " + b"x" * 200)
    decoder = SSEDecoder(max_event=100)
    with pytest.raises(SSEError, match="larger than 100"):
        for _ in range(10):
            decoder.feed(b"data: " + b"x" * 20 + b"\n")


def test_events_below_the_limit_one_after_another_are_fine():
    decoder = SSEDecoder(max_event=100)
    for _ in range(50):
        assert decoder.feed(b"data: " + b"x" * 80 + b"\n\n") == [ServerSentEvent("x" * 80)]
