"""Which tab of this browser holds the chat's one socket: leader and follower, as a pure machine.

Every signed-in tab of one user asks for the same Web Lock; the tab holding it is the leader
and owns the socket, the others follow over a ``BroadcastChannel``.  The browser passes the lock
on by itself when the leader closes, reloads or crashes; this machine decides the rest:

* who counts as the leader: every leader message carries a :class:`Term` (a number above any
  seen before and never below the grant's wall-clock milliseconds, and the tab id to break
  ties), and followers ignore any term older than the newest they know, so a tab that wakes up
  believing it still leads is never obeyed, while a tab that took the lock without ever hearing
  its holder still outranks the reign it replaced;
* a leader that is about to be frozen (page lifecycle ``freeze``) steps down first;
* a follower that hears nothing for :data:`QUIET_AFTER_S` asks (:class:`Probe`); with no answer
  within :data:`ANSWER_WITHIN_S` it takes the lock away (Web Locks' ``steal``), so a leader
  frozen without warning stalls the other tabs for at most :data:`WORST_STALL_S`, less than the
  socket's own liveness deadline.

Time comes in with events and randomness as ``rng``, as in :mod:`app.net.connection`::

    >>> import random
    >>> tabs, effects = transition(Leadership("a"), Begin(now=0.0), random.Random(1))
    >>> tabs.role, effects[0]
    (<Role.FOLLOWING: 'following'>, RequestLock(lock=1, steal=False))
    >>> tabs, effects = transition(tabs, LockGranted(lock=1, now=0.1), random.Random(1))
    >>> tabs.role, effects[-1]
    (<Role.LEADING: 'leading'>, Lead(term=Term(number=100, tab='a')))

What the leader and the followers say about the chat itself rides on the same channel and is
:mod:`app.chat.sharing`'s business; it reads :attr:`Leadership.leader` to know whom to believe.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from app.net.backoff import RandomSource
from app.net.connection import DEAD_AFTER_S, LIVENESS_EVERY_S

CHECK_EVERY_S = LIVENESS_EVERY_S  # how often a follower looks at when it last heard the leader
QUIET_AFTER_S = 10.0  # a follower that heard nothing for this long asks whether the leader lives
ANSWER_WITHIN_S = 5.0  # a leader answers a probe from its message handler, not from a timer
STEAL_JITTER_S = 1.0  # spread over followers, so usually only one of them steals
# Leader frozen without warning, just after it last spoke: the next check finds it quiet at
# QUIET_AFTER_S + CHECK_EVERY_S at the latest, then the probe waits for its answer.
WORST_STALL_S = QUIET_AFTER_S + CHECK_EVERY_S + ANSWER_WITHIN_S + STEAL_JITTER_S
assert WORST_STALL_S < DEAD_AFTER_S  # never slower than the socket's own liveness deadline


class Role(StrEnum):
    IDLE = "idle"
    FOLLOWING = "following"
    LEADING = "leading"
    CLOSED = "closed"


class TabTimer(StrEnum):
    # Values differ from app.net.connection.Timer's: both live in one adapter's named timers.
    CHECK = "leader-check"
    ANSWER = "leader-answer"


@dataclass(frozen=True, order=True)
class Term:
    """A leader's reign: a newer one has the higher number (ties: the higher tab id)."""

    number: int
    tab: str


# ------------------------------------------------------------------ channel messages
# What tabs say to each other about leadership.  Leader messages carry the leader's term,
# follower messages the sender's tab id.


@dataclass(frozen=True)
class Leading:
    """I hold the lock now."""

    term: Term


@dataclass(frozen=True)
class Alive:
    """The leader's answer to a probe (and what any other message of the leader's says about
    leadership: it still speaks)."""

    term: Term


@dataclass(frozen=True)
class Bye:
    """The leader steps down (its chat stops, or it is about to be frozen)."""

    term: Term


@dataclass(frozen=True)
class Hello:
    """A follower joins (or wakes up): tell me everything (the leader answers with the chat's
    whole state, which counts as an answer to a probe too)."""

    sender: str


@dataclass(frozen=True)
class Probe:
    """A follower asks whether the leader still lives."""

    sender: str


TabMessage = Leading | Alive | Bye | Hello | Probe
LEADER_KINDS: dict[str, type] = {"leading": Leading, "alive": Alive, "bye": Bye}
FOLLOWER_KINDS: dict[str, type] = {"hello": Hello, "probe": Probe}


def term_of(value: Any) -> Term | None:
    """A term from its wire form ``[number, tab]``; ``None`` for anything else."""
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
        and isinstance(value[1], str)
    ):
        return Term(value[0], value[1])
    return None


def encode(message: TabMessage) -> dict:
    """The message as a plain dict for the channel (``parse`` reads it back)."""
    kinds = {**LEADER_KINDS, **FOLLOWER_KINDS}
    kind = next(name for name, cls in kinds.items() if isinstance(message, cls))
    if isinstance(message, Leading | Alive | Bye):
        return {"kind": kind, "term": [message.term.number, message.term.tab]}
    return {"kind": kind, "sender": message.sender}


