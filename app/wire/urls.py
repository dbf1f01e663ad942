"""The server's addresses, relative to the page (so a build works under any sub-path).

The server mounts each at ``"/" + URL``::

    >>> "/" + LOGIN_URL
    '/api/auth/login'
"""

from __future__ import annotations

LOGIN_URL = "api/auth/login"
SESSION_URL = "api/auth/session"
LOGOUT_URL = "api/auth/logout"
LOGOUT_ALL_URL = "api/auth/logout-all"  # every session of the user, on every device
HEALTH_URL = "api/health"
SOCKET_URL = "api/ws"  # never a credential in the query string

# The socket's mode.  Plain SOCKET_URL is the session's one socket: a newer one replaces it
# (4409).  ?mode=tab&tab=<id> declares per-tab mode, the fallback of a browser whose tabs cannot
# share (no Web Locks or BroadcastChannel): one socket per tab, at most SOCKETS_PER_SESSION.
MODE_PARAM = "mode"
PER_TAB_MODE = "tab"
TAB_PARAM = "tab"


def socket_query(tab: str | None) -> str:
    """The query string of a socket URL: none for the session's one socket, per-tab otherwise.

    >>> socket_query(None), socket_query("t1")
    ('', '?mode=tab&tab=t1')
    """
    return "" if tab is None else f"?{MODE_PARAM}={PER_TAB_MODE}&{TAB_PARAM}={tab}"
