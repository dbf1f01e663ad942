"""Reading and writing the sign-in hint kept in localStorage.

The hint is not a credential: it only says "someone called NAME was signed in until T", so the
first frame can decide between the sign-in view (no hint: zero requests) and one validation
request.  Anything malformed, tampered with or expired is treated as no hint at all::

    >>> decode(encode(Hint("ada", 2e9)), now=1e9)
    Hint(user='ada', expires_at=2000000000.0)
    >>> decode('{"v": 1, "user": 7}', now=0) is None
    True
"""

from __future__ import annotations

import json

from app.auth.model import Hint
from app.wire.limits import MAX_FIELD

STORAGE_KEY = "pychat.auth.hint"
VERSION = 1
MAX_NAME = MAX_FIELD  # the longest user name the server accepts at sign-in


def encode(hint: Hint) -> str:
    return json.dumps({"v": VERSION, "user": hint.user, "expires_at": hint.expires_at})


def decode(raw: str | None, now: float) -> Hint | None:
    """Parse the stored text; ``None`` for anything that is not a live, well-formed hint."""
    if not raw or len(raw) > 4 * MAX_NAME:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        return None
    user, expires_at = data.get("user"), data.get("expires_at")
    if not isinstance(user, str) or not user or len(user) > MAX_NAME:
        return None
    if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
        return None
    if not expires_at > now:  # also false for NaN
        return None
    return Hint(user=user, expires_at=float(expires_at))
