"""The static shell: paints at once, takes the start path the link calls for, fails clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.build import build
from e2e.conftest import BOOT_TIMEOUT_MS, EmulatedLine, make_pages
from tests.support import ROOT
from tools.static_site import static_server

HINT = """localStorage.setItem("pychat.auth.hint",
  JSON.stringify({v: 1, user: "ada", expires_at: Date.now() / 1000 + 3600}));"""


def hold_the_runtime(page) -> list:
    """Keep the interpreter from arriving, so the page before Python can be looked at."""
    held: list = []
    page.route("**/pyodide.asm.wasm", lambda route: held.append(route))
    return held


def test_without_a_hint_the_first_paint_is_a_sign_in_form_that_takes_typing(pages):
    page, _ = pages.new()
    hold_the_runtime(page)
    page.goto("/", wait_until="domcontentloaded")
    page.wait_for_selector("#login-form[data-guarded]")  # boot.js has run
    assert page.evaluate("document.activeElement.id") == "username"  # focus at once
    page.keyboard.type("ada")
    assert page.input_value("#username") == "ada"
    assert page.locator("#login-submit").is_enabled()
    assert page.locator("#boot-message").inner_text().startswith("Loading Python runtime")
    assert page.evaluate("[document.body.dataset.auth, document.body.dataset.ready]") == [
        "restoring",  # Python alone decides sign-in state
        "false",
    ]
    page.unroute_all(behavior="ignoreErrors")
    page.close()


def test_with_a_hint_the_first_paint_is_the_loading_card(pages):
    page, _ = pages.new()
    page.add_init_script(HINT)
    hold_the_runtime(page)
    page.goto("/", wait_until="domcontentloaded")
    page.wait_for_selector("#login-form[data-guarded]", state="attached")
    assert page.locator("#signin-view").is_hidden()
    assert page.locator("#boot-message").is_visible()
    assert page.evaluate("document.body.dataset.auth") == "restoring"
    page.wait_for_function("document.getElementById('boot-message').textContent.includes('(')")
    assert page.evaluate("document.body.dataset.ready") == "false"
    page.unroute_all(behavior="ignoreErrors")
    page.close()


@pytest.mark.parametrize(
    "hint",
    [
        '{"v": 1, "user": "ada", "expires_at": 1}',  # expired
        '{"v": 2, "user": "ada", "expires_at": 9e9}',  # another version
        '{"v": 1, "user": "", "expires_at": 9e9}',
        "not json",
    ],
)
def test_a_hint_python_would_refuse_gives_the_sign_in_form(pages, hint):
    """boot.js reads the hint by app/auth/hint.py's rules, so its first view is Python's."""
    page, _ = pages.new()
    page.add_init_script(f"localStorage.setItem('pychat.auth.hint', {json.dumps(hint)});")
    page.goto("/", wait_until="domcontentloaded")
    page.wait_for_selector("#login-form[data-guarded]")
    assert page.locator("#signin-view").is_visible()
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=BOOT_TIMEOUT_MS)
    page.close()


def test_runtime_that_fails_to_load_shows_a_reload_button(pages):
    page, watch = pages.new()
    watch.allow(r".")  # the failed runtime load is reported by the browser and by PyScript
    page.route("**/pyodide.asm.wasm", lambda route: route.fulfill(status=404, body="gone"))
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
        "**/app/main.py*",  # the page names its files with ?v=<release>
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
        "**/app/main.py*",  # the page names its files with ?v=<release>
        lambda route: route.fulfill(status=200, content_type="text/x-python", body=START_STATE),
    )
    page.goto("/?start=snapshot" if snapshot else "/?start=normal")
    page.wait_for_selector("body[data-start]", state="attached", timeout=BOOT_TIMEOUT_MS)
    started = "pyodide:snapshot" if snapshot else "pyodide:fresh"
    assert page.evaluate(f"performance.getEntriesByName('{started}').length") == 1
    state = json.loads(page.evaluate("document.body.dataset.start"))
    page.close()
    return state


def test_the_runtime_starts_from_the_snapshot_with_its_own_random_numbers(pages):
    """static/pyodide-early.mjs restores Pyodide from the snapshot; it holds the state of
    `random`'s shared generator, so each page must reseed it or every tab would draw the same
    numbers."""
    first, second = (start_state(pages.new()[0], snapshot=True) for _ in range(2))
    assert first["draw"] != second["draw"]


def test_a_snapshot_start_has_this_browser_s_time_zone(browser, live_server):
    """The snapshot was made under set-up's time zone (UTC); a page in Berlin must see Berlin,
    exactly as a normal start does."""
    for pages in make_pages(browser, live_server.url, timezone_id="Europe/Berlin"):
        from_snapshot = start_state(pages.new()[0], snapshot=True)["zone"]
        fresh = start_state(pages.new()[0], snapshot=False)["zone"]
    assert from_snapshot == fresh
    assert fresh[0] == -3600 and fresh[3] == ["UTC+0100", "UTC+0200"]
    assert fresh[4] == "01:00 UTC+0100"


def path_taken(page) -> str:
    return page.evaluate(
        "performance.getEntriesByName('pyodide:snapshot').length ? 'snapshot' : "
        "performance.getEntriesByName('pyodide:fresh').length ? 'normal' : 'none'"
    )


def test_without_its_snapshot_the_runtime_starts_the_normal_way(pages):
    page, watch = pages.new()
    watch.allow(r"snapshot|404")  # the missing file is reported, then the normal start follows
    page.route("**/app/snapshot.gz*", lambda route: route.fulfill(status=404, body="gone"))
    page.goto("/?start=snapshot")
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("document.body.dataset.ready") == "true"  # not "failed"
    assert path_taken(page) == "normal"
    page.close()


def test_the_snapshot_is_let_go_once_restored(pages):
    """The 30 MiB snapshot is copied into the interpreter's memory; a reference left behind
    (our module, or Pyodide's config) would keep a second copy for the life of the page."""
    page, _ = pages.new()
    page.goto("/?start=snapshot")
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=BOOT_TIMEOUT_MS)
    assert path_taken(page) == "snapshot"
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    usage = cdp.send("Runtime.getHeapUsage")  # ArrayBuffers: backingStorageSize
    assert usage["backingStorageSize"] < 16 * 1024 * 1024
    page.close()


