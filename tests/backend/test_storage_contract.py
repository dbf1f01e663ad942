"""One contract, two persistences under the same policy: SQLite (+ memory) and Redis (a real
``redis-server``), each opened by its URL.  Every test runs against both; a behaviour only one
of them has is a bug."""

from __future__ import annotations

import asyncio

import pytest

from backend.config import Settings
from backend.redis_storage import RUN_STALE_AFTER
from backend.storage import (
    Claim,
    OpenRun,
    RunAsked,
    RunRelayed,
    SessionClosed,
    Storage,
    StorageUnavailable,
    TabClaimed,
)
from backend.storage_url import open_storage
from backend.users import InvalidUser
from tests.backend.conftest import FakeClock
from tests.support import PASSWORD, free_port

SETTINGS = {"idle_timeout": 600.0, "absolute_timeout": 3600.0, "account_failures": 3}


@pytest.fixture(params=["sqlite", "redis"])
def storage_url(request, tmp_path) -> str:
    if request.param == "redis":
        return request.getfixturevalue("flushed_redis").url
    return f"sqlite:///{tmp_path / 'contract.db'}"


def opened(url: str, clock) -> Storage:
    return open_storage(url, Settings(clock=clock, storage_url=url, **SETTINGS))


@pytest.fixture
async def store(storage_url, clock):
    storage = opened(storage_url, clock)
    await storage.start()  # returns once signals are heard
    yield storage
    await storage.close()


async def user(store: Storage, name: str = "ada"):
    return await store.users.add(name, PASSWORD)


# ------------------------------------------------------------------------------ users


async def test_users_are_added_found_counted_and_unique(store):
    ada = await user(store)
    assert (await store.users.by_name("ada")) == ada
    assert await store.users.by_name("Ada") is None  # names are case-sensitive
    bob = await user(store, "bob")
    assert bob.id != ada.id and await store.users.count() == 2
    with pytest.raises(InvalidUser, match="already exists"):
        await user(store, "ada")
    with pytest.raises(InvalidUser):
        await store.users.add("no spaces allowed", PASSWORD)
    assert ada.password_hash.startswith("$argon2id$")


# ------------------------------------------------------------------------------ sessions


async def test_a_session_validates_slides_and_ends_when_idle(store, clock: FakeClock):
    ada = await user(store)
    token, session = await store.sessions.create(ada.id, ada.name)
    assert (session.user_id, session.user_name) == (ada.id, "ada")
    assert (await store.sessions.validate(token)).user_name == "ada"
    clock.advance(500)  # within the idle timeout: the use slides the deadline
    slid = await store.sessions.validate(token)
    assert slid is not None and slid.idle_expires_at == clock.now + 600
    assert await store.sessions.deadline(session.token_hash) == slid.idle_expires_at
    clock.advance(601)
    assert await store.sessions.validate(token) is None
    assert await store.sessions.deadline(session.token_hash) is None


async def test_a_session_ends_at_its_absolute_expiry_however_busy(store, clock):
    ada = await user(store)
    token, session = await store.sessions.create(ada.id, ada.name)
    for _ in range(6):
        clock.advance(590)
        assert await store.sessions.validate(token) is not None
    clock.advance(600)  # 4140 s > 3600 s
    assert await store.sessions.validate(token) is None
    assert session.expires_at == session.idle_expires_at - 600 + 3600


async def test_revoke_ends_a_session_and_unknown_tokens_are_nobody(store):
    ada = await user(store)
    token, session = await store.sessions.create(ada.id, ada.name)
    revoked = await store.sessions.revoke(token)
    assert revoked is not None and revoked.token_hash == session.token_hash
    assert await store.sessions.validate(token) is None
    assert await store.sessions.revoke(token) is None
    assert await store.sessions.validate("x" * 200) is None
    assert await store.sessions.validate(None) is None
    assert await store.sessions.validate_hash(session.token_hash) is None


