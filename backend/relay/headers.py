"""Headers for the upstream (an API key, say), from ``--agent-header 'Name: value'`` and from
the environment variable :data:`ENVIRONMENT` (one ``Name: value`` per line).

Their values are secrets: a refusal names the header, never its value; :class:`UpstreamHeaders`
shows only names in its ``repr``; nothing logs them.  The environment variable keeps a key out
of the process list, where a command-line flag is visible to every user of the machine.

    >>> headers = parse_headers(["Authorization: Bearer s3cret"], "X-Team: blue\\n")
    >>> headers
    UpstreamHeaders(names=('X-Team', 'Authorization'))
    >>> headers.as_dict()["Authorization"]
    'Bearer s3cret'
    >>> parse_headers(["Authorization Bearer s3cret"], "")
    Traceback (most recent call last):
    ...
    backend.relay.headers.HeaderRefused: an --agent-header is not 'Name: value'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ENVIRONMENT = "PYCHAT_AGENT_HEADERS"
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 field name
# Set by the relay itself; an upstream header of these names would break the request.
RESERVED = frozenset({"content-type", "content-length", "accept", "host", "transfer-encoding"})


class HeaderRefused(ValueError):
    pass


class UpstreamHeaders:
    """Name/value pairs in the order given; a later one of the same name (any case) wins."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        merged: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            merged.pop(name.lower(), None)
            merged[name.lower()] = (name, value)
        self._pairs = tuple(merged.values())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._pairs)

    def as_dict(self) -> dict[str, str]:
        return dict(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __repr__(self) -> str:
        return f"UpstreamHeaders(names={self.names!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UpstreamHeaders) and self._pairs == other._pairs

    def __hash__(self) -> int:
        return hash(self._pairs)


def parse_header(line: str, source: str = "an --agent-header") -> tuple[str, str]:
    name, colon, value = line.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not TOKEN.fullmatch(name):
        raise HeaderRefused(f"{source} is not 'Name: value'")
    if name.lower() in RESERVED:
        raise HeaderRefused(f"{source} sets {name}, which the relay sets itself")
    if not value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise HeaderRefused(f"the value of {source} {name} is empty or has control characters")
    return name, value


def parse_headers(flags: Iterable[str], environment: str | None) -> UpstreamHeaders:
    """Headers from the environment variable's lines, then the flags (which win)."""
    pairs = [
        parse_header(line, f"a line of {ENVIRONMENT}")
        for line in (environment or "").splitlines()
        if line.strip()
    ]
    pairs += [parse_header(flag) for flag in flags]
    return UpstreamHeaders(pairs)
