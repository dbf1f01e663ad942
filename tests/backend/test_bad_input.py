"""Bad input to the sign-in endpoint always gets a 4xx JSON error: never a 500 or traceback."""

from __future__ import annotations

import json

import pytest

LOGIN = "/api/auth/login"
NESTED = b"[" * 1000 + b"]" * 1000  # deeper than CPython's json module recurses


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"[]", "application/json", 400),
        (b'"ada"', "application/json", 400),
        (b"{}", "application/json", 422),
        (json.dumps({"username": "ada"}).encode(), "application/json", 422),
        (json.dumps({"username": 5, "password": "x"}).encode(), "application/json", 422),
        (json.dumps({"username": "ada", "password": ["x"]}).encode(), "application/json", 422),
        (json.dumps({"username": "ada", "password": None}).encode(), "application/json", 422),
        (json.dumps({"username": "a" * 257, "password": "x"}).encode(), "application/json", 422),
        (json.dumps({"username": "ada", "password": "x" * 257}).encode(), "application/json", 422),
        (json.dumps({"username": "ada", "password": "x" * 5000}).encode(), "application/json", 413),
        (b"x" * 200_000, "application/json", 413),
        (b"username=ada&password=x", "application/x-www-form-urlencoded", 415),
        (b"", "application/json", 400),
        (b'{"username": "\\ud800", "password": "x"}', "application/json", 422),  # lone surrogate
        (b'{"username": "ada", "password": "\\udfff"}', "application/json", 422),
        (b'{"username": ' + NESTED + b', "password": "x"}', "application/json", 400),
    ],
)
async def test_bad_login_bodies(server, body, content_type, status):
    response = await server.http.post(
        server.url + LOGIN,
        data=body,
        headers={"Content-Type": content_type, "Origin": server.origin},
    )
    assert response.status == status
    payload = await response.json()
    assert set(payload["error"]) == {"code", "message"}
    assert "Traceback" not in payload["error"]["message"]


async def test_wrong_method_is_a_json_405(server):
    response = await server.http.get(server.url + LOGIN)
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"


async def test_server_stays_healthy_after_bad_input(server):
    for _ in range(20):
        await server.http.post(
            server.url + LOGIN,
            data=b"{",
            headers={"Content-Type": "application/json", "Origin": server.origin},
        )
    assert (await server.http.get(server.url + "/api/health")).status == 200
