"""The managed socket's life, as a pure state machine.

``transition(conn, event, rng)`` returns the next :class:`Conn` and the effects the browser
driver must perform (open or close a socket, start or cancel a named timer, send a ping, flush
the outbox, check the session, sign out).  Randomness comes in as ``rng`` and time as the
``now`` carried by events, so tests replay any history exactly::

    >>> import random
    >>> conn, effects = transition(Conn(), Start(now=0.0), random.Random(1))
    >>> conn.state, effects[1]
    (<ConnState.CONNECTING: 'connecting'>, OpenSocket(generation=1))

Every socket gets a new ``generation``; events that carry an older one are ignored, so a late
``onclose`` from a replaced socket can never move the state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from app.net.backoff import Backoff, RandomSource
from app.net.close_policy import CloseAction, policy
from app.wire.close_codes import ABNORMAL, HANDSHAKE_TIMEOUT, NO_ANSWER, NORMAL

HANDSHAKE_TIMEOUT_S = 10.0  # socket open + server welcome
STABLE_AFTER_S = 5.0  # the backoff counter resets only after this long connected
PING_EVERY_S = 25.0
DEAD_AFTER_S = 35.0  # nothing received for this long (wall clock) means dead
LIVENESS_EVERY_S = 5.0
PROBE_WAIT_S = 5.0  # after the tab becomes visible: a pong must arrive within this
RESTART_SPREAD_S = 5.0  # after 1001/1012 the first delay is drawn from [0, this]
DEGRADED_AFTER = 5  # consecutive failures before the degraded state and a session check
BACKOFF = Backoff()


class ConnState(StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    BACKOFF = "backoff"
    OFFLINE = "offline"
    FAILED = "failed"
    CLOSED = "closed"


class Timer(StrEnum):
    BACKOFF = "backoff"
    HANDSHAKE = "handshake"
    STABLE = "stable"
    PING = "ping"
    LIVENESS = "liveness"
    PROBE = "probe"


SOCKET_TIMERS = (Timer.HANDSHAKE, Timer.STABLE, Timer.PING, Timer.LIVENESS, Timer.PROBE)
ALL_TIMERS = (Timer.BACKOFF, *SOCKET_TIMERS)


@dataclass(frozen=True)
class Conn:
    state: ConnState = ConnState.IDLE
    generation: int = 0
    failures: int = 0  # consecutive; drives backoff
    online: bool = True
    opened_once: bool = False
    degraded: bool = False
    last_received: float = 0.0  # wall clock
    retry_at: float | None = None  # wall clock of the next attempt, for the countdown
    probe_sent: float | None = None
    last_code: int | None = None


# ------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class Start:
    now: float


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Opened:
    generation: int
    now: float


@dataclass(frozen=True)
class Welcome:
    """The server accepted the session: the handshake is complete."""

    generation: int
    now: float


@dataclass(frozen=True)
class Received:
    generation: int
    now: float


@dataclass(frozen=True)
class Closed:
    generation: int
    code: int | None
    now: float


@dataclass(frozen=True)
class TimerFired:
    timer: Timer
    generation: int
    now: float


@dataclass(frozen=True)
class Online:
    now: float


@dataclass(frozen=True)
class Offline:
    pass


@dataclass(frozen=True)
class Visible:
    now: float


@dataclass(frozen=True)
class RetryRequested:
    now: float


@dataclass(frozen=True)
class SessionChecked:
    valid: bool


ConnEvent = (
    Start
    | Stop
    | Opened
    | Welcome
    | Received
    | Closed
    | TimerFired
    | Online
    | Offline
    | Visible
    | RetryRequested
    | SessionChecked
)

# ------------------------------------------------------------------------------ effects


@dataclass(frozen=True)
class OpenSocket:
    generation: int


@dataclass(frozen=True)
class CloseSocket:
    generation: int
    code: int
    reason: str


@dataclass(frozen=True)
class StartTimer:
    timer: Timer
    delay: float
    generation: int


@dataclass(frozen=True)
class CancelTimer:
    timer: Timer


@dataclass(frozen=True)
class SendPing:
    generation: int


@dataclass(frozen=True)
class Flush:
    """Send every queued message, in order, on socket ``generation``."""

    generation: int


@dataclass(frozen=True)
class CheckSession:
    pass


@dataclass(frozen=True)
class SessionEnded:
    """Tell the auth store: sign out, and never retry."""


ConnEffect = (
    OpenSocket
    | CloseSocket
    | StartTimer
    | CancelTimer
    | SendPing
    | Flush
    | CheckSession
    | SessionEnded
)
Result = tuple[Conn, list[ConnEffect]]

S = ConnState
LIVE = (S.CONNECTING, S.OPEN)  # states in which a socket object exists


def _cancel(*timers: Timer) -> list[ConnEffect]:
    return [CancelTimer(t) for t in timers]


def _connect(conn: Conn, **changes: object) -> Result:
    gen = conn.generation + 1
    nxt = replace(conn, state=S.CONNECTING, generation=gen, retry_at=None, **changes)
    return nxt, [
        CancelTimer(Timer.BACKOFF),
        OpenSocket(gen),
        StartTimer(Timer.HANDSHAKE, HANDSHAKE_TIMEOUT_S, gen),
    ]


def _lost(conn: Conn, code: int | None, now: float, rng: RandomSource) -> Result:
    """The current socket is gone (closed by the server, the network, or us as dead)."""
    action = policy(code)
    effects: list[ConnEffect] = _cancel(*SOCKET_TIMERS)
    base = replace(conn, last_code=code, probe_sent=None)
    if action is CloseAction.STOP:
        return replace(base, state=S.CLOSED), effects
    if action is CloseAction.SIGN_OUT:
        return replace(base, state=S.CLOSED), [*effects, SessionEnded()]
    if action is CloseAction.FAIL:
        return replace(base, state=S.FAILED), effects
    failures = conn.failures + 1
    if action is CloseAction.RETRY_SPREAD and conn.failures == 0:
        delay = rng.uniform(0.0, RESTART_SPREAD_S)
    elif action is CloseAction.RETRY_FROM_CAP:
        delay = BACKOFF.cap
        failures = max(failures, DEGRADED_AFTER)
    else:
        delay = BACKOFF.delay(conn.failures, rng)
    base = replace(base, failures=failures)
    if failures >= DEGRADED_AFTER and not conn.degraded:
        base = replace(base, degraded=True)
        effects.append(CheckSession())
    if not conn.online:
        return replace(base, state=S.OFFLINE, retry_at=None), effects
    nxt = replace(base, state=S.BACKOFF, retry_at=now + delay)
    return nxt, [*effects, StartTimer(Timer.BACKOFF, delay, conn.generation)]


def _dead(conn: Conn, now: float, rng: RandomSource) -> Result:
    nxt, effects = _lost(conn, ABNORMAL, now, rng)
    return nxt, [CloseSocket(conn.generation, NO_ANSWER, "no answer from the server"), *effects]


def transition(conn: Conn, event: ConnEvent, rng: RandomSource) -> Result:
    gen = conn.generation
    match conn.state, event:
        case ((S.IDLE | S.CLOSED), Start()):
            if not conn.online:
                return replace(conn, state=S.OFFLINE), []
            return _connect(conn)

        case ((S.CONNECTING | S.OPEN), Stop()):
            nxt = replace(conn, state=S.CLOSED, retry_at=None)
            return nxt, [*_cancel(*ALL_TIMERS), CloseSocket(gen, NORMAL, "signed out")]
        case ((S.IDLE | S.BACKOFF | S.OFFLINE | S.FAILED), Stop()):
            return replace(conn, state=S.CLOSED, retry_at=None), _cancel(*ALL_TIMERS)

        case S.CONNECTING, Opened(generation=g, now=now) if g == gen:
            return replace(conn, last_received=now), []
        case S.CONNECTING, Welcome(generation=g, now=now) if g == gen:
            nxt = replace(conn, state=S.OPEN, opened_once=True, last_received=now)
            return nxt, [
                CancelTimer(Timer.HANDSHAKE),
                StartTimer(Timer.STABLE, STABLE_AFTER_S, gen),
                StartTimer(Timer.PING, PING_EVERY_S, gen),
                StartTimer(Timer.LIVENESS, LIVENESS_EVERY_S, gen),
                Flush(gen),
            ]
        case ((S.CONNECTING | S.OPEN), Received(generation=g, now=now)) if g == gen:
            return replace(conn, last_received=now), []
        case ((S.CONNECTING | S.OPEN), Closed(generation=g, code=code, now=now)) if g == gen:
            return _lost(conn, code, now, rng)

        case S.CONNECTING, TimerFired(timer=Timer.HANDSHAKE, generation=g, now=now) if g == gen:
            nxt, effects = _lost(conn, HANDSHAKE_TIMEOUT, now, rng)
            return nxt, [CloseSocket(gen, HANDSHAKE_TIMEOUT, "handshake timed out"), *effects]
        case S.OPEN, TimerFired(timer=Timer.STABLE, generation=g) if g == gen:
            return replace(conn, failures=0, degraded=False), []
        case S.OPEN, TimerFired(timer=Timer.PING, generation=g) if g == gen:
            return conn, [SendPing(gen), StartTimer(Timer.PING, PING_EVERY_S, gen)]
        case S.OPEN, TimerFired(timer=Timer.LIVENESS, generation=g, now=now) if g == gen:
            if now - conn.last_received >= DEAD_AFTER_S:
                return _dead(conn, now, rng)
            return conn, [StartTimer(Timer.LIVENESS, LIVENESS_EVERY_S, gen)]
        case S.OPEN, Visible(now=now):
            nxt = replace(conn, probe_sent=now)
            return nxt, [SendPing(gen), StartTimer(Timer.PROBE, PROBE_WAIT_S, gen)]
        case S.OPEN, TimerFired(timer=Timer.PROBE, generation=g, now=now) if g == gen:
            if conn.probe_sent is not None and conn.last_received < conn.probe_sent:
                return _dead(conn, now, rng)
            return replace(conn, probe_sent=None), []
        case S.BACKOFF, TimerFired(timer=Timer.BACKOFF):
            return _connect(conn)

        case _, Offline() if conn.online:
            if conn.state is S.BACKOFF:
                return replace(conn, online=False, state=S.OFFLINE, retry_at=None), _cancel(
                    Timer.BACKOFF
                )
            return replace(conn, online=False), []
        case ((S.OFFLINE | S.BACKOFF), Online()):
            return _connect(replace(conn, online=True))
        case _, Online() if not conn.online:
            return replace(conn, online=True), []

        case S.FAILED, RetryRequested():
            return _connect(conn, failures=0, degraded=False, last_code=None)
        case ((S.BACKOFF | S.OFFLINE), RetryRequested()) if conn.online:
            return _connect(conn, degraded=False)

        case ((S.CONNECTING | S.OPEN), SessionChecked(valid=False)):
            nxt = replace(conn, state=S.CLOSED, retry_at=None)
            return nxt, [
                *_cancel(*ALL_TIMERS),
                CloseSocket(gen, NORMAL, "session ended"),
                SessionEnded(),
            ]
        case ((S.BACKOFF | S.OFFLINE | S.FAILED), SessionChecked(valid=False)):
            return replace(conn, state=S.CLOSED, retry_at=None), [
                *_cancel(*ALL_TIMERS),
                SessionEnded(),
            ]

    return conn, []


def ui_state(conn: Conn) -> str:
    """The value for ``#chat-panel[data-connection]``."""
    if conn.state is S.OPEN:
        return "open"
    if conn.state in (S.IDLE, S.CONNECTING):
        return "reconnecting" if conn.opened_once or conn.failures else "connecting"
    if conn.state is S.BACKOFF:
        return "reconnecting"
    if conn.state is S.FAILED:
        return "failed"
    return "offline"
