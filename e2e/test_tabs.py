"""One socket per browser, shared by every tab (one browser context = one browser profile).

Sockets are counted by the recorder init script (e2e/conftest.py wraps ``window.WebSocket`` in
every page), summed over the tabs.  Which tab leads shows as ``#chat-panel[data-sharing]``.
"""

from __future__ import annotations

import json
import time

from playwright.sync_api import Page

from e2e.conftest import (
    BOOT_TIMEOUT_MS,
    NO_WEB_LOCKS,
    READY,
    chat_at_rest,
    chat_open,
    open_app,
    send,
    settled,
    sign_in,
    sockets,
)

OPEN = '#chat-panel[data-connection="open"]'


def role(page: Page) -> str | None:
    return page.get_attribute("#chat-panel", "data-sharing")


def signed_in_tabs(pages, name: str, count: int) -> list[Page]:
    """``count`` tabs of one profile: the first signs in and leads, then the others open
    together (as a restored browser session opens them) and are restored from it."""
    first, _ = pages.new()
    open_app(first)
    sign_in(first, name)
    settled(first, "authenticated")
    chat_open(first)
    others = [pages.new()[0] for _ in range(count - 1)]
    for page in others:
        page.goto("/", wait_until="commit")
    for page in others:
        page.wait_for_selector(READY, timeout=BOOT_TIMEOUT_MS)
        settled(page, "authenticated")
        chat_open(page)
    return [first, *others]


def leader_of(tabs: list[Page], timeout: float = 60.0) -> Page:
    """The one tab that leads with an open socket (waiting for leadership to settle)."""
    deadline = time.monotonic() + timeout
    while True:
        leading = [t for t in tabs if role(t) == "leader"]
        if len(leading) == 1 and leading[0].locator(OPEN).count() == 1:
            return leading[0]
        assert time.monotonic() < deadline, [role(t) for t in tabs]
        tabs[0].wait_for_timeout(50)


def socket_count(tabs: list[Page]) -> int:
    return sum(len(sockets(t)) for t in tabs)


def texts(page: Page, who: str) -> list[str]:
    return page.locator(f'.chat-message[data-role="{who}"] .chat-text').all_inner_texts()


def answered_everywhere(tabs: list[Page], text: str) -> None:
    """Every tab shows ``text`` sent and the assistant's finished reply quoting it."""
    for tab in tabs:
        sent = tab.locator('.chat-message[data-role="user"][data-status="sent"]', has_text=text)
        sent.wait_for(timeout=30_000)
        reply = tab.locator(
            '.chat-message[data-role="assistant"][data-status="done"]', has_text=text
        )
        reply.wait_for(timeout=30_000)


def once_everywhere(tabs: list[Page], *typed: str) -> None:
    for tab in tabs:
        shown = texts(tab, "user")
        assert [sum(t == s for s in shown) for t in typed] == [1] * len(typed), shown


def test_five_tabs_construct_one_websocket_and_a_follower_message_reaches_every_tab(pages):
    """The first tab leads; four opened together follow it on its one socket, and what a
    follower types is acknowledged, answered and shown once in every tab."""
    tabs = signed_in_tabs(pages, "tabs-ada", 5)
    leader = leader_of(tabs)
    assert leader is tabs[0] and [role(t) for t in tabs[1:]] == ["follower"] * 4
    assert socket_count(tabs) == 1
    [made] = sockets(leader)
    assert made["url"].endswith("/api/ws") and made["opened"]
    assert all(t.get_attribute("#chat-panel", "data-connection") == "open" for t in tabs)
    assert len({t.inner_text("#chat-status") for t in tabs}) == 1  # a follower says the same
    send(tabs[2], "from the third tab")
    answered_everywhere(tabs, "from the third tab")
    once_everywhere(tabs, "from the third tab")
    assert socket_count(tabs) == 1


def test_the_chat_outlives_its_leader_closing_and_then_its_next_leader_crashing(pages):
    """The socket moves twice, once on a clean close (pagehide) and once on a crash (no
    goodbye at all); what is typed meanwhile waits in the outbox and is shown once."""
    tabs = signed_in_tabs(pages, "tabs-cy", 4)
    send(tabs[1], "before the leader closes")
    answered_everywhere(tabs, "before the leader closes")
    old = leader_of(tabs)
    tabs.remove(old)
    old.close()
    send(tabs[1], "typed while leadership moves")  # may wait in the outbox: never lost
    leader = leader_of(tabs)
    answered_everywhere(tabs, "typed while leadership moves")
    assert socket_count(tabs) == 1 and len(sockets(leader)) == 1
    tabs.remove(leader)
    crash(leader)
    send(tabs[0], "typed after the crash")
    leader_of(tabs)
    answered_everywhere(tabs, "typed after the crash")
    once_everywhere(
        tabs, "before the leader closes", "typed while leadership moves", "typed after the crash"
    )
    assert socket_count(tabs) == 1


def test_closing_the_leaders_chat_panel_hands_the_socket_to_another_tab(pages):
    tabs = signed_in_tabs(pages, "tabs-lea", 2)
    old = leader_of(tabs)
    old.click("#chat-close")  # the panel goes; its socket after the registry's grace period
    others = [t for t in tabs if t is not old]
    leader_of(others)
    old.wait_for_function("window.__sockets[0].closeCode === 1000")
    send(others[0], "after the panel closed")
    answered_everywhere(others, "after the panel closed")
    old.click("#chat-open")  # back: it follows the tab that leads now
    old.wait_for_selector('#chat-panel[data-sharing="follower"]' + OPEN[11:])
    answered_everywhere([old], "after the panel closed")
    assert socket_count(tabs) == 2