def parse(data: Any) -> TabMessage | None:
    """A leadership message from the channel; ``None`` if it is not one (or is malformed)."""
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    if kind in LEADER_KINDS:
        term = term_of(data.get("term"))
        return LEADER_KINDS[kind](term) if term is not None else None
    if kind in FOLLOWER_KINDS and isinstance(data.get("sender"), str):
        return FOLLOWER_KINDS[kind](data["sender"])
    return None


# ------------------------------------------------------------------ state


@dataclass(frozen=True)
class Leadership:
    me: str  # this tab's id
    role: Role = Role.IDLE
    lock: int = 0  # the current lock request; grants and losses of older ones are stale
    leader: Term | None = None  # whom this tab believes (its own term while leading)
    seen: int = 0  # the highest term number heard of
    last_heard: float = 0.0  # wall clock of the leader's last message
    probing: bool = False  # a probe is out and the leader has not spoken since


# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class Begin:
    """The chat starts in this tab."""

    now: float


@dataclass(frozen=True)
class End:
    """The chat stops in this tab (sign-out, or the panel went away)."""


@dataclass(frozen=True)
class LockGranted:
    lock: int
    now: float


@dataclass(frozen=True)
class LockLost:
    """Another tab stole the lock we held."""

    lock: int
    now: float


@dataclass(frozen=True)
class Heard:
    message: TabMessage
    now: float


@dataclass(frozen=True)
class TabTimerFired:
    timer: TabTimer
    now: float


@dataclass(frozen=True)
class Frozen:
    """Page lifecycle ``freeze``: this tab's code stops running until ``resume``."""

    now: float


@dataclass(frozen=True)
class Resumed:
    pass


@dataclass(frozen=True)
class NeedLeader:
    """This follower needs the leader now (it sent something, or became visible): ask."""


TabEvent = (
    Begin | End | LockGranted | LockLost | Heard | TabTimerFired | Frozen | Resumed | NeedLeader
)

# ------------------------------------------------------------------ effects


@dataclass(frozen=True)
class RequestLock:
    """Ask for the lock (queued behind the holder, or ``steal``: take it now)."""

    lock: int
    steal: bool


@dataclass(frozen=True)
class ReleaseLock:
    """Give lock request ``lock`` up: release it if held, withdraw it if queued."""

    lock: int


@dataclass(frozen=True)
class Post:
    message: TabMessage


@dataclass(frozen=True)
class StartTabTimer:
    timer: TabTimer
    delay: float


@dataclass(frozen=True)
class CancelTabTimer:
    timer: TabTimer


@dataclass(frozen=True)
class Lead:
    """This tab leads from now on: open the socket."""

    term: Term


@dataclass(frozen=True)
class Follow:
    """This tab no longer leads: close its socket, keep what it shows."""


@dataclass(frozen=True)
class LeaderChanged:
    """A new leader is known: offer it everything not yet acknowledged."""

    term: Term


@dataclass(frozen=True)
class LeaderLeft:
    """The leader stepped down; the next one is not known yet."""


TabEffect = (
    RequestLock
    | ReleaseLock
    | Post
    | StartTabTimer
    | CancelTabTimer
    | Lead
    | Follow
    | LeaderChanged
    | LeaderLeft
)
Result = tuple[Leadership, list[TabEffect]]

R = Role
TIMERS = (TabTimer.CHECK, TabTimer.ANSWER)


def _cancel_timers() -> list[TabEffect]:
    return [CancelTabTimer(t) for t in TIMERS]


def _own(tabs: Leadership) -> Term:
    assert tabs.leader is not None, "a leader knows its own term"
    return tabs.leader


def _expect(tabs: Leadership, rng: RandomSource) -> Result:
    """The leader must speak within the answer time (jittered, so followers rarely steal at
    the same moment)."""
    delay = ANSWER_WITHIN_S + rng.uniform(0.0, STEAL_JITTER_S)
    return replace(tabs, probing=True), [StartTabTimer(TabTimer.ANSWER, delay)]


def _ask(tabs: Leadership, message: TabMessage, rng: RandomSource) -> Result:
    nxt, effects = _expect(tabs, rng)
    return nxt, [Post(message), *effects]


def _next_term(tabs: Leadership, now: float) -> Term:
    """The term of a reign granted at ``now``: above every term heard of, and above every
    reign granted earlier by the browser's one wall clock.  A tab that joins while the leader
    is too busy to answer, then steals, has heard no term at all; counting only what it heard,
    it would lead with 1, tie the reign it replaced, and lose on tab ids in every tab still
    following that reign until each one's own probe (a stale chat and a second socket)."""
    return Term(max(tabs.seen + 1, int(now * 1000)), tabs.me)


