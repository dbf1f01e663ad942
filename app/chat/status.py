"""The connection indicator in human words, from the managed socket's state.

>>> from app.net.connection import Conn, ConnState
>>> describe(Conn(state=ConnState.BACKOFF, retry_at=14.2), now=10.0).text
'Reconnecting in 5 s…'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.net.connection import Conn, ConnState, ui_state
from app.wire.close_codes import FORBIDDEN, REPLACED, TOO_BIG


@dataclass(frozen=True)
class Indicator:
    connection: str  # the data-connection value
    text: str
    retry: bool  # show the "retry now" button
    degraded: bool


FAILED_WORDS = {
    REPLACED: "This chat was opened somewhere else on this page. Retry to take it back.",
    FORBIDDEN: "The server refused this connection. Retry, or sign out and in again.",
    TOO_BIG: "A message was too large for the server. Retry to reconnect.",
}


def describe(conn: Conn, now: float) -> Indicator:
    state = ui_state(conn)
    if conn.state is ConnState.OPEN:
        return Indicator(state, "Connected", False, False)
    if conn.state is ConnState.BACKOFF:
        seconds = max(1, math.ceil((conn.retry_at or now) - now))
        text = f"Reconnecting in {seconds} s…"
        if conn.degraded:
            text = f"The server is hard to reach. {text} Messages you send will wait."
        return Indicator(state, text, True, conn.degraded)
    if conn.state is ConnState.OFFLINE:
        return Indicator(
            state, "You are offline. Messages will be sent when you are back.", False, conn.degraded
        )
    if conn.state is ConnState.FAILED:
        words = FAILED_WORDS.get(conn.last_code or 0, "The connection failed. Retry to reconnect.")
        return Indicator(state, words, True, False)
    if conn.state is ConnState.CLOSED:
        return Indicator(state, "Disconnected.", False, False)
    return Indicator(
        state, "Reconnecting…" if state == "reconnecting" else "Connecting…", False, conn.degraded
    )
