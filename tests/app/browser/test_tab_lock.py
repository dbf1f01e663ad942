"""The Web Lock adapter against the fake lock manager: grants, queueing, withdrawal, theft."""

from __future__ import annotations

import asyncio

from app.browser.proxies import COUNTS
from app.browser.tab_lock import TabLock
from tests.app.browser import fakejs


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def recording_lock(name: str = "L") -> tuple[TabLock, list]:
    events: list = []
    lock = TabLock(
        name,
        on_granted=lambda n: events.append(("granted", n)),
        on_lost=lambda n: events.append(("lost", n)),
    )
    return lock, events


async def test_a_free_lock_is_granted_held_and_released(shared_page):
    lock, events = recording_lock()
    lock.request(1, steal=False)
    await settle()
    assert events == [("granted", 1)] and lock.holds()
    lock.release(1)
    await settle()
    assert not lock.holds() and shared_page.navigator.locks.held == {}
    assert COUNTS["live_proxies"] == 0  # the callback proxy went with the request


async def test_a_queued_request_waits_and_can_be_withdrawn(shared_page):
    other = fakejs.OtherTab("L")
    other.take_lock()
    await settle()
    lock, events = recording_lock()
    lock.request(1, steal=False)
    await settle()
    assert events == [] and not lock.holds()
    lock.release(1)  # withdrawn: the other tab's release does not hand it to us
    await settle()
    other.release_lock()
    await settle()
    assert events == [] and shared_page.navigator.locks.held == {}
    assert COUNTS["live_proxies"] == 0


async def test_the_lock_passes_when_its_holder_lets_go(shared_page):
    other = fakejs.OtherTab("L")
    other.take_lock()
    await settle()
    lock, events = recording_lock()
    lock.request(1, steal=False)
    other.release_lock()
    await settle()
    assert events == [("granted", 1)]
    lock.release_all()
    await settle()


async def test_stealing_takes_the_lock_and_the_robbed_tab_hears_of_it(shared_page):
    lock, events = recording_lock()
    lock.request(1, steal=False)
    await settle()
    thief = fakejs.OtherTab("L")
    thief.take_lock(steal=True)
    await settle()
    assert events == [("granted", 1), ("lost", 1)] and not lock.holds()
    assert COUNTS["live_proxies"] == 0
    lock.request(2, steal=True)  # and back
    await settle()
    assert events[-1] == ("granted", 2)
    try:
        await thief.lost
    except fakejs.AbortError:
        pass
    else:
        raise AssertionError("the thief's lock should have been stolen back")
    lock.release_all()
    await settle()


async def test_a_grant_given_up_before_it_arrived_is_released_at_once(shared_page):
    other = fakejs.OtherTab("L")
    other.take_lock()
    await settle()
    lock, events = recording_lock()
    lock.request(1, steal=True)
    lock.release(1)  # before the browser ran the callback
    await settle()
    assert events == [] and shared_page.navigator.locks.held == {}
    lock.release(1)  # twice is once
    lock.release(7)  # unknown: nothing


async def test_the_lock_is_there_only_where_the_browser_has_it(page):
    assert not TabLock.available()
    fakejs.reset(shared=True)
    assert TabLock.available()
