"""Sign-in lifecycle in a real page: first visit, sign in, restore, expiry, sign out, tabs."""

from __future__ import annotations

import json
import sqlite3

from app.wire.limits import MAX_FIELD
from e2e.conftest import chat_open, make_pages, open_app, settled, sign_in
from tests.support import PASSWORD, add_user

HINT_KEY = "pychat.auth.hint"
SESSION = "/api/auth/session"


def auth_log(page) -> list[str]:
    return page.evaluate("window.__authLog")


def test_first_visit_shows_sign_in_with_zero_auth_requests(pages):
    page, watch = pages.new()
    open_app(page)
    settled(page, "anonymous")
    assert page.locator("#login-form").is_visible()
    assert page.locator("#chat-panel").count() == 0
    assert page.locator("#logout").is_hidden()
    assert watch.api_requests("/api/") == []
    assert auth_log(page) == ["restoring", "anonymous"]
    # Keyboard users land in the form.
    assert page.evaluate("document.activeElement.id") == "username"


def test_sign_in_then_reload_restores_without_a_sign_in_flash(pages):
    page, watch = pages.new()
    open_app(page)
    sign_in(page, "ada")
    settled(page, "authenticated")
    assert page.locator("#user-name").inner_text() == "ada"
    assert page.locator("#logout").is_visible()
    assert page.locator("#password").input_value() == ""
    # The credential is out of reach of page scripts; the hint holds no secret.
    assert page.evaluate("document.cookie") == ""
    hint = json.loads(page.evaluate(f"localStorage.getItem('{HINT_KEY}')"))
    assert set(hint) == {"v", "user", "expires_at"} and hint["user"] == "ada"

    watch.requests.clear()
    open_app(page)
    settled(page, "authenticated")
    assert auth_log(page) == ["restoring", "authenticated"]  # never "anonymous" in between
    assert len(watch.api_requests(SESSION)) == 1
    assert watch.api_requests("/api/auth/login") == []


def test_expired_or_revoked_session_clears_the_hint_and_shows_sign_in(pages, live_server):
    page, watch = pages.new()
    watch.allow(r"status of 401")  # the browser's own line about the validation answer
    open_app(page)
    sign_in(page, "bob")
    settled(page, "authenticated")
    # Its socket is open first: a handshake after the revocation would sign this page out
    # (and clear the hint) before the reload that this test is about.
    chat_open(page)
    with sqlite3.connect(live_server.db) as db:  # revoke every session of bob, server-side
        db.execute("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name='bob')")
    open_app(page)
    settled(page, "anonymous")
    assert auth_log(page) == ["restoring", "anonymous"]
    assert page.evaluate(f"localStorage.getItem('{HINT_KEY}')") is None
    assert "session has ended" in page.locator("#login-notice").inner_text()
    assert len(watch.api_requests(SESSION)) == 1


def test_tampered_hint_counts_as_no_hint(pages):
    page, watch = pages.new()
    open_app(page)
    settled(page, "anonymous")
    page.evaluate(f"localStorage.setItem('{HINT_KEY}', '{{\"v\":1,\"user\":5}}')")
    open_app(page)
    settled(page, "anonymous")
    assert watch.api_requests(SESSION) == []
    assert page.evaluate(f"localStorage.getItem('{HINT_KEY}')") is None


def test_wrong_password_says_so_and_keeps_focus_in_the_form(pages):
    page, watch = pages.new()
    watch.allow(r"status of 401")
    open_app(page)
    sign_in(page, "cy", "not the password")
    page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
    assert page.locator("#login-error").inner_text() == "Wrong user name or password."
    assert page.locator("#login-error").get_attribute("role") == "alert"
    assert page.evaluate("document.body.dataset.auth") == "anonymous"
    assert page.evaluate("document.activeElement.id") == "password"


def test_empty_form_is_refused_without_a_request(pages):
    page, watch = pages.new()
    open_app(page)
    settled(page, "anonymous")
    page.click("#login-form button[type=submit]")
    page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
    assert "user name and a password" in page.locator("#login-error").inner_text()
    assert watch.api_requests("/api/auth/login") == []


def test_field_limits_count_characters_and_an_over_long_password_is_refused_here(pages):
    """A password of emoji over the limit goes in whole (a maxlength counts UTF-16 units and
    would cut it to half without a word, so a long password could never match), and is
    refused here with the reason, before any request, as the server would refuse it."""
    page, watch = pages.new()
    open_app(page)
    settled(page, "anonymous")
    page.fill("#username", "cy")
    page.focus("#password")
    page.keyboard.insert_text("🔑" * (MAX_FIELD + 1))  # the browser's own editing path
    assert len(page.input_value("#password")) == MAX_FIELD + 1
    page.click("#login-form button[type=submit]")
    page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
    assert f"at most {MAX_FIELD} characters" in page.locator("#login-error").inner_text()
    assert watch.api_requests("/api/auth/login") == []