async def test_revoke_all_ends_every_session_of_one_user_only(store):
    ada, bob = await user(store), await user(store, "bob")
    made = [await store.sessions.create(ada.id, ada.name) for _ in range(3)]
    bobs, _ = await store.sessions.create(bob.id, bob.name)
    await store.sessions.revoke(made[0][0])  # already gone: not ended again
    ended = await store.sessions.revoke_all(ada.id)
    assert sorted(ended) == sorted(session.token_hash for _, session in made[1:])
    for token, _ in made:
        assert await store.sessions.validate(token) is None
    assert await store.sessions.validate(bobs) is not None
    assert await store.sessions.revoke_all(ada.id) == []
    again, _ = await store.sessions.create(ada.id, ada.name)  # signing in afterwards works
    assert await store.sessions.validate(again) is not None


async def test_a_secret_is_made_once_and_kept(store, storage_url, clock):
    first = await store.persistence.secret("k", b"\x01" * 32)
    assert first == b"\x01" * 32
    assert await store.persistence.secret("k", b"\x02" * 32) == first
    assert await store.persistence.secret("other", b"\x03" * 32) == b"\x03" * 32
    reopened = opened(storage_url, clock)  # another replica, or after a restart
    assert await reopened.persistence.secret("k", b"\x04" * 32) == first
    await reopened.close()


# ------------------------------------------------------------------------------ throttling


async def test_account_failures_throttle_until_the_window_passes(store, clock):
    for _ in range(3):
        assert await store.throttle.check("ada", "1.2.3.4") is None
        await store.throttle.record("ada", "1.2.3.4", success=False)
    wait = await store.throttle.check("ada", "5.6.7.8")  # any address: the account is locked
    assert wait is not None and 1 <= wait <= 15 * 60
    assert await store.throttle.check("bob", "5.6.7.8") is None
    clock.advance(wait)
    assert await store.throttle.check("ada", "1.2.3.4") is None


async def test_a_success_clears_the_accounts_failures(store):
    for _ in range(2):
        await store.throttle.record("ada", "1.2.3.4", success=False)
    await store.throttle.record("ada", "1.2.3.4", success=True)
    await store.throttle.record("ada", "1.2.3.4", success=False)
    await store.throttle.record("ada", "1.2.3.4", success=False)
    assert await store.throttle.check("ada", "1.2.3.4") is None


async def test_addresses_are_limited_whatever_the_account(store):
    for index in range(30):
        await store.throttle.record(f"user{index}", "9.9.9.9", success=True)
    wait = await store.throttle.check("someone", "9.9.9.9")
    assert wait is not None and wait <= 5 * 60
    assert await store.throttle.check("someone", "9.9.9.8") is None


async def test_a_known_device_counts_its_failures_apart_from_the_accounts(store):
    for _ in range(3):
        await store.throttle.record("ada", "1.2.3.4", success=False)
    assert await store.throttle.check("ada", "5.6.7.8") is not None
    assert await store.throttle.check("ada", "5.6.7.8", device="d1") is None
    for _ in range(3):
        await store.throttle.record("ada", "5.6.7.8", success=False, device="d1")
    assert await store.throttle.check("ada", "5.6.7.8", device="d1") is not None
    assert await store.throttle.check("ada", "5.6.7.8", device="d2") is None
    await store.throttle.record("ada", "5.6.7.8", success=True, device="d2")
    assert await store.throttle.check("ada", "9.9.9.9") is not None  # still slowed down


