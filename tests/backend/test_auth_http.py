"""The sign-in endpoints over real HTTP, with an injected clock for expiry."""

from __future__ import annotations

import hashlib
import logging

import aiohttp
import pytest

from backend.auth import COOKIE_NAME, DEVICE_COOKIE
from backend.keys import STORAGE
from backend.throttle import DEVICE_LIFETIME
from tests.support import PASSWORD

SESSION = "/api/auth/session"
LOGOUT_ALL = "/api/auth/logout-all"


async def test_login_sets_an_httponly_strict_cookie_and_returns_the_user(server):
    response = await server.login()
    assert response.status == 200
    body = await response.json()
    assert body["user"] == {"name": "ada"}
    assert body["expires_at"].endswith("Z")
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain http on loopback
    assert len(cookie.value) >= 43  # 256 bits, url-safe base64
    assert response.headers["Cache-Control"] == "no-store"


async def test_only_the_sha256_of_the_token_is_stored(server):
    response = await server.login()
    token = response.cookies[COOKIE_NAME].value
    rows = server.db.execute("SELECT token_hash FROM sessions").fetchall()
    assert rows == [(hashlib.sha256(token.encode()).digest(),)]
    dump = "\n".join(server.db.iterdump())
    assert token not in dump


async def test_session_endpoint_with_and_without_the_cookie(server):
    assert (await server.http.get(server.url + SESSION)).status == 401
    await server.login()
    response = await server.http.get(server.url + SESSION)
    assert response.status == 200
    assert (await response.json())["user"]["name"] == "ada"


