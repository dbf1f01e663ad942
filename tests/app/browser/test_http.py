"""The HTTP adapter: one same-origin fetch with a deadline, and what counts as no answer."""

from __future__ import annotations

import json

from app.browser.http import BrowserLink, request, socket_url
from app.browser.storage import KeyValue
from app.wire.limits import MAX_FIELD
from backend.auth import MAX_BODY
from tests.app.browser import fakejs


async def test_a_json_request_carries_the_body_a_deadline_and_same_origin_credentials(page):
    async def answer(url, options):
        return fakejs.Response(200, '{"ok": true}', {"Retry-After": "3"})

    page.fetch_handler = answer
    status, data, headers = await request("POST", "api/auth/login", {"username": "ada"})
    assert (status, data, headers["Retry-After"]) == (200, {"ok": True}, "3")
    [(url, options)] = page.requests
    assert url == "api/auth/login" and options["credentials"] == "same-origin"
    assert options["body"] == '{"username": "ada"}' and options["signal"] == ("timeout", 8000)
    assert "keepalive" not in options


async def test_the_longest_credentials_the_server_takes_fit_its_body_limit_as_the_page_sends_them(
    page,
):
    async def answer(url, options):
        return fakejs.Response(200, "{}")

    page.fetch_handler = answer
    longest = {"username": "👩" * MAX_FIELD, "password": "🔑" * MAX_FIELD}
    await request("POST", "api/auth/login", longest)
    [(_url, options)] = page.requests
    assert json.loads(options["body"]) == longest
    assert len(options["body"].encode("utf-8")) <= MAX_BODY  # escaped, it would be 6,000+


async def test_a_bodiless_post_is_kept_alive_and_a_non_json_answer_has_no_body(page):
    async def answer(url, options):
        return fakejs.Response(502, "<html>bad gateway</html>")

    page.fetch_handler = answer
    assert await BrowserLink.request("POST", "api/auth/logout") == (502, None, {})
    assert page.requests[0][1]["keepalive"] is True


async def test_a_rejected_fetch_is_no_answer_at_all(page):
    assert await request("GET", "api/auth/session") == (None, None, None)


def test_the_socket_url_follows_the_page_and_carries_only_the_mode_and_tab(page):
    assert socket_url(None) == "ws://127.0.0.1:8000/api/ws"  # the session's one socket
    assert socket_url("t1") == "ws://127.0.0.1:8000/api/ws?mode=tab&tab=t1"
    fakejs.reset("https://chat.example/team/app/")
    assert socket_url("t2") == "wss://chat.example/team/app/api/ws?mode=tab&tab=t2"
    assert BrowserLink.open_socket("ws://x/api/ws").url == "ws://x/api/ws"


def test_storage_reads_a_missing_key_as_none(page):
    store = KeyValue("sessionStorage")
    assert store.read("k") is None
    store.write("k", "v")
    assert store.read("k") == "v" and page.sessionStorage.items == {"k": "v"}
    store.remove("k")
    assert store.read("k") is None
