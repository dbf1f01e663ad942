"""Agent runs: one per user message, limited, stoppable, and never longer than their session.

A stored chat message starts a run (:meth:`RunManager.start`) that streams the agent's AG-UI
events to the tab's *current* socket (a reconnected tab gets the rest on its new socket) and
stores each finished assistant message in history.  The rules:

* **At most** ``runs_per_user`` **runs per user at once (default 1); a further message waits
  its turn**, in order, rather than stopping the current reply.  Waiting keeps every answer the
  user asked for: after a reconnect the page resends its queued messages back to back, and
  stopping is what the stop frame is for.  At most :data:`~app.wire.limits.WAITING_PER_USER`
  wait; beyond that a message is answered at once with ``RUN_ERROR`` ``queue_full``.
* At most ``runs_per_server`` run at once in this process; a run whose turn comes while the
  server is full ends with ``server_busy`` (retry later) instead of queueing without bound.
* A run takes at most ``run_limit`` seconds (``run_too_long``), and never longer than its
  session has left.
* The stop frame (:meth:`stop`) cancels a run, waiting or streaming; so do sign-out, revocation
  and expiry of its session (:meth:`end_session`, called by the hub whenever it closes a
  session's sockets, on any replica) and shutdown.  Cancelling the agent's generator closes its
  upstream request.  A replaced socket (4409, the same tab reconnecting) does not: the run
  goes on streaming to the tab's new socket, as docs/protocol.md promises.
* A run that ends early sends ``RUN_ERROR`` with words a person understands
  (:mod:`app.wire.agent_runs`), and stores the part of each reply that was shown with ``cut``:
  ``stopped`` or ``failed``.

Every ``RUN_STARTED``, ``RUN_FINISHED`` and ``RUN_ERROR`` carries ``metadata.replyTo``: the
client id of the message it answers.

**A socket that joins while its user has runs open here is told of each first** (its
``RUN_STARTED`` again, a waiting run's too, and the text of each reply so far, before
``welcome``: :meth:`RunManager.joined`), and
a socket of another tab or device gets the rest of those runs as well.  So the page can tell a
reply still coming from one nobody will finish: a server that dies forgets its runs and never
sends their end, and the page then finds the question unanswered and unnamed in history
(:mod:`app.chat.cut`) and offers to regenerate it.

**Across replicas** (shared storage), the page's socket may come back on another replica than
the one running its answer.  Every run is on the storage's :class:`~backend.storage.RunBoard`
while it is open (its replica refreshes the entry every :data:`LEASE_EVERY` seconds), so the
replica a socket joins tells it of runs open elsewhere too (:mod:`backend.run_relay`); this
replica, asked for one of its runs (:class:`~backend.storage.RunAsked`), relays the text so far
and the rest to that socket (:class:`~backend.storage.RunRelayed`), in order, and stops it
when asked to.  It keeps an ended run for :data:`ENDED_KEPT_FOR` seconds, so a replica that
listed it just before it ended is told all of it, its end included.

A run the server lost is the page's to offer again, not the server's to restart, because:

* an agent behind ``--agent-url`` may have acted (called tools) before the crash: only the user
  can say whether asking again is safe;
* with replicas behind a proxy, two replicas restarting one turn would store two answers
  unless they agreed on who restarts it;
* the page decides from history and the runs it is told of, not from what it remembers, so a
  user who closed the tab sees the cut turn whenever they come back, on any device, and
  nothing is spent on a reply nobody asked for again;
* Regenerate is a new message through the outbox (acknowledged, de-duplicated by id), so it
  is carried out exactly once like anything typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from app.wire import frames
from app.wire.agent_runs import CUT_FAILED, CUT_STOPPED, REPLY_TO, RunFailure, duration, failure
from app.wire.client_frames import dumps
from app.wire.limits import WAITING_PER_USER
from backend.agent import Agent, AgentContext, RunFailed, event_frame
from backend.history import History
from backend.hub import Connection, Hub
from backend.run_relay import STOP_ASKED, RelayedRuns
from backend.storage import (
    OpenRun,
    RunAsked,
    RunBoard,
    RunRelayed,
    Signal,
    Signals,
    StorageUnavailable,
)

log = logging.getLogger("pychat.runs")

CONVERSATION = 20  # messages of history an agent sees
RUN_SCOPED = frozenset({"RUN_STARTED", "RUN_FINISHED", "RUN_ERROR"})
# Seconds between refreshes of this replica's runs on the board (a shared board forgets an
# entry after its RUN_STALE_AFTER), and between looks at the runs relayed from elsewhere.
LEASE_EVERY = 2.0
ENDED_KEPT_FOR = 15.0  # seconds an ended run is still told to a replica that asks for it


@dataclass(frozen=True)
class RemoteWatcher:
    """A socket on another replica that shows this run: ``session``/``tab`` there."""

    replica: str
    session: bytes
    tab: str


@dataclass(eq=False)
class Run:
    user_id: int
    user_name: str
    session_hash: bytes
    tab: str
    reply_to: str
    connected_at: float
    session_expires_at: float
    session_idle_until: float
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    task: asyncio.Task | None = None
    began: bool = False  # its task has started running
    waiting: bool = True
    cut: str | None = None  # set when cancelled on purpose: how history marks the reply
    started: dict | None = None  # its RUN_STARTED as sent, told again to a socket that joins
    ended: bool = False  # its RUN_FINISHED or RUN_ERROR is on its way: nothing more to tell
    # Sockets of other tabs or devices that joined while it ran: they get the rest of it.
    watchers: list[Connection] = field(default_factory=list)
    # Its assistant messages still open: their text so far, told again to a socket that joins
    # (frames sent while no socket was there are gone).
    shown: dict[str, list[str]] = field(default_factory=dict)
    # Sockets on other replicas that asked for it.  ``relaying`` is held from each change of
    # what it has shown to that change's last frame sent, so a socket that asks meanwhile is
    # told all of it once: in its replay, or in the frames after.
    remote: list[RemoteWatcher] = field(default_factory=list)
    relaying: asyncio.Lock = field(default_factory=asyncio.Lock)
    entry: OpenRun | None = None  # its entry on the board
    # Its replies that ended: (message id, text, whether the page saw the end), made into
    # frames only for a replica that asks.
    told: list[tuple[str, str, bool]] = field(default_factory=list)
    end_frame: str | None = None  # its RUN_FINISHED or RUN_ERROR, once sent

    @property
    def thread_id(self) -> str:
        return f"user-{self.user_id}"


class RunManager:
    def __init__(
        self,
        agent: Agent,
        hub: Hub,
        history: History,
        clock: Callable[[], float],
        board: RunBoard,
        signals: Signals,
        *,
        idle_timeout: float,
        runs_per_user: int,
        runs_per_server: int,
        run_limit: float,
    ) -> None:
        self.agent = agent
        self.hub = hub
        self.history = history
        self.clock = clock
        self.board = board
        self.signals = signals
        self.idle_timeout = idle_timeout
        self.runs_per_user = runs_per_user
        self.runs_per_server = runs_per_server
        self.run_limit = run_limit
        self._runs: dict[int, dict[str, Run]] = {}  # user → reply_to → run
        self._slots: dict[int, asyncio.Semaphore] = {}
        self._streaming = 0
        self.relayed = RelayedRuns(hub, board, signals)  # this replica's sockets, others' runs
        self._ended: dict[tuple[int, str], tuple[float, Run]] = {}  # kept until a time
        hub.join_listeners.append(self.joined)
        signals.subscribe(self._on_signal)

    # ------------------------------------------------------------------ the socket's hooks

    async def start(self, origin: Connection, message_id: str) -> None:
        """Answer the stored message ``message_id`` of ``origin``'s user."""
        run = Run(
            origin.user_id,
            origin.user_name,
            origin.session_hash,
            origin.tab,
            message_id,
            origin.connected_at,
            origin.expires_at,
            origin.deadline,
        )
        waiting = sum(r.waiting for r in self._runs.get(run.user_id, {}).values())
        if waiting >= WAITING_PER_USER:
            await self._end(run, self._error_frame(run, failure("queue_full")))
            return
        self._runs.setdefault(run.user_id, {})[message_id] = run
        run.entry = OpenRun(message_id, run.run_id, self.hub.replica, self.clock())
        run.task = asyncio.create_task(self._run(run))
        run.task.add_done_callback(lambda _task: self._forget(run))
        try:
            await self.board.open(run.user_id, run.entry)
        except StorageUnavailable:  # the next lease refresh puts it there
            log.warning("the run board is unavailable: run %s is known here only", run.run_id)

    async def joined(self, conn: Connection) -> None:
        """``conn`` joined (before its greeting): tell it every turn of its user that is open
        here, in the order they were asked, so its page does not take them for lost."""
        for run in list(self._runs.get(conn.user_id, {}).values()):
            if run.ended:
                continue
            if (run.session_hash, run.tab) != (conn.session_hash, conn.tab):
                run.watchers.append(conn)
            started = run.started or frames.run_started(run.thread_id, run.run_id, run.reply_to)
            await conn.send(dumps(started))
            for frame in _so_far(run):
                await conn.send(frame)
        await self.relayed.announce(conn, self._runs.get(conn.user_id, {}))

    async def stop_from(self, conn: Connection, message_id: str) -> None:
        """The Stop button on ``conn``: the run may be here or on the replica relaying it."""
        if not self.stop(conn.user_id, message_id):
            await self.relayed.stop(conn, message_id)

    def stop(self, user_id: int, message_id: str) -> bool:
        """Stop the run answering ``message_id``; ``False`` if none is waiting or streaming."""
        run = self._runs.get(user_id, {}).get(message_id)
        if run is None:
            return False
        self._cancel(run, CUT_STOPPED)
        return True

    def end_session(self, session_hash: bytes) -> int:
        """Cancel every run started from this session (it was signed out, revoked or expired)."""
        ended = [r for runs in self._runs.values() for r in runs.values()]
        ended = [r for r in ended if r.session_hash == session_hash]
        for run in ended:
            self._cancel(run, CUT_STOPPED)
        return len(ended)

    async def close(self) -> None:
        """Shutdown: cancel every run and wait until each has stored what it showed."""
        runs = [r for runs in self._runs.values() for r in runs.values()]
        for run in runs:
            self._cancel(run, CUT_STOPPED)
        for run in runs:
            if run.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await run.task

    # ------------------------------------------------------------------ one run

    def _cancel(self, run: Run, cut: str) -> None:
        if run.cut is not None or run.task is None or run.task.done():
            return
        run.cut = cut
        if run.began:  # otherwise it sees ``cut`` as it begins (a task cancelled before its
            run.task.cancel()  # first step would end without running a line of it)

    def _forget(self, run: Run) -> None:
        # A replica that listed it a moment ago may still ask for it: it is told it all.
        self._ended[(run.user_id, run.reply_to)] = (self.clock() + ENDED_KEPT_FOR, run)
        runs = self._runs.get(run.user_id)
        if runs is not None and runs.get(run.reply_to) is run:
            del runs[run.reply_to]
            if not runs:
                del self._runs[run.user_id]
                slot = self._slots.get(run.user_id)
                if slot is not None and not slot.locked():
                    del self._slots[run.user_id]

    async def _run(self, run: Run) -> None:
        try:
            await self._answer(run)
        finally:
            if run.entry is not None:
                with contextlib.suppress(StorageUnavailable):
                    await self.board.close(run.user_id, run.entry)

    async def _answer(self, run: Run) -> None:
        run.began = True
        if run.cut is not None:
            await self._end(run, self._error_frame(run, failure("stopped")))
            return
        slot = self._slots.setdefault(run.user_id, asyncio.Semaphore(self.runs_per_user))
        try:
            async with slot:  # in order: a further message waits for the current run
                run.waiting = False
                if self._streaming >= self.runs_per_server:
                    await self._end(run, self._error_frame(run, failure("server_busy")))
                    return
                self._streaming += 1
                try:
                    await self._stream(run)
                finally:
                    self._streaming -= 1
        except asyncio.CancelledError:
            if run.cut is None:
                raise
            # Stopped on purpose: answered below, and the task ends normally.
            asyncio.current_task().uncancel()
            if run.waiting:
                await self._end(run, self._error_frame(run, failure("stopped")))

    async def _stream(self, run: Run) -> None:
        shown = run.shown  # assistant messages open on the page: their text
        context = AgentContext(
            user=run.user_name,
            thread_id=run.thread_id,
            run_id=run.run_id,
            session_expires_at=run.session_expires_at,
            idle_timeout=self.idle_timeout,
            connected_since=run.connected_at,
            sockets_in_session=self.hub.count(run.session_hash),
        )
        session_left = min(run.session_expires_at, run.session_idle_until) - self.clock()
        limit = max(0.0, min(self.run_limit, session_left))
        deadline = asyncio.timeout(limit)
        try:
            conversation = await self.history.recent(run.user_id, CONVERSATION)
            cut = next((i for i, m in enumerate(conversation) if m.id == run.reply_to), None)
            if cut is not None:  # answer this message, even if other replies landed since
                conversation = conversation[: cut + 1]
            async with deadline:
                async for event in self.agent.run(conversation, context):
                    frame = event_frame(event)
                    kind = frame["type"]
                    if kind == "RUN_ERROR":  # the agent ended its own run with words
                        reason = RunFailure(frame.get("code") or "agent_error", frame["message"])
                        await self._fail(run, shown, reason)
                        return
                    async with run.relaying:
                        await self._step(run, frame)
        except asyncio.CancelledError:
            await self._keep_shown(run, shown, CUT_STOPPED)
            if run.cut is not None:
                await self._end(run, self._error_frame(run, failure("stopped")))
            raise
        except TimeoutError:
            if not deadline.expired():  # not our deadline: the agent's own failure
                log.exception("agent run failed")
                await self._fail(run, shown, failure("agent_error"))
            elif limit < self.run_limit:  # the session ends first: nobody is there to read it
                await self._keep_shown(run, shown, CUT_STOPPED)
            else:
                await self._fail(run, shown, failure("run_too_long", duration=duration(limit)))
        except RunFailed as failed:
            await self._fail(run, shown, failed.failure)
        except Exception:
            log.exception("agent run failed")
            await self._fail(run, shown, failure("agent_error"))

    async def _step(self, run: Run, frame: dict) -> None:
        """One event of the agent: what the run has shown changes, then it is sent."""
        shown, kind = run.shown, frame["type"]
        if kind in RUN_SCOPED:
            frame["metadata"] = {REPLY_TO: run.reply_to}
            if kind == "RUN_STARTED":
                run.started = frame
            else:
                run.ended = True
        elif kind == "TEXT_MESSAGE_START":
            shown[frame["messageId"]] = []
        elif kind == "TEXT_MESSAGE_CONTENT":
            shown.setdefault(frame["messageId"], []).append(frame["delta"])
        elif kind == "TEXT_MESSAGE_END":
            message_id = frame["messageId"]
            text = "".join(shown.pop(message_id, []))
            if text:
                await self.history.add(run.user_id, message_id, "assistant", text)
                run.told.append((message_id, text, True))
        await self._send(run, dumps(frame))

    async def _fail(self, run: Run, shown: dict[str, list[str]], reason: RunFailure) -> None:
        await self._keep_shown(run, shown, CUT_FAILED)
        await self._end(run, self._error_frame(run, reason))

    async def _keep_shown(self, run: Run, shown: dict[str, list[str]], cut: str) -> None:
        """Store the part of each reply that reached the page, marked as cut."""
        async with run.relaying:
            for message_id, pieces in shown.items():
                text = "".join(pieces)
                if text:
                    run.told.append((message_id, text, False))  # cut: no end of its own
                    try:
                        await self.history.add(run.user_id, message_id, "assistant", text, cut=cut)
                    except Exception:  # the run ends either way; the page already shows it
                        log.warning("a cut reply could not be stored", exc_info=True)
            shown.clear()

    def _error_frame(self, run: Run, reason: RunFailure) -> str:
        return dumps(frames.run_error(reason.message, reason.code, run.reply_to))

    async def _end(self, run: Run, frame: str) -> None:
        """Send the frame that ends ``run``; from here on, a socket that joins is not told
        of it."""
        async with run.relaying:
            run.ended = True
            await self._send(run, frame)

    async def _send(self, run: Run, frame: str) -> None:
        """To the tab's current socket, to the sockets that joined while it ran, and to those
        on other replicas that asked for it."""
        target = self.hub.current(run.session_hash, run.tab)
        if target is not None:
            await target.send(frame)
        if run.watchers:
            run.watchers = [w for w in run.watchers if not (w.closing or w.ws.closed)]
            for watcher in run.watchers:
                if watcher is not target:
                    await watcher.send(frame)
        if run.ended and run.end_frame is None:
            run.end_frame = frame
        if run.remote:  # the caller holds run.relaying
            await self._relay(run, list(run.remote), [frame], last=run.ended)

    # ------------------------------------------------------------------ across replicas

    async def _relay(
        self, run: Run, watchers: list[RemoteWatcher], frames_: list[str], last: bool = False
    ) -> None:
        """Publish ``frames_`` for ``watchers``, in order (the caller holds run.relaying)."""
        for index, frame in enumerate(frames_):
            for w in watchers:
                relayed = RunRelayed(
                    w.replica,
                    w.session,
                    w.tab,
                    run.reply_to,
                    frame,
                    last=last and index == len(frames_) - 1,
                )
                try:
                    await self.signals.publish(relayed)
                except StorageUnavailable:  # that socket misses the rest; its page reads
                    return  # the stored reply in the greeting of its next socket

    async def _on_signal(self, signal: Signal) -> None:
        if isinstance(signal, RunAsked) and signal.replica == self.hub.replica:
            await self._asked(signal)

    async def _asked(self, asked: RunAsked) -> None:
        run = self._runs.get(asked.user_id, {}).get(asked.reply_to)
        if asked.action == STOP_ASKED:
            self.stop(asked.user_id, asked.reply_to)
            return
        if run is None:  # ended a moment ago, or not known here at all
            _until, run = self._ended.get((asked.user_id, asked.reply_to), (0.0, None))
        watcher = RemoteWatcher(asked.asker, asked.session, asked.tab)
        if run is None:
            gone = RunRelayed(asked.asker, asked.session, asked.tab, asked.reply_to, None)
            with contextlib.suppress(StorageUnavailable):
                await self.signals.publish(gone)
            return
        async with run.relaying:  # all it has shown so far, then (if it goes on) the rest
            replay = [*_told(run), *_so_far(run)]
            if run.end_frame is not None:
                replay.append(run.end_frame)
            elif watcher not in run.remote:
                run.remote.append(watcher)
            await self._relay(run, [watcher], replay, last=run.end_frame is not None)

    async def keep_leases(self) -> None:
        """Refresh this replica's runs on the board; check the runs relayed to its sockets."""
        held = [
            (run.user_id, run.entry)
            for runs in self._runs.values()
            for run in runs.values()
            if run.entry is not None and not run.ended
        ]
        await self.board.refresh(held)
        now = self.clock()
        for key, (until, _run) in list(self._ended.items()):
            if until <= now:
                del self._ended[key]
        await self.relayed.check()

    async def run_leases(self, app: web.Application):
        async def loop() -> None:
            while True:
                await asyncio.sleep(LEASE_EVERY)
                try:
                    await self.keep_leases()
                except StorageUnavailable:
                    pass  # the storage is back soon; the runs go on meanwhile
                except Exception:  # the loop must never die
                    log.exception("run lease refresh failed")

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _so_far(run: Run) -> list[str]:
    """The text of each reply of ``run`` still open, from its start: the page replaces what it
    had, which may lack the frames sent while it had no socket, so nothing is missing or shown
    twice."""
    told = []
    for message_id, pieces in list(run.shown.items()):
        if text := "".join(pieces):
            told += _text_frames(message_id, text)
    return told


def _told(run: Run) -> list[str]:
    """The replies of ``run`` that ended, as the page was sent them."""
    told = []
    for message_id, text, ended in run.told:
        told += _text_frames(message_id, text)
        if ended:
            told.append(dumps(frames.text_end(message_id)))
    return told


def _text_frames(message_id: str, text: str) -> list[str]:
    return [dumps(frames.text_start(message_id)), dumps(frames.text_content(message_id, text))]


RUNS = web.AppKey("runs", RunManager)
