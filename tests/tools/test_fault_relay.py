"""The fault relay over real loopback sockets: what arrives, in which order, and what closes.

Nothing here measures time: a fault is shown by the bytes the relay has read but not
forwarded, and by what each end receives once it is lifted.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator

import pytest

from tools.fault_relay import ConnectionInfo, Direction, FaultRelay
from tools.processes import free_port

SAFETY_S = 10.0  # how long a broken relay may hang a test before it fails: never asserted
UPGRADE_HEAD = (
    b"GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class EchoServer:
    """An upstream that sends back whatever it gets and notes how each connection ended."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.ended: list[bytes] = []  # per connection, everything it received, once it ended
        self.changed = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(connection,), daemon=True).start()

    def _echo(self, connection: socket.socket) -> None:
        got = b""
        with connection:
            try:
                while data := connection.recv(65536):
                    got += data
                    connection.sendall(data)
            except OSError:
                pass  # a cut: reset by the relay
        with self.changed:
            self.ended.append(got)
            self.changed.notify_all()

    def wait_ended(self, count: int) -> list[bytes]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.ended) >= count, SAFETY_S)
            return list(self.ended)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def relay(echo: EchoServer) -> Iterator[FaultRelay]:
    with FaultRelay(("127.0.0.1", echo.port), seed=7) as running:
        yield running


def connect(relay: FaultRelay) -> socket.socket:
    """A client connection, once the relay has accepted it (a fault applies to the
    connections the relay holds when it is asked for)."""
    before = len(relay.connections())
    client = socket.create_connection(("127.0.0.1", relay.port))
    client.settimeout(SAFETY_S)
    relay.wait_until(lambda found: len(found) > before)
    return client


def receive(client: socket.socket, count: int) -> bytes:
    got = b""
    while len(got) < count:
        data = client.recv(count - len(got))
        assert data, f"closed after {len(got)} of {count} bytes"
        got += data
    return got


def receive_all(client: socket.socket) -> bytes:
    """Everything until the relay closes the connection."""
    got = b""
    try:
        while data := client.recv(65536):
            got += data
    except ConnectionResetError:
        pass
    return got


def only(relay: FaultRelay, **expected: object) -> ConnectionInfo:
    """The relay's single connection, once its state has every ``expected`` attribute
    (``up_read=5`` means ``info.up.read == 5``)."""

    def matches(found: list[ConnectionInfo]) -> bool:
        if len(found) != 1:
            return False
        for name, value in expected.items():
            obj: object = found[0]
            for part in name.split("_"):
                obj = getattr(obj, part)
            if obj != value:
                return False
        return True

    return relay.wait_until(matches)[0]


def test_bytes_pass_unchanged_and_in_order_both_ways(relay):
    payload = random.Random(1).randbytes(1_000_000)
    with connect(relay) as client:
        sender = threading.Thread(target=client.sendall, args=(payload,))
        sender.start()
        assert receive(client, len(payload)) == payload
        sender.join()
    info = only(relay)
    assert (info.up.read, info.up.sent) == (len(payload), len(payload))
    assert info.websocket is False


def test_latency_and_held_chunks_lose_nothing_and_keep_the_order(relay):
    relay.delay(5)
    relay.hold(0.5, 30, Direction.UP)
    relay.hold(1.0, 10, Direction.DOWN)
    pieces = [f"<{n}>".encode() for n in range(200)]
    with connect(relay) as client:
        for piece in pieces:
            client.sendall(piece)
        assert receive(client, sum(map(len, pieces))) == b"".join(pieces)


def test_a_hold_probability_outside_zero_to_one_is_refused(relay):
    with pytest.raises(ValueError, match="probability"):
        relay.hold(1.5, 10)


def test_a_stall_keeps_the_connection_open_and_forwards_nothing_until_resumed(relay):
    with connect(relay) as client:
        client.sendall(b"before")
        assert receive(client, 6) == b"before"
        assert relay.stall() == [1]
        client.sendall(b"during the stall")
        info = only(relay, up_read=22)
        assert info.up.sent == 6 and info.up.stalled and info.down.stalled
        assert not info.closed
        relay.resume()
        assert receive(client, 16) == b"during the stall"
        assert not only(relay, up_sent=22).up.stalled


def test_a_stall_of_one_direction_lets_the_other_flow(relay):
    with connect(relay) as client:
        assert relay.stall(Direction.DOWN) == [1]
        client.sendall(b"ping")
        # the server got it and answered: the answer waits in the relay
        info = only(relay, down_read=4)
        assert (info.up.sent, info.down.sent) == (4, 0)
        assert not info.up.stalled and info.down.stalled
        relay.resume(Direction.DOWN)
        assert receive(client, 4) == b"ping"


