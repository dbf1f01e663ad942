"""The chat's adapters against the fake page: the entry's registry, the socket adapter and
the panel.  The test plays the server on the fake WebSocket."""

from __future__ import annotations

import asyncio
import json

from app.wire import frames
from app.wire.close_codes import NORMAL, UNAUTHORIZED
from app.wire.limits import MAX_TEXT
from tests.app.browser import fakejs

WELCOME = json.dumps(frames.welcome("ada", "2030-01-01T00:00:00Z", "t"))


def mounted(page, ended: list | None = None):
    from app.browser import chat

    ended = [] if ended is None else ended
    panel = chat.mount(
        page.document.body, "ada", on_close=lambda: None, on_session_ended=lambda: ended.append(1)
    )
    return chat, panel, fakejs.WebSocket.made[-1]


def panel_state(page) -> str:
    return page.document.getElementById("chat-panel").dataset.connection


def stats(chat) -> dict:
    return json.loads(chat.ENTRY.stats())


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_mounting_opens_one_socket_for_this_tab_and_shows_connecting(page):
    chat, panel, ws = mounted(page)
    assert ws.url.startswith("ws://127.0.0.1:8000/api/ws?tab=") and "token" not in ws.url
    assert panel_state(page) == "connecting"
    assert page.document.querySelector("#chat-panel #chat-log").getAttribute("role") == "log"
    chat.close_all()
    panel.unmount()


async def test_welcome_opens_the_panel_and_a_message_goes_out_and_is_acknowledged(page):
    chat, panel, ws = mounted(page)
    ws.server_opens()
    ws.server_sends(WELCOME)
    assert panel_state(page) == "open"
    page.document.getElementById("chat-input").value = "hello"
    page.document.getElementById("chat-form").fire("submit")
    [sent] = [json.loads(s) for s in ws.sent if json.loads(s)["type"] == "message"]
    assert sent["text"] == "hello" and page.document.getElementById("chat-input").value == ""
    item = page.document.querySelector(f'.chat-message[data-id="{sent["id"]}"]')
    assert item.dataset.status == "pending" and item.dataset.role == "user"
    ws.server_sends(json.dumps(frames.ack(sent["id"], False)))
    assert item.dataset.status == "sent"
    assert item.querySelector(".chat-text").textContent == "hello"  # text, never HTML
    chat.close_all()
    panel.unmount()


async def test_what_is_typed_while_connecting_waits_and_a_refusal_is_shown(page):
    chat, panel, ws = mounted(page)
    page.document.getElementById("chat-input").value = "x" * (MAX_TEXT + 1)
    page.document.getElementById("chat-form").fire("submit")
    assert str(MAX_TEXT) in page.document.getElementById("chat-notice").textContent
    page.document.getElementById("chat-input").value = "early"
    page.document.getElementById("chat-form").fire("submit")
    assert ws.sent == []
    ws.server_opens()
    ws.server_sends(WELCOME)
    assert [json.loads(s)["text"] for s in ws.sent] == ["early"]
    chat.close_all()
    panel.unmount()


async def test_a_failed_message_gets_a_retry_button_that_resends_it(page):
    chat, panel, ws = mounted(page)
    ws.server_opens()
    ws.server_sends(WELCOME)
    page.document.getElementById("chat-input").value = "again"
    page.document.getElementById("chat-form").fire("submit")
    message_id = json.loads(ws.sent[-1])["id"]
    ws.server_sends(json.dumps(frames.error("x", "Refused.", message_id)))
    retry = page.document.querySelector(".chat-message-retry")
    assert retry is not None and retry.dataset.id == message_id
    retry.fire("click")
    assert json.loads(ws.sent[-1])["id"] == message_id
    assert page.document.querySelector(".chat-message-retry") is None
    chat.close_all()
    panel.unmount()


async def test_a_streamed_reply_appears_as_plain_text_until_markdown_is_ready(page):
    chat, panel, ws = mounted(page)
    ws.server_opens()
    ws.server_sends(WELCOME)
    for frame in (
        frames.text_start("a1"),
        frames.text_content("a1", "**hi**"),
        frames.text_end("a1"),
    ):
        ws.server_sends(json.dumps(frame))
    reply = page.document.querySelector('.chat-message[data-id="a1"]')
    assert reply.dataset.status == "done"
    assert reply.querySelector(".chat-text").textContent == "**hi**"
    await settle()  # the install fails here (no pyodide_js): plain text it stays
    assert page.document.getElementById("chat-panel").dataset.markdown == "unavailable"
    chat.close_all()
    panel.unmount()


async def test_4401_ends_the_session_and_sign_out_leaves_nothing_behind(page):
    ended: list = []
    chat, panel, ws = mounted(page, ended)
    ws.server_opens()
    ws.server_sends(WELCOME)
    ws.server_closes(UNAUTHORIZED)
    assert ended == [1]
    panel.unmount()
    chat.close_all()
    assert stats(chat) == {
        "sockets_created": 1,
        "live_proxies": 0,
        "live_timers": 0,
        "has_socket": False,
    }


async def test_a_dropped_socket_reconnects_on_a_new_socket_with_a_countdown(page):
    chat, panel, ws = mounted(page)
    ws.server_opens()
    ws.server_sends(WELCOME)
    ws.server_closes(1006)
    assert panel_state(page) == "reconnecting"
    assert page.document.getElementById("chat-status").textContent.startswith("Reconnecting in")
    page.document.getElementById("chat-retry").fire("click")
    assert len(fakejs.WebSocket.made) == 2
    assert ws.onmessage is None or ws.readyState == 3  # the old one is gone for good
    chat.close_all()
    assert fakejs.WebSocket.made[-1].closed_with == (NORMAL, "signed out")
    panel.unmount()


async def test_offline_and_online_events_reach_the_core(page):
    chat, panel, ws = mounted(page)
    ws.server_opens()
    ws.server_sends(WELCOME)
    page.window.fire("offline")
    ws.server_closes(1006)
    assert panel_state(page) == "offline"
    page.window.fire("online")
    assert len(fakejs.WebSocket.made) == 2
    chat.close_all()
    panel.unmount()


async def test_collapse_hides_the_body_and_close_asks_the_shell(page):
    from app.browser import chat

    closed = []
    panel = chat.mount(
        page.document.body, "ada", on_close=lambda: closed.append(1), on_session_ended=lambda: None
    )
    page.document.getElementById("chat-toggle").fire("click")
    assert page.document.getElementById("chat-body").hidden
    assert page.document.getElementById("chat-toggle").getAttribute("aria-expanded") == "false"
    page.document.getElementById("chat-close").fire("click")
    assert closed == [1]
    chat.close_all()
    panel.unmount()
    assert page.document.getElementById("chat-panel") is None
