"""What a WebSocket close code means for the client, as DESIGN.md's table fixes it.

>>> policy(4401)
<CloseAction.SIGN_OUT: 'sign_out'>
>>> policy(1006)
<CloseAction.RETRY: 'retry'>
"""

from __future__ import annotations

from enum import StrEnum

NORMAL = 1000
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
ABNORMAL = 1006
POLICY = 1008
TOO_BIG = 1009
INTERNAL_ERROR = 1011
SERVICE_RESTART = 1012
TRY_AGAIN_LATER = 1013
BAD_GATEWAY = 1014
MALFORMED = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
HANDSHAKE_TIMEOUT = 4408
REPLACED = 4409
RATE_LIMITED = 4429


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
