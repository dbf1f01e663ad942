"""The chat's entry, fetched and imported after sign-in: it owns the page's socket registry.

The registry lives here, in this module, not on a JS global: the module is imported once per
page, so whoever mounts the chat (the app's shell, or preview mode's) leases the same socket.
A mount says who to tell when the session ends; the registry's sockets tell whoever mounted
last, never a store that has since been replaced.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import js

from app.browser.chat_connection import ChatConnection
from app.browser.chat_panel import ChatPanel
from app.browser.proxies import COUNTS, new_proxy
from app.net.link import ServerLink
from app.net.registry import ConnectionRegistry


class ChatEntry:
    def __init__(self) -> None:
        self.registry: ConnectionRegistry | None = None
        self.on_session_ended: Callable[[], None] = lambda: None
        self.link: ServerLink | None = None
        self.timer_scale: Callable[[], float] | None = None

    def _registry(self) -> ConnectionRegistry:
        if self.registry is None:
            self.registry = ConnectionRegistry(
                lambda user: ChatConnection(
                    user, self._session_ended, link=self.link, timer_scale=self.timer_scale
                ),
                schedule=lambda delay, callback: asyncio.get_event_loop().call_later(
                    delay, callback
                ),
            )
        return self.registry

    def _session_ended(self) -> None:
        self.on_session_ended()

    def mount(
        self,
        parent: Any,
        user: str,
        on_close: Callable[[], None],
        on_session_ended: Callable[[], None],
        link: ServerLink | None = None,
        timer_scale: Callable[[], float] | None = None,
    ) -> ChatPanel:
        """Build the panel under ``parent`` and lease the session's socket."""
        self.on_session_ended = on_session_ended
        self.link, self.timer_scale = link, timer_scale
        panel = ChatPanel(self._registry(), user, on_close)
        panel.mount(parent)
        return panel

    def close_all(self) -> None:
        """Sign-out: stop the socket now (the panel is unmounted by its owner)."""
        if self.registry is not None:
            self.registry.close_all()

    def rescale_timers(self) -> None:
        socket = self.registry.socket if self.registry is not None else None
        if socket is not None:
            socket.rescale_timers()

    def stats(self) -> str:
        """``window.pychatStats()``: what the e2e tests check a sign-out leaves behind."""
        has_socket = self.registry is not None and self.registry.socket is not None
        return json.dumps({**COUNTS, "has_socket": has_socket})


ENTRY = ChatEntry()
mount = ENTRY.mount
close_all = ENTRY.close_all
js.window.pychatStats = new_proxy(ENTRY.stats, counted=False)
