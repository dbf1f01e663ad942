"""Named timers: one per name, counted, and following a changed scale while they run."""

from __future__ import annotations

import asyncio

from app.browser.proxies import COUNTS
from app.browser.timers import Timers


async def test_a_running_timer_follows_a_faster_scale_and_fires_once(page):
    scale = [1.0]
    fired: list[str] = []
    timers = Timers(lambda: scale[0])
    timers.start("backoff", 60.0, lambda: fired.append("backoff"))
    timers.start("backoff", 60.0, lambda: fired.append("again"))  # replaces, never doubles
    assert COUNTS["live_timers"] == 1
    scale[0] = 6000.0  # a minute is now 10 ms
    timers.rescale()
    async with asyncio.timeout(2):
        while not fired:
            await asyncio.sleep(0.005)
    assert fired == ["again"] and COUNTS["live_timers"] == 0 and not timers.running("backoff")


async def test_cancel_all_leaves_nothing_counted(page):
    timers = Timers()
    for name in ("a", "b"):
        timers.start(name, 5.0, lambda: None)
    timers.cancel_all()
    assert COUNTS["live_timers"] == 0
