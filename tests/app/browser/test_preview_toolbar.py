"""Preview mode's adapter: the real shell on the simulated server, and a toolbar whose states
are reached the way a user would reach them."""

from __future__ import annotations

import asyncio

from app.preview.states import STATES
from tests.app.browser import fakejs


async def reached(page, state: str) -> None:
    async with asyncio.timeout(5):
        while page.document.body.dataset.previewState != state:
            await asyncio.sleep(0.01)


async def test_a_linked_state_is_shown_and_marked(page):
    fakejs.reset("http://127.0.0.1:8080/team/?preview=1&state=sign-in-error")
    from app.browser import preview_toolbar

    shell = preview_toolbar.start()
    page = fakejs.js
    assert page.document.getElementById("preview-banner") is not None
    buttons = page.document.querySelectorAll("button[data-state]")
    assert [b.dataset.state for b in buttons] == list(STATES)
    await reached(page, "sign-in-error")
    assert page.document.body.dataset.auth == "anonymous"
    assert "Wrong user name" in page.document.getElementById("login-error").textContent
    assert shell.store.snapshot.status.value == "anonymous"


async def test_a_click_on_a_state_gets_there(page):
    from app.browser import preview_toolbar

    preview_toolbar.start()
    page.document.querySelector('button[data-state="unreachable"]').fire("click")
    await reached(page, "unreachable")
    assert page.document.body.dataset.auth == "unreachable"
    assert (
        page.document.querySelector('button[data-state="unreachable"]').getAttribute("aria-pressed")
        == "true"
    )
