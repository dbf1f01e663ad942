"""The server's addresses, relative to the page (so a build works under any sub-path).

The server mounts each at ``"/" + URL``::

    >>> "/" + LOGIN_URL
    '/api/auth/login'
"""

from __future__ import annotations

LOGIN_URL = "api/auth/login"
SESSION_URL = "api/auth/session"
LOGOUT_URL = "api/auth/logout"
HEALTH_URL = "api/health"
SOCKET_URL = "api/ws"  # with ?tab=<id>; never a credential in the query string
