"""Clients that do not play by the rules, over a raw socket (a client library would smooth them
over): bodies split in two or never sent, header lines the parser refuses, control characters
in paths, and the https promise (HSTS) that a hostile network is kept from downgrading."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest

from backend.auth import COOKIE_NAME
from tests.support import PASSWORD, ServerProcess

LOGIN = "/api/auth/login"
LOGOUT = "/api/auth/logout"
READ_TIMEOUT = 30.0  # generous: a hung server fails the test, a slow machine does not
TOKEN = "Secr3tT0kenNeverLogged"


async def exchange(port: int, *parts: bytes) -> bytes:
    """Write ``parts`` as separate TCP segments (a pause between them), then read until the
    server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for index, part in enumerate(parts):
            if index:
                await asyncio.sleep(0.01)  # the first part reaches the server on its own
            writer.write(part)
            await writer.drain()
        return await asyncio.wait_for(reader.read(), READ_TIMEOUT)
    finally:
        writer.close()


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> dict:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])


def post_head(server, path: str, length: int, close: bool = True) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{server.server.port}",
        f"Origin: {server.origin}",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        *(["Connection: close"] if close else []),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_sign_in_body_split_over_two_segments_is_read_whole(server):
    body = json.dumps({"username": "ada", "password": PASSWORD}).encode()
    head = post_head(server, LOGIN, len(body))
    response = await exchange(server.server.port, head + body[:20], body[20:])
    assert status_of(response) == 200
    assert body_of(response)["user"] == {"name": "ada"}


@pytest.mark.parametrize("settings_overrides", [{"body_timeout": 0.5}])
@pytest.mark.parametrize("path", [LOGIN, LOGOUT])
async def test_a_body_that_never_comes_gets_408_and_a_closed_connection(server, path):
    # No "Connection: close": the server itself must end the connection.
    response = await exchange(server.server.port, post_head(server, path, 100, close=False))
    assert status_of(response) == 408
    assert body_of(response)["error"]["code"] == "request_timeout"
    assert b"Connection: close" in response.split(b"\r\n\r\n", 1)[0]


@pytest.mark.parametrize("settings_overrides", [{"body_timeout": 0.5}])
async def test_many_stalled_bodies_all_get_their_408(server):
    head = post_head(server, LOGIN, 100, close=False)
    responses = await asyncio.gather(*(exchange(server.server.port, head) for _ in range(20)))
    assert [status_of(r) for r in responses] == [408] * 20
    assert (await server.http.get(server.url + "/api/health")).status == 200


def unparsable_requests(port: int) -> dict[str, bytes]:
    host = f"Host: 127.0.0.1:{port}"
    cookie = f"Cookie: {COOKIE_NAME}={TOKEN}"
    return {
        "cookie over 8190 bytes": f"GET / HTTP/1.1\r\n{host}\r\n{cookie}{'a' * 9000}\r\n\r\n",
        "bare LF": f"GET / HTTP/1.1\n{host}\n{cookie}\n\n",
        "control byte in cookie": f"GET / HTTP/1.1\r\n{host}\r\n{cookie}\x01x\r\n\r\n",
        "broken chunk": f"POST {LOGIN} HTTP/1.1\r\n{host}\r\nTransfer-Encoding: chunked\r\n"
        f"\r\nzz{TOKEN}\r\n",
    }


async def test_unparsable_requests_are_neither_logged_nor_echoed(tmp_path):
    """aiohttp's own answer quotes the refused line (the token) in the 400 body and logs it with
    a traceback; a real server.py must do neither."""
    server = ServerProcess(tmp_path / "app.db").start()
    try:
        for name, request in unparsable_requests(server.port).items():
            response = await exchange(server.port, request.encode())
            assert status_of(response) == 400, name
            assert TOKEN.encode() not in response, name
            assert body_of(response)["error"]["code"] == "bad_request", name
    finally:
        server.stop()
    log = server.log()
    assert "unparsable request (LineTooLong)" in log
    assert TOKEN not in log and "Traceback" not in log


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/x%0a2026-01-01%20pychat.access%2010.0.0.1%20GET%20/%20200", "/x\\x0a2026-01-01 pychat"),
        ("/x%0d%0aforged", "/x\\x0d\\x0aforged"),
        ("/x%1b[2J%1b]0;title%07", "/x\\x1b[2J\\x1b]0;title\\x07"),
        ("/x%e2%80%a8y", "/x\\u2028y"),
    ],
)
async def test_control_characters_in_a_path_are_escaped_in_the_log(server, caplog, path, logged):
    caplog.set_level(logging.INFO, logger="pychat")
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    assert status_of(await exchange(server.server.port, request.encode())) == 404
    [line] = [r.getMessage() for r in caplog.records if r.name == "pychat.access"]
    assert logged in line
    assert not any(c in line for c in "\n\r\x1b\x07\u2028")


HSTS = "Strict-Transport-Security"


async def test_no_hsts_over_plain_http(server):
    response = await server.http.get(server.url + "/api/health")
    assert HSTS not in response.headers


@pytest.mark.parametrize("settings_overrides", [{"secure_cookies": True}])
@pytest.mark.parametrize("path", ["/api/health", "/", "/wheels/simple/", "/missing"])
async def test_hsts_on_every_response_when_served_over_https(server, path):
    response = await server.http.get(server.url + path)
    assert response.headers[HSTS] == "max-age=31536000"


@pytest.mark.parametrize(
    ("settings_overrides", "forwarded", "sent"),
    [
        ({"trusted_proxies": frozenset({"127.0.0.1"})}, "https", True),
        ({"trusted_proxies": frozenset({"127.0.0.1"})}, "https, http", False),
        ({"trusted_proxies": frozenset({"127.0.0.1"})}, "http", False),
        ({}, "https", False),  # an untrusted peer's claim counts for nothing
    ],
)
async def test_hsts_when_a_trusted_proxy_says_https(server, forwarded, sent):
    response = await server.http.get(
        server.url + "/api/health", headers={"X-Forwarded-Proto": forwarded}
    )
    assert (HSTS in response.headers) is sent


@pytest.mark.parametrize("settings_overrides", [{"body_timeout": 0.5}])
async def test_a_chunked_body_that_breaks_midway_is_cut_off_quoting_nothing(server):
    """aiohttp queues the parser's error behind the request whose body broke; the body then
    never ends, so the deadline answers it."""
    head = post_head(server, LOGIN, 0).replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
    first, rest = head + b'5\r\n{"use\r\n', b"zz" + TOKEN.encode()
    response = await exchange(server.server.port, first, rest)
    assert status_of(response) == 408
    assert TOKEN.encode() not in response
