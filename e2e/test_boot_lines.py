"""Start-up over slow and broken lines (static/boot.js): a slow line is never called a failure,
a dropped one is named at once and the page comes back by itself, and real failures still fail.

Lines are emulated with the Chrome DevTools Protocol (``Network.emulateNetworkConditions``), not
with a Playwright route, so the page keeps its HTTP cache: whether a file comes back from the
cache or over the line is the browser's own doing, read from the protocol's events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from backend.build import build
from e2e.conftest import READY, make_pages
from tests.support import OFFLINE, SLOW_LINES, UNTHROTTLED
from tools.static_site import static_server

# Every value body[data-ready] and #boot[data-state] take, across the page's reloads (kept in
# sessionStorage: a reload starts a new document).
STATES = """
(() => {
  const key = "e2e.boot-states";
  const note = () => {
    const now = `${document.body?.dataset.ready}/${document.getElementById("boot")?.dataset.state}`;
    const seen = JSON.parse(sessionStorage.getItem(key) || "[]");
    if (seen.at(-1) !== now) sessionStorage.setItem(key, JSON.stringify([...seen, now]));
  };
  new MutationObserver(note).observe(document, {subtree: true, attributes: true,
    attributeFilter: ["data-ready", "data-state"]});
})();
"""
# Console lines a dropped line makes the browser and PyScript print.
DROPPED = (
    r"ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_RESET|Failed to fetch|network error|Failed to load"
)
SLOW_BOOT_MS = 240_000  # the whole runtime over 1 Mbit/s


def states(page: Page) -> list[str]:
    return json.loads(page.evaluate("sessionStorage.getItem('e2e.boot-states') || '[]'"))


def runtime_file(url: str) -> bool:
    """A file the page needs to start (the document itself is asked again by design)."""
    path = urlsplit(url).path
    return path.startswith(("/vendor/", "/static/", "/app/")) or path == "/pyscript.json"


class Line:
    """The page's line, switched through its own DevTools session, and what crossed it: every
    response whose body came over the network (not from a cache, not a 304), in order."""

    def __init__(self, page: Page) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.urls: dict[str, str] = {}
        self.from_cache: set[str] = set()
        self.downloaded: list[str] = []
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.requestServedFromCache", lambda e: self.from_cache.add(e["requestId"]))
        self.cdp.on("Network.responseReceived", self._response)
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.send("Network.enable")

    def set(self, conditions: dict) -> None:
        self.cdp.send("Network.emulateNetworkConditions", conditions)

    def _sent(self, event: dict) -> None:
        self.urls[event["requestId"]] = event["request"]["url"]

    def _response(self, event: dict) -> None:
        response = event["response"]
        if response.get("fromDiskCache") or response.get("fromPrefetchCache"):
            self.from_cache.add(event["requestId"])
        if response.get("status") == 304:
            self.from_cache.add(event["requestId"])  # revalidated: the body did not cross

    def _finished(self, event: dict) -> None:
        request = event["requestId"]
        # No bytes on the wire: the memory cache answered (it reports as a network response).
        crossed = event["encodedDataLength"] > 0
        if request in self.urls and request not in self.from_cache and crossed:
            self.downloaded.append(self.urls[request])


@pytest.fixture
def line_pages(browser, live_server):
    for pages in make_pages(browser, live_server.url):
        pages.context.add_init_script(STATES)
        yield pages


def test_on_a_1_mbit_line_the_page_comes_up_and_is_never_called_failed(line_pages):
    page, _ = line_pages.new()
    Line(page).set(SLOW_LINES["1 Mbit/s, 300 ms"].conditions())
    page.goto("/", wait_until="commit")
    page.wait_for_selector(READY, timeout=SLOW_BOOT_MS)
    page.wait_for_selector('body[data-auth="anonymous"]')
    seen = states(page)
    assert not [s for s in seen if s.startswith("failed") or s.endswith("interrupted")], seen
    page.close()


def test_a_line_that_drops_mid_download_is_named_and_the_page_comes_back_by_itself(line_pages):
    page, watch = line_pages.new()
    watch.allow(DROPPED)
    line = Line(page)
    line.set(SLOW_LINES["1 Mbit/s, 300 ms"].conditions())
    page.goto("/", wait_until="commit")
    # A few seconds in: the progress bar is up and some runtime files have arrived whole.
    page.wait_for_selector("#boot-progress:not([hidden])", timeout=60_000)
    page.wait_for_function(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/vendor/')"
        " && e.transferSize > 0).length >= 2",
        timeout=60_000,
    )
    arrived = {url for url in line.downloaded if runtime_file(url)}
    assert arrived
    before_cut = len(line.downloaded)
    page.fill("#username", "ada")  # typed while the runtime arrives: it must survive the drop

    line.set(OFFLINE)
    page.wait_for_selector('#boot[data-state="interrupted"]', timeout=30_000)
    assert "connection dropped" in page.inner_text("#boot-message")
    assert page.locator("#boot-reload").is_visible()  # for those who would rather not wait
    assert page.evaluate("document.body.dataset.ready") == "false"
    assert page.evaluate("document.body.dataset.auth") == "restoring"

    line.set(UNTHROTTLED)  # and nobody touches the page
    page.wait_for_selector(READY, timeout=60_000)
    page.wait_for_selector('body[data-auth="anonymous"]')
    assert page.input_value("#username") == "ada"
    again = [url for url in line.downloaded[before_cut:] if url in arrived]
    assert not again, f"downloaded a second time: {again}"
    assert not [s for s in states(page) if s.startswith("failed")], states(page)
    page.close()


def test_a_download_cut_by_the_line_comes_back_by_itself_while_the_browser_stays_online(
    line_pages,
):
    """No `offline` event here: only the fetch fails, as when a proxy or a server drops it."""
    page, watch = line_pages.new()
    watch.allow(DROPPED)
    cuts: list[str] = []

    def cut_once(route) -> None:
        if cuts:
            route.continue_()
        else:
            cuts.append(route.request.url)
            route.abort("connectionreset")

    page.route("**/pyodide.asm.wasm", cut_once)
    page.goto("/")
    page.wait_for_selector(READY, timeout=60_000)
    page.wait_for_selector('body[data-auth="anonymous"]')
    seen = states(page)
    assert cuts
    assert any(s.endswith("interrupted") for s in seen), seen
    assert not [s for s in seen if s.startswith("failed")], seen
    page.unroute_all(behavior="ignoreErrors")
    page.close()


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A static build on a plain static server, whose files can be taken away one at a time."""
    out = tmp_path_factory.mktemp("broken") / "site"
    build(out)
    with static_server(out) as origin:
        yield origin, out


@pytest.mark.parametrize(
    "missing",
    [
        "pyodide.asm.wasm",  # fetched by static/pyodide-early.mjs
        "pyodide.asm.mjs",  # a module the browser imports itself
    ],
)
def test_a_runtime_file_answering_404_shows_the_failure_and_reload(browser, broken_site, missing):
    origin, out = broken_site
    runtime = next((out / "vendor" / "pyodide").iterdir())
    taken = [path for path in runtime.iterdir() if path.name.startswith(missing)]
    assert taken
    for path in taken:
        path.rename(path.with_name(f"{path.name}.away"))
    try:
        for pages in make_pages(browser, origin):
            page, watch = pages.new()
            watch.allow(r".")  # the 404 is reported by the browser and by PyScript
            page.goto(f"{origin}/index.html")
            page.wait_for_selector('body[data-ready="failed"]', timeout=30_000)
            assert page.locator("#boot-failed").is_visible()
            assert page.locator("#boot-reload").is_visible()
            assert page.get_attribute("#boot", "data-state") == "failed"
            assert page.inner_text("#boot-message") == "The app could not start."
    finally:
        for path in taken:
            path.with_name(f"{path.name}.away").rename(path)
