"""Tabs sharing one chat, under CPython: a leader with the socket, followers with mirrors.

:class:`Browser` plays what the page's adapters and the browser do (one Web Lock with a queue
and ``steal``, a channel that delivers JSON to every other tab, sockets) and the test plays the
server on the leader's socket.  Every message crosses the channel as JSON text, as it does in
the page.
"""

from __future__ import annotations

import json
import random
from collections import deque

import pytest

from app.chat.conversation import MAX_QUEUED, Accepted, Message
from app.chat.session import (
    CancelTimer,
    Changed,
    CheckSession,
    Closed,
    CloseSocket,
    FrameReceived,
    Offline,
    Online,
    Opened,
    OpenSocket,
    Refused,
    RetryMessage,
    RetryRequested,
    RetryTurn,
    SendFrame,
    SendText,
    SessionEnded,
    Start,
    StartTimer,
    Stop,
    StopReply,
    TimerFired,
    Visible,
)
from app.chat.sharing import (
    Broadcast,
    CancelTabTimer,
    ChannelMessage,
    Ended,
    Frozen,
    LockGranted,
    LockLost,
    LookedAgain,
    Offer,
    Refusal,
    ReleaseLock,
    RequestLock,
    Resumed,
    RetryAsked,
    RetryConnection,
    SharedChat,
    StartTabTimer,
    StopAsked,
    TabTimerFired,
    Update,
    channel_name,
    decode_conn,
    decode_message,
    encode,
    encode_message,
    parse,
)
from app.chat.status import describe
from app.net.connection import Conn, ConnState, Timer
from app.net.leadership import Alive, Leading, Probe, TabTimer, Term
from app.wire import frames
from app.wire.close_codes import REPLACED, UNAUTHORIZED


def welcome() -> str:
    return json.dumps(frames.welcome("ada", "2030-01-01T00:00:00Z", None))


def history(*messages: dict) -> str:
    return json.dumps(frames.history(list(messages)))


