"""The tab channel adapter: JSON out, dicts in, nothing unreadable passed on."""

from __future__ import annotations

import asyncio

from app.browser.proxies import COUNTS
from app.browser.tab_channel import TabChannel
from tests.app.browser import fakejs


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_messages_cross_as_json_and_unreadable_ones_are_dropped(shared_page):
    heard: list = []
    channel = TabChannel("C", heard.append)
    other = fakejs.OtherTab("C")
    channel.post({"kind": "probe", "sender": "a"})
    other.say('{"kind": "hello", "sender": "b"}')
    other.say("not json")
    other.say(7)
    await settle()
    assert other.heard == ['{"kind": "probe", "sender": "a"}']
    assert heard == [{"kind": "hello", "sender": "b"}]
    channel.close()
    channel.close()  # twice is once
    channel.post({"kind": "late"})  # after close: nowhere
    assert COUNTS["live_proxies"] == 0 and other.heard == ['{"kind": "probe", "sender": "a"}']


def test_the_channel_is_there_only_where_the_browser_has_it(page):
    assert not TabChannel.available()
    fakejs.reset(shared=True)
    assert TabChannel.available()
