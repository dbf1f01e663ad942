"""A TCP relay that damages traffic on command: the network between a browser and ``server.py``.

It listens on a loopback port and forwards every connection to ``upstream`` (the real
server), byte for byte, until a test tells it to misbehave, in either direction or both:

* ``delay(ms)``: every chunk arrives ``ms`` later (latency; order is kept);
* ``hold(p, ms)``: each chunk, with probability ``p``, is held ``ms`` more, and everything
  behind it waits too (a lost packet that TCP retransmits: a stall at packet level);
* ``stall()``: the connections open now stop forwarding, with TCP still open on both sides (a
  zombie: nothing is closed, nothing arrives), for ``seconds`` or until ``resume()``;
* ``cut()``: the connections open now are closed on both sides, at once or after ``after_bytes``
  more bytes have gone through; ``websocket=True`` picks the connections that asked for a
  WebSocket upgrade.

The asyncio loop runs in a thread of the test's own process, so sync pytest code calls plain
methods, reads the byte counts directly and needs no control protocol, port or child process
to clean up (a subprocess would buy isolation these tests do not need: the relay only moves
bytes, so it never competes with the server for the GIL).  Randomness is seeded::

    relay = FaultRelay(("127.0.0.1", server_port), seed=1).start()
    relay.delay(200)
    relay.hold(0.05, 400)
    ...                                  # the page talks to relay.url
    relay.stall(Direction.DOWN)          # the server's words stop arriving
    relay.cut(websocket=True)            # the socket's TCP connections close
    relay.stop()
"""

from __future__ import annotations

import asyncio
import enum
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 64 * 1024
# The request head that asks for a WebSocket (RFC 6455 4.1), looked for in a connection's
# first bytes only: an upgrade is always a connection's first request in Chromium.
UPGRADE = b"upgrade: websocket"
HEAD_BYTES = 8 * 1024


class Direction(enum.Flag):
    UP = enum.auto()  # client -> server
    DOWN = enum.auto()  # server -> client
    BOTH = UP | DOWN


@dataclass(frozen=True)
class Line:
    """What the relay does to every chunk of one direction (all connections, now and later)."""

    delay_s: float = 0.0
    hold_probability: float = 0.0
    hold_s: float = 0.0


@dataclass(frozen=True)
class Flow:
    """One direction of one connection, as counted by the relay."""

    read: int  # bytes taken from the sender
    sent: int  # bytes written to the receiver
    stalled: bool


@dataclass(frozen=True)
class ConnectionInfo:
    id: int
    websocket: bool
    up: Flow
    down: Flow
    closed: bool
    cut: bool


@dataclass
class _Pipe:
    """One direction of one connection: a FIFO of (chunk, when it may go) drained in order."""

    direction: Direction
    writer: asyncio.StreamWriter | None = None
    queue: deque[tuple[bytes, float]] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    resume_handle: asyncio.TimerHandle | None = None
    cut_after: int | None = None  # bytes still to send before the connection is cut
    eof: bool = False
    read: int = 0
    sent: int = 0

    def __post_init__(self) -> None:
        self.flowing.set()

    def flow(self) -> Flow:
        return Flow(self.read, self.sent, not self.flowing.is_set())


