"""Every WebSocket close code the page, the server and the preview use, by name.

What a code means for the client (retry, sign out, give up) is policy and lives in
:mod:`app.net.close_policy`; this table is only the numbers both ends put on the wire::

    >>> UNAUTHORIZED, REPLACED
    (4401, 4409)
"""

from __future__ import annotations

NORMAL = 1000  # closed on purpose: no retry
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003  # a binary frame
ABNORMAL = 1006  # the browser's code for a connection lost without a close frame
POLICY = 1008
TOO_BIG = 1009  # a frame over the 64 KiB limit
INTERNAL_ERROR = 1011
SERVICE_RESTART = 1012  # graceful shutdown: clients spread their reconnects
TRY_AGAIN_LATER = 1013  # the storage is unreachable
BAD_GATEWAY = 1014
NO_ANSWER = 4000  # the page gives up on a socket that has gone silent
MALFORMED = 4400  # too many malformed messages
UNAUTHORIZED = 4401  # not signed in, expired or revoked: sign out, never retry
FORBIDDEN = 4403
HANDSHAKE_TIMEOUT = 4408
REPLACED = 4409  # a newer socket of the same tab took over
RATE_LIMITED = 4429  # too many frames, or too many sockets for the session
