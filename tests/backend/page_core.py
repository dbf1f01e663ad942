"""The page's own chat core (:class:`app.chat.session.ChatSession`) fed what a real socket
carried, so a server test asserts what the user would see, not only the frames."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable

from app.chat.session import ChatSession, FrameReceived, Opened, SendText, Start
from app.wire import frames

# The guide echoes what it is asked, three words every 20 ms: this takes seconds to stream.
LONG = " ".join(["word"] * 1500)


def new_page() -> ChatSession:
    """A page whose first socket (generation 1) has just opened."""
    page = ChatSession(random.Random(1))
    page.handle(Start(0.0))
    page.handle(Opened(1, 0.0))
    return page


async def frames_until(ws, done: Callable[[dict], bool], timeout: float = 10.0) -> list[str]:
    """Raw frames up to and including the first that ``done`` accepts (as parsed JSON)."""
    seen: list[str] = []
    async with asyncio.timeout(timeout):
        while True:
            raw = await ws.recv()
            seen.append(raw)
            if done(json.loads(raw)):
                return seen


def of_type(kind: str) -> Callable[[dict], bool]:
    return lambda frame: frame["type"] == kind


def shown(page: ChatSession, raws: list[str], generation: int) -> None:
    for raw in raws:
        page.handle(FrameReceived(generation, raw, 1.0))


async def ask_long(ws, page: ChatSession, text: str = LONG) -> list[str]:
    """On a socket of generation 1: read the greeting, ask ``text`` as message ``m1`` as the
    user would, and return the frames up to the reply's first words (shown on the page too)."""
    shown(page, await frames_until(ws, of_type("history")), 1)
    page.handle(SendText("m1", text))
    await ws.send(json.dumps(frames.message("m1", text)))
    begun = await frames_until(ws, of_type("TEXT_MESSAGE_CONTENT"))
    shown(page, begun, 1)
    return begun
