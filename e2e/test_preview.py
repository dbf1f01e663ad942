"""Static builds and preview mode, in Chromium, against ``dist/`` on a plain static server.

The preview build is served by Python's ``http.server`` under a sub-path (``/team/pychat/``),
with no API behind it; the same build without ``?preview=1`` is then served by ``server.py
--root`` and talks to the real API.  Every page fails on console errors, ``.py-error`` boxes and
requests to another origin (see conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from app.preview.states import STATES, PreviewState
from backend.build import build
from e2e.conftest import (
    READY,
    PageWatch,
    chat_open,
    make_pages,
    open_app,
    send,
    settled,
    sign_in,
)
from tests.support import PASSWORD, ServerProcess, add_user
from tools.screens import show_state
from tools.static_site import mount, static_server

SUB = "team/pychat"
AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
SETTLE_MS = 15_000

# What each state must show beyond body[data-auth] and the panel's data-connection.
EXTRA_CHECKS = {
    "restoring": "#skeleton-view:not([hidden])",
    "anonymous": "#signin-view:not([hidden])",
    "sign-in-error": "#login-error:has-text('Wrong user name or password')",
    "throttled": "#login-error:has-text('Try again in')",
    "unreachable": "#unreachable-view:not([hidden]) #retry-countdown:has-text('Retrying')",
    "session-expired": "#login-notice:not(:empty)",
    "open": ".chat-empty:visible",  # nothing said yet: the log says so
    "reconnecting": "#chat-status:has-text('Reconnecting in')",
    "offline": "#chat-status:has-text('offline')",
    "degraded": "#chat-status:has-text('hard to reach')",
    "failed": "#chat-status:has-text('refused')",
    "long-message": ".chat-message[data-role='user'] .chat-text",
    "many-messages": ".chat-message[data-id='preview-299']",
    "bidirectional": ".chat-text[dir='auto']:has-text('שלום')",
    "emoji": ".chat-text:has-text('🇯🇵')",
    "markup": ".chat-text:has-text('<script>alert(2)</script>')",
}


@pytest.fixture(scope="module")
def preview_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("builds") / "preview"
    build(out, preview=True)
    return out


@pytest.fixture(scope="module")
def static_origin(preview_build, tmp_path_factory) -> Iterator[str]:
    site = tmp_path_factory.mktemp("site")
    mount(preview_build, site, SUB)
    with static_server(site) as origin:
        yield origin


@pytest.fixture
def static_pages(browser, static_origin):
    yield from make_pages(browser, static_origin)


def toolbar_page(browser, origin: str, **context_options) -> Iterator[tuple[Page, PageWatch]]:
    """One preview page kept open across a module's tests (the runtime boots once); checked
    like every other page when the module is done."""
    for pages in make_pages(browser, origin, **context_options):
        page, watch = pages.new()
        open_app(page, f"/{SUB}/")
        yield page, watch


@pytest.fixture(scope="module")
def desktop(browser, static_origin):
    yield from toolbar_page(browser, static_origin, viewport={"width": 1280, "height": 800})


def show(page: Page, state: PreviewState) -> None:
    show_state(page, state.id, SETTLE_MS)


def assert_shows(page: Page, state: PreviewState) -> None:
    assert page.get_attribute("body", "data-auth") == state.auth
    panel = page.locator("#chat-panel")
    if state.connection is None:
        assert panel.count() == 0  # the panel exists only for a signed-in user
    else:
        assert panel.get_attribute("data-connection") == state.connection
        assert panel.get_attribute("data-degraded") == ("true" if state.degraded else "false")
    extra = EXTRA_CHECKS.get(state.id)
    if extra is not None:
        # Waited for, not counted at once: a state that retries (unreachable) clears its
        # countdown while each retry is out, which on a busy machine lasts a while.
        page.locator(extra).first.wait_for(timeout=SETTLE_MS)
    assert page.locator(".py-error").count() == 0


def axe_violations(page: Page) -> list[dict]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))"""
    )


def overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no sideways scrolling)."""
    return page.evaluate(
        "Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth)"
    )


# ---------------------------------------------------------------------------------- tests


def test_preview_signs_anyone_in_and_streams_the_guides_reply(static_pages):
    page, watch = static_pages.new()
    open_app(page, f"/{SUB}/")
    assert "Preview" in page.inner_text("#preview-banner")
    sign_in(page, "Grace", "any password at all")
    settled(page, "authenticated")
    assert page.inner_text("#user-name") == "Grace"
    chat_open(page)
    send(page, "hello from the **preview**")
    reply = page.locator(".chat-message[data-role='assistant'][data-status='done']")
    reply.last.wait_for(timeout=SETTLE_MS)
    assert "hello from the" in reply.last.inner_text()
    assert page.get_attribute(".chat-message[data-role='user']", "data-status") == "sent"
    stats = json.loads(page.evaluate("pychatPreview()"))
    assert stats["content_frames"] >= 2  # streamed in pieces, not delivered whole
    # Markdown comes from the build's static wheel index, on the same origin.
    page.wait_for_selector("#chat-panel[data-markdown='ready']", timeout=SETTLE_MS)
    page.wait_for_selector(".chat-message[data-role='assistant'] blockquote strong")
    assert [u for u in watch.requests if "/api/" in u] == []  # nothing asked a real server
    assert any(u.endswith("/wheels/simple/markdown-it-py/") for u in watch.requests)


@pytest.mark.parametrize("state_id", list(STATES))
def test_each_toolbar_state_reaches_its_dom_state_and_has_no_axe_violations(desktop, state_id):
    page, watch = desktop
    state = STATES[state_id]
    show(page, state)
    assert_shows(page, state)
    violations = axe_violations(page)
    # None at all, not only none serious or critical: a new one of any impact is a regression.
    assert violations == [], json.dumps(violations, indent=1, ensure_ascii=False)
    assert not watch.errors


def test_markup_is_shown_as_text_and_never_parsed(desktop):
    page, _watch = desktop
    show(page, STATES["markup"])
    log = page.locator("#chat-log")
    assert log.locator("img, script, iframe, b").count() == 0
    assert "<img src=x" in log.inner_text()


def test_hundreds_of_messages_are_all_in_the_log(desktop):
    page, _watch = desktop
    show(page, STATES["many-messages"])
    assert page.locator("#chat-log .chat-message").count() == 300
    assert not page.locator(".chat-empty").is_visible()


@pytest.mark.parametrize(
    ("label", "options"),
    [
        ("320 px wide", {"viewport": {"width": 320, "height": 640}}),
        # A 1280 x 800 window at 200 % zoom lays out as 640 x 400 CSS pixels.
        ("200 % zoom", {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2}),
    ],
)
def test_every_state_fits_narrow_and_zoomed_screens(browser, static_origin, label, options):
    problems = []
    for page, _watch in toolbar_page(browser, static_origin, **options):
        width = page.viewport_size["width"]
        for state in STATES.values():
            show(page, state)
            assert_shows(page, state)
            if overflow(page):
                problems.append(f"{state.id}: {overflow(page)} px wider than the screen")
            control = "#chat-send" if state.connection else None
            if state.auth == "anonymous":
                control = "#login-submit"
            if control is not None:
                page.locator(control).scroll_into_view_if_needed()
                box = page.locator(control).bounding_box()
                if box is None or box["x"] < 0 or box["x"] + box["width"] > width:
                    problems.append(f"{state.id}: {control} is off screen ({box})")
    assert problems == [], f"{label}: " + "; ".join(problems)


def test_a_state_can_be_linked_to(static_pages):
    page, _watch = static_pages.new()
    page.goto(f"/{SUB}/?state=offline")
    page.wait_for_selector(READY)
    page.wait_for_selector("body[data-preview-state='offline']", timeout=SETTLE_MS)
    assert_shows(page, STATES["offline"])


def test_the_same_build_talks_to_the_real_server_without_preview(browser, tmp_path):
    out = tmp_path / "dist"
    build(out, preview=False)
    db = tmp_path / "dist.db"
    add_user(db, "real-ada", PASSWORD)
    server = ServerProcess(db, "--root", str(out)).start()
    try:
        for pages in make_pages(browser, server.url):
            page, watch = pages.new()
            open_app(page, "/")
            assert page.locator("#preview-banner").count() == 0
            sign_in(page, "real-ada")
            settled(page, "authenticated")
            chat_open(page)
            send(page, "hello, real server")
            reply = page.locator(".chat-message[data-role='assistant'][data-status='done']")
            reply.last.wait_for(timeout=SETTLE_MS)
            assert watch.api_requests("/api/auth/login")
            assert watch.websockets == 1
            # Same files with ?preview=1: the preview, on a real server's origin.
            preview, preview_watch = pages.new()
            open_app(preview, "/?preview=1")
            assert preview.locator("#preview-banner").count() == 1
            assert preview_watch.websockets == 0  # the simulated server has no real sockets
    finally:
        server.stop()
