from __future__ import annotations

from typing import ClassVar

from app.net.registry import ConnectionRegistry


class Sock:
    made: ClassVar[list[Sock]] = []

    def __init__(self, key: str) -> None:
        self.key = key
        self.running = False
        self.stops = 0
        Sock.made.append(self)

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False
        self.stops += 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.queue: list[list] = []

    def schedule(self, delay, callback):
        entry = [self.now + delay, callback, False]
        self.queue.append(entry)

        class Handle:
            def cancel(self):
                entry[2] = True

        return Handle()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for entry in self.queue:
            if not entry[2] and entry[0] <= self.now:
                entry[2] = True
                entry[1]()


def make():
    Sock.made = []
    clock = Clock()
    return ConnectionRegistry(Sock, clock.schedule, grace=1.0), clock


def test_leases_share_one_socket():
    registry, _ = make()
    a, b = registry.acquire("ada"), registry.acquire("ada")
    assert a.socket is b.socket and len(Sock.made) == 1 and a.socket.running


def test_socket_closes_one_second_after_the_last_lease():
    registry, clock = make()
    lease = registry.acquire("ada")
    lease.release()
    clock.advance(0.9)
    assert lease.socket.running
    clock.advance(0.2)
    assert not lease.socket.running and registry.socket is None


def test_remount_within_the_grace_period_keeps_the_socket():
    registry, clock = make()
    first = registry.acquire("ada")
    first.release()
    clock.advance(0.5)
    second = registry.acquire("ada")
    clock.advance(5)
    assert second.socket is first.socket and second.socket.running and len(Sock.made) == 1


def test_release_is_idempotent():
    registry, clock = make()
    a, b = registry.acquire("ada"), registry.acquire("ada")
    a.release()
    a.release()
    clock.advance(2)
    assert b.socket.running and registry.lease_count == 1


def test_another_session_stops_the_old_socket_first():
    registry, _ = make()
    old = registry.acquire("ada")
    new = registry.acquire("bob")
    assert not old.socket.running and new.socket.running
    assert sum(s.running for s in Sock.made) == 1


def test_close_all_stops_now_and_voids_leases():
    registry, clock = make()
    lease = registry.acquire("ada")
    registry.close_all()
    assert not lease.socket.running and not lease.active and registry.socket is None
    lease.release()  # a late release from an unmounting component is harmless
    clock.advance(2)
    assert lease.socket.stops == 1


def test_a_late_close_of_a_replaced_socket_leaves_the_new_one_alone():
    registry, clock = make()
    registry.acquire("ada").release()
    late_close = clock.queue[0][1]  # the timer the next acquire cancels, firing anyway
    registry.acquire("bob")
    late_close()
    assert registry.socket is not None and registry.socket.key == "bob"
    assert registry.socket.running