class _Connection:
    def __init__(self, relay: FaultRelay, ident: int, client: asyncio.StreamWriter) -> None:
        self.relay = relay
        self.id = ident
        self.client = client
        self.server: asyncio.StreamWriter | None = None
        self.up = _Pipe(Direction.UP)
        self.down = _Pipe(Direction.DOWN, writer=client)
        self.head = b""
        self.websocket = False
        self.closed = False
        self.was_cut = False
        self.tasks: set[asyncio.Task[None]] = set()

    def pipes(self, direction: Direction) -> list[_Pipe]:
        return [p for p in (self.up, self.down) if p.direction & direction]

    def info(self) -> ConnectionInfo:
        return ConnectionInfo(
            self.id, self.websocket, self.up.flow(), self.down.flow(), self.closed, self.was_cut
        )

    async def run(self, reader: asyncio.StreamReader) -> None:
        host, port = self.relay.upstream
        try:
            server_reader, self.server = await asyncio.open_connection(host, port)
        except OSError:
            self.close()
            return
        if self.closed:  # cut while the upstream connection was being made
            self.server.transport.abort()
            return
        self.up.writer = self.server
        for coroutine in (
            self._read(reader, self.up),
            self._read(server_reader, self.down),
            self._write(self.up),
            self._write(self.down),
        ):
            task = asyncio.ensure_future(coroutine)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _read(self, reader: asyncio.StreamReader, pipe: _Pipe) -> None:
        try:
            while chunk := await reader.read(CHUNK):
                if pipe is self.up and len(self.head) < HEAD_BYTES:
                    self.head += chunk[: HEAD_BYTES - len(self.head)]
                    self.websocket = self.websocket or UPGRADE in self.head.lower()
                pipe.read += len(chunk)
                pipe.queue.append((chunk, self.relay._release_time(pipe.direction)))
                pipe.ready.set()
                self.relay._changed()
        except OSError:
            self.close()
            return
        pipe.eof = True
        pipe.ready.set()

    async def _write(self, pipe: _Pipe) -> None:
        loop = asyncio.get_running_loop()
        assert pipe.writer is not None
        try:
            while True:
                if not pipe.queue:
                    if pipe.eof:
                        if pipe.writer.can_write_eof():
                            pipe.writer.write_eof()
                        break
                    pipe.ready.clear()
                    await pipe.ready.wait()
                    continue
                chunk, due = pipe.queue[0]
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                await pipe.flowing.wait()
                if self.closed:
                    return
                pipe.queue.popleft()
                if pipe.cut_after is not None and len(chunk) >= pipe.cut_after:
                    chunk = chunk[: pipe.cut_after]
                    pipe.writer.write(chunk)
                    pipe.sent += len(chunk)
                    await pipe.writer.drain()
                    self.cut()
                    return
                if pipe.cut_after is not None:
                    pipe.cut_after -= len(chunk)
                pipe.writer.write(chunk)
                pipe.sent += len(chunk)
                await pipe.writer.drain()
                self.relay._changed()
        except (OSError, RuntimeError):  # RuntimeError: writing after the transport closed
            self.close()
            return
        if self.up.eof and self.down.eof and not (self.up.queue or self.down.queue):
            self.close()

    def stall(self, direction: Direction, seconds: float | None) -> None:
        for pipe in self.pipes(direction):
            pipe.flowing.clear()
            if pipe.resume_handle is not None:
                pipe.resume_handle.cancel()
                pipe.resume_handle = None
            if seconds is not None:
                pipe.resume_handle = asyncio.get_running_loop().call_later(
                    seconds, self.resume, pipe.direction
                )
        self.relay._changed()

    def resume(self, direction: Direction) -> None:
        for pipe in self.pipes(direction):
            if pipe.resume_handle is not None:
                pipe.resume_handle.cancel()
                pipe.resume_handle = None
            pipe.flowing.set()
        self.relay._changed()

    def arm_cut(self, direction: Direction, after_bytes: int) -> None:
        for pipe in self.pipes(direction):
            pipe.cut_after = after_bytes

    def cut(self) -> None:
        self.was_cut = True
        self.close()

    def close(self) -> None:
        """Both sides, at once; whatever was still queued is lost, as on a cut line."""
        if self.closed:
            return
        self.closed = True
        for pipe in (self.up, self.down):
            pipe.queue.clear()
            pipe.flowing.set()  # wake a writer waiting on a stall, so it ends
            pipe.ready.set()
            if pipe.resume_handle is not None:
                pipe.resume_handle.cancel()
        for writer in (self.client, self.server):
            if writer is not None:
                writer.transport.abort()
        for task in list(self.tasks):
            if task is not asyncio.current_task():
                task.cancel()
        self.relay._changed()