class Browser:
    """One browser profile: tabs, the lock they share and the channel between them."""

    def __init__(self) -> None:
        self.tabs: dict[str, SharedChat] = {}
        self.holder: tuple[str, int] | None = None  # (tab, lock request) holding the lock
        self.queue: list[tuple[str, int]] = []
        self.events: deque[tuple[str, object]] = deque()
        self.frozen: set[str] = set()
        self.held_back: dict[str, list[object]] = {}  # what a frozen tab gets on resume
        self.sockets: dict[str, int] = {}  # tab -> generation of its open socket
        self.opened: list[str] = []  # every socket opened, by tab
        self.sent: dict[str, list[dict]] = {}  # frames each tab's socket sent
        self.closed: list[tuple[str, int, int]] = []
        self.ended: list[str] = []
        self.refused: list[Refused] = []
        self.timers: dict[str, dict] = {}
        self.now = 1000.0

    # ---------------------------------------------------------------- the tabs

    def open_tab(self, name: str) -> SharedChat:
        tab = SharedChat(name, random.Random(7))
        self.tabs[name] = tab
        self.timers[name] = {}
        self.dispatch(name, Start(self.now))
        return tab

    def dispatch(self, name: str, event: object) -> None:
        self.events.append((name, event))
        self.run()

    def run(self) -> None:
        while self.events:
            name, event = self.events.popleft()
            if name not in self.tabs:
                continue  # the tab is gone
            if name in self.frozen:
                self.held_back.setdefault(name, []).append(event)
                continue
            for effect in self.tabs[name].handle(event):
                self.perform(name, effect)

    def perform(self, name: str, effect: object) -> None:
        match effect:
            case Broadcast(data=data):
                text = json.dumps(data)  # what crosses the channel
                for other in self.tabs:
                    if other != name:
                        self.events.append((other, ChannelMessage(json.loads(text), self.now)))
            case RequestLock(lock=lock, steal=steal):
                self.request(name, lock, steal)
            case ReleaseLock(lock=lock):
                self.release(name, lock)
            case OpenSocket(generation=g):
                self.sockets[name] = g
                self.opened.append(name)
            case CloseSocket(generation=g, code=code):
                if self.sockets.get(name) == g:
                    del self.sockets[name]
                    self.closed.append((name, g, code))
            case SendFrame(text=text):
                self.sent.setdefault(name, []).append(json.loads(text))
            case StartTimer(timer=timer) | StartTabTimer(timer=timer):
                self.timers[name][timer] = effect
            case CancelTimer(timer=timer) | CancelTabTimer(timer=timer):
                self.timers[name].pop(timer, None)
            case SessionEnded():
                self.ended.append(name)
            case Refused():
                self.refused.append(effect)
            case Changed() | CheckSession():
                pass
            case _:
                raise AssertionError(f"unexpected effect {effect!r}")

    # ---------------------------------------------------------------- the lock

    def request(self, name: str, lock: int, steal: bool) -> None:
        if steal and self.holder is not None:
            loser = self.holder
            self.holder = None
            self.events.append((loser[0], LockLost(loser[1], self.now)))
        if self.holder is None:
            self.holder = (name, lock)
            self.events.append((name, LockGranted(lock, self.now)))
        else:
            self.queue.append((name, lock))

    def release(self, name: str, lock: int) -> None:
        if self.holder == (name, lock):
            self.holder = None
            self.grant_next()
        elif (name, lock) in self.queue:
            self.queue.remove((name, lock))

    def grant_next(self) -> None:
        if self.queue:
            self.holder = self.queue.pop(0)
            self.events.append((self.holder[0], LockGranted(self.holder[1], self.now)))

    # ---------------------------------------------------------------- what happens to tabs

    def close_tab(self, name: str) -> None:
        """A tab closes: its chat stops (pagehide), then the browser drops what it held."""
        self.dispatch(name, Stop())
        self.crash(name)

    def crash(self, name: str) -> None:
        """The renderer dies: no goodbye; the browser releases its lock and its socket."""
        del self.tabs[name]
        self.sockets.pop(name, None)
        self.queue = [q for q in self.queue if q[0] != name]
        if self.holder is not None and self.holder[0] == name:
            self.holder = None
            self.grant_next()
        self.run()

    def freeze(self, name: str, warned: bool = True) -> None:
        if warned:
            self.dispatch(name, Frozen(self.now))
        self.frozen.add(name)

    def resume(self, name: str) -> None:
        self.frozen.discard(name)
        self.events.extendleft(reversed([(name, e) for e in self.held_back.pop(name, [])]))
        self.dispatch(name, Resumed())

    def fire(self, name: str, timer: TabTimer | Timer) -> None:
        effect = self.timers[name].pop(timer)
        if isinstance(timer, TabTimer):
            self.dispatch(name, TabTimerFired(timer, self.now))
        else:
            self.dispatch(name, TimerFired(timer, effect.generation, self.now))

    # ---------------------------------------------------------------- the server

    def leader(self) -> str:
        [name] = [n for n, t in self.tabs.items() if t.role == "leader" and n not in self.frozen]
        return name

    def server_sends(self, text: str, to: str | None = None) -> None:
        name = to or self.leader()
        self.dispatch(name, FrameReceived(self.sockets[name], text, self.now))

    def server_welcomes(self, *items: dict) -> None:
        name = self.leader()
        self.dispatch(name, Opened(self.sockets[name], self.now))
        self.server_sends(welcome())
        self.server_sends(history(*items))

    def server_acks_everything(self) -> list[str]:
        name = self.leader()
        ids = [f["id"] for f in self.sent.get(name, []) if f["type"] == "message"]
        for message_id in ids:
            self.server_sends(json.dumps(frames.ack(message_id, False)))
        self.sent[name] = []
        return ids

    def type(self, name: str, message_id: str, text: str) -> None:
        self.dispatch(name, SendText(message_id, text))

    def shown(self, name: str) -> list[tuple[str, str, str]]:
        return [(m.id, m.text, m.status) for m in self.tabs[name].conversation.messages]

    def connection(self, name: str) -> str:
        from app.net.connection import ui_state

        return ui_state(self.tabs[name].conn)


@pytest.fixture
def browser() -> Browser:
    return Browser()


def three_tabs(browser: Browser) -> Browser:
    for name in ("a", "b", "c"):
        browser.open_tab(name)
    browser.server_welcomes()
    return browser


# ------------------------------------------------------------------ one socket


