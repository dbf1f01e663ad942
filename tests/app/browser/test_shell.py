"""The start-up shell against the fake page: it moves values between the page and the auth
store, and the page shows what the store decided."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.auth import hint
from app.auth.model import Hint
from app.wire.urls import LOGIN_URL, LOGOUT_ALL_URL, LOGOUT_URL, SESSION_URL

SESSION = {"user": {"name": "ada"}, "expires_at": "2030-01-01T00:00:00Z"}


class Server:
    """The shell's ``http``: records requests and answers from a table."""

    def __init__(self, answers: dict) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, dict | None]] = []

    async def __call__(self, method: str, url: str, body: dict | None = None):
        self.calls.append((method, url, body))
        return self.answers.get((method, url), (None, None, None))


class FakeChat:
    """Stands in for app.browser.chat (the lazily loaded entry)."""

    def __init__(self) -> None:
        self.mounted: list[dict] = []
        self.closed = 0

    def mount(self, parent, user, **hooks):
        self.mounted.append({"user": user, **hooks})
        return type("Panel", (), {"unmount": lambda self: None})()

    def close_all(self):
        self.closed += 1


def shell_with(server: Server, chat: FakeChat | None = None):
    from app.browser.shell import Shell

    shell = Shell(http=server)
    shell.chat_module = chat or FakeChat()
    return shell


def auth(page) -> str:
    return page.document.body.dataset.auth


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_no_hint_shows_sign_in_with_no_request_and_focus_in_the_form(page):
    server = Server({})
    shell_with(server).start()
    assert auth(page) == "anonymous" and page.document.body.dataset.ready == "true"
    assert server.calls == [] and page.document.activeElement.id == "username"
    assert page.document.getElementById("boot").hidden
    assert not page.document.getElementById("signin-view").hidden


async def test_what_was_typed_before_python_ran_stays_and_an_early_submit_runs_once(page):
    """static/boot.js held a submit pressed while the runtime loaded (data-pending-submit); the
    shell carries it out with the fields as they are now, and leaves the cursor where it was."""
    server = Server({("POST", LOGIN_URL): (200, SESSION, {})})
    page.document.getElementById("username").value = "ada"
    password = page.document.getElementById("password")
    password.value = "typed early"
    password.focus()
    page.document.getElementById("login-form").setAttribute("data-pending-submit", "true")
    shell_with(server).start()
    assert page.document.activeElement is password
    assert page.document.getElementById("login-form").getAttribute("data-pending-submit") is None
    await settle()
    assert server.calls == [("POST", LOGIN_URL, {"username": "ada", "password": "typed early"})]
    assert auth(page) == "authenticated"


async def test_focus_already_in_the_form_is_left_alone_without_an_early_submit(page):
    server = Server({})
    password = page.document.getElementById("password")
    password.focus()
    shell_with(server).start()
    assert page.document.activeElement is password and server.calls == []


async def test_submitting_the_form_signs_in_writes_the_hint_and_mounts_the_chat(page):
    server = Server({("POST", LOGIN_URL): (200, SESSION, {})})
    chat = FakeChat()
    shell = shell_with(server, chat)
    shell.start()
    page.document.getElementById("username").value = "  ada "
    page.document.getElementById("password").value = "secret words"
    form = page.document.getElementById("login-form")
    submitted = form.fire("submit")
    assert submitted.defaultPrevented and auth(page) == "signing_in"
    assert page.document.getElementById("login-submit").disabled
    await settle()
    assert server.calls == [("POST", LOGIN_URL, {"username": "ada", "password": "secret words"})]
    assert auth(page) == "authenticated"
    assert page.document.getElementById("user-name").textContent == "ada"
    assert hint.decode(page.localStorage.getItem(hint.STORAGE_KEY), 0).user == "ada"
    assert page.document.getElementById("password").value == ""
    assert [m["user"] for m in chat.mounted] == ["ada"]

    chat.mounted[0]["on_session_ended"]()  # the socket closed with 4401
    assert auth(page) == "anonymous" and chat.closed == 1
    assert page.localStorage.getItem(hint.STORAGE_KEY) is None


async def test_a_wrong_password_says_so_and_focuses_the_password(page):
    server = Server({("POST", LOGIN_URL): (401, {"error": {}}, {})})
    shell_with(server).start()
    page.document.getElementById("username").value = "ada"
    page.document.getElementById("password").value = "wrong one"
    page.document.getElementById("login-form").fire("submit")
    await settle()
    assert page.document.getElementById("login-error").textContent.startswith("Wrong user name")
    assert page.document.activeElement.id == "password"


