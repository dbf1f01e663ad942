"""What the page needs from a server, as one small interface.

Two implementations: the browser's own ``fetch`` and ``WebSocket`` talking to ``server.py``
(:class:`app.browser.http.BrowserLink`), and the simulated server of preview mode
(:class:`app.preview.server.PreviewServer`).  The auth store,
the connection core and the panel only ever see this shape, so they cannot tell the two apart.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from app.wire.close_codes import NORMAL

# (status or None when nothing answered, decoded JSON body or None, headers with .get())
Reply = tuple[int | None, Any, Any]


class SocketLike(Protocol):
    """The part of the browser's ``WebSocket`` the transport uses."""

    readyState: int
    onopen: Any
    onmessage: Any  # called with an object whose ``data`` is the frame's text
    onclose: Any  # called with an object whose ``code`` is the close code

    def send(self, data: str) -> None: ...

    def close(self, code: int = NORMAL, reason: str = "") -> None: ...


class ServerLink(Protocol):
    def request(self, method: str, url: str, body: dict | None = None) -> Awaitable[Reply]:
        """One same-origin JSON request to ``url`` (relative, e.g. ``api/auth/session``)."""
        ...

    def open_socket(self, url: str) -> SocketLike: ...