def test_three_tabs_make_one_socket_and_show_the_same_connection(browser):
    three_tabs(browser)
    assert browser.opened == ["a"]
    assert [browser.tabs[n].role for n in "abc"] == ["leader", "follower", "follower"]
    assert [browser.connection(n) for n in "abc"] == ["open"] * 3
    said = {n: describe(browser.tabs[n].conn, browser.now) for n in "abc"}
    assert said["b"] == said["c"] == said["a"]  # the same words, not just the same state


def test_a_follower_joining_late_gets_everything(browser):
    browser.open_tab("a")
    browser.server_welcomes(
        {"id": "h1", "role": "user", "text": "old", "created_at": "x"},
        {"id": "h2", "role": "assistant", "text": "answer", "created_at": "x"},
    )
    browser.open_tab("b")
    expected = [("h1", "old", "sent"), ("h2", "answer", "done")]
    assert browser.shown("b") == expected and browser.connection("b") == "open"


def test_a_follower_shows_connecting_until_it_hears_the_leader(browser):
    browser.open_tab("a")
    browser.freeze("a", warned=False)
    browser.open_tab("b")
    assert browser.tabs["b"].role == "follower" and browser.connection("b") == "connecting"


# ------------------------------------------------------------------ messages


def test_a_follower_message_goes_out_once_and_its_answer_reaches_every_tab(browser):
    three_tabs(browser)
    browser.type("b", "m1", "hello")
    assert browser.shown("c") == [("m1", "hello", "pending")]
    assert [f["id"] for f in browser.sent["a"] if f["type"] == "message"] == ["m1"]
    assert browser.server_acks_everything() == ["m1"]
    for frame in (
        frames.text_start("r1"),
        frames.text_content("r1", "Hi "),
        frames.text_content("r1", "there"),
        frames.text_end("r1"),
    ):
        browser.server_sends(json.dumps(frame))
    expected = [("m1", "hello", "sent"), ("r1", "Hi there", "done")]
    assert [browser.shown(n) for n in "abc"] == [expected] * 3


def test_the_leaders_own_message_shows_in_every_tab(browser):
    three_tabs(browser)
    browser.type("a", "m1", "from the leader")
    assert browser.shown("b") == [("m1", "from the leader", "pending")]
    browser.server_acks_everything()
    assert browser.shown("c") == [("m1", "from the leader", "sent")]


def test_a_follower_refuses_what_it_cannot_take_without_asking_the_leader(browser):
    three_tabs(browser)
    browser.type("b", "m1", "x" * 9000)
    assert browser.refused == [Refused("m1", Accepted.TOO_LONG)]
    assert browser.shown("a") == [] and browser.shown("b") == []


def test_an_offer_the_leader_cannot_queue_fails_in_the_followers(browser):
    browser.open_tab("a")  # never welcomed: everything waits in its outbox
    browser.open_tab("b")
    # b sends before it has heard of a's full outbox (so its own check lets it through)
    browser.events.extend(("a", SendText(f"q{i}", "wait")) for i in range(MAX_QUEUED))
    browser.events.append(("b", SendText("m1", "one too many")))
    browser.run()
    assert ("m1", "one too many", "failed") in browser.shown("b")
    assert "Too many messages" in browser.tabs["b"].conversation.find("m1").error
    assert browser.tabs["a"].conversation.find("m1") is None
    browser.type("b", "m2", "and another")  # now b knows: refused at once, like the leader
    browser.type("a", "m3", "x")
    assert browser.refused == [
        Refused("m2", Accepted.QUEUE_FULL),
        Refused("m3", Accepted.QUEUE_FULL),
    ]


def test_a_message_the_server_refused_is_retried_from_a_follower(browser):
    three_tabs(browser)
    browser.type("b", "m1", "hello")
    browser.server_sends(json.dumps(frames.error("x", "Refused.", "m1")))
    assert browser.shown("b") == [("m1", "hello", "failed")]
    browser.sent["a"] = []
    browser.dispatch("b", RetryMessage("m1"))
    assert [f["id"] for f in browser.sent["a"] if f["type"] == "message"] == ["m1"]
    assert browser.shown("c") == [("m1", "hello", "pending")]


def test_retrying_what_is_not_failed_does_nothing(browser):
    three_tabs(browser)
    browser.type("b", "m1", "hello")
    before = list(browser.events)
    browser.dispatch("b", RetryMessage("m1"))  # pending, not failed
    browser.dispatch("b", RetryMessage("nope"))
    assert browser.events == deque(before) and browser.shown("b") == [("m1", "hello", "pending")]