async def test_device_cookies_are_bound_to_their_account_signed_and_expire(store, clock):
    cookie = await store.devices.issue("ada")
    device = await store.devices.recognise(cookie, "ada")
    assert device is not None and device in cookie
    assert await store.devices.recognise(cookie, "bob") is None
    _, issued, device_id, signature = cookie.split(":")
    assert await store.devices.recognise(f"bob:{issued}:{device_id}:{signature}", "bob") is None
    assert await store.devices.recognise(f"ada:{issued}:{device_id}:x{signature}", "ada") is None
    for junk in (None, "", "ada", "ada:x:y:z", "a" * 1000):
        assert await store.devices.recognise(junk, "ada") is None
    assert await store.devices.issue("ada") != cookie  # a device id per browser
    clock.advance(store.devices.lifetime)
    assert await store.devices.recognise(cookie, "ada") is None


# ------------------------------------------------------------------------------ history


async def test_history_keeps_order_limits_and_refuses_duplicates(store, clock):
    ada, bob = await user(store), await user(store, "bob")
    for index in range(5):
        clock.advance(1)
        stored = await store.history.add(ada.id, f"m{index}", "user", f"text {index}")
        assert stored is not None and stored.created_at == clock.now
    assert await store.history.add(ada.id, "m2", "user", "again") is None
    recent = await store.history.recent(ada.id, 3)
    assert [(m.id, m.text) for m in recent] == [(f"m{i}", f"text {i}") for i in (2, 3, 4)]
    assert await store.history.recent(bob.id) == []
    assert await store.history.add(bob.id, "m0", "assistant", "same id, other user") is not None


async def test_many_calls_at_once_are_served_not_refused(store):
    """A burst (hundreds of sockets greeted at once after a replica died) is more calls in
    flight than a client keeps connections: they wait their turn, none reads as an outage."""
    ada = await user(store)
    stored = await asyncio.gather(
        *(store.history.add(ada.id, f"m{index}", "user", "burst") for index in range(300))
    )
    assert all(message is not None for message in stored)
    recents = await asyncio.gather(*(store.history.recent(ada.id, 1) for _ in range(300)))
    assert all(len(recent) == 1 for recent in recents)


async def test_a_reply_shown_in_part_keeps_its_mark(store):
    ada = await user(store)
    await store.history.add(ada.id, "m1", "user", "hello")
    stored = await store.history.add(ada.id, "a1", "assistant", "half a rep", cut="stopped")
    assert stored is not None and stored.cut == "stopped"
    await store.history.add(ada.id, "a2", "assistant", "whole", cut=None)
    recent = await store.history.recent(ada.id)
    assert [(m.id, m.cut) for m in recent] == [("m1", None), ("a1", "stopped"), ("a2", None)]
    assert [m.wire().get("cut") for m in recent] == [None, "stopped", None]
    assert "cut" not in recent[2].wire()


# ------------------------------------------------------------------------------ presence


async def test_presence_one_socket_per_tab_and_a_limit_per_session(store):
    session = b"\x01" * 32
    assert await store.presence.claim(session, "t1", "a:1", 2) is Claim.OK
    assert await store.presence.claim(session, "t1", "b:2", 2) is Claim.REPLACED
    assert await store.presence.claim(session, "t2", "a:3", 2) is Claim.OK
    assert await store.presence.claim(session, "t3", "a:4", 2) is Claim.FULL
    await store.presence.release(session, "t1", "a:1")  # not the holder any more: no effect
    assert await store.presence.claim(session, "t3", "a:4", 2) is Claim.FULL
    await store.presence.release(session, "t1", "b:2")
    assert await store.presence.claim(session, "t3", "a:4", 2) is Claim.OK
    other = b"\x02" * 32
    assert await store.presence.claim(other, "t1", "c:1", 2) is Claim.OK


# ------------------------------------------------------------------------------ signals


async def test_signals_reach_every_subscriber(store):
    heard: list = []

    async def handler(signal) -> None:
        heard.append(signal)

    store.signals.subscribe(handler)
    sent = [
        SessionClosed(b"\x03" * 32, 4401, "signed out"),
        TabClaimed(b"\x04" * 32, "t", "o"),
        RunAsked("r1", 7, "m1", "watch", b"\x05" * 32, "*", "r2"),
        RunRelayed("r2", b"\x05" * 32, "*", "m1", '{"type":"x","delta":"é 👋"}', last=True),
        RunRelayed("r2", b"\x05" * 32, "*", "m1", None),
    ]
    for signal in sent:
        await store.signals.publish(signal)
    async with asyncio.timeout(5):
        while len(heard) < len(sent):
            await asyncio.sleep(0.01)
    assert heard == sent


