"""A small helper around the ``websockets`` client for talking to /api/ws in tests."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.wire.urls import socket_query
from backend.auth import COOKIE_NAME


def ws_url(http_url: str, tab: str | None = "tab-1") -> str:
    """A per-tab socket's URL (``?mode=tab&tab=…``); ``tab=None``: the session's one socket."""
    return http_url.replace("http://", "ws://") + "/api/ws" + socket_query(tab)


SAME_ORIGIN = "same-origin"


def open_socket(
    server,
    token: str | None,
    tab: str | None = "tab-1",
    origin: str | None = SAME_ORIGIN,
    headers: dict | None = None,
    **kw,
):
    extra = dict(headers or {})
    if token:
        extra["Cookie"] = f"{COOKIE_NAME}={token}"
    return connect(
        ws_url(server.url, tab),
        origin=server.origin if origin == SAME_ORIGIN else origin,
        additional_headers=extra,
        compression=None,
        max_size=None,
        open_timeout=5,
        **kw,
    )


async def frames_until(ws: ClientConnection, kind: str, timeout: float = 5.0) -> list[dict]:
    """Receive frames up to and including the first of type ``kind``."""
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            seen.append(frame)
            if frame["type"] == kind:
                return seen


async def close_code(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """Read until the server closes; return the close code it sent."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def token_for(server, name: str = "ada") -> str:
    """A new session, as a browser of its own signs in: the jar's earlier session is not
    presented (a sign-in revokes the session it presents)."""
    server.http.cookie_jar.clear(lambda cookie: cookie.key == COOKIE_NAME)
    response = await server.login(name)
    assert response.status == 200
    return response.cookies[COOKIE_NAME].value