# ------------------------------------------------------------------ agent turns in every tab


def answering(browser: Browser, turn: str = "m1") -> None:
    """Three tabs; ``turn``, typed in b, is acknowledged and its answer is streaming."""
    three_tabs(browser)
    browser.type("b", turn, "count slowly")
    browser.server_acks_everything()
    for frame in (
        frames.run_started("t", "r1", turn),
        {"type": "TOOL_CALL_START", "toolCallId": "t1", "toolCallName": "get_weather"},
        frames.text_start("a1"),
        frames.text_content("a1", "1 2 "),
    ):
        browser.server_sends(json.dumps(frame))


def test_a_running_answer_shows_in_every_tab_and_a_follower_s_stop_reaches_the_socket(browser):
    answering(browser)
    assert [browser.tabs[n].conversation.answering() for n in "abc"] == [["m1"]] * 3
    [tool] = [m for m in browser.tabs["c"].conversation.messages if m.role == "tool"]
    assert (tool.name, tool.reply_to, tool.status) == ("get_weather", "m1", "running")
    browser.dispatch("c", StopReply())
    assert [f for f in browser.sent["a"] if f["type"] == "stop"] == [frames.stop("m1")]
    assert [browser.tabs[n].conversation.stopping() for n in "abc"] == [True] * 3
    browser.server_sends(json.dumps(frames.run_error("Stopped.", "stopped", "m1")))
    assert [browser.tabs[n].conversation.answering() for n in "abc"] == [[]] * 3


def failed_turn(browser: Browser) -> None:
    three_tabs(browser)
    browser.type("b", "m1", "what is the weather")
    browser.server_acks_everything()
    browser.server_sends(json.dumps(frames.run_started("t", "r1", "m1")))
    browser.server_sends(json.dumps(frames.run_error("The service failed.", "upstream", "m1")))


def test_a_follower_s_retry_asks_again_once_under_a_new_id_and_every_tab_sees_it(browser):
    failed_turn(browser)
    browser.dispatch("c", RetryTurn("m1", "m2"))
    assert ("m2", "what is the weather", "pending") in browser.shown("c")  # at once, here
    assert browser.server_acks_everything() == ["m2"]
    for name in "abc":
        shown = browser.tabs[name].conversation.messages
        assert [m.retried for m in shown if m.status == "failed" and m.role == "assistant"] == [
            True
        ], name
        assert ("m2", "what is the weather", "sent") in browser.shown(name), name
    browser.dispatch("c", RetryTurn("m1", "m3"))  # used already: nothing happens
    assert "m3" not in [m.id for m in browser.tabs["c"].conversation.messages]


def test_a_retry_asked_again_of_a_new_leader_is_taken_once(browser):
    failed_turn(browser)
    browser.dispatch("c", RetryTurn("m1", "m2"))
    browser.server_acks_everything()
    browser.dispatch("b", ChannelMessage(encode(RetryAsked("c", "m1", "m2")), browser.now))
    browser.dispatch("a", ChannelMessage(encode(RetryAsked("c", "m1", "m2")), browser.now))
    assert browser.server_acks_everything() == []


def test_a_follower_s_retry_that_cannot_wait_is_refused_there(browser):
    failed_turn(browser)
    follower = browser.tabs["c"]
    for index in range(MAX_QUEUED):
        follower.mirror.send(f"q{index}", "waiting")
    assert follower.handle(RetryTurn("m1", "m2")) == [Refused("m2", Accepted.QUEUE_FULL)]


def test_an_offer_of_a_message_the_leader_has_is_not_sent_again(browser):
    three_tabs(browser)
    browser.type("b", "m1", "hello")
    browser.sent["a"] = []
    browser.dispatch("a", ChannelMessage(encode(Offer("c", "m1", "hello")), browser.now))
    assert browser.sent["a"] == []


# ------------------------------------------------------------------ leadership moves


def test_closing_the_leader_moves_the_socket_and_loses_nothing(browser):
    three_tabs(browser)
    browser.type("b", "m1", "sent before")
    browser.server_acks_everything()
    browser.type("c", "m2", "typed while the leader goes")
    browser.close_tab("a")  # never acknowledged m2
    assert browser.opened == ["a", "b"] and browser.leader() == "b"
    assert browser.connection("c") == "reconnecting"
    browser.server_welcomes(
        {"id": "m1", "role": "user", "text": "sent before", "created_at": "x"},
        {"id": "a1", "role": "assistant", "text": "answer", "created_at": "x"},
    )
    assert browser.server_acks_everything() == ["m2"]
    expected = [
        ("m1", "sent before", "sent"),
        ("a1", "answer", "done"),
        ("m2", "typed while the leader goes", "sent"),
    ]
    assert browser.shown("b") == expected and browser.shown("c") == expected


