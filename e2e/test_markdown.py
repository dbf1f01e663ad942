"""Assistant Markdown in the real page: installed from our origin after sign-in, safe DOM."""

from __future__ import annotations

from e2e.conftest import caught_up, chat_open, open_app, send, settled, sign_in

RICH = (
    "- first item\n- second **bold** item\n\n```\nkeep   the  spaces\n```\n\n"
    "[a site](https://example.org/page) and [bad](javascript:window.__pwned=1)\n\n"
    '<img src=x onerror="window.__pwned=2">'
)


def wheel_requests(watch) -> list[str]:
    return [u for u in watch.requests if "/wheels/" in u]


def test_anonymous_visits_request_no_wheel(pages):
    page, watch = pages.new()
    open_app(page)
    settled(page, "anonymous")
    caught_up(page)
    assert wheel_requests(watch) == []


def test_the_install_waits_until_the_socket_has_opened(pages):
    """micropip and the wheels would share the page's one thread with opening the socket."""
    page, _ = pages.new()
    open_app(page)
    sign_in(page, "md-dee")
    chat_open(page)
    page.wait_for_selector('#chat-panel[data-markdown="ready"]', timeout=20_000)
    opened = page.evaluate("window.__connectionLog.find(e => e.state === 'open').at")
    first_wheel = page.evaluate(
        "Math.min(...performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/wheels/')).map(e => e.startTime))"
    )
    assert first_wheel >= opened


def test_reply_renders_as_elements_and_runs_nothing(pages):
    page, watch = pages.new()
    open_app(page)
    sign_in(page, "md-ada")
    chat_open(page)
    send(page, RICH)
    reply = page.locator('.chat-message[data-role="assistant"][data-status="done"] .chat-text.md')
    reply.wait_for(timeout=20_000)
    assert reply.locator("ul > li").count() == 2
    assert reply.locator("li strong").inner_text() == "bold"
    assert reply.locator("pre code").inner_text() == "keep   the  spaces\n"
    assert reply.locator(".md-code button.md-copy").count() == 1
    link = reply.locator("a")
    assert link.count() == 1
    assert link.get_attribute("href") == "https://example.org/page"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert link.get_attribute("target") == "_blank"
    assert "javascript:window.__pwned=1" in reply.inner_text()  # shown, not linked
    assert '<img src=x onerror="window.__pwned=2">' in reply.inner_text()
    assert page.locator("#chat-log img").count() == 0
    assert page.evaluate("window.__pwned") is None
    # The user's own message stays plain text.
    mine = page.locator('.chat-message[data-role="user"] .chat-text')
    assert mine.inner_text() == RICH and "md" not in (mine.get_attribute("class") or "")
    # Everything the install fetched came from our origin (the fixture also fails on any
    # foreign request), and micropip came by URL, not through Pyodide's lock file.
    fetched = wheel_requests(watch)
    assert any(u.endswith("/wheels/files/micropip-0.11.1-py3-none-any.whl") for u in fetched)
    assert any("/wheels/files/markdown_it_py-" in u for u in fetched)
    assert any("/wheels/files/mdurl-" in u for u in fetched)


def test_history_is_upgraded_in_place_after_a_reload(pages):
    page, _ = pages.new()
    open_app(page)
    sign_in(page, "md-bob")
    chat_open(page)
    send(page, "**strong words**")
    page.wait_for_selector('.chat-message[data-role="assistant"] .chat-text.md strong')
    open_app(page)
    chat_open(page)
    page.wait_for_selector(
        '.chat-message[data-role="assistant"] .chat-text.md strong', timeout=20_000
    )
    assert page.locator(".chat-message").count() == 2


def test_without_the_library_messages_stay_plain_text(pages):
    page, watch = pages.new()
    watch.allow(r"wheels|Failed to load resource")
    page.route("**/wheels/**", lambda route: route.abort("failed"))
    open_app(page)
    sign_in(page, "md-cy")
    chat_open(page)
    send(page, "**not bold**")
    reply = page.locator('.chat-message[data-role="assistant"][data-status="done"] .chat-text')
    reply.wait_for()
    page.wait_for_selector('#chat-panel[data-markdown="unavailable"]')
    assert "**not bold**" in reply.inner_text()
    assert page.locator("#chat-log strong").count() == 0