async def test_bearer_token_for_non_browser_clients(server):
    token = (await server.login()).cookies[COOKIE_NAME].value
    server.http.cookie_jar.clear()
    response = await server.http.get(
        server.url + SESSION, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 200


@pytest.mark.parametrize(
    ("username", "password"), [("ada", "wrong password"), ("nobody", PASSWORD)]
)
async def test_unknown_user_and_wrong_password_look_the_same(server, username, password):
    response = await server.login(username, password)
    assert response.status == 401
    assert await response.json() == {
        "error": {"code": "invalid_credentials", "message": "Wrong user name or password."}
    }
    assert COOKIE_NAME not in response.cookies


async def test_unknown_user_still_costs_one_password_hash(server, monkeypatch):
    import backend.passwords as passwords

    calls = []
    real = passwords._verify
    monkeypatch.setattr(passwords, "_verify", lambda s, p: calls.append(1) or real(s, p))
    await server.login("nobody", PASSWORD)
    await server.login("ada", "wrong password")
    assert len(calls) == 2


async def test_idle_expiry_slides_with_use(server):
    await server.login()
    for _ in range(3):  # 87 minutes in all, never idle for 30
        server.clock.advance(29 * 60)
        assert (await server.http.get(server.url + SESSION)).status == 200
    server.clock.advance(30 * 60 + 1)
    assert (await server.http.get(server.url + SESSION)).status == 401


async def test_absolute_expiry_ends_even_an_active_session(server):
    await server.login()
    for _ in range(8 * 60 // 20 - 1):
        server.clock.advance(20 * 60)
        assert (await server.http.get(server.url + SESSION)).status == 200
    server.clock.advance(20 * 60)  # 8 h after sign-in
    assert (await server.http.get(server.url + SESSION)).status == 401


async def test_logout_revokes_the_session_and_clears_the_cookie(server):
    token = (await server.login()).cookies[COOKIE_NAME].value
    response = await server.http.post(
        server.url + "/api/auth/logout", headers={"Origin": server.origin}
    )
    assert response.status == 204
    assert response.cookies[COOKIE_NAME].value == ""
    revived = await server.http.get(
        server.url + SESSION, headers={"Authorization": f"Bearer {token}"}
    )
    assert revived.status == 401
    assert server.db.execute("SELECT count(*) FROM sessions").fetchone() == (0,)


async def test_account_throttling_answers_429_with_retry_after(server):
    for _ in range(5):
        assert (await server.login("ada", "wrong password")).status == 401
    response = await server.login("ada", PASSWORD)  # even the right password waits
    assert response.status == 429
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= 15 * 60
    assert (await response.json())["error"]["code"] == "throttled"
    # Another account from the same address is not locked.
    assert (await server.login("nobody", PASSWORD)).status == 401
    server.clock.advance(wait)
    assert (await server.login("ada", PASSWORD)).status == 200


async def test_account_throttling_ignores_case(server):
    for name in ["ada", "ADA", "Ada", "aDa", "adA"]:
        await server.login(name, "wrong password")
    assert (await server.login("ada", PASSWORD)).status == 429


@pytest.fixture
def settings_overrides(request):
    return getattr(request, "param", {})


@pytest.mark.parametrize("settings_overrides", [{"address_attempts": 3}], indirect=True)
async def test_address_throttling(server):
    for name in ["a1", "a2", "a3"]:
        assert (await server.login(name, "whatever pw")).status == 401
    response = await server.login("ada", PASSWORD)
    assert response.status == 429 and "Retry-After" in response.headers


@pytest.mark.parametrize(
    ("origin", "fetch_site"),
    [
        ("http://evil.example", None),
        ("null", None),
        ("http://127.0.0.1.evil.example", None),
        (None, "cross-site"),
    ],
)
async def test_state_changing_requests_from_another_origin_are_refused(server, origin, fetch_site):
    headers = {}
    if origin:
        headers["Origin"] = origin
    if fetch_site:
        headers["Sec-Fetch-Site"] = fetch_site
    for path, body in (
        ("/api/auth/login", {"username": "ada", "password": PASSWORD}),
        ("/api/auth/logout", None),
    ):
        response = await server.http.post(server.url + path, json=body, headers=headers)
        assert response.status == 403, path
        assert (await response.json())["error"]["code"] == "forbidden_origin"


async def test_suffix_trick_on_the_port_is_refused(server):
    response = await server.login(headers={"Origin": server.origin + "0"})
    assert response.status == 403


async def test_log_has_one_line_per_request_and_no_secrets(server, caplog):
    caplog.set_level(logging.INFO, logger="pychat")
    response = await server.login()
    token = response.cookies[COOKIE_NAME].value
    await server.http.get(server.url + SESSION + "?secret=in-query")
    lines = [r.getMessage() for r in caplog.records if r.name == "pychat.access"]
    assert len(lines) == 2
    assert "POST /api/auth/login 200" in lines[0]
    assert "GET /api/auth/session 200" in lines[1]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORD not in text and token not in text and "in-query" not in text


# ------------------------------------------------------------------ device cookies

BEHIND_PROXY = {"trusted_proxies": frozenset({"127.0.0.1"})}


async def _sign_in(server, http, name: str, password: str, address: str):
    """Sign in from ``address`` (as the trusted proxy in front reports it) with ``http``'s
    cookies: a browser of its own."""
    response = await http.post(
        server.url + "/api/auth/login",
        json={"username": name, "password": password},
        headers={"Origin": server.origin, "X-Forwarded-For": address},
    )
    await response.read()
    return response


@pytest.mark.parametrize("settings_overrides", [BEHIND_PROXY], indirect=True)
async def test_someone_elses_failures_never_lock_out_a_known_device(server):
    assert (await _sign_in(server, server.http, "ada", PASSWORD, "198.51.100.2")).status == 200
    async with aiohttp.ClientSession() as attacker:
        for _ in range(5):
            failed = await _sign_in(server, attacker, "ada", "guess", "203.0.113.7")
            assert failed.status == 401
        again = await _sign_in(server, attacker, "ada", PASSWORD, "203.0.113.7")
        assert again.status == 429  # the guesser is slowed down
    # ada's own browser (its device cookie) from her address signs in at once ...
    assert (await _sign_in(server, server.http, "ada", PASSWORD, "198.51.100.2")).status == 200
    # ... while any client without one is still limited, from any address.
    async with aiohttp.ClientSession() as stranger:
        unknown = await _sign_in(server, stranger, "ada", PASSWORD, "192.0.2.55")
        assert unknown.status == 429 and "Retry-After" in unknown.headers


@pytest.mark.parametrize(
    "settings_overrides", [{"secure_cookies": False}, {"secure_cookies": True}], indirect=True
)
async def test_the_device_cookie_is_httponly_strict_and_read_only_by_the_sign_in(server):
    response = await server.login()
    cookie = response.cookies[DEVICE_COOKIE]
    assert cookie["httponly"] is True and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/api/auth/login"
    assert bool(cookie["secure"]) is server.settings.secure_cookies
    assert cookie.value.startswith("ada:") and PASSWORD not in cookie.value


@pytest.mark.parametrize(
    ("settings_overrides", "forwarded", "secure"),
    [
        (BEHIND_PROXY, "https", True),  # TLS ends at the proxy: the browser is on https
        (BEHIND_PROXY, "http", False),
        ({}, "https", False),  # an untrusted peer's claim counts for nothing
    ],
    indirect=["settings_overrides"],
)
async def test_cookies_are_secure_when_a_trusted_proxy_says_the_page_is_on_https(
    server, forwarded, secure
):
    response = await server.login(headers={"X-Forwarded-Proto": forwarded})
    assert response.status == 200
    for name in (COOKIE_NAME, DEVICE_COOKIE):
        assert bool(response.cookies[name]["secure"]) is secure, name
    logout = await server.http.post(
        server.url + "/api/auth/logout",
        headers={"Origin": server.origin, "X-Forwarded-Proto": forwarded},
    )
    assert logout.status == 204
    assert bool(logout.cookies[COOKIE_NAME]["secure"]) is secure  # the clearing cookie matches


@pytest.mark.parametrize("settings_overrides", [BEHIND_PROXY], indirect=True)
async def test_a_device_cookie_counts_only_for_its_own_user_and_only_if_genuine(server):
    await server.server.app[STORAGE].users.add("bob", PASSWORD)
    genuine = (await server.login()).cookies[DEVICE_COOKIE].value
    async with aiohttp.ClientSession() as attacker:
        for _ in range(5):
            await _sign_in(server, attacker, "bob", "guess", "203.0.113.7")
    _, issued, device, signature = genuine.split(":")
    for value in (
        genuine,  # ada's, not bob's
        f"bob:{issued}:{device}:{signature}",  # rebound to bob: the signature says no
        f"bob:{issued}:{device}:{'A' * len(signature)}",
    ):
        async with aiohttp.ClientSession(cookies={DEVICE_COOKIE: value}) as http:
            assert (await _sign_in(server, http, "bob", PASSWORD, "192.0.2.1")).status == 429


@pytest.mark.parametrize("settings_overrides", [BEHIND_PROXY], indirect=True)
async def test_a_known_device_is_limited_by_its_own_failures(server):
    assert (await server.login()).status == 200
    for _ in range(5):
        assert (await server.login("ada", "typo")).status == 401
    assert (await server.login("ada", PASSWORD)).status == 429
    async with aiohttp.ClientSession() as other:  # not the unknown clients' doing
        assert (await _sign_in(server, other, "ada", PASSWORD, "192.0.2.9")).status == 200


async def test_a_device_cookie_expires(server):
    assert (await server.login()).status == 200
    server.clock.advance(DEVICE_LIFETIME)
    async with aiohttp.ClientSession() as attacker:
        for _ in range(5):
            await _sign_in(server, attacker, "ada", "guess", "203.0.113.7")
    assert (await server.login("ada", PASSWORD)).status == 429


# ------------------------------------------------------------------ revocation


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_signing_in_again_revokes_the_session_it_presented(server):
    first = (await server.login()).cookies[COOKIE_NAME].value
    second = (await server.login()).cookies[COOKIE_NAME].value  # the jar presents the first
    assert first != second
    assert (await server.http.get(server.url + SESSION, headers=_bearer(first))).status == 401
    assert (await server.http.get(server.url + SESSION, headers=_bearer(second))).status == 200
    assert server.db.execute("SELECT count(*) FROM sessions").fetchone() == (1,)


async def test_a_failed_sign_in_keeps_the_session_it_presented(server):
    token = (await server.login()).cookies[COOKIE_NAME].value
    assert (await server.login("ada", "wrong password")).status == 401
    assert (await server.http.get(server.url + SESSION, headers=_bearer(token))).status == 200


async def test_sign_out_everywhere_revokes_every_session_of_the_user_only(server):
    await server.server.app[STORAGE].users.add("bob", PASSWORD)
    others = []
    for name in ("ada", "ada", "bob"):
        async with aiohttp.ClientSession() as browser:
            response = await _sign_in(server, browser, name, PASSWORD, "198.51.100.3")
            others.append(response.cookies[COOKIE_NAME].value)
    await server.login()
    response = await server.http.post(server.url + LOGOUT_ALL, headers={"Origin": server.origin})
    assert response.status == 204
    assert response.cookies[COOKIE_NAME].value == ""
    assert (await server.http.get(server.url + SESSION)).status == 401
    statuses = [
        (await server.http.get(server.url + SESSION, headers=_bearer(token))).status
        for token in others
    ]
    assert statuses == [401, 401, 200]


async def test_sign_out_everywhere_needs_a_session_and_the_right_origin(server):
    response = await server.http.post(server.url + LOGOUT_ALL, headers={"Origin": server.origin})
    assert response.status == 401
    await server.login()
    refused = await server.http.post(
        server.url + LOGOUT_ALL, headers={"Origin": "http://evil.example"}
    )
    assert refused.status == 403
    assert (await server.http.get(server.url + SESSION)).status == 200
