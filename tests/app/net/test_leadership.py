"""Leader and follower, row by row: a start state, one event, the state and effects it gives.

Randomness is a stub whose ``uniform`` returns its lower bound, so every answer timer is
exactly ANSWER_WITHIN_S (jitter is checked on its own below).
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from app.net.connection import DEAD_AFTER_S
from app.net.leadership import (
    ANSWER_WITHIN_S,
    CHECK_EVERY_S,
    QUIET_AFTER_S,
    STEAL_JITTER_S,
    WORST_STALL_S,
    Alive,
    Begin,
    Bye,
    CancelTabTimer,
    End,
    Follow,
    Frozen,
    Heard,
    Hello,
    Lead,
    LeaderChanged,
    LeaderLeft,
    Leadership,
    Leading,
    LockGranted,
    LockLost,
    NeedLeader,
    Post,
    Probe,
    ReleaseLock,
    RequestLock,
    Resumed,
    Role,
    StartTabTimer,
    TabTimer,
    TabTimerFired,
    Term,
    encode,
    parse,
    term_of,
    transition,
)


class Lowest:
    @staticmethod
    def uniform(low: float, high: float) -> float:
        return low


R = Role
ME = "b"
MINE = Term(3, ME)
OLDER = Term(2, "z")
NEWER = Term(4, "a")
ANSWER = StartTabTimer(TabTimer.ANSWER, ANSWER_WITHIN_S)
CHECK = StartTabTimer(TabTimer.CHECK, CHECK_EVERY_S)
CANCEL_ALL = [CancelTabTimer(TabTimer.CHECK), CancelTabTimer(TabTimer.ANSWER)]

IDLE = Leadership(ME)
# Following OLDER's reign, quiet since t=100, no probe out, lock request 5 queued.
FOLLOWING = Leadership(ME, R.FOLLOWING, lock=5, leader=OLDER, seen=2, last_heard=100.0)
WAITING = replace(FOLLOWING, leader=None, probing=True)  # nobody known to lead yet
LEADING = Leadership(ME, R.LEADING, lock=5, leader=MINE, seen=3, last_heard=100.0)
CLOSED = Leadership(ME, R.CLOSED, lock=5)

ROWS = [
    # ---------------------------------------------------------------- joining
    (
        "begin: queue for the lock, ask who leads, start looking (no deadline on the answer)",
        IDLE,
        Begin(7.0),
        replace(IDLE, role=R.FOLLOWING, lock=1, last_heard=7.0),
        [RequestLock(1, steal=False), Post(Hello(ME)), CHECK],
    ),
    (
        "the lock is granted: lead with a term above any seen, from the grant's clock (ms)",
        FOLLOWING,
        LockGranted(5, 101.0),
        replace(FOLLOWING, role=R.LEADING, leader=Term(101_000, ME), seen=101_000),
        [*CANCEL_ALL, Post(Leading(Term(101_000, ME))), Lead(Term(101_000, ME))],
    ),
    (
        "a clock set back since the last reign: still one above any term seen",
        replace(FOLLOWING, seen=200_000),
        LockGranted(5, 101.0),
        replace(FOLLOWING, role=R.LEADING, leader=Term(200_001, ME), seen=200_001),
        [*CANCEL_ALL, Post(Leading(Term(200_001, ME))), Lead(Term(200_001, ME))],
    ),
    (
        "a grant for a withdrawn request is given back at once",
        FOLLOWING,
        LockGranted(4, 101.0),
        FOLLOWING,
        [ReleaseLock(4)],
    ),
    (
        "a grant after the chat stopped is given back",
        CLOSED,
        LockGranted(5, 101.0),
        CLOSED,
        [ReleaseLock(5)],
    ),
    (
        "a repeated grant while leading changes nothing",
        LEADING,
        LockGranted(5, 101.0),
        LEADING,
        [],
    ),
    # ---------------------------------------------------------------- following
    (
        "the leader speaks: heard, and the answer timer stops",
        replace(FOLLOWING, probing=True),
        Heard(Alive(OLDER), 120.0),
        replace(FOLLOWING, last_heard=120.0),
        [CancelTabTimer(TabTimer.ANSWER)],
    ),
    (
        "a newer leader announces itself: follow it, offer it everything",
        FOLLOWING,
        Heard(Leading(NEWER), 120.0),
        replace(FOLLOWING, leader=NEWER, seen=4, last_heard=120.0),
        [CancelTabTimer(TabTimer.ANSWER), LeaderChanged(NEWER)],
    ),
    (
        "the first leader heard of is adopted from any of its messages",
        WAITING,
        Heard(Alive(OLDER), 120.0),
        replace(WAITING, leader=OLDER, last_heard=120.0, probing=False),
        [CancelTabTimer(TabTimer.ANSWER), LeaderChanged(OLDER)],
    ),
    (
        "an older reign's words no longer count",
        replace(FOLLOWING, leader=NEWER, seen=4),
        Heard(Alive(OLDER), 120.0),
        replace(FOLLOWING, leader=NEWER, seen=4),
        [],
    ),
    (
        "the leader steps down: nobody leads, and someone must announce in time",
        FOLLOWING,
        Heard(Bye(OLDER), 120.0),
        replace(FOLLOWING, leader=None, last_heard=120.0, probing=True),
        [LeaderLeft(), ANSWER],
    ),
    (
        "a tab we never followed steps down: nothing changes",
        replace(FOLLOWING, leader=NEWER, seen=4),
        Heard(Bye(Term(4, "c")), 120.0),
        replace(FOLLOWING, leader=NEWER, seen=4),
        [],
    ),
    (
        "another follower's words are for the leader",
        FOLLOWING,
        Heard(Probe("c"), 120.0),
        FOLLOWING,
        [],
    ),
    (
        "check: heard recently, just look again later",
        FOLLOWING,
        TabTimerFired(TabTimer.CHECK, 100.0 + QUIET_AFTER_S - 0.1),
        FOLLOWING,
        [CHECK],
    ),
    (
        "check: quiet for too long, ask",
        FOLLOWING,
        TabTimerFired(TabTimer.CHECK, 100.0 + QUIET_AFTER_S),
        replace(FOLLOWING, probing=True),
        [Post(Probe(ME)), ANSWER, CHECK],
    ),
    (
        "check: a probe is out already, wait for its answer",
        replace(FOLLOWING, probing=True),
        TabTimerFired(TabTimer.CHECK, 200.0),
        replace(FOLLOWING, probing=True),
        [CHECK],
    ),
    (
        "no answer in time: steal the lock from a tab that cannot run",
        replace(FOLLOWING, probing=True),
        TabTimerFired(TabTimer.ANSWER, 115.0),
        replace(FOLLOWING, lock=6),
        [ReleaseLock(5), RequestLock(6, steal=True)],
    ),
    (
        "the answer timer after an answer: nothing to do",
        FOLLOWING,
        TabTimerFired(TabTimer.ANSWER, 115.0),
        FOLLOWING,
        [],
    ),
    (
        "a follower that needs the leader asks",
        FOLLOWING,
        NeedLeader(),
        replace(FOLLOWING, probing=True),
        [Post(Probe(ME)), ANSWER],
    ),
    (
        "... once: a probe is out already",
        replace(FOLLOWING, probing=True),
        NeedLeader(),
        replace(FOLLOWING, probing=True),
        [],
    ),
    (
        "a follower waking up asks for everything again",
        FOLLOWING,
        Resumed(),
        replace(FOLLOWING, probing=True),
        [Post(Hello(ME)), ANSWER],
    ),
    (
        "a follower is frozen: nothing to hand over",
        FOLLOWING,
        Frozen(120.0),
        FOLLOWING,
        [],
    ),
    # ---------------------------------------------------------------- leading
    (
        "a probe is answered at once, from the message handler",
        LEADING,
        Heard(Probe("c"), 120.0),
        LEADING,
        [Post(Alive(MINE))],
    ),
    (
        "a hello is the chat's business (it answers with everything)",
        LEADING,
        Heard(Hello("c"), 120.0),
        LEADING,
        [],
    ),
    (
        "a tab that woke up late announces an older term: tell it who leads",
        LEADING,
        Heard(Leading(OLDER), 120.0),
        LEADING,
        [Post(Leading(MINE))],
    ),
    (
        "a newer leader announces itself (it stole the lock): follow it",
        LEADING,
        Heard(Leading(NEWER), 120.0),
        replace(LEADING, role=R.FOLLOWING, lock=6, leader=NEWER, seen=4, last_heard=120.0),
        [
            ReleaseLock(5),
            Follow(),
            RequestLock(6, steal=False),
            Post(Hello(ME)),
            CHECK,
        ],
    ),
    (
        "the lock was stolen: follow, queue again, ask who leads",
        LEADING,
        LockLost(5, 130.0),
        replace(LEADING, role=R.FOLLOWING, lock=6, leader=None, last_heard=130.0),
        [
            ReleaseLock(5),
            Follow(),
            RequestLock(6, steal=False),
            Post(Hello(ME)),
            CHECK,
        ],
    ),
    (
        "a loss of a lock no longer held changes nothing",
        FOLLOWING,
        LockLost(4, 130.0),
        FOLLOWING,
        [],
    ),
    (
        "about to be frozen: step down first, then queue like anyone else",
        LEADING,
        Frozen(140.0),
        replace(LEADING, role=R.FOLLOWING, lock=6, leader=None, last_heard=140.0),
        [
            Post(Bye(MINE)),
            ReleaseLock(5),
            Follow(),
            RequestLock(6, steal=False),
            Post(Hello(ME)),
            CHECK,
        ],
    ),
    (
        "a leader does not probe itself",
        LEADING,
        NeedLeader(),
        LEADING,
        [],
    ),
    # ---------------------------------------------------------------- ending
    (
        "the leader's chat stops: say bye, release the lock",
        LEADING,
        End(),
        replace(LEADING, role=R.CLOSED, leader=None),
        [Post(Bye(MINE)), ReleaseLock(5), *CANCEL_ALL],
    ),
    (
        "a follower's chat stops: withdraw its request",
        FOLLOWING,
        End(),
        replace(FOLLOWING, role=R.CLOSED, leader=None),
        [ReleaseLock(5), *CANCEL_ALL],
    ),
    (
        "a chat that never began stops quietly too",
        IDLE,
        End(),
        replace(IDLE, role=R.CLOSED),
        [ReleaseLock(0), *CANCEL_ALL],
    ),
    (
        "nothing starts a closed chat again",
        CLOSED,
        Begin(200.0),
        CLOSED,
        [],
    ),
]


@pytest.mark.parametrize(
    ("why", "start", "event", "state", "effects"), ROWS, ids=[r[0] for r in ROWS]
)
def test_row(why, start, event, state, effects):
    assert transition(start, event, Lowest()) == (state, effects)


def test_the_answer_timer_is_jittered_within_its_bound():
    delays = {
        transition(FOLLOWING, NeedLeader(), random.Random(seed))[1][1].delay for seed in range(20)
    }
    assert len(delays) > 1
    assert all(ANSWER_WITHIN_S <= d <= ANSWER_WITHIN_S + STEAL_JITTER_S for d in delays)


def test_a_frozen_leader_stalls_the_others_less_than_the_liveness_deadline():
    """Replay the worst case: the leader spoke at t=0, then froze without warning."""
    tabs = replace(FOLLOWING, last_heard=0.0, probing=False)
    now = 0.0
    while True:  # the check timer, every CHECK_EVERY_S, until it asks
        now += CHECK_EVERY_S
        tabs, effects = transition(tabs, TabTimerFired(TabTimer.CHECK, now), Lowest())
        if tabs.probing:
            break
    [answer] = [e for e in effects if isinstance(e, StartTabTimer) and e.timer is TabTimer.ANSWER]
    tabs, effects = transition(tabs, TabTimerFired(TabTimer.ANSWER, now + answer.delay), Lowest())
    assert RequestLock(tabs.lock, steal=True) in effects
    assert now + answer.delay <= WORST_STALL_S < DEAD_AFTER_S


def test_a_joining_tab_never_steals_from_a_leader_that_answers_its_probes():
    """A leader can be without a turn for longer than the answer time just as tabs join: a
    restored browser session starts every tab at once while the first, leading, installs
    Markdown.  Busy is not dead: a tab steals only when a probe goes unanswered."""
    rng = Lowest()
    tabs, effects = transition(IDLE, Begin(0.0), rng)
    everything = list(effects)
    now = 0.0
    for _ in range(12):  # a minute of the leader saying nothing but its answers to probes
        now += CHECK_EVERY_S
        for timer in (TabTimer.ANSWER, TabTimer.CHECK):  # a stray answer timer too
            tabs, effects = transition(tabs, TabTimerFired(timer, now), rng)
            everything += effects
        if tabs.probing:
            tabs, effects = transition(tabs, Heard(Alive(OLDER), now + 1.0), rng)
            everything += effects
    assert any(isinstance(e, Post) and isinstance(e.message, Probe) for e in everything)
    assert [e for e in everything if isinstance(e, RequestLock) and e.steal] == []


def test_two_tabs_race_for_the_lock_and_the_loser_follows_the_winner():
    """Both followers of a frozen leader steal; the later steal holds the lock, wins (whatever
    the tab ids say), and the earlier thief follows it, so exactly one tab leads in the end."""
    rng = Lowest()
    first = replace(FOLLOWING, me="d")
    second = replace(FOLLOWING, me="c")
    first, _ = transition(first, LockGranted(5, 120.0), rng)
    second, _ = transition(second, LockGranted(5, 120.5), rng)
    assert first.leader == Term(120_000, "d") and second.leader == Term(120_500, "c")
    first, effects = transition(first, Heard(Leading(second.leader), 121.0), rng)
    second, answer = transition(second, Heard(Leading(Term(120_000, "d")), 121.0), rng)
    assert (first.role, second.role) == (R.FOLLOWING, R.LEADING)
    assert Follow() in effects and answer == [Post(Leading(Term(120_500, "c")))]


def test_a_tab_that_steals_without_ever_hearing_the_leader_is_followed_at_once():
    """A tab joins while the leader is too busy to answer (it has heard no term), probes, and
    steals.  The followers of the reign it replaced take it as their leader on its first word,
    though its tab id sorts below the old leader's."""
    rng = Lowest()
    old = Term(100_000, "z")  # granted at t=100
    follower, _ = transition(
        replace(FOLLOWING, me="m", leader=old, seen=old.number), Heard(Leading(old), 100.5), rng
    )
    newcomer, _ = transition(Leadership("a"), Begin(101.0), rng)
    now = 101.0
    while not newcomer.probing:  # the leader says nothing the newcomer hears
        now += CHECK_EVERY_S
        newcomer, _ = transition(newcomer, TabTimerFired(TabTimer.CHECK, now), rng)
    now += ANSWER_WITHIN_S
    newcomer, effects = transition(newcomer, TabTimerFired(TabTimer.ANSWER, now), rng)
    [steal] = [e for e in effects if isinstance(e, RequestLock)]
    assert steal.steal and newcomer.seen == 0
    newcomer, effects = transition(newcomer, LockGranted(steal.lock, now + 0.1), rng)
    [announced] = [e.message for e in effects if isinstance(e, Post)]
    follower, effects = transition(follower, Heard(announced, now + 0.2), rng)
    assert follower.leader == newcomer.leader and follower.leader > old
    assert LeaderChanged(newcomer.leader) in effects


@pytest.mark.parametrize(
    "message", [Leading(MINE), Alive(OLDER), Bye(NEWER), Hello("c"), Probe("c")]
)
def test_messages_survive_the_channel(message):
    assert parse(encode(message)) == message


@pytest.mark.parametrize(
    "data",
    [
        None,
        "leading",
        {"kind": "leading"},
        {"kind": "leading", "term": [1]},
        {"kind": "leading", "term": [True, "a"]},
        {"kind": "leading", "term": ["1", "a"]},
        {"kind": "alive", "term": [1, 2]},
        {"kind": "probe"},
        {"kind": "hello", "sender": 7},
        {"kind": "update", "term": [1, "a"]},  # the chat's, not leadership's
    ],
)
def test_what_is_not_a_leadership_message_parses_to_none(data):
    assert parse(data) is None


def test_terms_order_by_number_then_tab():
    assert Term(2, "a") > Term(1, "z") and Term(2, "b") > Term(2, "a")
    assert term_of([2, "a"]) == Term(2, "a") and term_of((2, "a")) is None
