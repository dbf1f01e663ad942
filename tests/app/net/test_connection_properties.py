"""Invariants of the connection core and registry under generated histories.

A fake browser performs the effects: it tracks live sockets and live timers exactly as the
real driver does, so "a session never has two sockets", "nothing connects unless
authenticated" and "no timer survives sign-out" are checked on what would really exist.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from app.chat.conversation import Accepted, Conversation
from app.chat.protocol import Ack
from app.net.connection import (
    CancelTimer,
    Closed,
    CloseSocket,
    Conn,
    ConnState,
    Flush,
    Offline,
    Online,
    Opened,
    OpenSocket,
    RetryRequested,
    SessionChecked,
    Start,
    StartTimer,
    Stop,
    TimerFired,
    Visible,
    Welcome,
    transition,
)
from app.net.registry import ConnectionRegistry


class FakeSocket:
    """The managed socket as the registry sees it, with the real core inside."""

    def __init__(self, world: World, key: str) -> None:
        self.world = world
        self.key = key
        self.conn = Conn()
        self.timers: dict[object, int] = {}
        self.live: set[int] = set()  # generations with a live browser socket
        self.conversation = Conversation()
        self.wire: list[str] = []  # message ids sent, in order

    def start(self) -> None:
        self.world.starts += 1
        assert self.world.authenticated, "connected while not authenticated"
        self.dispatch(Start(self.world.now))

    def stop(self) -> None:
        self.dispatch(Stop())
        self.conversation.clear()

    def dispatch(self, event) -> None:
        self.conn, effects = transition(self.conn, event, self.world.rng)
        for effect in effects:
            match effect:
                case OpenSocket(generation=g):
                    self.live.add(g)
                case CloseSocket(generation=g):
                    self.live.discard(g)
                case StartTimer(timer=t, generation=g):
                    self.timers[t] = g
                case CancelTimer(timer=t):
                    self.timers.pop(t, None)
                case Flush():
                    self.wire += [m.id for m in self.conversation.pending()]

    def server_closes(self, code: int) -> None:
        gen = self.conn.generation
        if gen in self.live:
            self.live.discard(gen)
            self.dispatch(Closed(gen, code, self.world.now))


class World:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = 0.0
        self.authenticated = False
        self.starts = 0
        self.sockets: list[FakeSocket] = []
        self.pending_close = []
        self.registry = ConnectionRegistry(self.make, self.schedule, grace=1.0)
        self.leases = []
        self.sent_ids: list[str] = []

    def make(self, key: str) -> FakeSocket:
        socket = FakeSocket(self, key)
        self.sockets.append(socket)
        return socket

    def schedule(self, delay, callback):
        entry = [self.now + delay, callback, False]
        self.pending_close.append(entry)

        class Handle:
            def cancel(self_inner):
                entry[2] = True

        return Handle()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for entry in list(self.pending_close):
            if not entry[2] and entry[0] <= self.now:
                entry[2] = True
                entry[1]()

    def live_sockets(self) -> int:
        return sum(len(s.live) for s in self.sockets)


ops = st.sampled_from(
    [
        "sign_in",
        "sign_out",
        "mount",
        "unmount",
        "advance",
        "close_1006",
        "close_1012",
        "close_4401",
        "offline",
        "online",
        "visible",
        "fire_timer",
        "send",
        "welcome",
        "retry",
        "session_invalid",
        "ack",
    ]
)


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 10_000), script=st.lists(ops, max_size=60))
def test_socket_invariants(seed, script):
    world = World(seed)
    typed = 0
    for op in script:
        current = world.registry.socket
        if op == "sign_in":
            world.authenticated = True
        elif op == "sign_out":
            world.authenticated = False
            world.registry.close_all()
            world.leases.clear()
        elif op == "mount" and world.authenticated:
            world.leases.append(world.registry.acquire("ada"))
        elif op == "unmount" and world.leases:
            world.leases.pop().release()
        elif op == "advance":
            world.advance(1.5)
        elif op.startswith("close_") and current is not None:
            current.server_closes(int(op.split("_")[1]))
            if op == "close_4401":  # SessionEnded → the auth store signs out
                world.authenticated = False
                world.registry.close_all()
                world.leases.clear()
        elif op == "offline" and current is not None:
            current.dispatch(Offline())
        elif op == "online" and current is not None:
            current.dispatch(Online(world.now))
        elif op == "visible" and current is not None:
            current.dispatch(Visible(world.now))
        elif op == "fire_timer" and current is not None and current.timers:
            timer, gen = next(iter(current.timers.items()))
            del current.timers[timer]
            current.dispatch(TimerFired(timer, gen, world.now + 40))
        elif op == "welcome" and current is not None and current.conn.generation in current.live:
            gen = current.conn.generation
            current.dispatch(Opened(gen, world.now))
            current.dispatch(Welcome(gen, world.now))
        elif op == "send" and current is not None:
            typed += 1
            if current.conversation.send(f"m{typed}", "hi") is Accepted.OK and (
                current.conn.state is ConnState.OPEN
            ):
                current.wire.append(f"m{typed}")
        elif op == "ack" and current is not None and current.wire:
            current.conversation.apply(Ack(current.wire[0]))
        elif op == "retry" and current is not None:
            current.dispatch(RetryRequested(world.now))
        elif op == "session_invalid" and current is not None:
            current.dispatch(SessionChecked(valid=False))
            world.authenticated = False
            world.registry.close_all()
            world.leases.clear()

        # A session never has two sockets.
        assert world.live_sockets() <= 1
        # Nothing stays connected (or waiting to) unless signed in.
        if not world.authenticated:
            assert world.registry.socket is None
            assert world.live_sockets() == 0
            # No timer survives sign-out, and the queue is gone.
            assert all(not s.timers for s in world.sockets)
            assert all(not s.conversation.messages for s in world.sockets)
        for socket in world.sockets:
            if socket is not world.registry.socket:
                assert not socket.live and not socket.timers


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    script=st.lists(st.sampled_from(["send", "drop", "reconnect", "ack_all"]), max_size=50),
)
def test_outbox_never_loses_or_duplicates_a_message(seed, script):
    """Through drops and reconnects, every typed message reaches the server exactly once
    (the server de-duplicates resends by id) and ends up acknowledged."""
    world = World(seed)
    world.authenticated = True
    lease = world.registry.acquire("ada")
    sock: FakeSocket = lease.socket  # type: ignore[assignment]
    server_seen: list[str] = []
    typed: list[str] = []

    def connect() -> None:
        if sock.conn.state is not ConnState.CONNECTING:
            sock.dispatch(RetryRequested(world.now))
            sock.dispatch(Online(world.now))
            if sock.conn.state is ConnState.BACKOFF:
                sock.dispatch(TimerFired(next(iter(sock.timers)), 0, world.now))
        gen = sock.conn.generation
        sock.dispatch(Opened(gen, world.now))
        sock.dispatch(Welcome(gen, world.now))

    def deliver() -> None:
        for mid in sock.wire:
            if mid not in server_seen:
                server_seen.append(mid)
        sock.wire.clear()

    connect()
    for n, op in enumerate(script):
        if op == "send":
            mid = f"m{n}"
            typed.append(mid)
            assert sock.conversation.send(mid, "text") is Accepted.OK
            if sock.conn.state is ConnState.OPEN:
                sock.wire.append(mid)
        elif op == "drop" and sock.conn.state is ConnState.OPEN:
            sock.wire.clear()  # in flight, lost with the socket
            sock.server_closes(1006)
        elif op == "reconnect" and sock.conn.state is not ConnState.OPEN:
            connect()
        elif op == "ack_all" and sock.conn.state is ConnState.OPEN:
            deliver()
            for mid in server_seen:
                sock.conversation.apply(Ack(mid))
    if sock.conn.state is not ConnState.OPEN:
        connect()
    deliver()
    for mid in server_seen:
        sock.conversation.apply(Ack(mid))
    assert sorted(server_seen) == sorted(typed)  # nothing lost, each id once at the server
    assert [m.id for m in sock.conversation.messages] == typed  # shown once, in order
    assert all(m.status == "sent" for m in sock.conversation.messages)