def test_throttled_sign_in_says_how_long_to_wait(pages):
    page, watch = pages.new()
    watch.allow(r"status of 401")
    watch.allow(r"status of 429")
    open_app(page)
    for _ in range(5):
        sign_in(page, "dee", "wrong password")
        page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
        page.evaluate("document.getElementById('login-error').textContent = ''")
    sign_in(page, "dee", "wrong password")
    page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
    text = page.locator("#login-error").inner_text()
    assert text.startswith("Too many sign-in attempts. Try again in ")


def test_sign_out_revokes_the_session_and_the_other_tab_follows(pages, live_server):
    first, _ = pages.new()
    open_app(first)
    sign_in(first, "eve")
    settled(first, "authenticated")
    second, second_watch = pages.new()
    open_app(second)
    settled(second, "authenticated")
    second_watch.requests.clear()

    first.click("#logout")
    settled(first, "anonymous")
    assert "signed out" in first.locator("#login-notice").inner_text()
    assert first.evaluate(f"localStorage.getItem('{HINT_KEY}')") is None
    settled(second, "anonymous")  # through the storage event
    assert second_watch.api_requests("/api/") == []  # ... with no request of its own
    # The server forgot the session: the cookie the browser held is useless now.
    response = pages.context.request.get(live_server.url + SESSION)
    assert response.status == 401


def test_sign_in_in_one_tab_is_followed_by_the_other(pages):
    first, _ = pages.new()
    second, second_watch = pages.new()
    open_app(first)
    open_app(second)
    settled(second, "anonymous")
    sign_in(first, "fay")
    settled(first, "authenticated")
    settled(second, "authenticated")
    assert second.locator("#user-name").inner_text() == "fay"
    assert second_watch.api_requests("/api/") == []


def test_network_failure_during_restore_keeps_the_session_and_recovers(pages):
    page, watch = pages.new()
    watch.allow(r"ERR_CONNECTION_REFUSED|ERR_FAILED")
    open_app(page)
    sign_in(page, "gus")
    settled(page, "authenticated")

    # The server cannot be reached for the validation request (the network drops it).
    page.route("**/api/auth/session", lambda route: route.abort("connectionrefused"))
    open_app(page)
    settled(page, "unreachable")
    assert page.locator("#unreachable-view").is_visible()
    assert "gus" in page.locator("#unreachable-message").inner_text()
    assert page.evaluate(f"localStorage.getItem('{HINT_KEY}')") is not None  # still signed in
    page.wait_for_function(
        "document.getElementById('retry-countdown').textContent.startsWith('Retrying')"
    )

    page.unroute("**/api/auth/session")
    page.click("#retry-now")
    settled(page, "authenticated")
    assert page.locator("#user-name").inner_text() == "gus"
    assert "anonymous" not in auth_log(page)


def test_every_request_stays_on_our_origin(pages):
    page, watch = pages.new()
    open_app(page)
    sign_in(page, "hal")
    settled(page, "authenticated")
    open_app(page)
    settled(page, "authenticated")
    assert watch.requests and watch.foreign_requests() == []
    assert any("/vendor/pyodide/" in url for url in watch.requests)


def test_sign_out_everywhere_from_the_keyboard_ends_the_other_devices_session(
    pages, browser, live_server
):
    add_user(live_server.db, "everywhere", PASSWORD)
    other_device = make_pages(browser, live_server.url)  # another browser profile
    others = next(other_device)
    try:
        elsewhere, elsewhere_watch = others.new()
        elsewhere_watch.allow(r"status of 401")  # its session is gone when it looks again
        open_app(elsewhere)
        sign_in(elsewhere, "everywhere")
        settled(elsewhere, "authenticated")
        chat_open(elsewhere)

        page, _ = pages.new()
        open_app(page)
        sign_in(page, "everywhere")
        settled(page, "authenticated")
        page.focus("#logout")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "logout-all"
        assert page.locator("#logout-all").inner_text() == "Sign out everywhere"
        page.keyboard.press("Enter")
        settled(page, "anonymous")
        page.wait_for_function(
            "document.getElementById('login-notice').textContent.includes('every device')"
        )
        # The other device's socket was closed with 4401: it signs out by itself.
        settled(elsewhere, "anonymous")
        assert "session has ended" in elsewhere.locator("#login-notice").inner_text()
        assert others.context.request.get(live_server.url + SESSION).status == 401
    finally:
        next(other_device, None)  # checks that page too, then closes its profile
