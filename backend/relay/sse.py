"""A ``text/event-stream`` decoder that never touches a socket: feed it bytes, get events.

Written here because aiohttp reads bytes but has no event-stream reader, and the client
libraries that have one are bound to another HTTP client (httpx-sse) or add browser
``EventSource`` behaviour (reconnecting, ``Last-Event-ID``) that a POST answered once must not
have.  It follows the WHATWG parsing rules an AG-UI server relies on: lines end with CRLF, LF or
CR; ``data:`` lines of one event join with newlines; a blank line ends the event; lines starting
with ``:`` are comments (keep-alives); one leading space after the colon is dropped; a byte
order mark at the very start is skipped.  Unlike a browser, it refuses bytes that are not UTF-8
and events larger than ``max_event`` bytes, because an upstream that sends either is broken or
hostile and the run should end rather than guess.

    >>> decoder = SSEDecoder()
    >>> decoder.feed(b'data: {"a":\\r\\ndata: 1}\\r\\n\\r\\n: keep-alive\\n\\ndata: x')
    [ServerSentEvent(data='{"a":\\n1}', event='message', id=None)]
    >>> decoder.feed(b'\\n\\n')
    [ServerSentEvent(data='x', event='message', id=None)]
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_EVENT = 256 * 1024


class SSEError(ValueError):
    """The stream is not a valid event stream (not UTF-8, or an event too large)."""


@dataclass(frozen=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    def __init__(self, max_event: int = MAX_EVENT) -> None:
        self.max_event = max_event
        self._buffer = b""
        self._started = False
        self._skip_lf = False  # the last chunk ended with CR: a following LF belongs to it
        self._data: list[str] = []
        self._size = 0
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk``; return the events it completed, in order."""
        if not self._started and chunk:
            self._started = True
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
        if self._skip_lf and chunk:
            self._skip_lf = False
            chunk = chunk.removeprefix(b"\n")
        self._buffer += chunk
        events: list[ServerSentEvent] = []
        while True:
            cr, lf = self._buffer.find(b"\r"), self._buffer.find(b"\n")
            ends = [i for i in (cr, lf) if i >= 0]
            if not ends:
                break
            end = min(ends)
            line = self._buffer[:end]
            if self._buffer[end : end + 1] == b"\r":
                if end + 1 == len(self._buffer):
                    self._skip_lf = True  # CR at the end of the chunk: maybe CRLF split
                    rest = end + 1
                else:
                    rest = end + 2 if self._buffer[end + 1 : end + 2] == b"\n" else end + 1
            else:
                rest = end + 1
            self._buffer = self._buffer[rest:]
            event = self._line(line)
            if event is not None:
                events.append(event)
        if len(self._buffer) + self._size > self.max_event:
            raise SSEError(f"an event is larger than {self.max_event} bytes")
        return events

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        if not raw:
            return self._dispatch()
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SSEError("the stream is not UTF-8") from None
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(raw)
            if self._size > self.max_event:
                raise SSEError(f"an event is larger than {self.max_event} bytes")
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None  # "retry" and unknown fields mean nothing to a single POST

    def _dispatch(self) -> ServerSentEvent | None:
        data, event, event_id = self._data, self._event, self._id
        self._data, self._size, self._event = [], 0, ""
        if not data:
            return None
        return ServerSentEvent("\n".join(data), event or "message", event_id)
