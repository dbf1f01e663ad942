"""The guide's words: what the built-in assistant answers, as pure functions.

Shared by the server's :class:`backend.agent.GuideAgent` and the simulated server of preview
mode (:mod:`app.preview.server`), so a designer previewing a static build reads exactly what a
user of the real server would::

    >>> reply("hi", Facts("ada", 0.0, 1800.0, 0.0, 1)).splitlines()[0]
    'You said:'
    >>> chunks("one two three four", 3)
    ['one two three ', 'four']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

HELP = """Here is what I can do:
- **/help**: this list.
- **/status**: your session and this tab's connection.
- anything else: I echo it back, formatted, so you can check the round trip.

Messages you type while offline wait in the outbox and go out when the connection returns."""


@dataclass(frozen=True)
class Facts:
    """What /status reports."""

    user: str
    session_expires_at: float
    idle_timeout: float
    connected_since: float
    sockets_in_session: int


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M UTC on %Y-%m-%d")


def reply(text: str, facts: Facts) -> str:
    """The whole answer to ``text``: /help, /status, or the text echoed back as a quote."""
    command = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
    if command == "/help":
        return HELP
    if command == "/status":
        sockets = facts.sockets_in_session
        return (
            f"You are signed in as **{facts.user}**. Your session ends by "
            f"{_when(facts.session_expires_at)}, or after "
            f"{int(facts.idle_timeout // 60)} minutes without activity.\n"
            f"This tab has been connected since {_when(facts.connected_since)}; "
            f"your session has {sockets} open connection{'s' if sockets != 1 else ''}."
        )
    quoted = "\n".join(f"> {line}" for line in text.splitlines())
    return f"You said:\n\n{quoted}\n\n({len(text)} characters. Type /help for more.)"


def chunks(text: str, words: int) -> list[str]:
    """``text`` cut into pieces of ``words`` words (with their spacing), the way a model streams."""
    pieces = re.findall(r"\S+\s*|\s+", text)
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)] or [text]
