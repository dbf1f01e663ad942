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


async def test_without_locks_or_channels_the_tab_opens_its_own_socket_in_per_tab_mode(page):
    chat, panel, ws = mounted(page)
    assert ws.url.startswith("ws://127.0.0.1:8000/api/ws?mode=tab&tab=") and "token" not in ws.url
    assert panel_state(page) == "connecting"
    assert page.document.getElementById("chat-panel").dataset.sharing == "alone"
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


# ------------------------------------------------------------------ tabs sharing one socket

CHANNEL = "pychat-chat http://127.0.0.1:8000 ada"
OPEN_CONN = {
    "state": "open",
    "failures": 0,
    "online": True,
    "opened_once": True,
    "degraded": False,
    "retry_at": None,
    "last_code": None,
}


def mount_shared(page, ended: list | None = None, timer_scale=None):
    from app.browser import chat

    ended = [] if ended is None else ended
    panel = chat.mount(
        page.document.body,
        "ada",
        on_close=lambda: None,
        on_session_ended=lambda: ended.append(1),
        timer_scale=timer_scale,
    )
    return chat, panel


def said(other: fakejs.OtherTab) -> list[dict]:
    return [json.loads(text) for text in other.heard]


def update(messages=(), conn=OPEN_CONN, complete=True, term=(1, "other")) -> str:
    return json.dumps(
        {
            "kind": "update",
            "term": list(term),
            "conn": conn,
            "messages": list(messages),
            "complete": complete,
        }
    )


def sharing(page) -> str:
    return page.document.getElementById("chat-panel").dataset.sharing


async def test_a_lone_tab_leads_with_the_sessions_one_socket_and_tells_the_channel(shared_page):
    other = fakejs.OtherTab(CHANNEL)  # listening, not asking for the lock
    chat, panel = mount_shared(shared_page)
    await settle()
    [ws] = fakejs.WebSocket.made
    assert ws.url == "ws://127.0.0.1:8000/api/ws" and sharing(shared_page) == "leader"
    ws.server_opens()
    ws.server_sends(WELCOME)
    await settle()
    kinds = [m["kind"] for m in said(other)]
    assert kinds[:2] == ["hello", "leading"] and said(other)[-1]["conn"]["state"] == "open"
    chat.close_all()
    panel.unmount()
    await settle()
    assert said(other)[-1]["kind"] == "bye"
    assert shared_page.navigator.locks.held == {} and fakejs.BroadcastChannel.open == [
        other.channel
    ]
    assert stats(chat)["live_proxies"] == 0 and stats(chat)["live_timers"] == 0


async def test_a_follower_shows_the_leaders_chat_and_offers_what_its_user_types(shared_page):
    other = fakejs.OtherTab(CHANNEL)
    other.take_lock()
    await settle()
    chat, panel = mount_shared(shared_page)
    await settle()
    assert fakejs.WebSocket.made == [] and sharing(shared_page) == "follower"
    assert panel_state(shared_page) == "connecting" and said(other)[0]["kind"] == "hello"
    other.say(
        update([{"id": "h1", "role": "user", "text": "old", "status": "sent", "error": None}])
    )
    await settle()
    assert panel_state(shared_page) == "open"
    assert shared_page.document.querySelector('.chat-message[data-id="h1"]') is not None
    shared_page.document.getElementById("chat-input").value = "from the follower"
    shared_page.document.getElementById("chat-form").fire("submit")
    await settle()
    offer = [m for m in said(other) if m["kind"] == "offer"][-1]
    assert offer["kind"] == "offer" and offer["text"] == "from the follower"
    item = shared_page.document.querySelector(f'.chat-message[data-id="{offer["id"]}"]')
    assert item.dataset.status == "pending"
    sent = {
        "id": offer["id"],
        "role": "user",
        "text": "from the follower",
        "status": "sent",
        "error": None,
    }
    other.say(update([sent], conn=None, complete=False))
    await settle()
    assert item.dataset.status == "sent"
    chat.close_all()
    panel.unmount()


async def test_when_the_leader_goes_the_follower_takes_the_socket_and_what_was_waiting(
    shared_page,
):
    other = fakejs.OtherTab(CHANNEL)
    other.take_lock()
    await settle()
    chat, panel = mount_shared(shared_page)
    await settle()
    other.say(update())
    await settle()
    shared_page.document.getElementById("chat-input").value = "never acknowledged"
    shared_page.document.getElementById("chat-form").fire("submit")
    other.say(json.dumps({"kind": "bye", "term": [1, "other"]}))
    other.release_lock()
    await settle()
    assert panel_state(shared_page) == "reconnecting" and sharing(shared_page) == "leader"
    [ws] = fakejs.WebSocket.made
    ws.server_opens()
    ws.server_sends(WELCOME)
    assert [json.loads(s)["text"] for s in ws.sent] == ["never acknowledged"]
    chat.close_all()
    panel.unmount()


