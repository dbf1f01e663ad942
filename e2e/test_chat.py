"""The chat: lazily loaded after sign-in, one socket, nothing lost, text as text."""

from __future__ import annotations

import sqlite3
import time

import pytest

from app.wire.limits import MAX_TEXT
from e2e.conftest import (
    SERVER_GONE,
    caught_up,
    chat_at_rest,
    chat_open,
    make_pages,
    open_app,
    send,
    settled,
    sign_in,
    sockets,
)
from tests.support import PASSWORD, ServerProcess, add_user

CHAT_FILE = "/app/chat/"


def chat_requests(watch) -> list[str]:
    return [u for u in watch.requests if CHAT_FILE in u or "/app/net/connection.py" in u]


def test_anonymous_visit_loads_no_chat_and_opens_no_socket(pages):
    page, watch = pages.new()
    open_app(page)
    settled(page, "anonymous")
    caught_up(page)
    assert sockets(page) == [] and chat_requests(watch) == []
    assert page.locator("#chat-panel").count() == 0


def test_sign_in_then_exactly_one_socket_opened_while_authenticated(pages):
    page, watch = pages.new()
    open_app(page)
    assert chat_requests(watch) == []
    sign_in(page, "chat-ada")
    settled(page, "authenticated")
    chat_open(page)
    made = sockets(page)
    assert len(made) == 1 and made[0]["auth"] == "authenticated"
    assert made[0]["url"].endswith("/api/ws") and "token" not in made[0]["url"]
    # chat code was fetched only after the page said authenticated
    fetched = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/app/chat/'))"
        ".map(e => e.startTime)"
    )
    assert fetched and min(fetched) >= page.evaluate("window.__authTimes.authenticated")
    assert page.locator("#chat-log").get_attribute("role") == "log"


def test_restore_opens_the_socket_only_after_validation(pages):
    page, _ = pages.new()
    open_app(page)
    sign_in(page, "chat-bob")
    chat_open(page)
    open_app(page)  # reload: restore from the hint
    chat_open(page)
    made = sockets(page)
    assert len(made) == 1 and made[0]["auth"] == "authenticated"
    assert page.evaluate("window.__authLog") == ["restoring", "authenticated"]


def test_collapse_expand_and_remount_keep_one_socket(pages):
    page, _ = pages.new()
    open_app(page)
    sign_in(page, "chat-cy")
    chat_open(page)
    page.click("#chat-toggle")
    assert page.locator("#chat-body").is_hidden()
    assert page.get_attribute("#chat-toggle", "aria-expanded") == "false"
    page.click("#chat-toggle")
    assert page.locator("#chat-input").is_visible()
    page.click("#chat-close")  # unmount ...
    assert page.locator("#chat-panel").count() == 0
    page.click("#chat-open")  # ... and mount again within the registry's grace period
    chat_open(page)
    page.wait_for_timeout(1500)
    assert len(sockets(page)) == 1 and sockets(page)[0]["closeCode"] is None


def test_chat_round_trip_streams_the_reply(pages):
    page, _ = pages.new()
    open_app(page)
    sign_in(page, "chat-dee")
    chat_open(page)
    send(page, "/help")
    page.wait_for_selector('.chat-message[data-role="user"][data-status="sent"]')
    reply = page.locator('.chat-message[data-role="assistant"]')
    reply.first.wait_for()
    page.wait_for_function(
        "document.querySelector('.chat-message[data-role=assistant]').textContent"
        ".includes('/status')"
    )
    assert page.input_value("#chat-input") == ""
    # Shift+Enter adds a line instead of sending
    page.fill("#chat-input", "one")
    page.press("#chat-input", "Shift+Enter")
    page.keyboard.type("two")
    assert page.input_value("#chat-input") == "one\ntwo"
    # The limit counts characters, as the server does: a paste of MAX_TEXT emoji goes in whole
    # and is sent; one more is refused with the reason, and what was pasted stays in the box.
    page.fill("#chat-input", "")
    page.keyboard.insert_text("😀" * MAX_TEXT)  # the browser's own editing path, as a paste
    assert len(page.input_value("#chat-input")) == MAX_TEXT
    page.press("#chat-input", "Enter")
    sent = '.chat-message[data-role="user"][data-status="sent"]'
    page.locator(sent, has_text="😀😀").wait_for(timeout=30_000)
    assert len(page.locator(sent).last.locator(".chat-text").inner_text()) == MAX_TEXT
    page.keyboard.insert_text("😀" * (MAX_TEXT + 1))
    page.press("#chat-input", "Enter")
    assert str(MAX_TEXT) in page.inner_text("#chat-notice")
    assert len(page.input_value("#chat-input")) == MAX_TEXT + 1