def test_a_crashed_leader_is_replaced_and_its_last_message_still_goes_out(browser):
    three_tabs(browser)
    browser.type("a", "m1", "typed in the tab that crashes")  # b and c mirror it, pending
    browser.crash("a")  # no Bye, no socket close from the page
    assert browser.leader() == "b" and browser.opened == ["a", "b"]
    browser.server_welcomes()
    assert browser.server_acks_everything() == ["m1"]
    assert browser.shown("c") == [("m1", "typed in the tab that crashes", "sent")]


def test_a_leader_frozen_with_warning_hands_over_and_follows_on_resume(browser):
    three_tabs(browser)
    browser.freeze("a")
    assert ("a", 1, 1000) in browser.closed and browser.leader() == "b"
    browser.server_welcomes()
    browser.type("c", "m1", "while a sleeps")
    assert browser.server_acks_everything() == ["m1"]
    browser.resume("a")
    assert browser.tabs["a"].role == "follower"
    assert browser.shown("a") == [("m1", "while a sleeps", "sent")]
    assert browser.connection("a") == "open"


def test_a_leader_frozen_without_warning_loses_the_lock_to_a_follower_that_asked(browser):
    three_tabs(browser)
    browser.freeze("a", warned=False)
    browser.type("b", "m1", "anyone there?")  # an offer, and a probe nobody answers
    browser.fire("b", TabTimer.ANSWER)  # b steals the lock
    assert browser.leader() == "b" and browser.opened == ["a", "b"]
    browser.server_welcomes()
    assert browser.server_acks_everything() == ["m1"]
    assert browser.shown("c") == [("m1", "anyone there?", "sent")]
    browser.server_sends(json.dumps(frames.ack("m1", False)), to="b")
    browser.resume("a")  # it learns it lost the lock and follows b
    assert browser.tabs["a"].role == "follower" and browser.connection("a") == "open"
    assert browser.shown("a") == [("m1", "anyone there?", "sent")]


def test_a_resumed_leader_told_4409_before_its_loss_follows_without_failing(browser):
    three_tabs(browser)
    browser.freeze("a", warned=False)
    browser.fire("b", TabTimer.CHECK)  # quiet for a while?  not yet: it heard a at t=1000
    browser.now += 20
    browser.fire("b", TabTimer.CHECK)
    browser.fire("b", TabTimer.ANSWER)
    browser.server_welcomes()
    browser.held_back["a"].insert(0, Closed(1, REPLACED, browser.now))  # the server's 4409
    browser.resume("a")
    assert browser.tabs["a"].role == "follower" and browser.connection("a") == "open"


def test_a_new_leader_takes_each_reoffered_message_once(browser):
    three_tabs(browser)
    browser.type("b", "m1", "one")
    browser.crash("a")
    browser.server_welcomes()
    messages = [f["id"] for f in browser.sent["b"] if f["type"] == "message"]
    assert messages == ["m1"]  # b had it, c offered it again: once on the wire


def test_leadership_goes_back_to_a_lone_tab_after_its_freeze(browser):
    browser.open_tab("a")
    browser.server_welcomes()
    browser.freeze("a")
    browser.resume("a")
    assert browser.tabs["a"].role == "leader" and browser.opened == ["a", "a"]
    assert browser.connection("a") == "reconnecting"


# ------------------------------------------------------------------ the leader's services


def test_retry_now_and_visibility_in_a_follower_reach_the_leaders_socket(browser):
    three_tabs(browser)
    browser.dispatch("a", Closed(browser.sockets["a"], 1008, browser.now))  # failed: policy
    assert browser.connection("b") == "failed"
    browser.dispatch("b", RetryRequested(browser.now))
    assert browser.opened == ["a", "a"] and browser.connection("c") == "reconnecting"
    browser.server_welcomes()
    browser.sent["a"] = []
    browser.dispatch("c", Visible(browser.now))  # the leader probes its socket
    assert [f["type"] for f in browser.sent["a"]] == ["ping"]


