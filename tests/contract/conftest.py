"""Two servers behind one small client: the real aiohttp app over real loopback sockets, and
preview mode's simulated server driven directly (the way the page's link drives it).

A scenario sees only :class:`Client`: HTTP answers as ``(status, body, headers)`` and sockets
that yield decoded frames and, in the end, the close code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Protocol

import aiohttp
import pytest
from aiohttp.test_utils import TestServer, unused_port
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.preview.server import Behaviour, PreviewServer
from app.wire.urls import LOGIN_URL, LOGOUT_URL, SESSION_URL, SOCKET_URL, socket_query
from backend.app import create_app
from backend.auth import COOKIE_NAME
from backend.config import ROOT, Settings
from backend.keys import STORAGE
from tests.support import PASSWORD

TIMEOUT = 5.0


class Socket(Protocol):
    async def frame(self) -> dict:
        """The next frame from the server (fails the test after a few seconds)."""
        ...

    async def send(self, text: str) -> None: ...
    async def closed(self) -> int | None:
        """Wait for the server to close; the close code."""
        ...

    async def close(self) -> None: ...


class Client(Protocol):
    name: str
    password: str

    async def request(
        self, method: str, url: str, body: dict | None = None
    ) -> tuple[int, object, dict]: ...
    async def socket(self, tab: str) -> Socket: ...


# ---------------------------------------------------------------------------- the real one


class RealSocket:
    def __init__(self, ws) -> None:
        self._ws = ws

    async def frame(self) -> dict:
        return json.loads(await asyncio.wait_for(self._ws.recv(), TIMEOUT))

    async def send(self, text: str) -> None:
        await self._ws.send(text)

    async def closed(self) -> int | None:
        try:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    await self._ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    async def close(self) -> None:
        await self._ws.close()


class RealClient:
    password = PASSWORD

    def __init__(self, base: str, http: aiohttp.ClientSession) -> None:
        self.name = "ada"
        self._base = base
        self._http = http

    async def request(self, method: str, url: str, body: dict | None = None):
        async with self._http.request(
            method, f"{self._base}/{url}", json=body, headers={"Origin": self._base}
        ) as response:
            data = await response.json() if response.content_type == "application/json" else None
            return response.status, data, dict(response.headers)

    async def socket(self, tab: str | None) -> RealSocket:
        token = next((c.value for c in self._http.cookie_jar if c.key == COOKIE_NAME), None)
        headers = {"Cookie": f"{COOKIE_NAME}={token}"} if token else {}
        url = self._base.replace("http://", "ws://") + f"/{SOCKET_URL}{socket_query(tab)}"
        ws = await connect(url, origin=self._base, additional_headers=headers, open_timeout=5)
        return RealSocket(ws)


# ----------------------------------------------------------------------- the simulated one


class PreviewSocket:
    def __init__(self, socket) -> None:
        self._frames: asyncio.Queue[dict] = asyncio.Queue()
        self._closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._socket = socket
        socket.onopen = lambda _event: None
        socket.onmessage = lambda event: self._frames.put_nowait(json.loads(event.data))
        socket.onclose = lambda event: self._closed.done() or self._closed.set_result(event.code)

    async def frame(self) -> dict:
        return await asyncio.wait_for(self._frames.get(), TIMEOUT)

    async def send(self, text: str) -> None:
        while self._socket.readyState == self._socket.CONNECTING:  # as a page waits for onopen
            await asyncio.sleep(0.001)
        self._socket.send(text)

    async def closed(self) -> int | None:
        return await asyncio.wait_for(self._closed, TIMEOUT)

    async def close(self) -> None:
        self._socket.close()


class PreviewClient:
    name = "designer"
    password = "any password"

    def __init__(self, server: PreviewServer) -> None:
        self._server = server

    async def request(self, method: str, url: str, body: dict | None = None):
        status, data, headers = await self._server.request(method, url, body)
        return status, data, headers

    async def socket(self, tab: str | None) -> PreviewSocket:
        url = f"ws://preview/{SOCKET_URL}{socket_query(tab)}"
        return PreviewSocket(self._server.open_socket(url))


@pytest.fixture(params=["real", "preview"])
async def client(request, tmp_path) -> AsyncIterator[Client]:
    if request.param == "preview":
        yield PreviewClient(PreviewServer(behaviour=Behaviour(latency=0.001, stream_delay=0.001)))
        return
    port = unused_port()
    url = f"sqlite:///{tmp_path / 'contract.db'}"
    server = TestServer(
        create_app(Settings(root=ROOT, port=port, storage_url=url)), host="127.0.0.1", port=port
    )
    await server.start_server()
    await server.app[STORAGE].users.add("ada", PASSWORD)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield RealClient(f"http://127.0.0.1:{port}", http)
    await server.close()


__all__ = ["LOGIN_URL", "LOGOUT_URL", "SESSION_URL", "Client", "Socket"]
