"""The chat's adapters against the fake page: the entry's registry, the socket adapter and
the panel.  The test plays the server on the fake WebSocket."""

from __future__ import annotations

import asyncio
import json
import time

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


# ------------------------------------------------------------------------------ agent turns


def typed(page, ws, text: str) -> str:
    """Send ``text`` from the form; the id the page gave it."""
    page.document.getElementById("chat-input").value = text
    page.document.getElementById("chat-form").fire("submit")
    return json.loads(ws.sent[-1])["id"]


def open_panel(page):
    chat, panel, ws = mounted(page)
    ws.server_opens()
    ws.server_sends(WELCOME)
    return chat, panel, ws


def serve(ws, *sent: dict) -> None:
    for frame in sent:
        ws.server_sends(json.dumps(frame))


def send_button(page):
    return page.document.getElementById("chat-send")


async def test_while_an_answer_streams_the_send_button_stops_it(page):
    _chat, _panel, ws = open_panel(page)
    mid = typed(page, ws, "count slowly")
    assert (send_button(page).textContent, send_button(page).getAttribute("type")) == (
        "Send",
        "submit",
    )
    serve(ws, frames.ack(mid, False), frames.run_started("t", "r", mid))
    serve(ws, frames.text_start("a1"), frames.text_content("a1", "1 2 "))
    button = send_button(page)
    assert (button.textContent, button.dataset.action, button.getAttribute("type")) == (
        "Stop",
        "stop",
        "button",
    )
    assert button.getAttribute("aria-label") == "Stop the answer"
    event = button.fire("click")
    assert event.defaultPrevented and json.loads(ws.sent[-1]) == frames.stop(mid)
    assert button.textContent == "Stopping…" and button.disabled
    serve(ws, frames.run_error("Stopped.", "stopped", mid))
    reply = page.document.querySelector('.chat-message[data-id="a1"]')
    assert reply.dataset.status == "stopped"
    assert reply.querySelector(".chat-state").textContent == "Stopped."
    assert reply.querySelector(".chat-text").textContent == "1 2 "
    assert reply.querySelector(".chat-turn-retry") is None  # stopped on purpose
    assert (button.textContent, button.getAttribute("type"), button.disabled) == (
        "Send",
        "submit",
        False,
    )


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


async def test_enter_still_sends_while_an_answer_streams(page):
    _chat, _panel, ws = open_panel(page)
    mid = typed(page, ws, "first")
    serve(ws, frames.ack(mid, False), frames.run_started("t", "r", mid))
    page.document.getElementById("chat-input").value = "second"
    page.document.getElementById("chat-input").fire(
        "keydown", key="Enter", shiftKey=False, isComposing=False
    )
    assert json.loads(ws.sent[-1])["text"] == "second"
    assert send_button(page).textContent == "Stop"


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


async def test_a_lost_socket_turns_stop_back_into_send(page):
    _chat, _panel, ws = open_panel(page)
    mid = typed(page, ws, "count slowly")
    serve(ws, frames.ack(mid, False), frames.run_started("t", "r", mid))
    ws.server_closes(1006)
    assert send_button(page).textContent == "Send"


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


async def test_a_tool_call_is_one_collapsed_line_that_says_what_it_did(page):
    _chat, _panel, ws = open_panel(page)
    mid = typed(page, ws, "weather in Paris")
    serve(
        ws,
        frames.ack(mid, False),
        frames.run_started("t", "r", mid),
        {"type": "STEP_STARTED", "stepName": "look things up"},
        {"type": "TOOL_CALL_START", "toolCallId": "c1", "toolCallName": "get_weather"},
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": '{"city": "<b>Paris</b>"}'},
        {"type": "TOOL_CALL_END", "toolCallId": "c1"},
    )
    line = page.document.querySelector('.chat-activity[data-id="c1"]')
    assert (line.dataset.kind, line.dataset.status) == ("tool", "running")
    summary = line.querySelector("details summary")
    assert summary.textContent == "Looking up the weather…"
    assert not line.querySelector("details").open  # collapsed until someone opens it
    serve(
        ws,
        {"type": "TOOL_CALL_RESULT", "toolCallId": "c1", "content": "<i>sunny</i>"},
        {"type": "STEP_FINISHED", "stepName": "look things up"},
        frames.text_start("a1"),
        frames.text_content("a1", "It is sunny."),
        frames.text_end("a1"),
        frames.run_finished("t", "r", mid),
    )
    assert (line.dataset.status, summary.textContent) == ("done", "Looked up the weather ✓")
    body = line.querySelector(".chat-activity-body")
    assert body.textContent == 'Asked with: {"city": "<b>Paris</b>"}\nAnswer: <i>sunny</i>'
    assert line.querySelector("b") is None and line.querySelector("i") is None  # text only
    step = page.document.querySelector('.chat-activity[data-kind="step"]')
    assert step.textContent == "Look things up ✓" and step.querySelector("details") is None
    order = [n.dataset.id for n in page.document.querySelectorAll(".chat-list li")]
    assert order == [mid, step.dataset.id, "c1", "a1"]


