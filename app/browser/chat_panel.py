"""The chat panel: DOM for one :class:`~app.browser.chat_connection.ChatConnection`.

Mounted by :mod:`app.browser.chat` once sign-in is confirmed, unmounted on sign-out.  It holds
a lease on the registry's socket for as long as it is mounted; collapsing only hides its body.
What it shows is decided by :mod:`app.chat.view` and :mod:`app.chat.status`.  All text (the
user's, the assistant's, a tool's arguments and answer, reasoning) is set with
``textContent``: it is never parsed as HTML.  Tool calls, steps and reasoning are compact lines
(``li.chat-activity``); tool calls and reasoning open and close as native
``<details>``/``<summary>``, which keyboards and screen readers already know.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import js

from app.browser import markdown_install
from app.browser.chat_connection import ChatConnection
from app.browser.dom import make as el
from app.browser.dom import present
from app.browser.proxies import Listeners
from app.browser.timers import Timers
from app.chat.conversation import Accepted, Message
from app.chat.cut import TurnButton
from app.chat.markdown import ALLOWED, Element, Node, render
from app.chat.session import Changed
from app.chat.status import describe
from app.chat.view import (
    EMPTY_LOG,
    SendButton,
    activity_view,
    message_view,
    refusal,
    send_button,
)
from app.net.connection import ConnState
from app.net.registry import ConnectionRegistry, Lease

TICKER = "countdown"  # the Timers name of the once-a-second status refresh
STREAM_RENDER_EVERY = 0.05  # seconds: Markdown re-renders of a streaming message coalesce


def build_dom(nodes: list[Node] | tuple[Node, ...]) -> Any:
    """DOM from the renderer's tree: elements one by one, text as text nodes; tags and
    attributes checked against the allowlist once more on the way in."""
    fragment = js.document.createDocumentFragment()
    for node in nodes:
        if isinstance(node, str):
            fragment.appendChild(js.document.createTextNode(node))
        elif isinstance(node, Element) and node.tag in ALLOWED:
            element = js.document.createElement(node.tag)
            for name, value in node.attrs:
                if name in ALLOWED[node.tag]:
                    element.setAttribute(name, value)
            element.appendChild(build_dom(node.children))
            fragment.appendChild(element)
    return fragment


class ChatPanel:
    def __init__(
        self, registry: ConnectionRegistry, user: str, on_close: Callable[[], None]
    ) -> None:
        self.registry = registry
        self.user = user
        self.on_close = on_close
        self.lease: Lease | None = None
        self.connection: ChatConnection | None = None
        self.root: Any = None
        self.items: dict[str, Any] = {}
        self.listeners = Listeners()
        self.unsubscribe: Callable[[], None] | None = None
        self.timers = Timers()  # the countdown ticker and coalesced Markdown renders
        self.markdown = False  # True once the library is installed in this page
        self.markdown_started = False
        self.rendered: dict[str, str] = {}  # message id -> text last rendered as Markdown
        self.copying: asyncio.Future | None = None
        self.shown_button: SendButton | None = None

    # ------------------------------------------------------------ mount / unmount

    def mount(self, parent: Any) -> None:
        self.root = self._build()
        self.shown_button = None  # a new button, as the page has it
        parent.appendChild(self.root)
        self.lease = self.registry.acquire(self.user)
        self.connection = self.lease.socket  # type: ignore[assignment]
        self.unsubscribe = self.connection.subscribe(self.on_change)
        self.render_all()
        self.render_connection()
        self.render_send_button()
        # Never before sign-in and never blocking the panel: the install starts once the first
        # connection attempt has an outcome (see on_change), so the socket does not share the
        # page's one thread with micropip while it opens.
        self.root.dataset.markdown = "loading"
        self._start_markdown_once_connected()

    def _start_markdown_once_connected(self) -> None:
        if self.markdown_started or self.root.dataset.connection == "connecting":
            return  # a reopened panel on an open socket starts at once
        self.markdown_started = True
        markdown_install.ensure_installed().add_done_callback(self._markdown_ready)

    def _markdown_ready(self, future: Any) -> None:
        if self.root is None:
            return
        if future.cancelled() or future.exception() or not future.result():
            self.root.dataset.markdown = "unavailable"
            return
        self.markdown = True
        self.root.dataset.markdown = "ready"
        self.render_all()  # upgrade what is already on screen, in place
        self.log.scrollTop = self.log.scrollHeight

    def unmount(self) -> None:
        if self.unsubscribe is not None:
            self.unsubscribe()
        if self.lease is not None:
            self.lease.release()
        self.timers.cancel_all()
        self.listeners.clear()
        if self.root is not None:
            self.root.remove()
        self.root = self.connection = self.lease = self.unsubscribe = None
        self.items.clear()

    # ------------------------------------------------------------ DOM

    def _build(self) -> Any:
        root = el(
            "section",
            {
                "id": "chat-panel",
                "class": "chat-panel",
                "aria-labelledby": "chat-title",
                "data-connection": "connecting",
            },
        )
        header = el("header", {"class": "chat-header"})
        header.appendChild(el("h2", {"id": "chat-title"}, "Chat"))
        self.status = el("span", {"id": "chat-status", "role": "status", "aria-live": "polite"})
        header.appendChild(self.status)
        self.retry = el(
            "button", {"id": "chat-retry", "type": "button", "class": "button small"}, "Retry now"
        )
        self.retry.hidden = True
        header.appendChild(self.retry)
        self.toggle = el(
            "button",
            {
                "id": "chat-toggle",
                "type": "button",
                "class": "button secondary small",
                "aria-expanded": "true",
                "aria-controls": "chat-body",
            },
            "Hide",
        )
        header.appendChild(self.toggle)
        self.close = el(
            "button",
            {
                "id": "chat-close",
                "type": "button",
                "class": "button secondary small",
                "aria-label": "Close chat",
            },
            "Close",
        )
        header.appendChild(self.close)
        root.appendChild(header)

        body = el("div", {"id": "chat-body", "class": "chat-body"})
        # The log is the scrolling live region; the list inside keeps list semantics (role=log
        # on the <ol> itself would leave its items outside any list, which axe flags).
        self.log = el(
            "div",
            {
                "id": "chat-log",
                "role": "log",
                "aria-live": "polite",
                "aria-label": "Messages",
                "tabindex": "0",
            },
        )
        self.list = el("ol", {"class": "chat-list"})
        self.log.appendChild(self.list)
        self.log.appendChild(  # shown by CSS only while the list is empty
            el("p", {"class": "chat-empty"}, EMPTY_LOG)
        )
        body.appendChild(self.log)
        self.notice = el("p", {"id": "chat-notice", "class": "error", "role": "alert"})
        body.appendChild(self.notice)
        form = el("form", {"id": "chat-form", "class": "chat-form"})
        form.appendChild(el("label", {"for": "chat-input", "class": "visually-hidden"}, "Message"))
        self.input = el(
            "textarea",
            {
                "id": "chat-input",
                # No maxlength: it counts UTF-16 units (an emoji is two) and cuts a paste short
                # without a word.  The outbox refuses a message over MAX_TEXT characters and
                # keeps it in the box (refusal(), below).
                "rows": "2",
                "dir": "auto",
                "placeholder": "Write a message (Enter sends, Shift+Enter adds a line)",
                "aria-describedby": "chat-status",
            },
        )
        form.appendChild(self.input)
        self.send = el("button", {"id": "chat-send", "type": "submit", "class": "button"}, "Send")
        form.appendChild(self.send)
        body.appendChild(form)
        root.appendChild(body)
        self.body = body

        self.listeners.add(form, "submit", self._on_submit)
        self.listeners.add(self.input, "keydown", self._on_key)
        self.listeners.add(self.retry, "click", lambda _e: self.connection.retry_connection())
        self.listeners.add(self.toggle, "click", self._on_toggle)
        self.listeners.add(self.close, "click", lambda _e: self.on_close())
        self.listeners.add(self.log, "click", self._on_log_click)
        self.listeners.add(self.send, "click", self._on_send_click)
        return root

    # ------------------------------------------------------------ events

    def _on_submit(self, event: Any) -> None:
        event.preventDefault()
        text = str(self.input.value)
        if not text.strip() or self.connection is None:
            return
        accepted = self.connection.send_message(text)
        if accepted is Accepted.OK:
            self.input.value = ""
            self.notice.textContent = ""
        else:
            self.notice.textContent = refusal(accepted)

    def _on_send_click(self, event: Any) -> None:
        if self.send.dataset.action == "stop":  # a type=button: it never submits the form
            event.preventDefault()
            if self.connection is not None:
                self.connection.stop_reply()

    def _on_key(self, event: Any) -> None:
        if event.key == "Enter" and not event.shiftKey and not event.isComposing:
            event.preventDefault()
            self.root.querySelector("#chat-form").requestSubmit()

    def _on_toggle(self, _event: Any) -> None:
        expanded = self.toggle.getAttribute("aria-expanded") == "true"
        self.body.hidden = expanded
        self.toggle.setAttribute("aria-expanded", "false" if expanded else "true")
        self.toggle.textContent = "Show" if expanded else "Hide"
        self.root.dataset.collapsed = "true" if expanded else "false"

    def _on_log_click(self, event: Any) -> None:
        target = event.target
        if target.classList.contains("chat-message-retry") and self.connection is not None:
            self.connection.retry_message(str(target.dataset.id))
        elif target.classList.contains("chat-turn-retry") and self.connection is not None:
            self.connection.retry_turn(str(target.dataset.replyTo))
        elif target.classList.contains("md-copy"):
            code = target.closest(".md-code").querySelector("code").textContent
            self.copying = asyncio.ensure_future(self._copy(target, str(code)))  # keep a ref

    @staticmethod
    async def _copy(button: Any, text: str) -> None:
        try:
            await js.navigator.clipboard.writeText(text)
            button.textContent = "Copied"
        except Exception:  # no clipboard permission: say so on the button
            button.textContent = "Copy failed"

    def on_change(self, change: Changed) -> None:
        if self.root is None:
            return
        if change.connection:
            self.render_connection()
            self._start_markdown_once_connected()
        if change.all_messages:
            self.render_all()
        for message_id in change.messages:
            message = self.connection.conversation.find(message_id) if self.connection else None
            if message is not None:
                self.render_message(message)
        self.render_send_button()

    # ------------------------------------------------------------ rendering

    def render_connection(self) -> None:
        if self.connection is None:
            return
        indicator = describe(self.connection.conn, time.time())
        self.root.dataset.connection = indicator.connection
        # leader / follower / alone: for tools and tests; a person sees the same in every tab
        self.root.dataset.sharing = self.connection.role
        self.root.dataset.degraded = "true" if indicator.degraded else "false"
        self.status.textContent = indicator.text
        self.retry.hidden = not indicator.retry
        if self.connection.conn.retry_at is not None:  # keep the countdown moving
            self.timers.start(TICKER, 1.0, self.render_connection)
        else:
            self.timers.cancel(TICKER)

    def render_send_button(self) -> None:
        if self.connection is None:
            return
        conversation = self.connection.conversation
        button = send_button(
            answering=bool(conversation.answering()),
            stopping=conversation.stopping(),
            connected=self.connection.conn.state is ConnState.OPEN,
        )
        if button == self.shown_button:  # every streamed piece lands here: touch the DOM less
            return
        self.shown_button = button
        self.send.dataset.action = button.action
        self.send.setAttribute("type", "submit" if button.action == "send" else "button")
        self.send.setAttribute("aria-label", button.hint)
        self.send.textContent = button.label
        self.send.disabled = button.disabled

    def render_all(self) -> None:
        if self.connection is None:
            return
        wanted = [m.id for m in self.connection.conversation.messages]
        for message_id in list(self.items):
            if message_id not in wanted:
                self.items.pop(message_id).remove()
        for message in self.connection.conversation.messages:
            self.render_message(message)
        # Conversation order, moving only the nodes out of place: a moved node loses keyboard
        # focus (the browser removes it, then inserts it), and this runs under a person's
        # Tab key (history again, Markdown arriving late, a reconnect).
        after = None
        for message_id in wanted:
            node = self.items[message_id]
            place = after.nextSibling if after is not None else self.list.firstChild
            if place is not node:
                self.list.insertBefore(node, place)
            after = node

    def render_message(self, message: Message) -> None:
        near_bottom = self.log.scrollHeight - self.log.scrollTop - self.log.clientHeight < 40
        if message.role in ("user", "assistant"):
            self._render_text_message(message)
        else:
            self._render_activity(message)
        if near_bottom:
            self.log.scrollTop = self.log.scrollHeight

    def _render_text_message(self, message: Message) -> None:
        node = self.items.get(message.id)
        if node is None:
            node = el("li", {"class": "chat-message", "data-id": message.id})
            node.appendChild(el("span", {"class": "chat-who"}, message_view(message).who))
            node.appendChild(el("p", {"class": "chat-text", "dir": "auto"}))
            node.appendChild(el("span", {"class": "chat-state"}))
            self.items[message.id] = node
            self.list.appendChild(node)
        view = message_view(message)
        node.dataset.role = message.role
        node.dataset.status = message.status
        self._render_text(node.querySelector(".chat-text"), message)
        node.querySelector(".chat-state").textContent = view.state
        retry = node.querySelector(".chat-message-retry")
        if view.retry:
            if not present(retry):
                node.appendChild(
                    el(
                        "button",
                        {
                            "type": "button",
                            "class": "chat-message-retry button small secondary",
                            "data-id": message.id,
                        },
                        "Retry",
                    )
                )
        elif present(retry):
            retry.remove()
        self._render_turn_retry(node, view.retry_turn, view.turn_button)

    @staticmethod
    def _render_turn_retry(node: Any, reply_to: str | None, button: TurnButton | None) -> None:
        """A failed answer's Retry, or a lost one's Regenerate: it sends the question again
        (as a new message).  One click is one message: the press marks the turn retried, and
        the re-render that follows removes the button."""
        retry = node.querySelector(".chat-turn-retry")
        if reply_to is None or button is None:
            if present(retry):
                retry.remove()
            return
        if not present(retry):
            retry = el(
                "button",
                {
                    "type": "button",
                    "class": "chat-turn-retry button small secondary",
                    "data-reply-to": reply_to,
                },
            )
            node.appendChild(retry)
        retry.setAttribute("aria-label", button.name)
        retry.textContent = button.label

    def _render_activity(self, message: Message) -> None:
        """A tool call, a step or reasoning: one line, its details collapsed until opened."""
        view = activity_view(message)
        node = self.items.get(message.id)
        if node is None:
            node = el("li", {"class": "chat-activity", "data-id": message.id})
            if view.kind == "step":
                node.appendChild(el("span", {"class": "chat-activity-summary"}))
            else:  # collapsed by default: <details> without ``open``
                details = el("details", {"class": "chat-activity-details"})
                details.appendChild(el("summary", {"class": "chat-activity-summary"}))
                body = "p" if view.kind == "reasoning" else "pre"
                details.appendChild(el(body, {"class": "chat-activity-body", "dir": "auto"}))
                node.appendChild(details)
            self.items[message.id] = node
            self.list.appendChild(node)
        node.dataset.kind = view.kind
        node.dataset.status = message.status
        node.querySelector(".chat-activity-summary").textContent = view.summary
        body = node.querySelector(".chat-activity-body")
        if present(body):
            body.textContent = view.details

    def _render_text(self, target: Any, message: Message) -> None:
        """Plain text for the user (always) and until Markdown is ready; then Markdown,
        re-rendered for this message only, at most every STREAM_RENDER_EVERY while it streams."""
        if not (self.markdown and message.role == "assistant"):
            target.textContent = message.text
            return
        if self.rendered.get(message.id) == message.text:
            return
        if message.status == "streaming":
            if not self.timers.running(message.id):
                self.timers.start(
                    message.id, STREAM_RENDER_EVERY, lambda: self._render_later(message.id)
                )
            return
        self._render_markdown(target, message)

    def _render_later(self, message_id: str) -> None:
        message = self.connection.conversation.find(message_id) if self.connection else None
        node = self.items.get(message_id)
        if message is not None and node is not None:
            self._render_markdown(node.querySelector(".chat-text"), message)

    def _render_markdown(self, target: Any, message: Message) -> None:
        target.classList.add("md")
        target.replaceChildren(build_dom(render(message.text)))
        self.rendered[message.id] = message.text
