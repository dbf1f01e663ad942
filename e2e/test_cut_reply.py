"""A reply cut by a server crash is not silently gone: Chromium, a real ``server.py`` killed
(SIGKILL) mid-reply and started again on the same database."""

from __future__ import annotations

import signal
import sqlite3

from app.chat.cut import LOST, REGENERATE
from e2e.conftest import READY, SERVER_GONE, chat_open, make_pages, open_app, send, sign_in
from tests.support import PASSWORD, ServerProcess, add_user

# The guide echoes it three words every 20 ms: seconds of streaming to kill the server in.
LONG = " ".join(["word"] * 600)
REPLY = '.chat-message[data-role="assistant"]'


def regenerate_buttons(page):
    return page.get_by_role("button", name=REGENERATE.name)


def test_a_reply_cut_by_a_crash_shows_cut_and_regenerates_once(browser, tmp_path):
    db = tmp_path / "cut.db"
    add_user(db, "cut-ada", PASSWORD)
    servers = [ServerProcess(db).start()]
    gen = make_pages(browser, servers[0].url)
    pages = next(gen)
    try:
        page, watch = pages.new()
        watch.allow(SERVER_GONE)
        open_app(page)
        sign_in(page, "cut-ada")
        chat_open(page)
        send(page, LONG)
        # Killed once its first words are shown (a reply that has only begun shows none).
        page.locator(f'{REPLY}[data-status="streaming"]', has_text="You said:").wait_for()
        servers[0].stop(signal.SIGKILL)
        page.wait_for_selector('#chat-panel:not([data-connection="open"])')
        servers.append(ServerProcess(db, port=servers[0].port).start())
        chat_open(page)

        # The tab that watched it stream: what it had shown, marked cut, with Regenerate.
        cut = page.locator(f'{REPLY}[data-status="failed"]')
        cut.wait_for()
        assert cut.locator(".chat-state").inner_text() == LOST
        assert cut.locator(".chat-text").inner_text().startswith("You said:")
        assert regenerate_buttons(page).count() == 1

        # A user who had closed the tab sees it too: the page decides from history.
        page.reload()
        page.wait_for_selector(READY)
        chat_open(page)
        button = regenerate_buttons(page)
        button.wait_for()
        assert button.evaluate("b => b.tagName + ' ' + b.type") == "BUTTON button"
        assert button.inner_text() == "Regenerate"
        assert page.locator(REPLY).last.locator(".chat-state").inner_text() == LOST

        # Markdown arriving draws every message again; the keys below wait for that.
        page.wait_for_selector('#chat-panel:not([data-markdown="loading"])')
        page.focus("#chat-input")
        page.keyboard.press("Shift+Tab")  # the control just before the input: Regenerate
        assert page.evaluate("document.activeElement.textContent") == "Regenerate"
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")  # a second press has nothing left to press
        page.wait_for_selector(f'{REPLY}[data-status="done"]', timeout=30_000)
        assert regenerate_buttons(page).count() == 0
        asked = page.locator('.chat-message[data-role="user"] .chat-text').all_inner_texts()
        assert asked == [LONG, LONG]
        with sqlite3.connect(db) as connection:
            rows = connection.execute("SELECT id FROM messages WHERE role='user'").fetchall()
        assert len(rows) == 2  # the question, and its regeneration once

        page.reload()  # answered now: nothing more to offer
        page.wait_for_selector(READY)
        chat_open(page)
        page.wait_for_selector(f'{REPLY}[data-status="done"]')
        assert regenerate_buttons(page).count() == 0
    finally:
        next(gen, None)
        for server in servers:
            server.stop()