async def test_a_stolen_lock_hands_the_socket_over_and_the_tab_follows(shared_page):
    chat, panel = mount_shared(shared_page)
    await settle()
    [ws] = fakejs.WebSocket.made
    ws.server_opens()
    ws.server_sends(WELCOME)
    thief = fakejs.OtherTab(CHANNEL)
    thief.take_lock(steal=True)
    await settle()
    assert ws.closed_with == (NORMAL, "handed over to another tab")
    assert sharing(shared_page) == "follower" and panel_state(shared_page) == "reconnecting"
    assert said(thief)[-1]["kind"] == "hello"
    chat.close_all()
    panel.unmount()
    thief.release_lock()
    await settle()
    assert shared_page.navigator.locks.held == {}


async def test_a_leader_about_to_be_frozen_steps_down_first(shared_page):
    other = fakejs.OtherTab(CHANNEL)
    chat, panel = mount_shared(shared_page)
    await settle()
    [ws] = fakejs.WebSocket.made
    shared_page.document.fire("freeze")
    assert ws.closed_with == (NORMAL, "handed over to another tab")
    await settle()
    assert [m["kind"] for m in said(other)].count("bye") == 1
    shared_page.document.fire("resume")  # alone: it takes the lock back and reconnects
    await settle()
    assert sharing(shared_page) == "leader" and len(fakejs.WebSocket.made) == 2
    chat.close_all()
    panel.unmount()


async def test_closing_the_page_says_bye_and_gives_the_lock_up_at_once(shared_page):
    other = fakejs.OtherTab(CHANNEL)
    chat, panel = mount_shared(shared_page)
    await settle()
    shared_page.window.fire("pagehide", persisted=False)
    await settle()
    assert said(other)[-1]["kind"] == "bye" and shared_page.navigator.locks.held == {}
    chat.close_all()
    panel.unmount()


async def test_a_page_kept_for_the_back_button_steps_down_and_queues_again(shared_page):
    other = fakejs.OtherTab(CHANNEL)
    other.take_lock()  # someone else will want it after us
    await settle()
    chat, panel = mount_shared(shared_page)
    other.release_lock()
    await settle()
    assert sharing(shared_page) == "leader"
    other.take_lock()
    shared_page.window.fire("pagehide", persisted=True)
    await settle()
    assert sharing(shared_page) == "follower" and "bye" in [m["kind"] for m in said(other)]
    chat.close_all()
    panel.unmount()
    other.release_lock()
    await settle()


async def test_a_follower_that_hears_nothing_takes_the_lock(shared_page):
    silent = fakejs.OtherTab(CHANNEL)
    silent.take_lock()  # a leader that cannot run: it never answers
    await settle()
    chat, panel = mount_shared(shared_page, timer_scale=lambda: 100.0)
    await asyncio.sleep(0.08)  # the answer time (5-6 s), fast-forwarded; not the handshake's
    await settle()
    assert sharing(shared_page) == "leader" and len(fakejs.WebSocket.made) == 1
    try:
        await silent.lost
    except fakejs.AbortError:
        pass
    else:
        raise AssertionError("the silent tab should have lost its lock")
    chat.close_all()
    panel.unmount()


async def test_a_follower_passes_visibility_and_retry_to_the_leader_and_obeys_its_end(
    shared_page,
):
    ended: list = []
    other = fakejs.OtherTab(CHANNEL)
    other.take_lock()
    await settle()
    chat, panel = mount_shared(shared_page, ended)
    await settle()
    failed = {**OPEN_CONN, "state": "failed", "last_code": 1008}
    other.say(update(conn=failed))
    await settle()
    assert panel_state(shared_page) == "failed"
    shared_page.document.getElementById("chat-retry").fire("click")
    shared_page.document.visibilityState = "visible"
    shared_page.document.fire("visibilitychange")
    await settle()
    assert [m["kind"] for m in said(other)][-3:] == ["retry-connection", "looked-again", "probe"]
    other.say(json.dumps({"kind": "ended", "term": [1, "other"]}))
    await settle()
    assert ended == [1]
    chat.close_all()
    panel.unmount()
    other.release_lock()
    await settle()