def test_a_leader_answers_probes_and_hellos(browser):
    three_tabs(browser)
    events = []
    for data in (encode(Probe("z")), {"kind": "hello", "sender": "z"}):
        events += [e.data["kind"] for e in browser.tabs["a"].handle(ChannelMessage(data, 1.0))]
    assert events == ["alive", "update"]


def test_the_server_ending_the_session_signs_every_tab_out(browser):
    three_tabs(browser)
    browser.dispatch("a", Closed(browser.sockets["a"], UNAUTHORIZED, browser.now))
    assert sorted(browser.ended) == ["a", "b", "c"]


def test_stopping_a_follower_withdraws_it_and_leaves_the_others_alone(browser):
    three_tabs(browser)
    browser.type("b", "m1", "hi")
    browser.dispatch("b", Stop())
    assert browser.tabs["b"].conversation.messages == [] and browser.connection("b") == "offline"
    assert ("b", 2) not in browser.queue and browser.shown("c") == [("m1", "hi", "pending")]


def test_online_and_offline_follow_the_browser_in_every_role(browser):
    three_tabs(browser)
    browser.dispatch("b", Offline())
    assert browser.tabs["b"].online is False and browser.connection("b") == "open"
    browser.dispatch("a", Offline())
    browser.dispatch("a", Closed(browser.sockets["a"], 1006, browser.now))
    assert browser.connection("b") == "offline"
    browser.dispatch("b", Online(browser.now))
    assert browser.tabs["b"].online is True


def test_socket_events_in_a_follower_are_ignored(browser):
    three_tabs(browser)
    assert browser.tabs["b"].handle(Closed(1, 1006, 1.0)) == []
    assert browser.tabs["b"].handle(CheckSession()) == []  # type: ignore[arg-type]


# ------------------------------------------------------------------ who is believed


def test_updates_of_an_older_reign_are_ignored(browser):
    three_tabs(browser)
    stale = Update(Term(0, "old"), Conn(state=ConnState.FAILED), (), complete=True)
    browser.dispatch("b", ChannelMessage(encode(stale), browser.now))
    assert browser.connection("b") == "open"


def test_a_refusal_for_a_message_already_settled_is_ignored(browser):
    three_tabs(browser)
    browser.type("b", "m1", "hi")
    browser.server_acks_everything()
    term = browser.tabs["b"].tabs.leader
    for mid in ("m1", "unknown"):
        refusal = Refusal(term, mid, Accepted.QUEUE_FULL)
        assert browser.tabs["b"].handle(ChannelMessage(encode(refusal), 1.0)) == [
            CancelTabTimer(TabTimer.ANSWER)
        ]


def test_a_whole_conversation_without_a_connection_state_keeps_the_state_shown(browser):
    three_tabs(browser)
    term = browser.tabs["b"].tabs.leader
    whole = Update(term, None, (MESSAGE,), complete=True)
    browser.dispatch("b", ChannelMessage(encode(whole), browser.now))
    assert browser.shown("b") == [("m1", "hi", "failed")] and browser.connection("b") == "open"


def test_what_a_tab_cannot_read_is_dropped(browser):
    three_tabs(browser)
    for name in "ab":
        assert browser.tabs[name].handle(ChannelMessage({"kind": "from-the-future"}, 1.0)) == []


def test_a_leader_ignores_another_leaders_chat_and_a_follower_ignores_followers(browser):
    three_tabs(browser)
    leader = browser.tabs["a"]
    other = Ended(Term(9, "x"))
    assert leader.handle(ChannelMessage(encode(other), 1.0)) == []
    follower = browser.tabs["b"]
    for message in (Offer("c", "m", "t"), RetryConnection("c"), LookedAgain("c")):
        assert follower.handle(ChannelMessage(encode(message), 1.0)) == []


# ------------------------------------------------------------------ alone (the fallback)


def test_a_tab_alone_runs_the_session_itself_and_ignores_tabs():
    chat = SharedChat("a", random.Random(1), shared=False)
    assert chat.role == "alone"
    effects = chat.handle(Start(0.0))
    assert OpenSocket(1) in effects and chat.conn.state is ConnState.CONNECTING
    assert chat.handle(ChannelMessage(encode(Probe("b")), 1.0)) == []
    assert chat.handle(LockGranted(1, 1.0)) == []
    assert chat.handle(SendText("m1", "hi")) == [Changed(messages=("m1",))]
    assert chat.conversation.find("m1").status == "pending"


