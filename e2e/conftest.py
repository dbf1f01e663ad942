"""End-to-end fixtures: Debian's Chromium driven by Playwright against a real ``server.py``.

Every page fails its test on a console error, an uncaught page error, a ``.py-error`` element
or a request to another origin, unless the test names the console error it expects
(``page_errors.allow(...)``: for example the browser's own line about a 401 it was meant to get).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LINKS,
    PASSWORD,
    UNTHROTTLED,
    ServerProcess,
    add_users,
)

READY = 'body[data-ready="true"]'
# What the browser logs when a test stops the server under a page: the socket's failure,
# requests while it is down (refused), and a request in flight at the moment it died (reset:
# a background download such as the kept snapshot or a wheel).
SERVER_GONE = r"WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET"
# How long start-up work may take before a test calls it hung: a boot, a restore, the chat's
# download, import and connect.  Pyodide boots in 2 to 4 s alone, but this work is CPU-bound and
# shares two cores with the other test worker and with every tab a test starts together (four
# tabs restored at once beside one busy core: 11 to 13 s to authenticated, 17 s to open).  It
# is a hang detector, never a speed check.
BOOT_TIMEOUT_MS = 60_000
# The suite's Chromium runs WebAssembly on V8's baseline compiler (Liftoff) only.  Each page
# otherwise recompiles the interpreter's hot functions with the optimising compiler in
# background threads: CPU that the suite's other worker needs, for code a test runs too briefly
# to gain from.  Behaviour is the same; only the benchmarks, which measure what users get, keep
# Chromium's defaults.  Measured on two workers: e2e/test_tabs.py with e2e/test_chat.py, 259 s
# to 218 s; e2e/test_boot.py with e2e/test_auth.py (normal-path starts run slower code), 181 s
# to 171 s.
E2E_CHROMIUM_ARGS = [*CHROMIUM_ARGS, "--js-flags=--liftoff-only"]

# Records every value <body data-auth> takes (and when), every chat connection state, and
# every WebSocket the page constructs, with the data-auth value at that moment.
RECORDER = """
(() => {
  window.__authLog = [];
  window.__authTimes = {};
  window.__connectionLog = [];
  window.__sockets = [];
  const note = () => {
    const value = document.body && document.body.dataset.auth;
    if (value && window.__authLog[window.__authLog.length - 1] !== value) {
      window.__authLog.push(value);
      if (!(value in window.__authTimes)) window.__authTimes[value] = performance.now();
    }
    const panel = document.getElementById("chat-panel");
    const state = panel && panel.dataset.connection;
    const log = window.__connectionLog;
    if (state && (log.length === 0 || log[log.length - 1].state !== state)) {
      log.push({state, at: performance.now()});
    }
  };
  new MutationObserver(note).observe(document, {
    subtree: true, childList: true, attributes: true,
    attributeFilter: ["data-auth", "data-connection"],
  });
  document.addEventListener("DOMContentLoaded", note);

  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      const entry = {
        url: String(url), auth: document.body ? document.body.dataset.auth : null,
        at: performance.now(), opened: false, closeCode: null,
      };
      window.__sockets.push(entry);
      this.addEventListener("open", () => { entry.opened = true; });
      this.addEventListener("close", (event) => { entry.closeCode = event.code; });
    }
  };
})();
"""

# A browser whose tabs cannot share one socket: no Web Locks (as in a page served over plain
# http from another host than localhost: locks exist only in secure contexts).  The page falls
# back to a socket per tab, declared to the server as per-tab mode.  (BroadcastChannel cannot
# be removed this way: PyScript itself constructs one while it starts.)
NO_WEB_LOCKS = "delete Navigator.prototype.locks;"

# Totals across the whole e2e run, reported at the end (sockets per sign-in).
TOTALS = {"sign_ins": 0, "restores": 0, "sockets": 0}


@dataclass
class PageWatch:
    origin: str
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    websockets: int = 0
    sign_ins: int = 0  # successful POST /api/auth/login
    restores: int = 0  # successful GET /api/auth/session (a restored session)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def console(self, message) -> None:
        if message.type == "error" and not any(p.search(message.text) for p in self.allowed):
            self.errors.append(f"console: {message.text}")

    def page_error(self, error) -> None:
        if not any(p.search(str(error)) for p in self.allowed):
            self.errors.append(f"pageerror: {error}")

    def websocket(self, _socket) -> None:
        self.websockets += 1

    def response(self, response) -> None:
        if response.status == 200 and response.url.endswith("/api/auth/login"):
            self.sign_ins += 1
        elif response.status == 200 and response.url.endswith("/api/auth/session"):
            self.restores += 1

    def request(self, request) -> None:
        self.requests.append(request.url)

    def api_requests(self, path: str) -> list[str]:
        return [url for url in self.requests if url.startswith(self.origin + path)]

    def foreign_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            # blob: of this origin is the page's own memory (the worker that times the line)
            if not url.startswith((self.origin + "/", "blob:" + self.origin + "/", "data:"))
        ]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=E2E_CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="session")
def live_server(server_dir) -> Iterator[ServerProcess]:
    """One server.py for the tests that do not stop it."""
    db = server_dir / "e2e.db"
    # One account per test that signs in, so one test's throttling never touches another's.
    eight = ("ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal")
    twelve = (*eight, "ivy", "jo", "kai", "lea")
    names = [*eight, *(f"chat-{n}" for n in eight), *(f"md-{n}" for n in eight)]
    names += [f"tabs-{n}" for n in twelve]  # e2e/test_tabs.py
    names += ["early-normal", "early-snapshot"]  # e2e/test_first_visit.py
    names += ["md-stdlib"]  # e2e/test_stdlib.py
    add_users(db, names, PASSWORD)
    server = ServerProcess(db, "--login-attempts-per-address", "1000").start()
    yield server
    server.stop()


class Pages:
    """Opens watched pages in one browser context (one 'browser profile': shared cookies)."""

    def __init__(self, context: BrowserContext, origin: str) -> None:
        self.context = context
        self.origin = origin
        self.watches: list[tuple[Page, PageWatch]] = []

    def new(self) -> tuple[Page, PageWatch]:
        page = self.context.new_page()
        watch = PageWatch(self.origin)
        page.on("console", watch.console)
        page.on("pageerror", watch.page_error)
        page.on("request", watch.request)
        page.on("websocket", watch.websocket)
        page.on("response", watch.response)
        self.watches.append((page, watch))
        return page, watch

    def check(self) -> None:
        problems = []
        for page, watch in self.watches:
            TOTALS["sockets"] += watch.websockets
            TOTALS["sign_ins"] += watch.sign_ins
            TOTALS["restores"] += watch.restores
            if not page.is_closed() and page.locator(".py-error").count():
                problems.append(f"py-error: {page.locator('.py-error').first.inner_text()}")
            problems += watch.errors
            problems += [f"foreign request: {url}" for url in watch.foreign_requests()]
        assert not problems, "\n".join(problems)


def make_pages(browser: Browser, origin: str, **context_options) -> Iterator[Pages]:
    context = browser.new_context(base_url=origin, **context_options)
    context.add_init_script(RECORDER)
    pages = Pages(context, origin)
    yield pages
    try:
        pages.check()
    finally:
        context.close()


@pytest.fixture
def pages(browser, live_server) -> Iterator[Pages]:
    yield from make_pages(browser, live_server.url)


class EmulatedLine:
    """``page`` behind one of the emulated links of tests.support.LINKS, from its next request
    on (no route: the page keeps its HTTP cache), until ``lift`` takes the limits off again:
    once what a test watches on the slow line is over, the rest need not crawl."""

    def __init__(self, page: Page, link: str) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.emulateNetworkConditions", LINKS[link].conditions())

    def lift(self) -> None:
        self.cdp.send("Network.emulateNetworkConditions", UNTHROTTLED)


def open_app(page: Page, path: str = "/") -> None:
    page.goto(path)
    page.wait_for_selector(READY, timeout=BOOT_TIMEOUT_MS)


def settled(page: Page, auth: str, timeout: float = BOOT_TIMEOUT_MS) -> None:
    page.wait_for_selector(f'body[data-auth="{auth}"]', timeout=timeout)


def sign_in(page: Page, name: str, password: str = PASSWORD) -> None:
    settled(page, "anonymous")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")


def chat_open(page: Page, timeout: float = BOOT_TIMEOUT_MS) -> None:
    page.wait_for_selector('#chat-panel[data-connection="open"]', timeout=timeout)


def send(page: Page, text: str) -> None:
    """Type a chat message and press Enter, as a person would."""
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")


def caught_up(page: Page) -> None:
    """Python has handled everything queued before now: it answers a later event (an empty
    sign-in form is refused without a request).  Whatever an earlier event would have started
    (a download, a socket) has started by then."""
    page.click("#login-form button[type=submit]")
    page.wait_for_function("document.getElementById('login-error').textContent.length > 0")


def chat_at_rest(page: Page) -> None:
    """The chat holds no socket and no timer: nothing is left that could reconnect."""
    page.wait_for_function(
        "(() => { const s = JSON.parse(pychatStats());"
        " return !s.has_socket && s.live_timers === 0 && s.live_proxies === 0; })()"
    )


def sockets(page: Page) -> list[dict]:
    return page.evaluate("window.__sockets")


def pytest_sessionfinish(session):
    """Under pytest-xdist each worker hands its totals to the controller, which reports them."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["e2e_totals"] = dict(TOTALS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    for key, value in getattr(node, "workeroutput", {}).get("e2e_totals", {}).items():
        TOTALS[key] += value


def pytest_terminal_summary(terminalreporter):
    if TOTALS["sign_ins"]:
        terminalreporter.write_line(
            f"e2e: {TOTALS['sockets']} WebSockets constructed across {TOTALS['sign_ins']} sign-ins"
            f" and {TOTALS['restores']} restored sessions"
        )
