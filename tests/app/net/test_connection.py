"""The managed socket, driven event by event with a seeded random source and explicit times."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from app.net.connection import (
    ALL_TIMERS,
    SOCKET_TIMERS,
    CancelTimer,
    CheckSession,
    Closed,
    CloseSocket,
    Conn,
    ConnState,
    Flush,
    Offline,
    Online,
    Opened,
    OpenSocket,
    Received,
    RetryRequested,
    SendPing,
    SessionChecked,
    SessionEnded,
    Start,
    StartTimer,
    Stop,
    Timer,
    TimerFired,
    Visible,
    Welcome,
    transition,
    ui_state,
)

S = ConnState


def rng():
    return random.Random(42)


def run(conn, *events):
    effects = []
    for event in events:
        conn, fx = transition(conn, event, rng())
        effects += fx
    return conn, effects


def open_conn(now=0.0):
    return run(Conn(), Start(now), Opened(1, now), Welcome(1, now))[0]


def backoff_delay(effects):
    return next(e.delay for e in effects if isinstance(e, StartTimer) and e.timer is Timer.BACKOFF)


def test_start_opens_one_socket_with_a_handshake_deadline():
    conn, effects = run(Conn(), Start(0.0))
    assert conn.state is S.CONNECTING and conn.generation == 1
    assert effects == [
        CancelTimer(Timer.BACKOFF),
        OpenSocket(1),
        StartTimer(Timer.HANDSHAKE, 10.0, 1),
    ]


def test_open_only_after_the_server_welcome_then_flush_the_outbox():
    conn, effects = run(Conn(), Start(0.0), Opened(1, 0.1))
    assert conn.state is S.CONNECTING
    conn, effects = run(conn, Welcome(1, 0.2))
    assert conn.state is S.OPEN and ui_state(conn) == "open"
    assert Flush(1) in effects
    assert StartTimer(Timer.PING, 25.0, 1) in effects
    assert StartTimer(Timer.STABLE, 5.0, 1) in effects


def test_start_while_offline_makes_no_attempt():
    conn, effects = run(Conn(online=False), Start(0.0))
    assert conn.state is S.OFFLINE and effects == []
    conn, effects = run(conn, Online(1.0))
    assert conn.state is S.CONNECTING and OpenSocket(1) in effects


def test_stop_closes_with_1000_and_cancels_every_timer():
    conn, effects = run(open_conn(), Stop())
    assert conn.state is S.CLOSED
    assert CloseSocket(1, 1000, "signed out") in effects
    assert {e.timer for e in effects if isinstance(e, CancelTimer)} == set(ALL_TIMERS)


def test_4401_signs_out_and_never_retries():
    conn, effects = run(open_conn(), Closed(1, 4401, 5.0))
    assert conn.state is S.CLOSED
    assert SessionEnded() in effects
    assert not [e for e in effects if isinstance(e, OpenSocket | StartTimer)]
    # nothing brings it back except a new Start
    for event in (TimerFired(Timer.BACKOFF, 1, 30.0), Online(31.0), RetryRequested(32.0)):
        assert transition(conn, event, rng()) == (conn, [])


@pytest.mark.parametrize("code", [1006, 1011, 1013, 1014, None])
def test_network_failures_back_off_within_the_exact_window(code):
    conn, effects = run(open_conn(), Closed(1, code, 10.0))
    assert conn.state is S.BACKOFF and conn.failures == 1
    assert 0.5 <= backoff_delay(effects) <= 1.0  # attempt 0: base + U(0, 0.5)
    assert conn.retry_at == pytest.approx(10.0 + backoff_delay(effects))
    assert ui_state(conn) == "reconnecting"


def test_backoff_windows_grow_per_consecutive_failure():
    conn = open_conn()
    windows = [
        (0.5, 1.0),
        (0.5, 1.5),
        (0.5, 2.5),
        (0.5, 4.5),
        (0.5, 8.5),
        (0.5, 16.5),
        (0.5, 20.0),
        (0.5, 20.0),
    ]
    gen = 1
    for low, high in windows:
        conn, effects = run(conn, Closed(gen, 1006, 0.0))
        assert low <= backoff_delay(effects) <= high
        conn, effects = run(conn, TimerFired(Timer.BACKOFF, gen, 0.0))
        gen = conn.generation
        assert OpenSocket(gen) in effects


def test_counter_resets_only_after_five_stable_seconds():
    conn, _ = run(
        open_conn(),
        Closed(1, 1006, 0.0),
        TimerFired(Timer.BACKOFF, 1, 1.0),
        Opened(2, 1.0),
        Welcome(2, 1.0),
    )
    assert conn.failures == 1  # open, but not yet stable
    unstable, effects = run(conn, Closed(2, 1006, 3.0))
    assert unstable.failures == 2 and 0.5 <= backoff_delay(effects) <= 1.5
    stable, _ = run(conn, TimerFired(Timer.STABLE, 2, 6.0))
    assert stable.failures == 0


@pytest.mark.parametrize("code", [1001, 1012])
def test_restart_spreads_the_first_reconnect_over_five_seconds(code):
    delays = set()
    for seed in range(200):
        _, effects = transition(open_conn(), Closed(1, code, 0.0), random.Random(seed))
        delays.add(backoff_delay(effects))
    assert min(delays) >= 0.0 and max(delays) <= 5.0
    assert min(delays) < 0.5 and max(delays) > 4.5  # really spread, not the usual window


def test_rate_limited_retries_from_the_cap():
    conn, effects = run(open_conn(), Closed(1, 4429, 0.0))
    assert backoff_delay(effects) == 20.0 and conn.state is S.BACKOFF


@pytest.mark.parametrize("code", [1003, 1008, 1009, 4400, 4403, 4409])
def test_codes_that_would_fail_again_stop_and_wait_for_the_user(code):
    conn, effects = run(open_conn(), Closed(1, code, 0.0))
    assert conn.state is S.FAILED and conn.last_code == code and ui_state(conn) == "failed"
    assert not [e for e in effects if isinstance(e, OpenSocket | StartTimer)]
    conn, effects = run(conn, RetryRequested(1.0))
    assert conn.state is S.CONNECTING and OpenSocket(2) in effects


def test_events_from_an_old_socket_are_ignored():
    conn, _ = run(open_conn(), Closed(1, 1006, 0.0), TimerFired(Timer.BACKOFF, 1, 1.0))
    assert conn.generation == 2
    for stale in (Opened(1, 2.0), Welcome(1, 2.0), Closed(1, 4401, 2.0), Received(1, 2.0)):
        assert transition(conn, stale, rng()) == (conn, [])


def test_five_consecutive_failures_degrade_and_check_the_session():
    conn, gen, checks = open_conn(), 1, 0
    for _ in range(5):
        conn, effects = run(conn, Closed(gen, 1006, 0.0))
        checks += effects.count(CheckSession())
        conn, _ = run(conn, TimerFired(Timer.BACKOFF, gen, 0.0))
        gen = conn.generation
    assert conn.degraded and checks == 1


def test_a_401_from_the_session_check_signs_out():
    conn, _ = run(open_conn(), Closed(1, 1006, 0.0))
    conn, effects = run(conn, SessionChecked(valid=False))
    assert conn.state is S.CLOSED and SessionEnded() in effects
    assert CancelTimer(Timer.BACKOFF) in effects


def test_no_attempts_while_offline_and_an_immediate_one_on_online():
    conn, _ = run(open_conn(), Closed(1, 1006, 0.0))
    conn, effects = run(conn, Offline())
    assert conn.state is S.OFFLINE and effects == [CancelTimer(Timer.BACKOFF)]
    assert transition(conn, TimerFired(Timer.BACKOFF, 1, 5.0), rng()) == (conn, [])
    conn, effects = run(conn, Online(6.0))
    assert conn.state is S.CONNECTING and OpenSocket(2) in effects


def test_failure_while_offline_waits_for_online():
    conn, _ = run(open_conn(), Offline())
    assert conn.state is S.OPEN  # an open socket may still work
    conn, effects = run(conn, Closed(1, 1006, 1.0))
    assert conn.state is S.OFFLINE
    assert not [e for e in effects if isinstance(e, StartTimer | OpenSocket)]


def test_ping_every_25_seconds():
    _conn, effects = run(open_conn(), TimerFired(Timer.PING, 1, 25.0))
    assert effects == [SendPing(1), StartTimer(Timer.PING, 25.0, 1)]


def test_nothing_received_for_35_seconds_means_dead_and_replaced():
    conn = open_conn(now=0.0)
    alive, effects = run(conn, Received(1, 20.0), TimerFired(Timer.LIVENESS, 1, 50.0))
    assert alive.state is S.OPEN  # 30 s since the last frame
    dead, effects = run(alive, TimerFired(Timer.LIVENESS, 1, 55.0))
    assert dead.state is S.BACKOFF
    assert CloseSocket(1, 4000, "no answer from the server") in effects


def test_visible_tab_probes_and_a_silent_socket_is_replaced():
    conn, effects = run(open_conn(), Visible(100.0))
    assert SendPing(1) in effects and StartTimer(Timer.PROBE, 5.0, 1) in effects
    answered, _ = run(conn, Received(1, 101.0), TimerFired(Timer.PROBE, 1, 105.0))
    assert answered.state is S.OPEN
    silent, effects = run(conn, TimerFired(Timer.PROBE, 1, 105.0))
    assert silent.state is S.BACKOFF


def test_handshake_timeout_closes_with_4408_and_retries():
    conn, effects = run(Conn(), Start(0.0), TimerFired(Timer.HANDSHAKE, 1, 10.0))
    assert conn.state is S.BACKOFF
    assert CloseSocket(1, 4408, "handshake timed out") in effects


def test_every_lost_socket_cancels_its_timers():
    _, effects = run(open_conn(), Closed(1, 1006, 0.0))
    assert {e.timer for e in effects if isinstance(e, CancelTimer)} >= set(SOCKET_TIMERS)


def test_ui_states():
    assert ui_state(Conn()) == "connecting"
    assert ui_state(replace(Conn(), state=S.CONNECTING, opened_once=True)) == "reconnecting"
    assert ui_state(replace(Conn(), state=S.OFFLINE)) == "offline"


def test_a_normal_close_from_the_server_ends_without_a_retry():
    conn, effects = run(open_conn(), Closed(1, 1000, 1.0))
    assert conn.state is S.CLOSED and not [e for e in effects if isinstance(e, StartTimer)]


def test_coming_back_online_while_connected_only_notes_it():
    conn = run(open_conn(), Offline())[0]
    assert not conn.online
    back, effects = run(conn, Online(2.0))
    assert back.online and back.state is S.OPEN and effects == []
