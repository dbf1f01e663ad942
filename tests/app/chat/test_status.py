from __future__ import annotations

from app.chat.status import describe
from app.net.connection import Conn, ConnState


def test_words_for_each_state():
    assert describe(Conn(), 0).text == "Connecting…"
    assert describe(Conn(state=ConnState.OPEN), 0).text == "Connected"
    backoff = describe(Conn(state=ConnState.BACKOFF, retry_at=13.1), now=9.0)
    assert backoff.text == "Reconnecting in 5 s…" and backoff.retry
    assert describe(Conn(state=ConnState.BACKOFF, retry_at=9.2), now=9.0).text == (
        "Reconnecting in 1 s…"
    )
    offline = describe(Conn(state=ConnState.OFFLINE), 0)
    assert offline.connection == "offline" and "offline" in offline.text
    failed = describe(Conn(state=ConnState.FAILED, last_code=4409), 0)
    assert failed.connection == "failed" and failed.retry and "somewhere else" in failed.text


def test_degraded_says_messages_wait():
    indicator = describe(Conn(state=ConnState.BACKOFF, retry_at=5, degraded=True), 0)
    assert indicator.degraded and "wait" in indicator.text