def test_a_stall_for_a_duration_ends_by_itself(relay):
    with connect(relay) as client:
        relay.stall(seconds=0.05)
        client.sendall(b"later")
        assert receive(client, 5) == b"later"


def test_a_stall_spares_connections_opened_after_it(relay):
    with connect(relay) as stuck:
        stuck.sendall(b"x")
        assert receive(stuck, 1) == b"x"
        relay.stall()
        with connect(relay) as fresh:
            fresh.sendall(b"fresh")
            assert receive(fresh, 5) == b"fresh"
        stuck.sendall(b"y")
        relay.wait_until(lambda found: found[0].up.read == 2)
        assert relay.connections()[0].up.sent == 1


def test_a_websocket_stall_spares_plain_http(relay):
    with connect(relay) as plain, connect(relay) as ws:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        ws.sendall(UPGRADE_HEAD)
        receive(ws, len(UPGRADE_HEAD))
        receive(plain, 35)
        assert [c.websocket for c in relay.connections()] == [False, True]
        assert relay.stall(websocket=True) == [2]
        plain.sendall(b"more")
        assert receive(plain, 4) == b"more"


def test_a_cut_closes_both_sides(relay, echo):
    with connect(relay) as client:
        client.sendall(b"hello")
        assert receive(client, 5) == b"hello"
        assert relay.cut() == [1]
        assert receive_all(client) == b""
        assert echo.wait_ended(1) == [b"hello"]
    info = only(relay, closed=True)
    assert info.cut


def test_a_websocket_cut_spares_plain_http(relay, echo):
    with connect(relay) as plain, connect(relay) as ws:
        ws.sendall(UPGRADE_HEAD)
        receive(ws, len(UPGRADE_HEAD))
        plain.sendall(b"GET")
        receive(plain, 3)
        assert relay.cut(websocket=True) == [2]
        assert receive_all(ws) == b""
        plain.sendall(b"still here")
        assert receive(plain, 10) == b"still here"
        assert [c.cut for c in relay.connections()] == [False, True]


def test_a_cut_after_n_bytes_forwards_exactly_n_then_closes(relay, echo):
    with connect(relay) as client:
        relay.cut(Direction.DOWN, after_bytes=4)
        client.sendall(b"0123456789")
        assert receive_all(client) == b"0123"
        # the server had received (and echoed) everything: only the way back was cut
        assert echo.wait_ended(1) == [b"0123456789"]
    info = only(relay, closed=True)
    assert (info.down.read, info.down.sent, info.cut) == (10, 4, True)


def test_a_cut_of_connections_already_closed_chooses_none(relay, echo):
    with connect(relay) as client:
        client.shutdown(socket.SHUT_WR)
        assert receive_all(client) == b""
    echo.wait_ended(1)
    only(relay, closed=True)
    assert relay.cut() == [] and relay.stall() == []


def test_a_clean_close_passes_through_and_is_not_a_cut(relay, echo):
    with connect(relay) as client:
        client.sendall(b"bye")
        client.shutdown(socket.SHUT_WR)  # FIN: the server sees the end, answers and closes
        assert receive_all(client) == b"bye"
    assert echo.wait_ended(1) == [b"bye"]
    info = only(relay, closed=True)
    assert not info.cut and info.down.sent == 3


def test_clear_lifts_every_fault(relay):
    with connect(relay) as client:
        relay.delay(10)
        relay.hold(1.0, 10)
        relay.stall()
        client.sendall(b"abc")
        only(relay, up_read=3)
        relay.clear()
        assert receive(client, 3) == b"abc"


def test_an_unreachable_upstream_closes_the_client():
    with FaultRelay(("127.0.0.1", free_port())) as relay, connect(relay) as client:
        assert receive_all(client) == b""
        only(relay, closed=True)


def test_the_upstream_may_be_named_after_the_relay_listens(echo):
    relay = FaultRelay().start()
    try:
        assert relay.url == f"http://127.0.0.1:{relay.port}"
        relay.upstream = ("127.0.0.1", echo.port)
        with connect(relay) as client:
            client.sendall(b"ok")
            assert receive(client, 2) == b"ok"
    finally:
        relay.stop()
    relay.stop()  # twice is harmless


def test_waiting_for_a_state_that_never_comes_raises(relay):
    with pytest.raises(TimeoutError, match="never reached"):
        relay.wait_until(lambda found: len(found) == 5, timeout=0.01)
