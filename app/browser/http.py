"""The real server: same-origin ``fetch`` and the browser's ``WebSocket``.

:class:`BrowserLink` is the :class:`app.net.link.ServerLink` of a normal page; preview mode
passes its simulated server instead.  This is the only place a ``WebSocket`` is constructed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import js
from pyodide.ffi import to_js

from app.wire.urls import SOCKET_URL, socket_query

if TYPE_CHECKING:  # app.net.link is fetched with the chat, after start-up
    from app.net.link import Reply

REQUEST_TIMEOUT_S = 8.0  # every request has a deadline


async def request(method: str, url: str, body: dict | None = None) -> Reply:
    """One same-origin fetch.  Returns ``(status, json_or_None, headers)``; status ``None``
    means no answer at all (offline, DNS, reset, timeout)."""
    options: dict[str, Any] = {
        "method": method,
        "credentials": "same-origin",
        "cache": "no-store",
        "headers": {"Accept": "application/json"},
        "signal": js.AbortSignal.timeout(int(REQUEST_TIMEOUT_S * 1000)),
    }
    if body is not None:
        options["headers"]["Content-Type"] = "application/json"
        # Non-ASCII as itself: an escaped astral character takes 12 bytes instead of 4, and
        # would push the longest credentials the form allows past the server's body limit.
        options["body"] = json.dumps(body, ensure_ascii=False)
    if method == "POST" and body is None:
        options["keepalive"] = True  # logout must reach the server even if the page closes
    try:
        response = await js.fetch(url, to_js(options, dict_converter=js.Object.fromEntries))
    except Exception:  # a rejected fetch: there was no HTTP answer
        return None, None, None
    data = None
    try:
        text = await response.text()
        data = json.loads(text) if text else None
    except Exception:  # a body that is not JSON is treated as no body
        data = None
    return int(response.status), data, response.headers


def socket_url(tab: str | None) -> str:
    """``ws(s)://<this page's host and path>/api/ws``: the session's one socket, or with a
    ``tab`` this tab's own (``?mode=tab&tab=<tab>``, the fallback; see docs/protocol.md)."""
    url = js.URL.new(SOCKET_URL, js.location.href)
    url.protocol = "wss:" if js.location.protocol == "https:" else "ws:"
    url.search = socket_query(tab)
    return str(url.href)


class BrowserLink:
    @staticmethod
    def request(method: str, url: str, body: dict | None = None) -> Any:
        return request(method, url, body)

    @staticmethod
    def open_socket(url: str) -> Any:
        return js.WebSocket.new(url)
