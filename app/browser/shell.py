"""The page's start-up shell: turns browser callbacks into auth events and performs effects.

It owns no decisions: the auth store decides what happens, :func:`app.ui.layout.view_for`
decides what is shown, and this module moves values between them and the page, through the
adapters beside it (:mod:`.dom`, :mod:`.http`, :mod:`.storage`, :mod:`.timers`,
:mod:`.loader`).

Start-up is one synchronous localStorage read followed by one ``Restore`` event; the page is
marked ready (``<body data-ready="true">``) when that first render has happened.  The sign-in
form was usable before Python ran (static/boot.js): the first render keeps what was typed and
where the cursor is, and a submit pressed early is carried out once, here.

The server is reached through :func:`app.browser.http.request` and the chat's socket, or, in
preview mode (``?preview=1``, see :mod:`app.ui.preview_loader`), through the simulated server
that :mod:`app.browser.preview_toolbar` passes instead; nothing else here knows which.

The chat is loaded after sign-in (:data:`app.ui.chat_loader.CHAT_FILES`); its entry,
:mod:`app.browser.chat`, owns the socket registry.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import js

from app.auth import api, hint
from app.auth.model import (
    CancelRetry,
    ClearHint,
    Effect,
    Event,
    HintChanged,
    PostLogin,
    PostLogout,
    PostLogoutAll,
    Restore,
    RetryNow,
    ScheduleRetry,
    SessionEnded,
    SignInRequested,
    SignOutEverywhereRequested,
    SignOutRequested,
    Snapshot,
    Status,
    TearDown,
    ValidateSession,
    WriteHint,
)
from app.auth.store import AuthStore
from app.browser.dom import by_id as _el
from app.browser.dom import make, present
from app.browser.http import request
from app.browser.loader import load_modules
from app.browser.proxies import Listeners
from app.browser.storage import KeyValue
from app.browser.timers import Timers
from app.net.backoff import Backoff
from app.ui import chat_loader, preview_loader
from app.ui.layout import Screen, View, countdown, view_for
from app.wire.urls import LOGIN_URL, LOGOUT_ALL_URL, LOGOUT_URL, SESSION_URL

SCREENS = {
    Screen.SKELETON: "skeleton-view",
    Screen.SIGN_IN: "signin-view",
    Screen.UNREACHABLE: "unreachable-view",
    Screen.SIGNED_IN: "home-view",
}


def _log(line: str) -> None:
    js.console.info(line)


Http = Callable[..., Any]  # request()'s signature: (method, url, body=None) -> awaitable reply


def _sign_out_everywhere_button() -> Any:
    """``button#logout-all`` beside ``button#logout`` (made here if the page has none): a real
    button, so it is in the tab order and Enter or Space press it."""
    button = _el("logout-all")
    if present(button):
        return button
    button = make(
        "button",
        {"id": "logout-all", "type": "button", "class": "button secondary"},
        "Sign out everywhere",
    )
    _el("logout").after(button)
    return button


class Shell:
    def __init__(
        self,
        http: Http = request,
        link: Any = None,
        hint_key: str = hint.STORAGE_KEY,
        timer_scale: Callable[[], float] | None = None,
    ) -> None:
        """``http`` and ``link`` (an :class:`app.net.link.ServerLink` for the chat; ``None``:
        the browser's) are the server; ``hint_key`` is where the hint lives in localStorage;
        ``timer_scale`` speeds up the chat's timers (the preview's fast-forward)."""
        self.http = http
        self.link = link
        self.hint_key = hint_key
        self.timer_scale = timer_scale
        self.rng = random.Random()
        self.backoff = Backoff()
        self.storage = KeyValue("localStorage")
        self.store = AuthStore(run_effect=self.run_effect, log=_log)
        self.timers = Timers(counted=False)  # the validation retry and its countdown
        self.retry_at: float | None = None
        self.last_screen: Screen | None = None
        self.tasks: set[asyncio.Task] = set()
        self.listeners = Listeners(counted=False)  # kept for the life of the page
        # The lazily loaded chat: module once fetched, the mounted panel, and a generation
        # that sign-out bumps so a load finishing late never mounts for a signed-out user.
        self.chat_module: Any = None
        self.chat_loading = False
        self.chat_generation = 0
        self.panel: Any = None
        self.panel_closed = False

    # ------------------------------------------------------------------ wiring

    def start(self) -> None:
        self._listen(js.window, "storage", self.on_storage)
        self._listen(js.window, "online", lambda _event: self.on_online())
        self._listen(_el("login-form"), "submit", self.on_submit)
        self._listen(_el("logout"), "click", lambda _e: self.dispatch(SignOutRequested()))
        self._listen(
            _sign_out_everywhere_button(),
            "click",
            lambda _e: self.dispatch(SignOutEverywhereRequested()),
        )
        self._listen(
            _el("unreachable-logout"), "click", lambda _e: self.dispatch(SignOutRequested())
        )
        self._listen(_el("retry-now"), "click", lambda _e: self.dispatch(RetryNow()))
        self._listen(_el("chat-open"), "click", lambda _e: self.open_chat())
        self.store.subscribe(self.render)
        self._restore()
        self._carry_out_early_submit()
        _el("boot").hidden = True
        js.document.body.dataset.ready = "true"

    def _carry_out_early_submit(self) -> None:
        """boot.js held a submit pressed before Python ran: do it now, once, with what the
        fields hold now (the user may have typed on while the runtime loaded)."""
        form = _el("login-form")
        if form.getAttribute("data-pending-submit") != "true":
            return
        form.removeAttribute("data-pending-submit")
        if self.store.snapshot.status is Status.ANONYMOUS:
            self._submit_sign_in()

    def _restore(self) -> None:
        raw = self.storage.read(self.hint_key)  # the one synchronous storage read
        self.dispatch(Restore(hint=hint.decode(raw, now=time.time()), now=time.time()))

    def on_submit(self, event: Any) -> None:
        event.preventDefault()
        self._submit_sign_in()

    def _submit_sign_in(self) -> None:
        username = str(_el("username").value)
        password = str(_el("password").value)
        self.dispatch(SignInRequested(username=username.strip(), password=password))

    def _render_sign_in(self, view: View) -> None:
        form = _el("login-form")
        form.setAttribute("aria-busy", "true" if view.busy else "false")
        for element_id in ("username", "password", "login-submit"):
            _el(element_id).disabled = view.busy
        _el("login-submit").textContent = "Signing in…" if view.busy else "Sign in"
        _el("login-error").textContent = view.error or ""
        _el("login-notice").textContent = view.notice or "" if view.screen is Screen.SIGN_IN else ""
        if view.screen is Screen.SIGNED_IN:
            _el("password").value = ""
        if view.error and view.screen is Screen.SIGN_IN and not view.busy:
            _el("password").focus()

    def _move_focus(self, view: View) -> None:
        if view.screen is Screen.SIGN_IN and not view.busy and not view.error:
            if not _el("login-form").contains(js.document.activeElement):
                _el("username").focus()  # someone typing in the form keeps their place
        elif view.screen is Screen.SIGNED_IN:
            _el("main").focus()
        elif view.screen is Screen.UNREACHABLE:
            _el("retry-now").focus()

    def restart(self) -> None:
        """Start over as a reload would, without reloading: drop every request in flight, the
        chat and the retry timer, then restore from storage into a fresh store."""
        for task in list(self.tasks):
            task.cancel()
        self._cancel_retry()
        self.tear_down_chat()
        self.store = AuthStore(run_effect=self.run_effect, log=_log)
        self.store.subscribe(self.render)
        self.last_screen = None
        self._restore()

    def _listen(self, target: Any, name: str, handler: Callable[[Any], None]) -> None:
        self.listeners.add(target, name, handler)

    def dispatch(self, event: Event) -> None:
        self.store.dispatch(event)

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ------------------------------------------------------------------ browser events

    def on_storage(self, event: Any) -> None:
        key = event.key
        if isinstance(key, str) and key != self.hint_key:
            return  # another key changed (a null key means storage was cleared: re-read)
        raw = self.storage.read(self.hint_key)
        self.dispatch(HintChanged(hint=hint.decode(raw, time.time()), now=time.time()))

    def on_online(self) -> None:
        if self.store.snapshot.status is Status.UNREACHABLE:
            self.dispatch(RetryNow())

    # ------------------------------------------------------------------ effects

    def run_effect(self, effect: Effect) -> None:
        match effect:
            case ValidateSession(generation=generation):
                self.spawn(self._validate(generation))
            case PostLogin(username=username, password=password, generation=generation):
                self.spawn(self._login(username, password, generation))
            case PostLogout():
                self.spawn(self.http("POST", LOGOUT_URL))
            case PostLogoutAll(generation=generation):
                self.spawn(self._logout_all(generation))
            case WriteHint(hint=value):
                self.storage.write(self.hint_key, hint.encode(value))
            case ClearHint():
                self.storage.remove(self.hint_key)
            case ScheduleRetry(attempt=attempt):
                self._schedule_retry(self.backoff.delay(attempt, self.rng))
            case CancelRetry():
                self._cancel_retry()
            case TearDown():
                self.tear_down_chat()
                _el("password").value = ""

    async def _validate(self, generation: int) -> None:
        status, data, _headers = await self.http("GET", SESSION_URL)
        self.dispatch(api.validation_event(status, data, generation))

    async def _login(self, username: str, password: str, generation: int) -> None:
        status, data, headers = await self.http(
            "POST", LOGIN_URL, {"username": username, "password": password}
        )
        retry_after = headers.get("Retry-After") if headers is not None else None
        self.dispatch(api.login_event(status, data, generation, retry_after))

    async def _logout_all(self, generation: int) -> None:
        status, _data, _headers = await self.http("POST", LOGOUT_ALL_URL)
        self.dispatch(api.logout_all_event(status, generation))

    def _schedule_retry(self, delay: float) -> None:
        self._cancel_retry()
        self.retry_at = time.monotonic() + delay
        self.timers.start("retry", delay, lambda: self.dispatch(RetryNow()))
        self._tick_countdown()

    def _cancel_retry(self) -> None:
        self.timers.cancel_all()
        self.retry_at = None
        _el("retry-countdown").textContent = ""

    def _tick_countdown(self) -> None:
        if self.retry_at is None:
            return
        _el("retry-countdown").textContent = countdown(self.retry_at - time.monotonic())
        self.timers.start("countdown", 1.0, self._tick_countdown)

    # ------------------------------------------------------------------ rendering

    def render(self, snapshot: Snapshot) -> None:
        view = view_for(snapshot)
        body = js.document.body
        for screen, element_id in SCREENS.items():
            _el(element_id).hidden = screen is not view.screen
        _el("account").hidden = view.user_name is None
        _el("user-name").textContent = view.user_name or ""
        _el("welcome-name").textContent = view.user_name or ""
        self._render_sign_in(view)
        if view.screen is Screen.UNREACHABLE:
            _el("unreachable-message").textContent = view.notice or ""
            _el("retry-now").disabled = snapshot.validating
        if view.mount_chat and snapshot.user is not None:
            self.ensure_chat(snapshot.user.name)
        if view.screen is not self.last_screen:
            self._move_focus(view)
        self.last_screen = view.screen
        body.dataset.auth = view.auth  # last, so observers see a fully rendered screen

    # ------------------------------------------------------------------ the lazy chat

    def ensure_chat(self, user: str) -> None:
        """Mount the panel (downloading the chat code first, once) unless it is there."""
        if self.panel is not None or self.chat_loading or self.panel_closed:
            return
        self.chat_loading = True
        _el("chat-loading").textContent = "Loading chat…"
        self.spawn(self._load_and_mount(user, self.chat_generation))

    async def _load_and_mount(self, user: str, generation: int) -> None:
        try:
            if self.chat_module is None:
                self.chat_module = await load_modules(chat_loader.CHAT_FILES, chat_loader.ENTRY)
        except Exception as exc:  # a failed download: say so, keep the rest of the page
            _log(f"chat: could not load ({exc})")
            _el("chat-loading").textContent = "The chat could not be loaded. Reload to try again."
            return
        finally:
            self.chat_loading = False
        snapshot = self.store.snapshot
        if generation != self.chat_generation or snapshot.status is not Status.AUTHENTICATED:
            return
        _el("chat-loading").textContent = ""
        self.panel = self.chat_module.mount(
            js.document.body,
            user,
            on_close=self.close_chat,
            on_session_ended=lambda: self.dispatch(SessionEnded()),
            link=self.link,
            timer_scale=self.timer_scale,
        )
        _el("chat-open").hidden = True

    def close_chat(self) -> None:
        """The user closed the panel: unmount it (the registry keeps the socket for its grace
        period, so reopening at once reuses it)."""
        if self.panel is not None:
            self.panel.unmount()
            self.panel = None
        self.panel_closed = True
        _el("chat-open").hidden = False
        _el("chat-open").focus()

    def open_chat(self) -> None:
        self.panel_closed = False
        user = self.store.snapshot.user
        if user is not None:
            self.ensure_chat(user.name)

    def tear_down_chat(self) -> None:
        self.chat_generation += 1
        if self.panel is not None:
            self.panel.unmount()
            self.panel = None
        self.panel_closed = False
        _el("chat-open").hidden = True
        _el("chat-loading").textContent = ""
        # The entry owns the page's one registry, whichever shell loaded it.
        chat = self.chat_module or sys.modules.get(chat_loader.ENTRY)
        if chat is not None:
            chat.close_all()


def start() -> Shell:
    shell = Shell()
    shell.start()
    return shell


async def boot() -> Shell:
    """The page's entry: the real app, or preview mode with its simulated server.

    Marks ``pychat:boot`` on the Performance timeline first: the moment our own code runs,
    after the runtime, PyScript and our start-up imports (bench/page_load.py splits on it)."""
    js.performance.mark("pychat:boot")
    default = js.document.documentElement.getAttribute("data-preview") == "default"
    if not preview_loader.requested(str(js.location.search), default):
        return start()
    preview = await load_modules(preview_loader.PREVIEW_FILES, preview_loader.ENTRY)
    return preview.start()