# ------------------------------------------------------------------------------ open runs


async def test_the_run_board_lists_a_users_open_runs_oldest_first(store):
    first, second = OpenRun("m1", "run-1", "r1", 10.0), OpenRun("m2", "run-2", "r2", 11.0)
    await store.runs.open(7, second)
    await store.runs.open(7, first)
    await store.runs.open(8, OpenRun("m9", "run-9", "r1", 5.0))
    assert await store.runs.listed(7) == [first, second]
    await store.runs.close(7, OpenRun("m1", "run-1", "someone-else", 10.0))  # not its run
    assert await store.runs.listed(7) == [first, second]
    await store.runs.close(7, first)
    assert await store.runs.listed(7) == [second]
    await store.runs.refresh([(7, second)])
    assert await store.runs.listed(7) == [second] and await store.runs.listed(99) == []


# ------------------------------------------------------------------------------ shared only


async def test_a_dead_replicas_sockets_stop_counting_after_it_stops_refreshing(
    flushed_redis, clock
):
    storage = opened(flushed_redis.url, clock)
    session = b"\x05" * 32
    for tab in ("t1", "t2"):
        assert await storage.presence.claim(session, tab, f"dead:{tab}", 2) is Claim.OK
    assert await storage.presence.claim(session, "t3", "live:1", 2) is Claim.FULL
    clock.advance(20)
    await storage.presence.refresh([(session, "t2", "dead:t2")])  # t2's replica is alive
    clock.advance(15)  # t1 was last refreshed 35 s ago: its replica died
    assert await storage.presence.claim(session, "t3", "live:1", 2) is Claim.OK
    assert await storage.presence.claim(session, "t4", "live:2", 2) is Claim.FULL
    await storage.close()


async def test_a_dead_replicas_runs_leave_the_board_after_it_stops_refreshing(flushed_redis, clock):
    storage = opened(flushed_redis.url, clock)
    dead, live = OpenRun("m1", "run-1", "dead", 1.0), OpenRun("m2", "run-2", "live", 2.0)
    await storage.runs.open(7, dead)
    await storage.runs.open(7, live)
    clock.advance(RUN_STALE_AFTER - 1)
    await storage.runs.refresh([(7, live)])
    clock.advance(2)
    assert await storage.runs.listed(7) == [live]
    await storage.close()


async def test_an_unreachable_redis_is_refused_quickly_not_waited_for(clock):
    storage = opened(f"redis://127.0.0.1:{free_port()}/0", clock)
    for call in (
        storage.users.by_name("ada"),
        storage.sessions.validate("token"),
        storage.sessions.revoke_all(1),
        storage.devices.issue("ada"),
        storage.throttle.check("ada", "1.2.3.4"),
        storage.history.recent(1),
        storage.signals.publish(SessionClosed(b"\x06" * 32, 4401, "x")),
    ):
        with pytest.raises(StorageUnavailable):
            await call
    assert await storage.health() is False
    await storage.close()


def test_an_unknown_storage_url_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="sqlite:///PATH or redis://"):
        open_storage("mysql://x", Settings())


async def test_expired_sessions_are_purged_from_the_database(tmp_path, clock):
    storage = opened(f"sqlite:///{tmp_path / 'purge.db'}", clock)
    ada = await user(storage)
    await storage.sessions.create(ada.id, ada.name)
    assert await storage.sessions.purge_expired() == 0
    clock.advance(601)
    assert await storage.sessions.purge_expired() == 1
    await storage.close()
