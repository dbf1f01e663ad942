"""Preview mode's shell: the simulated server wired into the real app, a banner, and a toolbar
that puts the UI into any state of :data:`app.preview.states.STATES` with one click.

The app itself is the normal :class:`app.browser.shell.Shell`, only given the simulated server
(:class:`app.preview.server.PreviewServer`) for HTTP and sockets and its own storage key for the
hint.  A state is reached the way a user would reach it: a fresh restore, a submitted form, a
dropped connection, the browser going offline.  Each click sets
``<body data-preview-state="…">`` once the page shows that state (tests and the screenshot
command wait on it).  ``?preview=1&state=offline`` opens the page straight in a state.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import js

from app.auth import hint
from app.auth.model import Hint
from app.browser.dom import by_id as _el
from app.browser.dom import make, present
from app.browser.proxies import Listeners, new_proxy
from app.browser.shell import Shell
from app.browser.storage import KeyValue
from app.preview.server import SESSION_SECONDS, PreviewServer
from app.preview.states import (
    GROUPS,
    STATES,
    STRESS,
    Await,
    DropSockets,
    ExpireSession,
    FastForward,
    GoOffline,
    Misbehave,
    PreviewState,
    ShowHistory,
    SignIn,
    Start,
    Step,
)
from app.ui import chat_loader

HINT_KEY = "pychat.preview.hint"  # never the real app's key: a preview cannot confuse a session
SESSION_KEY = "pychat.preview.session"  # who the simulated server has signed in (not a secret)
PREVIEW_USER = "designer"
AWAIT_TIMEOUT_S = 10.0
# On small or zoomed screens the open toolbar would hide the page: it starts closed there and
# closes again once a state is chosen.
COMPACT = "(max-width: 40rem), (max-height: 30rem)"
POLL_S = 0.05


def _make(tag: str, text: str | None = None, **attrs: str) -> Any:
    return make(tag, {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}, text)


SESSION = KeyValue("sessionStorage")
HINTS = KeyValue("localStorage")


def _remember(user: str | None) -> None:
    if user:
        SESSION.write(SESSION_KEY, user)
    else:
        SESSION.remove(SESSION_KEY)


class Toolbar:
    def __init__(self) -> None:
        self.server = PreviewServer(user=SESSION.read(SESSION_KEY))
        self.server.remember = _remember
        self.scale = 1.0
        self.shell = Shell(
            http=self.server.request,
            link=self.server,
            hint_key=HINT_KEY,
            timer_scale=lambda: self.scale,
        )
        self.buttons: dict[str, Any] = {}
        self.details: Any = None
        self.listeners = Listeners(counted=False)  # page-lifetime listeners
        self.running: asyncio.Task | None = None

    # ------------------------------------------------------------------ DOM

    def mount(self) -> None:
        body = js.document.body
        body.dataset.preview = "true"
        body.dataset.previewState = ""
        # A labelled region: a landmark, so nothing on the page sits outside one (axe "region").
        banner = _make("div", None, id="preview-banner", class_="preview-banner", role="region")
        banner.setAttribute("aria-label", "Preview mode")
        banner.appendChild(_make("strong", "Preview"))
        banner.appendChild(
            js.document.createTextNode(
                " · No server: everything runs in your browser. Any user name signs in."
            )
        )
        nav = _make("nav", None, id="preview-toolbar", class_="preview-toolbar")
        nav.setAttribute("aria-label", "Preview states")
        details = _make("details", None)
        details.open = not js.window.matchMedia(COMPACT).matches
        summary = _make("summary", "Show a state")
        summary.appendChild(_make("span", "", id="preview-current", class_="preview-current"))
        details.appendChild(summary)
        self.details = details
        for index, group in enumerate(GROUPS):
            label_id = f"preview-group-{index}"
            box = _make("div", None, class_="preview-group", role="group")
            box.setAttribute("aria-labelledby", label_id)
            box.appendChild(_make("span", group, id=label_id, class_="preview-group-label"))
            for state in (s for s in STATES.values() if s.group == group):
                button = _make("button", state.label, type="button", class_="preview-state")
                button.dataset.state = state.id
                button.setAttribute("aria-pressed", "false")
                button.title = state.description
                box.appendChild(button)
                self.buttons[state.id] = button
            details.appendChild(box)
        nav.appendChild(details)
        nav.appendChild(_make("p", "", id="preview-status", class_="preview-status", role="status"))
        header = js.document.querySelector(".app-header")
        body.insertBefore(banner, header)
        body.insertBefore(nav, header)
        self.listeners.add(nav, "click", self._on_click)

    def _on_click(self, event: Any) -> None:
        button = event.target.closest("button[data-state]")
        if present(button):
            self.choose(str(button.dataset.state))

    # ------------------------------------------------------------------ states

    def choose(self, state_id: str) -> None:
        state = STATES.get(state_id)
        if state is None:
            return
        if self.running is not None and not self.running.done():
            self.running.cancel()
        js.document.body.dataset.previewState = ""  # at once: nobody may see the old state as done
        _el("preview-current").textContent = f" · {state.label}"
        if js.window.matchMedia(COMPACT).matches:
            self.details.open = False
        self.running = asyncio.ensure_future(self.apply(state))

    async def apply(self, state: PreviewState) -> None:
        body = js.document.body
        body.dataset.previewState = ""
        for state_id, button in self.buttons.items():
            button.setAttribute("aria-pressed", "true" if state_id == state.id else "false")
        _el("preview-status").textContent = f"Getting to “{state.label}”…"
        self.scale = 1.0
        self.shell.tear_down_chat()  # the old chat goes first: the server's changes are not for it
        self.server.reset(state.behaviour)
        self.server.history = []
        if state.start is Start.REMEMBERED:
            self.server.sign_in_as(PREVIEW_USER)
            remembered = Hint(PREVIEW_USER, time.time() + SESSION_SECONDS)
            HINTS.write(HINT_KEY, hint.encode(remembered))
        else:
            self.server.sign_in_as(None)
            HINTS.remove(HINT_KEY)
        self.shell.restart()
        for step in state.steps:
            await self.run(step)
        reached = all([await self.wait_for(selector) for selector in state.selectors()])
        self.scale = 1.0
        words = state.description if reached else "(did not settle; see the console)"
        _el("preview-status").textContent = f"Showing “{state.label}”. {words}"
        if reached:
            body.dataset.previewState = state.id
        else:
            js.console.warn(f"preview: {state.id} did not reach {state.selectors()}")

    async def run(self, step: Step) -> None:
        match step:
            case SignIn(username=username, password=password):
                _el("username").value = username
                _el("password").value = password
                _el("login-form").requestSubmit()
            case Await(selector=selector):
                await self.wait_for(selector)
            case Misbehave(sockets=sockets):
                self.server.misbehave(sockets=sockets)
            case DropSockets(code=code):
                self.server.drop_sockets(code)
            case GoOffline():
                js.window.dispatchEvent(js.Event.new("offline"))
            case ExpireSession():
                self.server.expire_session()
            case FastForward(factor=factor):
                self.scale = factor
                chat = sys.modules.get(chat_loader.ENTRY)
                if chat is not None:
                    chat.ENTRY.rescale_timers()
            case ShowHistory(kind=kind):
                self.server.replace_history(STRESS[kind]())

    async def wait_for(self, selector: str) -> bool:
        deadline = time.monotonic() + AWAIT_TIMEOUT_S
        while not present(js.document.querySelector(selector)):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True

    def stats(self) -> str:
        return json.dumps(
            {
                "requests": self.server.stats.requests,
                "sockets_opened": self.server.stats.sockets_opened,
                "content_frames": self.server.stats.content_frames,
                "state": str(js.document.body.getAttribute("data-preview-state") or ""),
            }
        )


def start() -> Shell:
    """Preview mode's start-up: the app as usual, then the toolbar (and a state, if asked)."""
    toolbar = Toolbar()
    toolbar.mount()
    toolbar.shell.start()
    js.window.pychatPreview = new_proxy(toolbar.stats, counted=False)
    js.window.pychatPreviewShow = new_proxy(toolbar.choose, counted=False)
    wanted = js.URLSearchParams.new(js.location.search).get("state")
    if isinstance(wanted, str) and wanted in STATES:
        toolbar.choose(wanted)
    return toolbar.shell