# ------------------------------------------------------------------ the channel's words


def test_the_name_is_per_origin_and_user():
    assert channel_name("http://h:1", "ada") != channel_name("http://h:1", "bob")
    assert "http://h:1" in channel_name("http://h:1", "ada")


CONN = Conn(state=ConnState.BACKOFF, failures=2, degraded=True, retry_at=5.5, last_code=1006)
MESSAGE = Message("m1", "user", "hi", "failed", "Not sent.")
TOOL_CALL = Message(
    "t1", "tool", '{"city": "Paris"}', "done", reply_to="m1", name="get_weather", result="sunny"
)


@pytest.mark.parametrize(
    "message",
    [
        Update(Term(1, "a"), CONN, (MESSAGE,), complete=True),
        Update(Term(1, "a"), None, (TOOL_CALL,), False, (("m1", "running"), ("m2", "stopping"))),
        Update(Term(1, "a"), None, (), complete=False),
        Refusal(Term(1, "a"), "m1", Accepted.QUEUE_FULL),
        Ended(Term(1, "a")),
        Offer("b", "m1", "hi"),
        RetryConnection("b"),
        LookedAgain("b"),
        StopAsked("b"),
        RetryAsked("b", "m1", "m2"),
        Alive(Term(2, "b")),
        Leading(Term(2, "b")),
    ],
)
def test_messages_survive_the_channel(message):
    assert parse(json.loads(json.dumps(encode(message)))) == message


T = [1, "a"]
T_ = Term(1, "a")


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"kind": "update", "term": T, "conn": None},  # no messages
        {"kind": "update", "term": T, "conn": {"state": "open"}, "messages": []},
        {"kind": "refusal", "term": T, "id": "m1", "why": "bored"},
        {"kind": "refusal", "term": T, "why": "queue_full"},
        {"kind": "mystery", "term": T},
        {"kind": "offer", "sender": "b", "id": "m1"},
        {"kind": "offer", "sender": "b", "text": "hi"},
        {"kind": "mystery", "sender": "b"},
        {"kind": "offer", "id": "m1", "text": "hi"},  # from nobody
        {"kind": "update", "term": T, "conn": None, "messages": [], "runs": "m1"},
        {"kind": "retry-turn", "sender": "b", "id": "m2"},  # which turn?
        {"kind": "retry-turn", "sender": "b", "reply_to": "m1"},  # as which message?
    ],
)
def test_what_a_tab_cannot_read_parses_to_none(data):
    assert parse(data) is None


def test_an_update_keeps_the_messages_it_can_read():
    data = encode(Update(Term(1, "a"), None, (MESSAGE,), complete=False))
    data["messages"].append({"id": 3})
    assert parse(data).messages == (MESSAGE,)


def test_an_update_keeps_the_running_turns_it_can_read():
    data = encode(Update(Term(1, "a"), None, (), False, (("m1", "running"),)))
    data["runs"] += [["m2", "sleeping"], "m3", [4, "running"]]
    assert parse(data).runs == (("m1", "running"),)
    del data["runs"]  # a leader that says nothing of runs: none run
    assert parse(data).runs == ()


@pytest.mark.parametrize(
    "data",
    [None, {"state": "open"}, {**encode(Update(Term(1, "a"), CONN, (), True))["conn"], "state": 7}],
)
def test_a_connection_state_that_cannot_be_read_is_none(data):
    assert decode_conn(data) is None


def test_a_message_that_cannot_be_read_is_none():
    assert decode_message({"id": "m1", "role": "user"}) is None
    assert decode_message({**encode(Update(T_, None, (TOOL_CALL,), True))["messages"][0],
                           "retried": "yes"}) is None  # fmt: skip


def test_a_lost_answer_is_lost_in_every_tab():
    lost = Message("lost-m1", "assistant", "", "failed", "Cut off.", "m1", lost=True)
    assert decode_message(encode_message(lost)) == lost


def test_a_message_from_an_older_page_keeps_what_it_says():
    older = {"id": "m1", "role": "user", "text": "hi", "status": "sent", "error": None}
    assert decode_message(older) == Message("m1", "user", "hi", "sent")