def test_markup_is_shown_as_text_and_runs_nothing(pages):
    page, watch = pages.new()
    open_app(page)
    sign_in(page, "chat-eve")
    chat_open(page)
    hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    send(page, hostile)
    page.wait_for_selector('.chat-message[data-role="assistant"][data-status="done"]')
    assert page.locator('.chat-message[data-role="user"] .chat-text').inner_text() == hostile
    assert hostile in page.locator('.chat-message[data-role="assistant"] .chat-text').inner_text()
    assert page.locator("#chat-log img, #chat-log script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert not any(u.endswith("/x") for u in watch.requests)


def test_sign_out_closes_the_socket_and_nothing_reconnects(pages):
    page, _ = pages.new()
    open_app(page)
    sign_in(page, "chat-fay")
    chat_open(page)
    page.click("#logout")
    settled(page, "anonymous")
    page.wait_for_function("window.__sockets[0].closeCode !== null")
    assert page.locator("#chat-panel").count() == 0
    chat_at_rest(page)
    assert len(sockets(page)) == 1
    stats = page.evaluate("JSON.parse(pychatStats())")
    assert stats == {"sockets_created": 1, "live_proxies": 0, "live_timers": 0, "has_socket": False}


def test_server_side_revocation_signs_the_page_out_with_no_retry(pages, live_server):
    page, watch = pages.new()
    watch.allow(r"status of 401")
    open_app(page)
    sign_in(page, "chat-gus")
    chat_open(page)
    # Someone revokes this session on the server (same cookie, another client).
    response = pages.context.request.post(
        live_server.url + "/api/auth/logout", headers={"Origin": live_server.url}
    )
    assert response.status == 204
    settled(page, "anonymous", timeout=2000)
    assert "session has ended" in page.locator("#login-notice").inner_text()
    chat_at_rest(page)
    made = sockets(page)
    assert len(made) == 1 and made[0]["closeCode"] == 4401


def test_signing_out_in_a_second_tab_closes_this_tabs_socket(pages):
    first, _ = pages.new()
    open_app(first)
    sign_in(first, "chat-hal")
    chat_open(first)
    second, _ = pages.new()
    open_app(second)
    chat_open(second)
    second.click("#logout")
    settled(first, "anonymous")
    first.wait_for_function("window.__sockets[0].closeCode !== null")
    chat_at_rest(first)
    assert len(sockets(first)) == 1
    assert first.locator("#chat-panel").count() == 0


@pytest.fixture
def own_server(server_dir, browser):
    db = server_dir / f"restart-{time.monotonic_ns()}.db"
    add_user(db, "ivy", PASSWORD)
    server = ServerProcess(db).start()
    yield server
    server.stop()


def test_restart_reconnects_and_delivers_what_was_typed_meanwhile_exactly_once(browser, own_server):
    gen = make_pages(browser, own_server.url)
    pages = next(gen)
    try:
        page, watch = pages.new()
        watch.allow(SERVER_GONE)
        open_app(page)
        sign_in(page, "ivy")
        chat_open(page)

        own_server.stop()  # graceful: every socket gets 1012
        page.wait_for_function("window.__sockets[0].closeCode === 1012")
        page.wait_for_selector('#chat-panel[data-connection="reconnecting"]')
        assert "Reconnecting" in page.locator("#chat-status").inner_text()
        send(page, "typed while the server was down")
        send(page, "and a second one")
        pending = page.locator('.chat-message[data-role="user"][data-status="pending"]')
        assert pending.count() == 2

        restarted = ServerProcess(own_server.db, port=own_server.port).start()
        own_server.proc = restarted.proc  # so the fixture stops it
        own_server._log = restarted._log
        chat_open(page)
        page.wait_for_function(
            "document.querySelectorAll('.chat-message[data-role=user][data-status=sent]')"
            ".length === 2"
        )
        page.wait_for_function(
            "document.querySelectorAll('.chat-message[data-role=assistant][data-status=done]')"
            ".length === 2",
            timeout=30_000,
        )
        made = sockets(page)
        assert sum(1 for s in made if s["opened"]) == 2  # the first, and one reconnect
        assert all(s["closeCode"] is not None for s in made[:-1])
        texts = page.locator('.chat-message[data-role="user"] .chat-text').all_inner_texts()
        assert texts == ["typed while the server was down", "and a second one"]
        with sqlite3.connect(own_server.db) as db:
            rows = db.execute("SELECT text FROM messages WHERE role='user'").fetchall()
        assert rows == [("typed while the server was down",), ("and a second one",)]

        page.reload()  # history after a reload: everything once
        page.wait_for_selector('body[data-ready="true"]')
        chat_open(page)
        page.wait_for_function("document.querySelectorAll('.chat-message').length === 4")
    finally:
        next(gen, None)