def _follow(tabs: Leadership, now: float, leader: Term | None) -> Result:
    """Queue for the lock as a follower and ask for the whole state, without a deadline on
    the answer: a tab that joins (or steps down) steals only by the quiet check's probe.  A
    restored browser session starts every tab at once while the first one, leading, installs
    Markdown: seconds without a turn for its messages, and a deadline on the greeting made each
    new tab steal from a leader that was only busy (three sockets for five tabs)."""
    lock = tabs.lock + 1
    nxt = replace(tabs, role=R.FOLLOWING, lock=lock, leader=leader, last_heard=now, probing=False)
    return nxt, [
        RequestLock(lock, steal=False),
        Post(Hello(tabs.me)),
        StartTabTimer(TabTimer.CHECK, CHECK_EVERY_S),
    ]


def _demote(tabs: Leadership, now: float, leader: Term | None) -> Result:
    nxt, effects = _follow(tabs, now, leader)
    return nxt, [ReleaseLock(tabs.lock), Follow(), *effects]


def _heard_as_follower(
    tabs: Leadership, message: TabMessage, now: float, rng: RandomSource
) -> Result:
    if not isinstance(message, Leading | Alive | Bye):
        return tabs, []  # another follower talking to the leader
    term = message.term
    if tabs.leader is not None and term < tabs.leader:
        return tabs, []  # an older reign: it no longer counts
    if isinstance(message, Bye):
        if term != tabs.leader:
            return tabs, []  # someone we never followed steps down
        # The lock passes to a queued tab, which announces itself at once; if that tab cannot
        # run (frozen), nobody does, and the answer timer steals the lock.
        nxt, effects = _expect(replace(tabs, leader=None, last_heard=now), rng)
        return nxt, [LeaderLeft(), *effects]
    heard = replace(
        tabs, leader=term, seen=max(tabs.seen, term.number), last_heard=now, probing=False
    )
    effects: list[TabEffect] = [CancelTabTimer(TabTimer.ANSWER)]
    if term != tabs.leader:
        effects.append(LeaderChanged(term))
    return heard, effects


def _heard_as_leader(tabs: Leadership, message: TabMessage, now: float) -> Result:
    own = _own(tabs)
    match message:
        case Probe():
            return tabs, [Post(Alive(own))]
        case Leading(term=term) if term > own:
            # Another tab took the lock (the browser tells us too, perhaps later): follow it.
            return _demote(replace(tabs, seen=max(tabs.seen, term.number)), now, term)
        case Leading(term=term) if term < own:
            return tabs, [Post(Leading(own))]  # a tab that woke up late: tell it who leads
    return tabs, []


def transition(tabs: Leadership, event: TabEvent, rng: RandomSource) -> Result:
    match tabs.role, event:
        case R.IDLE, Begin(now=now):
            return _follow(tabs, now, None)

        case R.FOLLOWING, LockGranted(lock=lock, now=now) if lock == tabs.lock:
            term = _next_term(tabs, now)
            nxt = replace(tabs, role=R.LEADING, leader=term, seen=term.number, probing=False)
            return nxt, [*_cancel_timers(), Post(Leading(term)), Lead(term)]
        case _, LockGranted(lock=lock) if lock != tabs.lock or tabs.role is R.CLOSED:
            return tabs, [ReleaseLock(lock)]  # a grant we stopped wanting

        case R.LEADING, LockLost(lock=lock, now=now) if lock == tabs.lock:
            return _demote(tabs, now, None)
        case R.LEADING, Frozen(now=now):
            nxt, effects = _demote(tabs, now, None)
            return nxt, [Post(Bye(_own(tabs))), *effects]
        case R.LEADING, Heard(message=message, now=now):
            return _heard_as_leader(tabs, message, now)

        case R.FOLLOWING, Heard(message=message, now=now):
            return _heard_as_follower(tabs, message, now, rng)
        case R.FOLLOWING, TabTimerFired(timer=TabTimer.CHECK, now=now):
            effects: list[TabEffect] = [StartTabTimer(TabTimer.CHECK, CHECK_EVERY_S)]
            if tabs.probing or now - tabs.last_heard < QUIET_AFTER_S:
                return tabs, effects
            nxt, asked = _ask(tabs, Probe(tabs.me), rng)
            return nxt, [*asked, *effects]
        case R.FOLLOWING, TabTimerFired(timer=TabTimer.ANSWER) if tabs.probing:
            # Nobody answered: whoever holds the lock cannot run.  Take it.
            lock = tabs.lock + 1
            return replace(tabs, lock=lock, probing=False), [
                ReleaseLock(tabs.lock),
                RequestLock(lock, steal=True),
            ]
        case R.FOLLOWING, Resumed() if not tabs.probing:
            return _ask(tabs, Hello(tabs.me), rng)
        case R.FOLLOWING, NeedLeader() if not tabs.probing:
            return _ask(tabs, Probe(tabs.me), rng)

        case R.LEADING, End():
            return replace(tabs, role=R.CLOSED, leader=None), [
                Post(Bye(_own(tabs))),
                ReleaseLock(tabs.lock),
                *_cancel_timers(),
            ]
        case ((R.IDLE | R.FOLLOWING), End()):
            return replace(tabs, role=R.CLOSED, leader=None), [
                ReleaseLock(tabs.lock),
                *_cancel_timers(),
            ]

    return tabs, []