@pytest.fixture(scope="module")
def static_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("builds") / "app"
    build(out)
    return out


def snapshot_encodings(page) -> list[str | None]:
    """The Content-Encoding of each snapshot response the page will get."""
    encodings: list[str | None] = []

    def seen(response) -> None:
        if "/app/snapshot.gz" in response.url:
            encodings.append(response.headers.get("content-encoding"))

    page.on("response", seen)
    return encodings


@pytest.mark.parametrize("label_gzip", [False, True], ids=["gzip file", "decoded on the way"])
def test_the_snapshot_starts_the_runtime_in_either_form_a_host_sends(
    browser, static_build, label_gzip
):
    """Plain static hosts send the gzip file as it is (the page inflates it); a host that labels
    .gz files `Content-Encoding: gzip` has the browser inflate it on the way, and the page must
    not inflate it a second time (our own server sends the gzip file, brotli-encoded)."""
    with static_server(static_build, label_gzip=label_gzip) as origin:
        for pages in make_pages(browser, origin):
            page, _ = pages.new()
            encodings = snapshot_encodings(page)
            page.goto("/?start=snapshot")
            page.wait_for_selector('body[data-auth="anonymous"]', timeout=BOOT_TIMEOUT_MS)
            assert path_taken(page) == "snapshot"
            assert encodings[:1] == (["gzip"] if label_gzip else [None])
            page.close()


def kept_snapshots(page) -> list[str]:
    return page.evaluate(
        "caches.open('pychat-runtime').then(c => c.keys()).then(ks => ks.map(k => k.url))"
    )


def test_on_a_fast_link_the_first_visit_starts_from_the_snapshot_and_keeps_it(pages):
    page, _ = pages.new()
    page.goto("/")
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=BOOT_TIMEOUT_MS)
    assert path_taken(page) == "snapshot"  # loopback: its bytes cost almost nothing
    page.wait_for_function("performance.getEntriesByName('pyodide:snapshot-stored').length")
    digest = json.loads(
        (ROOT / "vendor" / "pyodide" / "314.0.7" / "app" / "runtime.json").read_text()
    )["app/snapshot.gz"]["sha256"]
    assert [url.rsplit("/", 1)[1] for url in kept_snapshots(page)] == [
        f"snapshot.gz?sha256={digest}"
    ]


def test_on_a_slow_link_the_first_visit_starts_normally_and_the_next_from_the_kept_snapshot(
    pages,
):
    """Mobile (1.6 Mbit/s): 4 MB of snapshot would cost far more than the start it saves, so
    the first visit starts normally, then keeps the snapshot in the background; the repeat
    visit starts from it without asking the network."""
    page, _ = pages.new()
    line = EmulatedLine(page, "mobile")
    page.goto("/")
    # The path is chosen once the line is judged; keeping and reusing the snapshot is the same
    # on any line after that, so the rest need not crawl.
    page.wait_for_function("performance.getEntriesByName('pyodide:link').length", timeout=120_000)
    line.lift()
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=120_000)
    assert path_taken(page) == "normal"
    page.wait_for_function(
        "performance.getEntriesByName('pyodide:snapshot-stored').length", timeout=120_000
    )
    page.reload()
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=120_000)
    assert path_taken(page) == "snapshot"
    snapshot_requests = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('snapshot'))"
        ".map(e => e.transferSize)"
    )
    assert snapshot_requests == []  # read from Cache Storage: nothing asked of the network


def test_a_snapshot_kept_by_an_older_deploy_is_used_then_replaced(pages):
    """A kept snapshot is used at once (a build it does not match is refused by Pyodide and
    the page starts normally); once the page has settled it is replaced by the current one."""
    page, _ = pages.new()
    page.goto("/?start=normal")
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=BOOT_TIMEOUT_MS)
    page.evaluate(
        """async () => {
        const url = new URL("vendor/pyodide/314.0.7/app/snapshot.gz", location.href).href;
        const cache = await caches.open("pychat-runtime");
        await cache.put(url + "?sha256=older", await fetch(url));
    }"""
    )
    page.goto("/")
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=BOOT_TIMEOUT_MS)
    assert path_taken(page) == "snapshot"
    page.wait_for_function("performance.getEntriesByName('pyodide:snapshot-stored').length")
    (kept,) = kept_snapshots(page)
    assert "older" not in kept