async def test_closing_the_page_says_bye_and_gives_the_lock_up_at_once(shared_page):
    other = fakejs.OtherTab(CHANNEL)
    chat, panel = mount_shared(shared_page)
    await settle()
    shared_page.window.fire("pagehide", persisted=False)
    await settle()
    assert said(other)[-1]["kind"] == "bye" and shared_page.navigator.locks.held == {}
    chat.close_all()
    panel.unmount()


async def test_reasoning_is_collapsed_by_default(page):
    _chat, _panel, ws = open_panel(page)
    mid = typed(page, ws, "think first")
    serve(
        ws,
        frames.ack(mid, False),
        frames.run_started("t", "r", mid),
        {"type": "REASONING_START", "messageId": "b1"},
        {"type": "REASONING_MESSAGE_START", "messageId": "r1", "role": "reasoning"},
        {"type": "REASONING_MESSAGE_CONTENT", "messageId": "r1", "delta": "So I do."},
    )
    line = page.document.querySelector('.chat-activity[data-kind="reasoning"]')
    assert line.querySelector("summary").textContent == "Thinking…"
    assert not line.querySelector("details").open
    serve(ws, {"type": "REASONING_END", "messageId": "b1"})
    assert line.querySelector("summary").textContent == "Reasoning"
    assert line.querySelector(".chat-activity-body").textContent == "So I do."


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


class Hurried:
    """``time`` for the adapter with its wall clock at the timers' pace."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.start = time.time()

    def time(self) -> float:
        return self.start + (time.time() - self.start) * self.scale


async def test_a_follower_that_hears_nothing_takes_the_lock(shared_page, monkeypatch):
    from app.browser import chat_connection

    silent = fakejs.OtherTab(CHANNEL)
    silent.take_lock()  # a leader that cannot run: it never answers
    await settle()
    monkeypatch.setattr(chat_connection, "time", Hurried(100.0))
    chat, panel = mount_shared(shared_page, timer_scale=lambda: 100.0)
    # The quiet time, the probe and its answer time (about 21 s) pass at 100x: wait for what
    # follows them, not for a guess of them.
    for _ in range(200):
        if sharing(shared_page) == "leader":
            break
        await asyncio.sleep(0.005)
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


async def test_a_failed_answer_says_why_and_its_retry_asks_again_under_a_new_id(page):
    chat, panel, ws = open_panel(page)
    mid = typed(page, ws, "please fail")
    words = "The assistant service failed (HTTP 500). Try again in a moment."
    serve(
        ws,
        frames.ack(mid, False),
        frames.run_started("t", "r", mid),
        frames.run_error(words, "upstream_failed", mid),
    )
    [failed] = page.document.querySelectorAll('.chat-message[data-role="assistant"]')
    assert failed.dataset.status == "failed"
    assert failed.querySelector(".chat-state").textContent == words
    retry = failed.querySelector(".chat-turn-retry")
    assert retry.textContent == "Retry" and retry.dataset.replyTo == mid
    retry.fire("click")
    again = json.loads(ws.sent[-1])
    assert again["type"] == "message" and again["text"] == "please fail" and again["id"] != mid
    assert failed.querySelector(".chat-turn-retry") is None
    assert page.document.getElementById("chat-input").disabled is False  # still usable
    chat.close_all()
    panel.unmount()


async def test_a_reply_history_keeps_as_cut_shows_as_cut(page):
    chat, panel, ws = open_panel(page)
    serve(
        ws,
        frames.history(
            [
                {"id": "m1", "role": "user", "text": "count", "created_at": 0},
                {"id": "a1", "role": "assistant", "text": "1 2", "created_at": 1, "cut": "stopped"},
                {"id": "m2", "role": "user", "text": "drop", "created_at": 2},
                {"id": "a2", "role": "assistant", "text": "Half", "created_at": 3, "cut": "failed"},
            ]
        ),
    )
    stopped = page.document.querySelector('.chat-message[data-id="a1"]')
    cut = page.document.querySelector('.chat-message[data-id="a2"]')
    assert (stopped.dataset.status, stopped.querySelector(".chat-state").textContent) == (
        "stopped",
        "Stopped.",
    )
    assert (cut.dataset.status, cut.querySelector(".chat-state").textContent) == (
        "failed",
        "The answer was cut off.",
    )
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


async def test_the_focused_regenerate_keeps_the_focus_when_everything_is_drawn_again(page):
    """A person tabs to Regenerate; history arriving again (as after a reconnect; Markdown
    arriving late does the same) draws every message again, and must leave the key where it
    was."""
    chat, panel, ws = open_panel(page)
    history = frames.history(
        [
            {"id": "m1", "role": "user", "text": "count", "created_at": 0},
            {"id": "a1", "role": "assistant", "text": "1 2", "created_at": 1},
            {"id": "m2", "role": "user", "text": "and then?", "created_at": 2},
        ]
    )
    serve(ws, history)
    button = page.document.querySelector(".chat-turn-retry")
    button.focus()
    serve(ws, history)
    assert [n.dataset.id for n in page.document.querySelectorAll(".chat-message")][:3] == [
        "m1",
        "a1",
        "m2",
    ]
    assert page.document.querySelector(".chat-turn-retry") is button
    assert page.document.activeElement is button
    chat.close_all()
    panel.unmount()
