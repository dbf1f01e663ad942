"""Every state the UI can be in, as data: how the preview toolbar gets there, and what the page
shows once it has.

A state is a fresh start of the shell (with or without a remembered session, against a server
in a given mood) followed by steps that only use levers a real deployment has: a form
submission, a dropped connection, the browser going offline, a session ending on the server.
The e2e tests and the screenshot command read the expectations from here::

    >>> STATES["reconnecting"].connection
    'reconnecting'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.preview import content
from app.preview.server import Answer, Behaviour, Sockets
from app.wire.close_codes import ABNORMAL, FORBIDDEN

PANEL = "#chat-panel"


class Start(StrEnum):
    ANONYMOUS = "anonymous"  # nothing remembered: the sign-in form, no request
    REMEMBERED = "remembered"  # a remembered session: one validation request


@dataclass(frozen=True)
class SignIn:
    """Fill the sign-in form and submit it, as a person would."""

    username: str = "designer"
    password: str = "preview-password"


@dataclass(frozen=True)
class Await:
    """Wait until ``selector`` matches (the toolbar gives up after a few seconds)."""

    selector: str


@dataclass(frozen=True)
class Misbehave:
    """Change the simulated server's mood from here on."""

    sockets: Sockets


@dataclass(frozen=True)
class DropSockets:
    """The server side loses every socket with ``code``."""

    code: int = ABNORMAL


@dataclass(frozen=True)
class GoOffline:
    """The browser reports that it went offline."""


@dataclass(frozen=True)
class ExpireSession:
    """The session ends on the server; its sockets close with 4401."""


@dataclass(frozen=True)
class FastForward:
    """Run the chat's timers ``factor`` times faster (1: normal), running ones included: to
    reach slow states now, or (below 1) to hold a passing state still for a look."""

    factor: float


@dataclass(frozen=True)
class ShowHistory:
    """The server replaces the conversation with stress ``content`` and pushes it."""

    kind: str


Step = (
    SignIn | Await | Misbehave | DropSockets | GoOffline | ExpireSession | FastForward | ShowHistory
)

OPEN = Await(f'{PANEL}[data-connection="open"]')
HOLD = 0.01  # timers 100 times slower: a countdown of seconds lasts minutes

STRESS = {
    "long-message": content.long_message,
    "many-messages": content.many_messages,
    "bidirectional": content.bidirectional,
    "emoji": content.emoji,
    "markup": content.markup,
}


@dataclass(frozen=True)
class PreviewState:
    id: str
    label: str
    group: str
    start: Start
    auth: str  # what <body data-auth> settles on
    connection: str | None = None  # #chat-panel[data-connection], None when there is no panel
    behaviour: Behaviour = field(default_factory=Behaviour)
    steps: tuple[Step, ...] = ()
    degraded: bool = False
    shows: str | None = None  # one more selector that matches once the state is on screen
    description: str = ""

    def selectors(self) -> list[str]:
        """What matches when the page is in this state (the toolbar waits for all of it)."""
        wanted = [f'body[data-auth="{self.auth}"]']
        if self.connection is not None:
            wanted.append(f'{PANEL}[data-connection="{self.connection}"]')
            wanted.append(f'{PANEL}[data-degraded="{"true" if self.degraded else "false"}"]')
        if self.shows is not None:
            wanted.append(self.shows)
        return wanted


def _state(*args, **kwargs) -> PreviewState:
    return PreviewState(*args, **kwargs)


SIGN_IN, CHAT, CONTENT = "Sign-in", "Chat connection", "Content"

