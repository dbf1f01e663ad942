"""How an agent run looks on the wire: the event kinds the page may receive, how a run names
the turn it answers, and the words of a run that ends early.

The server sends these (:mod:`backend.runs`, :mod:`backend.relay`); the page reads them
(:mod:`app.chat.conversation`).  docs/protocol.md lists each event's fields.

    >>> failure("upstream_timeout", duration=duration(30.0)).message
    'The assistant did not start answering within 30 seconds. Try again in a moment.'
    >>> failure("stopped").code == STOPPED
    True
"""

from __future__ import annotations

from dataclasses import dataclass

RELAYED_EVENTS = (
    "RUN_STARTED",
    "RUN_FINISHED",
    "RUN_ERROR",
    "TEXT_MESSAGE_START",
    "TEXT_MESSAGE_CONTENT",
    "TEXT_MESSAGE_END",
    "TOOL_CALL_START",
    "TOOL_CALL_ARGS",
    "TOOL_CALL_END",
    "TOOL_CALL_RESULT",
    "STEP_STARTED",
    "STEP_FINISHED",
    "REASONING_START",
    "REASONING_MESSAGE_START",
    "REASONING_MESSAGE_CONTENT",
    "REASONING_MESSAGE_END",
    "REASONING_END",
)
"""Every AG-UI event kind the page may receive.  Chunk events arrive expanded into
start/content/end; other kinds are validated upstream and not relayed."""

REPLY_TO = "replyTo"
"""Key in ``metadata`` of RUN_STARTED, RUN_FINISHED and RUN_ERROR: the client id of the user
message the run answers, so the page knows which turn is streaming, stopped or failed."""

CUT_STOPPED = "stopped"  # the user pressed Stop, or signed out while it streamed
CUT_FAILED = "failed"  # the upstream failed, timed out, dropped or hit a limit
"""Values of a history message's ``cut``: a reply that was shown only in part."""

STOPPED = "stopped"
"""The ``RUN_ERROR`` code of a run the user stopped: the page marks it stopped, not failed."""

SERVER_GONE = "server_gone"
"""The ``RUN_ERROR`` code of a run whose server stopped before it finished (a replica that
died while another relayed its run): the page marks it cut, with Regenerate, as when it finds
such a turn in history."""

_WORDS = {
    STOPPED: "Stopped.",
    SERVER_GONE: "The answer was cut off: the server stopped before it finished.",
    "agent_error": "The assistant failed. Try again in a moment.",
    "upstream_refused": (
        "The assistant service refused the request (HTTP {status}). "
        "Ask whoever runs this chat to check its settings."
    ),
    "upstream_busy": "The assistant service is busy (HTTP {status}). Try again in a moment.",
    "upstream_failed": "The assistant service failed (HTTP {status}). Try again in a moment.",
    "upstream_unreachable": "The assistant service cannot be reached. Try again in a moment.",
    "upstream_timeout": (
        "The assistant did not start answering within {duration}. Try again in a moment."
    ),
    "upstream_dropped": "The assistant's answer broke off before it was finished. Try again.",
    "upstream_invalid": (
        "The assistant sent something this chat cannot read, so its answer was stopped."
    ),
    "upstream_error": "The assistant reported an error: {detail}",
    "too_big": "The answer was longer than this chat accepts ({kib} KiB), so it was cut.",
    "run_too_long": "The answer took longer than {duration}, so it was stopped.",
    "server_busy": "The assistant is busy with other conversations. Try again in a moment.",
    "queue_full": (
        "Too many messages are waiting for an answer. Wait for the replies, or stop them."
    ),
}
"""Every ``RUN_ERROR`` code the server sends, with the words a person reads."""

RUN_ERROR_CODES = frozenset(_WORDS)
MAX_DETAIL = 500  # characters of an upstream's own error message that reach the page


@dataclass(frozen=True)
class RunFailure:
    code: str
    message: str


def failure(code: str, **facts: object) -> RunFailure:
    """The ``RUN_ERROR`` a person understands for ``code``, filled in with ``facts``."""
    return RunFailure(code, _WORDS[code].format(**facts))


def duration(seconds: float) -> str:
    """How a limit reads in a sentence: ``30 seconds``, ``1 second``, ``0.5 seconds``."""
    return f"{seconds:g} second" + ("" if seconds == 1 else "s")