def test_sign_out_from_a_follower_closes_the_socket_and_every_tab_signs_out(pages):
    tabs = signed_in_tabs(pages, "tabs-eve", 2)
    leader = leader_of(tabs)
    follower = next(t for t in tabs if t is not leader)
    follower.click("#logout")
    for tab in tabs:
        settled(tab, "anonymous")
        assert tab.locator("#login-form").is_visible() and tab.locator("#chat-panel").count() == 0
    leader.wait_for_function("window.__sockets[0].closeCode !== null")
    assert sockets(leader)[0]["closeCode"] in (1000, 4401)
    for tab in tabs:
        chat_at_rest(tab)
    assert socket_count(tabs) == 1  # nobody took the lock over to reconnect


def test_a_server_side_revocation_reaches_every_tab(pages, live_server):
    tabs = signed_in_tabs(pages, "tabs-fay", 2)
    leader = leader_of(tabs)
    for _page, watch in pages.watches:
        watch.allow(r"status of 401")
    response = pages.context.request.post(
        live_server.url + "/api/auth/logout", headers={"Origin": live_server.url}
    )
    assert response.status == 204
    for tab in tabs:
        settled(tab, "anonymous")
        chat_at_rest(tab)
    assert sockets(leader)[0]["closeCode"] == 4401
    assert "session has ended" in leader.locator("#login-notice").inner_text()
    assert socket_count(tabs) == 1


def crash(page: Page) -> None:
    """Kill the page's renderer process, as a crash would (no unload, no pagehide).

    CDP's ``Page.crash`` never answers (the renderer is gone), so it is sent through the
    browser's own session without waiting for a reply; the page's ``crash`` event confirms it."""
    target = page.context.new_cdp_session(page).send("Target.getTargetInfo")["targetInfo"]
    browser = page.context.browser.new_browser_cdp_session()
    session = browser.send("Target.attachToTarget", {"targetId": target["targetId"]})
    with page.expect_event("crash"):
        browser.send(
            "Target.sendMessageToTarget",
            {
                "sessionId": session["sessionId"],
                "message": json.dumps({"id": 1, "method": "Page.crash"}),
            },
        )
    page.close()


def lifecycle(page: Page, event: str) -> None:
    """The page lifecycle event a browser fires before freezing a page (and after)."""
    page.evaluate(f"document.dispatchEvent(new Event('{event}'))")


def test_a_leader_about_to_be_frozen_hands_over_and_follows_when_it_resumes(pages):
    """Headless Chromium keeps every page visible, and CDP's Page.setWebLifecycleState leaves a
    visible page running (checked: its timers keep firing), so the browser's own ``freeze``
    event is dispatched here: what the leader does with it is what is tested."""
    tabs = signed_in_tabs(pages, "tabs-gus", 2)
    old = leader_of(tabs)
    lifecycle(old, "freeze")
    others = [t for t in tabs if t is not old]
    leader = leader_of(others)
    assert sockets(old)[0]["closeCode"] == 1000  # it closed its own socket first
    send(others[-1], "while the old leader sleeps")
    answered_everywhere(tabs, "while the old leader sleeps")
    lifecycle(old, "resume")
    old.wait_for_selector('#chat-panel[data-sharing="follower"]' + OPEN[11:])
    assert leader_of(tabs) is leader and socket_count(tabs) == 2  # the old one, and one more
    once_everywhere(tabs, "while the old leader sleeps")


def test_a_leader_whose_code_stops_without_warning_loses_the_lock_to_a_follower(pages):
    """The debugger stops the leader's code (as a freeze the page was not told of would): it
    answers nobody, and a follower that needs it takes the lock away."""
    tabs = signed_in_tabs(pages, "tabs-hal", 2)
    old = leader_of(tabs)
    others = [t for t in tabs if t is not old]
    debugger = old.context.new_cdp_session(old)
    debugger.send("Debugger.enable")
    debugger.send("Debugger.pause")
    send(others[0], "is anyone there?")  # the follower asks the leader, which cannot answer
    leader = leader_of(others)  # within the liveness deadline (see app/net/leadership.py)
    answered_everywhere(others, "is anyone there?")
    debugger.send("Debugger.resume")
    old.wait_for_selector('#chat-panel[data-sharing="follower"]' + OPEN[11:])
    assert sockets(old)[0]["closeCode"] == 4409  # the server gave the slot to the new leader
    answered_everywhere([old], "is anyone there?")
    once_everywhere(tabs, "is anyone there?")
    assert leader_of(tabs) is leader


def test_without_web_locks_each_tab_keeps_its_own_socket_in_per_tab_mode(pages):
    pages.context.add_init_script(NO_WEB_LOCKS)
    tabs = signed_in_tabs(pages, "tabs-ivy", 2)
    assert [role(t) for t in tabs] == ["alone", "alone"]
    urls = [s["url"] for t in tabs for s in sockets(t)]
    assert len(urls) == 2 and all("?mode=tab&tab=" in u for u in urls)
    assert len(set(urls)) == 2
    send(tabs[1], "on my own socket")
    answered_everywhere([tabs[1]], "on my own socket")


def test_without_broadcast_channel_the_tab_keeps_its_own_socket(pages):
    page, _ = pages.new()
    open_app(page)
    # PyScript has made its own channel by now; the chat, loaded after sign-in, finds none.
    page.evaluate("delete window.BroadcastChannel")
    sign_in(page, "tabs-jo")
    chat_open(page)
    assert role(page) == "alone" and "?mode=tab&tab=" in sockets(page)[0]["url"]