class FaultRelay:
    """See the module docstring.  Every public method is called from the test's thread."""

    def __init__(
        self,
        upstream: tuple[str, int] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = 0,
    ) -> None:
        """``upstream`` may be given later (before the first connection): the server needs
        the relay's port for ``--allowed-origin`` before it starts."""
        self.upstream: tuple[str, int] = upstream or ("127.0.0.1", 0)
        self.host = host
        self.port = port
        self._random = random.Random(seed)
        self._lines = {Direction.UP: Line(), Direction.DOWN: Line()}
        self._connections: dict[int, _Connection] = {}
        self._next_id = 1
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._condition = threading.Condition()
        self._version = 0  # bumped on every change, so a waiter never misses one

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FaultRelay:
        self._thread.start()
        self._server = self._call(self._listen())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Close the listener and every connection, then end the loop's thread."""
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FaultRelay:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- faults

    def delay(self, ms: float, direction: Direction = Direction.BOTH) -> None:
        """Every chunk from now on arrives ``ms`` later (on top of any hold)."""
        self._set_line(direction, delay_s=ms / 1000)

    def hold(self, probability: float, ms: float, direction: Direction = Direction.BOTH) -> None:
        """From now on each chunk is held ``ms`` more with ``probability`` (seeded)."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        self._set_line(direction, hold_probability=probability, hold_s=ms / 1000)

    def clear(self) -> None:
        """A clean line again: no delay, no holds, every stall resumed."""
        self._set_line(Direction.BOTH, delay_s=0.0, hold_probability=0.0, hold_s=0.0)
        self.resume()

    def stall(
        self,
        direction: Direction = Direction.BOTH,
        seconds: float | None = None,
        websocket: bool = False,
    ) -> list[int]:
        """Stop forwarding on the connections open now (only WebSocket ones if ``websocket``),
        keeping them open, for ``seconds`` or until :meth:`resume`.  Later connections flow.
        Returns the ids of the connections stalled."""

        def apply() -> list[int]:
            chosen = self._chosen(websocket)
            for connection in chosen:
                connection.stall(direction, seconds)
            return [c.id for c in chosen]

        return self._call_soon(apply)

    def resume(self, direction: Direction = Direction.BOTH) -> None:
        def apply() -> None:
            for connection in self._connections.values():
                connection.resume(direction)

        self._call_soon(apply)

    def cut(
        self,
        direction: Direction = Direction.BOTH,
        websocket: bool = False,
        after_bytes: int | None = None,
    ) -> list[int]:
        """Close both sides of the connections open now (only WebSocket ones if
        ``websocket``): at once, or once ``after_bytes`` more bytes have been forwarded in
        ``direction`` (exactly that many; the rest is lost).  Returns the ids chosen."""

        def apply() -> list[int]:
            chosen = self._chosen(websocket)
            for connection in chosen:
                if after_bytes is None:
                    connection.cut()
                else:
                    connection.arm_cut(direction, after_bytes)
            return [c.id for c in chosen]

        return self._call_soon(apply)

    # ---------------------------------------------------------------- observing

    def connections(self) -> list[ConnectionInfo]:
        """Every connection accepted so far, oldest first, closed ones included."""
        return self._call_soon(lambda: [c.info() for c in self._connections.values()])

    def websockets(self) -> list[ConnectionInfo]:
        return [c for c in self.connections() if c.websocket]

    def wait_until(
        self, predicate: Callable[[list[ConnectionInfo]], bool], timeout: float = 10.0
    ) -> list[ConnectionInfo]:
        """Block until ``predicate(connections())`` holds (woken on every change the relay
        makes); raises ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self._condition:
                seen = self._version
            # Read outside the lock: the loop's thread takes it to report a change.
            if predicate(found := self.connections()):
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"relay never reached the state asked for: {found}")
            with self._condition:
                if self._version == seen:
                    self._condition.wait(left)

    # ---------------------------------------------------------------- the loop's side

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._accept, self.host, self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(self, self._next_id, writer)
        self._next_id += 1
        self._connections[connection.id] = connection
        self._changed()
        await connection.run(reader)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            connection.close()
        tasks = [t for c in self._connections.values() for t in c.tasks]
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _chosen(self, websocket: bool) -> list[_Connection]:
        return [
            c for c in self._connections.values() if not c.closed and (c.websocket or not websocket)
        ]

    def _set_line(self, direction: Direction, **changes: float) -> None:
        def apply() -> None:
            for one in (Direction.UP, Direction.DOWN):
                if one & direction:
                    self._lines[one] = replace(self._lines[one], **changes)

        self._call_soon(apply)

    def _release_time(self, direction: Direction) -> float:
        line = self._lines[direction]
        extra = line.hold_s if self._random.random() < line.hold_probability else 0.0
        return self._loop.time() + line.delay_s + extra

    def _changed(self) -> None:
        with self._condition:
            self._version += 1
            self._condition.notify_all()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def _call_soon(self, function: Callable[[], T]) -> T:
        async def run() -> T:
            return function()

        return self._call(run())
