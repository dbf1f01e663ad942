"""Runs of other replicas, shown on this replica's sockets (shared storage only).

A page's socket may come back on another replica than the one running its answer (the proxy
picks one per connection).  When such a socket joins, :meth:`RelayedRuns.announce` finds its
user's runs open elsewhere on the storage's :class:`~backend.storage.RunBoard`, tells the
socket of each (``RUN_STARTED``, before its greeting, as for a run of this replica) and asks
the replica running it for the rest (:class:`~backend.storage.RunAsked`).  What that replica
relays (:class:`~backend.storage.RunRelayed`) goes to the socket in the order it was sent;
the socket's Stop goes back the same way (:meth:`RelayedRuns.stop`).

A run that leaves the board without an end (its replica died) is ended on the socket with
``RUN_ERROR`` ``server_gone`` (:meth:`RelayedRuns.check`): the page shows it cut, with
Regenerate.  A run that ended a moment before the ask is told whole by its replica (it keeps
ended runs for a while); one it does not know at all closes the socket with 1012, so the page
reconnects and reads history again.  The run side, relaying frames to the sockets that asked,
is :class:`backend.runs.RunManager`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Container

from app.wire import frames
from app.wire.agent_runs import SERVER_GONE, failure
from app.wire.client_frames import dumps
from app.wire.close_codes import SERVICE_RESTART
from backend.hub import Connection, Hub
from backend.storage import RunAsked, RunBoard, RunRelayed, Signal, Signals, StorageUnavailable

log = logging.getLogger("pychat.runs")

WATCH_ASKED = "watch"  # send this socket the text so far and the rest of the run
STOP_ASKED = "stop"  # stop the run (its Stop button on this socket)


class RelayedRuns:
    def __init__(self, hub: Hub, board: RunBoard, signals: Signals) -> None:
        self.hub = hub
        self.board = board
        self.signals = signals
        # Sockets here showing runs of other replicas: reply_to -> the replica running it.
        self._shown: dict[Connection, dict[str, str]] = {}
        self._delivering: dict[Connection, asyncio.Task] = {}  # each socket's frames, in order
        signals.subscribe(self._on_signal)

    async def announce(self, conn: Connection, here: Container[str]) -> None:
        """Tell ``conn`` of its user's runs open on other replicas (``here``: the reply ids
        of this replica's own), and ask each one's replica for the rest."""
        try:
            listed = await self.board.listed(conn.user_id)
        except StorageUnavailable:
            return  # the greeting fails on the same storage: the socket closes with 1013
        for entry in listed:
            if entry.replica == self.hub.replica or entry.reply_to in here:
                continue
            thread = f"user-{conn.user_id}"
            await conn.send(dumps(frames.run_started(thread, entry.run_id, entry.reply_to)))
            self._shown.setdefault(conn, {})[entry.reply_to] = entry.replica
            await self._ask(entry.replica, conn, entry.reply_to, WATCH_ASKED)

    async def stop(self, conn: Connection, reply_to: str) -> None:
        """Stop the run answering ``reply_to`` if ``conn`` shows it from another replica."""
        replica = self._shown.get(conn, {}).get(reply_to)
        if replica is not None:
            await self._ask(replica, conn, reply_to, STOP_ASKED)

    async def check(self) -> None:
        """End as cut every run shown here that left the board without an end (its replica
        died): its page marks it so, with Regenerate, as if it had found it in history."""
        open_now: dict[int, set[str]] = {}  # per user: one read for all their sockets
        for conn, shown in list(self._shown.items()):
            if conn.closing or conn.ws.closed:
                del self._shown[conn]
                continue
            if conn.user_id not in open_now:
                listed = await self.board.listed(conn.user_id)
                open_now[conn.user_id] = {entry.reply_to for entry in listed}
            for reply_to in [r for r in shown if r not in open_now[conn.user_id]]:
                del shown[reply_to]
                gone = failure(SERVER_GONE)
                self._deliver(conn, dumps(frames.run_error(gone.message, gone.code, reply_to)))
            if not shown:
                del self._shown[conn]

    async def _ask(self, replica: str, conn: Connection, reply_to: str, action: str) -> None:
        asked = RunAsked(
            replica, conn.user_id, reply_to, action, conn.session_hash, conn.tab, self.hub.replica
        )
        try:
            await self.signals.publish(asked)
        except StorageUnavailable:  # check() ends the run as cut once it leaves the board
            log.warning("could not ask replica %s for a run", replica)

    async def _on_signal(self, signal: Signal) -> None:
        if not isinstance(signal, RunRelayed) or signal.replica != self.hub.replica:
            return
        conn = self.hub.current(signal.session, signal.tab)
        shown = self._shown.get(conn) if conn is not None else None
        if conn is None or shown is None or signal.reply_to not in shown:
            return  # that socket is gone, or never asked for this run
        if signal.frame is None or signal.last:
            del shown[signal.reply_to]
            if not shown:
                del self._shown[conn]
        self._deliver(conn, signal.frame)

    def _deliver(self, conn: Connection, frame: str | None) -> None:
        """Send ``frame`` to ``conn`` after what was delivered to it before (``None``: close
        it so its page reconnects and reads history again), without holding up the signal
        channel, which every socket of this replica shares, for one slow reader."""
        before = self._delivering.get(conn)

        async def deliver() -> None:
            if before is not None:
                with contextlib.suppress(Exception):
                    await before
            if frame is None:
                await conn.close(SERVICE_RESTART, "the server answering went away")
            else:
                await conn.send(frame)

        def delivered(done: asyncio.Task) -> None:
            if self._delivering.get(conn) is done:
                del self._delivering[conn]

        task = asyncio.create_task(deliver())
        self._delivering[conn] = task
        task.add_done_callback(delivered)
