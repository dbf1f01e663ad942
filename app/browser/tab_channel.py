"""The ``BroadcastChannel`` between one user's tabs, carrying the shared chat's messages.

Messages go out as JSON text (no structured clone of Python objects) and come in as dicts; text
that is not JSON is dropped (the core ignores what it cannot read, too).  A channel never
delivers a tab's own messages back to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import js

from app.browser.proxies import destroy, new_proxy


class TabChannel:
    def __init__(self, name: str, on_message: Callable[[Any], None]) -> None:
        self.on_message = on_message
        self._channel = js.BroadcastChannel.new(name)
        self._proxy = new_proxy(self._on_message)
        self._channel.onmessage = self._proxy

    @staticmethod
    def available() -> bool:
        return getattr(js, "BroadcastChannel", None) is not None

    def post(self, data: dict) -> None:
        if self._channel is not None:
            self._channel.postMessage(json.dumps(data))

    def close(self) -> None:
        if self._channel is not None:
            self._channel.onmessage = None
            self._channel.close()
            destroy(self._proxy)
            self._channel = self._proxy = None

    def _on_message(self, event: Any) -> None:
        data = event.data
        if not isinstance(data, str):
            return
        try:
            decoded = json.loads(data)
        except ValueError:
            return
        self.on_message(decoded)
