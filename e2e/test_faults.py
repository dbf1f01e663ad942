"""The page on a bad network: Chromium loads the app through tools/fault_relay.py, which sits
in front of a real ``server.py`` and delays, holds, stalls or cuts bytes when told to.

The page's origin is the relay's, so the server is told to accept WebSockets from it
(``--allowed-origin``).  Time the page would have to wait out (a 40 s stall, a laptop asleep)
passes on Playwright's clock instead (``page.clock``), which moves the page's ``Date``,
``performance.now()`` and timers, and so Python's ``time.time()`` and asyncio's timers too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from app.net.connection import LIVENESS_EVERY_S
from e2e.conftest import chat_open, make_pages, open_app, send, sign_in, sockets
from tests.support import PASSWORD, ServerProcess, add_users
from tools.fault_relay import ConnectionInfo, FaultRelay

USERS = ("latency", "stall", "cut", "sleep")
REPLY = '.chat-message[data-role="assistant"]'
SENT = '.chat-message[data-role="user"][data-status="sent"]'
# The guide echoes it three words every 20 ms: seconds of streaming to cut the line in.
LONG = " ".join(["word"] * 300)


@pytest.fixture(scope="module")
def relay() -> Iterator[FaultRelay]:
    with FaultRelay(seed=16) as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory, relay) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("faults") / "faults.db"
    add_users(db, [f"faults-{name}" for name in USERS], PASSWORD)
    # The page's origin is the relay's: by default the server accepts only its own.
    process = ServerProcess(db, "--allowed-origin", relay.url).start()
    relay.upstream = ("127.0.0.1", process.port)
    yield process
    process.stop()


@pytest.fixture
def line(relay, server) -> Iterator[FaultRelay]:
    """The relay, clean at the start of each test."""
    relay.clear()
    yield relay
    relay.clear()


@pytest.fixture
def pages(browser, line):
    yield from make_pages(browser, line.url)


def signed_in(page, name: str) -> None:
    open_app(page)
    sign_in(page, f"faults-{name}")
    chat_open(page)


def stored(server: ServerProcess, name: str, role: str) -> list[str]:
    """What the server keeps of ``faults-<name>``'s conversation, oldest first."""
    with sqlite3.connect(server.db) as db:
        rows = db.execute(
            "SELECT text FROM messages JOIN users ON users.id = messages.user_id"
            " WHERE users.name = ? AND role = ? ORDER BY seq",
            (f"faults-{name}", role),
        )
        return [text for (text,) in rows]


def words(text: str) -> int:
    """How many of LONG's words a reply holds (its Markdown shows as other characters)."""
    return text.split().count("word")


def connection(line: FaultRelay, ident: int) -> ConnectionInfo:
    return next(c for c in line.connections() if c.id == ident)


def opened_sockets(page) -> int:
    return sum(1 for s in sockets(page) if s["opened"])


def test_on_a_slow_lossy_line_sign_in_and_chat_work(pages, line):
    """200 ms each way, and one chunk in twenty held 400 ms more (a retransmitted packet)."""
    page, _ = pages.new()
    open_app(page)
    line.delay(200)
    line.hold(0.05, 400)
    sign_in(page, "faults-latency")
    chat_open(page)
    send(page, "over a slow line")
    page.wait_for_selector(SENT, timeout=30_000)
    page.wait_for_selector(f'{REPLY}[data-status="done"]', timeout=30_000)
    assert page.locator(f"{REPLY} .chat-text").inner_text().startswith("You said:")
    send(page, "/help")
    page.wait_for_function(
        "document.querySelectorAll('.chat-message[data-role=assistant][data-status=done]')"
        ".length === 2",
        timeout=30_000,
    )
    assert opened_sockets(page) == 1  # slow is not dead: the socket was never replaced


def test_a_silent_stall_is_found_by_the_liveness_deadline_and_the_socket_replaced(
    pages, line, server
):
    """The socket's TCP connection stays open and carries nothing for 40 s (on the page's
    clock): the page must notice from its own clock, since nothing will ever close it."""
    page, _ = pages.new()
    page.clock.install()
    signed_in(page, "stall")
    (zombie,) = line.stall(websocket=True)
    send(page, "typed into the dead socket")
    page.clock.run_for(40_000)
    page.wait_for_function("window.__sockets.length === 2 && window.__sockets[1].opened")
    chat_open(page)
    send(page, "typed after the stall")
    page.wait_for_function(
        "document.querySelectorAll('.chat-message[data-role=user][data-status=sent]').length === 2"
    )
    # Nothing but the page gave up on the zombie: the relay never closed it.
    assert not connection(line, zombie).cut
    typed = ["typed into the dead socket", "typed after the stall"]
    assert stored(server, "stall", "user") == typed  # each once: resent, de-duplicated


def test_a_cut_mid_reply_resumes_on_the_new_socket_and_shows_the_reply_once(pages, line, server):
    """The reply's connection is cut while it streams: the page reconnects, the rest
    streams on the new socket, and the reply is shown once and whole, as stored."""
    page, watch = pages.new()
    watch.allow(r"WebSocket connection to .* failed")
    signed_in(page, "cut")
    send(page, LONG)
    page.wait_for_selector(f'{REPLY}[data-status="streaming"]')
    assert line.cut(websocket=True)
    page.wait_for_function("window.__sockets.length === 2 && window.__sockets[1].opened")
    page.wait_for_selector(f'{REPLY}[data-status="done"]', timeout=30_000)
    shown = page.locator(f"{REPLY} .chat-text").all_inner_texts()
    (kept,) = stored(server, "cut", "assistant")
    assert len(shown) == 1 and words(shown[0]) == words(kept) == 300
    page.reload()
    chat_open(page)
    page.wait_for_selector(f'{REPLY}[data-status="done"]')
    assert [words(t) for t in page.locator(f"{REPLY} .chat-text").all_inner_texts()] == [300]


def test_after_a_sleep_the_liveness_probe_replaces_the_zombie_within_one_interval(pages, line):
    """A laptop that slept ten minutes wakes with a socket whose connection died meanwhile
    (stalled here: it stays open and carries nothing).  The first liveness check after the
    jump finds it dead; nothing waits for the 35 s deadline to pass again."""
    page, _ = pages.new()
    page.clock.install()
    signed_in(page, "sleep")
    (zombie,) = line.stall(websocket=True)
    page.clock.pause_at(page.evaluate("Date.now()"))
    page.clock.fast_forward("10:00")
    # Within one liveness interval (and the first backoff, under a second) of page time.
    page.clock.run_for(int(LIVENESS_EVERY_S * 1000) + 1_000)
    assert len(sockets(page)) == 2
    page.wait_for_function("window.__sockets[1].opened")
    page.clock.resume()
    chat_open(page)
    send(page, "awake")
    page.wait_for_selector(SENT)
    assert not connection(line, zombie).cut
