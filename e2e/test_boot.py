"""The static shell: paints at once, says what it is loading, and fails clearly."""

from __future__ import annotations

import gzip
import json

from e2e.conftest import BOOT_TIMEOUT_MS, make_pages
from tests.support import ROOT


def test_skeleton_and_loading_message_before_python_runs(pages):
    page, _ = pages.new()
    # Hold the interpreter back so the pre-Python state can be observed.
    held = []
    page.route("**/pyodide.asm.wasm", lambda route: held.append(route))
    page.goto("/", wait_until="domcontentloaded")
    assert page.locator("#boot-message").inner_text().startswith("Loading Python runtime")
    assert page.locator("#boot-message").is_visible()
    assert page.evaluate("document.body.dataset.auth") == "restoring"
    assert page.locator("#login-form").is_hidden()
    page.wait_for_function("document.getElementById('boot-message').textContent.includes('(')")
    assert page.evaluate("document.body.dataset.ready") == "false"
    page.unroute_all(behavior="ignoreErrors")
    page.close()


def test_runtime_that_fails_to_load_shows_a_reload_button(pages):
    page, watch = pages.new()
    watch.allow(r".")  # the failed runtime load is reported by the browser and by PyScript
    page.route("**/pyodide.asm.wasm", lambda route: route.abort("failed"))
    page.goto("/")
    page.wait_for_selector('body[data-ready="failed"]', timeout=BOOT_TIMEOUT_MS)
    assert page.locator("#boot-failed").is_visible()
    assert page.locator("#boot-reload").is_visible()
    page.unroute("**/pyodide.asm.wasm")
    page.click("#boot-reload")
    page.wait_for_selector('body[data-ready="true"]', timeout=BOOT_TIMEOUT_MS)


def test_a_python_error_is_reported_on_the_page(pages):
    """The e2e fixtures depend on PyScript's .py-error box: prove it still appears."""
    page, watch = pages.new()
    watch.allow(r".")  # this test wants the error
    page.route(
        "**/app/main.py",
        lambda route: route.fulfill(
            status=200, content_type="text/x-python", body="raise RuntimeError('boom 42')\n"
        ),
    )
    page.goto("/")
    page.wait_for_selector(".py-error", timeout=BOOT_TIMEOUT_MS)
    assert "boom 42" in page.locator(".py-error").first.inner_text()
    page.wait_for_selector('body[data-ready="failed"]')
    assert page.locator("#boot-failed").is_visible()
    page.close()  # its .py-error is expected; keep it out of the fixture's check


# Replaces app/main.py: what the runtime's start leaves behind that a snapshot could get wrong.
START_STATE = """
import json, random, time, js
js.document.body.dataset.start = json.dumps({
    "draw": random.random(),
    "zone": [time.timezone, time.altzone, time.daylight, list(time.tzname),
             time.strftime("%H:%M %Z", time.localtime(0))],
})
"""


def start_state(page, snapshot: bool) -> dict:
    page.route(
        "**/app/main.py",
        lambda route: route.fulfill(status=200, content_type="text/x-python", body=START_STATE),
    )
    if not snapshot:
        page.route("**/snapshot.gz", lambda route: route.fulfill(status=404, body="gone"))
    page.goto("/")
    page.wait_for_selector("body[data-start]", state="attached", timeout=BOOT_TIMEOUT_MS)
    started = "pyodide:snapshot" if snapshot else "pyodide:fresh"
    assert page.evaluate(f"performance.getEntriesByName('{started}').length") == 1
    state = json.loads(page.evaluate("document.body.dataset.start"))
    page.close()
    return state


def test_the_runtime_starts_from_the_snapshot_with_its_own_random_numbers(pages):
    """static/pyodide-early.mjs restores Pyodide from snapshot.gz; the snapshot holds the
    state of `random`'s shared generator, so each page must reseed it or every tab would draw
    the same numbers."""
    first, second = (start_state(pages.new()[0], snapshot=True) for _ in range(2))
    assert first["draw"] != second["draw"]


def test_a_snapshot_start_has_this_browser_s_time_zone(browser, live_server):
    """The snapshot was made under set-up's time zone (UTC); a page in Berlin must see Berlin,
    exactly as a normal start does."""
    for pages in make_pages(browser, live_server.url, timezone_id="Europe/Berlin"):
        from_snapshot = start_state(pages.new()[0], snapshot=True)["zone"]
        page, watch = pages.new()
        watch.allow(r"snapshot|404")
        fresh = start_state(page, snapshot=False)["zone"]
    assert from_snapshot == fresh
    assert fresh[0] == -3600 and fresh[3] == ["UTC+0100", "UTC+0200"]
    assert fresh[4] == "01:00 UTC+0100"


def test_without_its_snapshot_the_runtime_starts_the_normal_way(pages):
    page, watch = pages.new()
    watch.allow(r"snapshot|404")  # the missing file is reported, then the normal start follows
    page.route("**/snapshot.gz", lambda route: route.fulfill(status=404, body="gone"))
    page.goto("/")
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("document.body.dataset.ready") == "true"  # not "failed"
    assert page.evaluate("performance.getEntriesByName('pyodide:fresh').length") == 1
    assert page.evaluate("performance.getEntriesByName('pyodide:snapshot').length") == 0
    page.close()


def test_the_snapshot_is_let_go_once_restored(pages):
    """The 30 MiB snapshot is copied into the interpreter's memory; a reference left behind
    (our module, or Pyodide's config) would keep a second copy for the life of the page."""
    page, _ = pages.new()
    page.goto("/")
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("performance.getEntriesByName('pyodide:snapshot').length") == 1
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    usage = cdp.send("Runtime.getHeapUsage")  # ArrayBuffers: backingStorageSize
    assert usage["backingStorageSize"] < 16 * 1024 * 1024
    page.close()


def test_a_host_that_sends_the_snapshot_content_encoded_still_gets_a_snapshot_start(pages):
    """Some static hosts label every .gz file `Content-Encoding: gzip`; the browser then
    inflates it before the page sees it, and the page must not inflate it a second time."""
    snapshot = (ROOT / "vendor" / "pyodide" / "314.0.7" / "snapshot.gz").read_bytes()
    page, _ = pages.new()
    # What such a host's response looks like once the browser has decoded it.
    page.route(
        "**/snapshot.gz",
        lambda route: route.fulfill(
            status=200, content_type="application/gzip", body=gzip.decompress(snapshot)
        ),
    )
    page.goto("/")
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("performance.getEntriesByName('pyodide:snapshot').length") == 1
    page.close()
