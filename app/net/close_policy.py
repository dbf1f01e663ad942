"""What a WebSocket close code means for the client, as DESIGN.md's table fixes it.

The numbers themselves are :mod:`app.wire.close_codes`, shared with the server.

>>> policy(4401)
<CloseAction.SIGN_OUT: 'sign_out'>
>>> policy(1006)
<CloseAction.RETRY: 'retry'>
"""

from __future__ import annotations

from enum import StrEnum

from app.wire.close_codes import (
    ABNORMAL,
    BAD_GATEWAY,
    FORBIDDEN,
    GOING_AWAY,
    HANDSHAKE_TIMEOUT,
    INTERNAL_ERROR,
    MALFORMED,
    NO_ANSWER,
    NORMAL,
    POLICY,
    RATE_LIMITED,
    REPLACED,
    SERVICE_RESTART,
    TOO_BIG,
    TRY_AGAIN_LATER,
    UNAUTHORIZED,
    UNSUPPORTED_DATA,
)


class CloseAction(StrEnum):
    STOP = "stop"  # we closed it (1000): nothing to do
    SIGN_OUT = "sign_out"  # the session is gone: sign out, never retry
    RETRY = "retry"  # network trouble: jittered backoff
    RETRY_SPREAD = "retry_spread"  # server restart: first delay drawn from 0-5 s
    RETRY_FROM_CAP = "retry_from_cap"  # rate limited: wait as long as the cap
    FAIL = "fail"  # retrying would fail the same way: stop and let the user decide


_ACTIONS = {
    NORMAL: CloseAction.STOP,
    UNAUTHORIZED: CloseAction.SIGN_OUT,
    GOING_AWAY: CloseAction.RETRY_SPREAD,
    SERVICE_RESTART: CloseAction.RETRY_SPREAD,
    ABNORMAL: CloseAction.RETRY,
    INTERNAL_ERROR: CloseAction.RETRY,
    TRY_AGAIN_LATER: CloseAction.RETRY,
    BAD_GATEWAY: CloseAction.RETRY,
    NO_ANSWER: CloseAction.RETRY,
    HANDSHAKE_TIMEOUT: CloseAction.RETRY,
    RATE_LIMITED: CloseAction.RETRY_FROM_CAP,
    UNSUPPORTED_DATA: CloseAction.FAIL,
    POLICY: CloseAction.FAIL,
    TOO_BIG: CloseAction.FAIL,
    MALFORMED: CloseAction.FAIL,
    FORBIDDEN: CloseAction.FAIL,
    REPLACED: CloseAction.FAIL,
}


def policy(code: int | None) -> CloseAction:
    """Unknown codes (and no code at all) are treated as network trouble."""
    if code is None:
        return CloseAction.RETRY
    return _ACTIONS.get(code, CloseAction.RETRY)
