"""The sizes both ends enforce, so the page can refuse early what the server would refuse.

Text limits are in characters (code points, Python's ``len``) on both ends; frame limits are
in bytes.  Frames carry non-ASCII unescaped (:func:`app.wire.frames.dumps`), so a message at
the limit always fits in a frame, whatever it is made of, and the answer to a message that is
too long is ``message_too_long``, never a 1009 close::

    >>> MAX_TEXT * MAX_CHAR_BYTES + MAX_ENVELOPE <= MAX_FRAME
    True
"""

from __future__ import annotations

MAX_TEXT = 8000  # characters in one chat message
MAX_FRAME = 64 * 1024  # bytes in one socket frame; one more closes with TOO_BIG
# The most bytes one character takes in a frame: 4 in UTF-8, 6 for a control character
# (JSON writes U+001F as \u001f).  An escaped astral character would take 12.
MAX_CHAR_BYTES = 6
MAX_ENVELOPE = 256  # bytes of a message frame around its text: type, a 64-character id, keys
MAX_FIELD = 256  # characters in a user name or password sent to sign in
HISTORY_LIMIT = 100  # messages in the history frame a new socket is greeted with
SOCKETS_PER_SESSION = 5  # the next socket of that session is closed with RATE_LIMITED
ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"  # message ids and tab ids
IDLE_TIMEOUT = 30 * 60  # seconds a session lives unused (the server's default; it slides)
ABSOLUTE_TIMEOUT = 8 * 3600  # seconds a session lives at most, however busy
# Agent runs: the server's defaults (server.py --agent-* flags change them).
AGENT_TIMEOUT = 30.0  # seconds until the upstream agent's first byte
RUN_LIMIT = 300.0  # seconds one run may take in all
MAX_RUN_BYTES = 1024 * 1024  # upstream bytes per run
RUNS_PER_USER = 1  # concurrent runs per user; more messages wait their turn
RUNS_PER_SERVER = 64  # concurrent runs per server process
WAITING_PER_USER = 16  # messages waiting for a run per user, beyond the running ones