_ALL = [
    _state(
        "restoring",
        "Restoring",
        SIGN_IN,
        Start.REMEMBERED,
        "restoring",
        behaviour=Behaviour(validation=Answer.HANG),
        description="A remembered session is being checked with the server.",
    ),
    _state(
        "anonymous",
        "Signed out",
        SIGN_IN,
        Start.ANONYMOUS,
        "anonymous",
        description="Nobody is signed in: the sign-in form.",
    ),
    _state(
        "sign-in-error",
        "Sign-in error",
        SIGN_IN,
        Start.ANONYMOUS,
        "anonymous",
        behaviour=Behaviour(login=Answer.REJECT),
        steps=(SignIn(),),
        shows="#login-error:not(:empty)",
        description="The server rejected the user name or password.",
    ),
    _state(
        "throttled",
        "Throttled",
        SIGN_IN,
        Start.ANONYMOUS,
        "anonymous",
        behaviour=Behaviour(login=Answer.THROTTLE),
        steps=(SignIn(),),
        shows="#login-error:not(:empty)",
        description="Too many attempts: the server asks to wait.",
    ),
    _state(
        "unreachable",
        "Server unreachable",
        SIGN_IN,
        Start.REMEMBERED,
        "unreachable",
        behaviour=Behaviour(validation=Answer.DOWN),
        shows="#retry-countdown:not(:empty)",
        description="A session may exist but the server does not answer; retries with backoff.",
    ),
    _state(
        "session-expired",
        "Session expired",
        SIGN_IN,
        Start.REMEMBERED,
        "anonymous",
        steps=(OPEN, ExpireSession()),
        shows="#login-notice:not(:empty)",
        description="The session ended on the server while the chat was open.",
    ),
    _state(
        "connecting",
        "Connecting",
        CHAT,
        Start.REMEMBERED,
        "authenticated",
        "connecting",
        behaviour=Behaviour(sockets=Sockets.HANG),
        description="Signed in; the chat's socket is being opened.",
    ),
    _state(
        "open",
        "Open",
        CHAT,
        Start.REMEMBERED,
        "authenticated",
        "open",
        steps=(OPEN,),
        description="Signed in and connected: chat away.",
    ),
    _state(
        "reconnecting",
        "Reconnecting",
        CHAT,
        Start.REMEMBERED,
        "authenticated",
        "reconnecting",
        steps=(
            OPEN,
            Misbehave(Sockets.REFUSE),
            FastForward(HOLD),  # the countdown stays on screen instead of the next attempt
            DropSockets(ABNORMAL),
            Await(f"{PANEL} #chat-retry:not([hidden])"),
        ),
        description="The connection dropped; the next attempt counts down.",
    ),
    _state(
        "offline",
        "Offline",
        CHAT,
        Start.REMEMBERED,
        "authenticated",
        "offline",
        steps=(OPEN, GoOffline(), DropSockets(ABNORMAL)),  # the network went: so did the socket
        description="The browser is offline; messages wait in the outbox.",
    ),
    _state(
        "degraded",
        "Degraded",
        CHAT,
        Start.REMEMBERED,
        "authenticated",
        "reconnecting",
        steps=(
            OPEN,
            Misbehave(Sockets.REFUSE),
            FastForward(50.0),
            DropSockets(ABNORMAL),
            Await(f'{PANEL}[data-degraded="true"]'),
            FastForward(HOLD),
            # Between two attempts (the retry button shows), not inside one: the indicator
            # only says "hard to reach" while it counts down.
            Await(f"{PANEL} #chat-retry:not([hidden])"),
        ),
        degraded=True,
        description="Five attempts in a row failed: the server is hard to reach.",
    ),
    _state(
        "failed",
        "Failed",
        CHAT,
        Start.REMEMBERED,
        "authenticated",
        "failed",
        steps=(OPEN, DropSockets(FORBIDDEN)),
        description="The server refused the connection; only a retry by hand reconnects.",
    ),
]
_ALL += [
    _state(
        kind,
        label,
        CONTENT,
        Start.REMEMBERED,
        "authenticated",
        "open",
        steps=(OPEN, ShowHistory(kind)),
        shows=f'.chat-message[data-id="{STRESS[kind]()[-1]["id"]}"]',
        description=description,
    )
    for kind, label, description in [
        ("long-message", "Very long message", "A message far wider and taller than the panel."),
        ("many-messages", "Hundreds of messages", "300 messages in the log."),
        ("bidirectional", "Right-to-left text", "Arabic, Hebrew and mixed-direction lines."),
        ("emoji", "Emoji", "Sequences, flags, skin tones, keycaps."),
        ("markup", "Markup as text", "HTML in messages is shown as text, never run."),
    ]
]

STATES: dict[str, PreviewState] = {state.id: state for state in _ALL}
GROUPS: tuple[str, ...] = (SIGN_IN, CHAT, CONTENT)