async def test_a_remembered_session_that_cannot_be_checked_counts_down_and_retries(page):
    page.localStorage.setItem(hint.STORAGE_KEY, hint.encode(Hint("ada", 4e9)))
    server = Server({})  # nothing answers
    shell = shell_with(server)
    shell.start()
    assert auth(page) == "restoring"
    await settle()
    assert auth(page) == "unreachable" and server.calls == [("GET", SESSION_URL, None)]
    assert page.document.getElementById("retry-countdown").textContent.startswith("Retrying")
    assert "ada" in page.document.getElementById("unreachable-message").textContent
    server.answers[("GET", SESSION_URL)] = (200, SESSION, {})
    page.document.getElementById("retry-now").fire("click")
    await settle()
    assert auth(page) == "authenticated"
    assert page.document.getElementById("retry-countdown").textContent == ""
    assert not shell.timers.running("retry")


async def test_sign_out_is_local_first_then_tells_the_server(page):
    page.localStorage.setItem(hint.STORAGE_KEY, hint.encode(Hint("ada", 4e9)))
    server = Server(
        {("GET", SESSION_URL): (200, SESSION, {}), ("POST", LOGOUT_URL): (204, None, {})}
    )
    chat = FakeChat()
    shell_with(server, chat).start()
    await settle()
    page.document.getElementById("logout").fire("click")
    assert auth(page) == "anonymous" and chat.closed == 1
    assert page.localStorage.getItem(hint.STORAGE_KEY) is None
    await settle()
    assert server.calls[-1] == ("POST", LOGOUT_URL, None)
    assert "signed out" in page.document.getElementById("login-notice").textContent


async def test_sign_out_everywhere_is_a_button_beside_sign_out(page):
    shell_with(Server({})).start()
    logout = page.document.getElementById("logout")
    button = page.document.getElementById("logout-all")
    siblings = logout.parent.children
    assert siblings.index(button) == siblings.index(logout) + 1
    assert button.tagName == "button" and button.getAttribute("type") == "button"
    assert button.textContent == "Sign out everywhere"
    assert "tabindex" not in button.attrs and not button.disabled  # in the tab order


async def test_sign_out_everywhere_a_second_start_makes_no_second_button(page):
    shell_with(Server({})).start()
    shell_with(Server({})).start()
    assert len(page.document.querySelectorAll("#logout-all")) == 1


@pytest.mark.parametrize(
    ("status", "where", "words"),
    [
        (204, "login-notice", "You have signed out on every device."),
        (503, "login-error", "could not sign out your other devices"),
        (None, "login-error", "could not sign out your other devices"),
    ],
)
async def test_sign_out_everywhere_is_local_first_then_says_what_the_server_did(
    page, status, where, words
):
    page.localStorage.setItem(hint.STORAGE_KEY, hint.encode(Hint("ada", 4e9)))
    server = Server(
        {("GET", SESSION_URL): (200, SESSION, {}), ("POST", LOGOUT_ALL_URL): (status, None, {})}
    )
    chat = FakeChat()
    shell_with(server, chat).start()
    await settle()
    page.document.getElementById("logout-all").fire("click")
    assert auth(page) == "anonymous" and chat.closed == 1
    assert page.localStorage.getItem(hint.STORAGE_KEY) is None
    await settle()
    assert server.calls[-1] == ("POST", LOGOUT_ALL_URL, None)
    assert words in page.document.getElementById(where).textContent


async def test_another_tab_signing_in_is_followed_through_the_storage_event(page):
    server = Server({})
    shell_with(server).start()
    page.localStorage.setItem(hint.STORAGE_KEY, hint.encode(Hint("bob", 4e9)))
    page.window.fire("storage", key="another.key")
    assert auth(page) == "anonymous"  # not our key: nothing to read
    page.window.fire("storage", key=hint.STORAGE_KEY)
    assert auth(page) == "authenticated" and server.calls == []


async def test_closing_and_reopening_the_chat(page):
    page.localStorage.setItem(hint.STORAGE_KEY, hint.encode(Hint("ada", 4e9)))
    chat = FakeChat()
    shell = shell_with(Server({("GET", SESSION_URL): (200, SESSION, {})}), chat)
    shell.start()
    await settle()
    chat.mounted[0]["on_close"]()
    reopen = page.document.getElementById("chat-open")
    assert not reopen.hidden and page.document.activeElement is reopen
    reopen.fire("click")
    await settle()
    assert len(chat.mounted) == 2 and reopen.hidden


async def test_a_chat_that_cannot_be_downloaded_says_so(page):
    from app.browser.shell import Shell

    page.localStorage.setItem(hint.STORAGE_KEY, hint.encode(Hint("ada", 4e9)))
    shell = Shell(http=Server({("GET", SESSION_URL): (200, SESSION, {})}))
    shell.start()  # the chat's files are fetched: fakejs answers nothing
    for _ in range(20):
        await asyncio.sleep(0)
    assert "could not be loaded" in page.document.getElementById("chat-loading").textContent
    assert page.requests and page.requests[0][0].startswith("app/")


async def test_boot_marks_the_timeline_and_starts_the_app(page):
    from app.browser.shell import boot

    shell = await boot()
    assert page.performance.marks == ["pychat:boot"] and auth(page) == "anonymous"
    assert json.loads(json.dumps(shell.store.snapshot.status)) == "anonymous"
