"""A first visit over a slow line (Lighthouse's slow 4G, emulated): the sign-in form works
before Python does, and nothing typed is lost, sent twice or sent anywhere it should not go.

Each journey runs on both start paths (``?start=normal``, ``?start=snapshot``): the link would
pick the normal one, and a repeat visit takes the snapshot one.
"""

from __future__ import annotations

import json

import pytest

from e2e.conftest import EmulatedLine
from tests.support import PASSWORD

SLOW_VISIT_MS = 120_000
# Every value the progress bar shows, and every navigation of the top frame.
WATCH_PROGRESS = """
(() => {
  window.__progress = [];
  new MutationObserver(() => {
    const bar = document.getElementById("boot-progress");
    if (bar && !bar.hidden) {
      const value = Number(bar.getAttribute("aria-valuenow"));
      if (window.__progress.at(-1) !== value) window.__progress.push(value);
    }
  }).observe(document, {subtree: true, attributes: true,
                        attributeFilter: ["aria-valuenow", "hidden"]});
})();
"""
SHOWN_AS_IT_GOES = "window.__progress.filter((value) => 0 < value && value < 100).length >= 3"


@pytest.fixture(params=["normal", "snapshot"])
def start(request) -> str:
    return request.param


def test_credentials_typed_and_submitted_before_python_sign_in_exactly_once(pages, start):
    page, watch = pages.new()
    page.add_init_script(WATCH_PROGRESS)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    bodies: list[tuple[str, str]] = []
    page.on("request", lambda request: bodies.append((request.url, request.post_data or "")))
    line = EmulatedLine(page, "mobile")
    page.goto(f"/?start={start}", wait_until="commit")

    # Typed as a person would, as soon as the form takes focus; Enter long before Python runs.
    user = f"early-{start}"  # an account of its own (see conftest.live_server)
    page.wait_for_selector("#login-form[data-guarded]")
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # twice: still one sign-in
    assert page.evaluate("document.body.dataset.ready") == "false"
    assert page.inner_text("#login-submit") == "Starting…"
    before_python = list(bodies)
    # The download is shown as it goes; once it has been, the rest of the runtime may hurry.
    page.wait_for_function(SHOWN_AS_IT_GOES, timeout=SLOW_VISIT_MS)
    line.lift()

    page.wait_for_selector('body[data-auth="authenticated"]', timeout=SLOW_VISIT_MS)
    logins = [body for url, body in bodies if url.endswith("/api/auth/login")]
    assert [json.loads(body) for body in logins] == [{"username": user, "password": PASSWORD}]
    assert watch.sign_ins == 1
    # No native submission: one navigation, and the password in no URL and no other request.
    assert len(navigations) == 1
    assert not [url for url, body in before_python if PASSWORD in url or PASSWORD in body]
    assert not [url for url, _ in bodies if user in url or "password" in url.lower()]

    # The runtime's download was shown as it went, and it ended.
    progress = page.evaluate("window.__progress")
    assert progress == sorted(progress) and progress[-1] == 100
    assert page.evaluate(SHOWN_AS_IT_GOES)


def test_an_early_enter_before_the_guard_is_in_place_does_nothing(pages, start):
    """Until boot.js has run (it is async) the submit button is disabled, so the browser's
    implicit submission has nothing to press: no navigation, no request."""
    page, _ = pages.new()
    held: list = []
    page.route("**/static/boot.js*", lambda route: held.append(route))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    line = EmulatedLine(page, "mobile")
    page.goto(f"/?start={start}", wait_until="commit")
    page.wait_for_selector("#username")
    page.fill("#username", "ada")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.click("#login-submit", force=True)  # disabled: nothing happens
    assert page.evaluate("document.getElementById('login-form').dataset.guarded") is None
    held[0].continue_()
    page.wait_for_selector("#login-form[data-guarded]")
    line.lift()  # what comes before the guard is over: the runtime need not crawl in
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=SLOW_VISIT_MS)
    assert len(navigations) == 1
    assert page.input_value("#username") == "ada"  # Python adopted the fields as they were
    assert page.input_value("#password") == PASSWORD
