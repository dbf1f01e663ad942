"""The page against a real agent nobody here wrote: Chromium, a real ``server.py`` with
``--agent-url``, and Pydantic AI's AG-UI app under uvicorn (tests/agui_upstream.py: its agent
on ``FunctionModel``, one tool, prompts that misbehave on purpose)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import PageWatch, chat_open, make_pages, open_app, send, settled, sign_in
from tests.agui_upstream import UpstreamProcess
from tests.support import PASSWORD, ServerProcess, add_users

USERS = (
    "agent-ada", "agent-bob", "agent-cy", "agent-dee", "agent-eve", "agent-fay", "agent-gus",
)  # fmt: skip
REPLY = '.chat-message[data-role="assistant"]'
SEND = "#chat-send"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory) -> Iterator[UpstreamProcess]:
    process = UpstreamProcess(tmp_path_factory.mktemp("agent") / "uvicorn.log").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def relay(tmp_path_factory, upstream) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("agent") / "relay.db"
    add_users(db, USERS, PASSWORD)
    server = ServerProcess(
        db,
        "--agent-url",
        upstream.url,
        "--agent-timeout",
        "2",
        "--login-attempts-per-address",
        "1000",
    ).start()
    yield server
    server.stop()


@pytest.fixture
def agent_pages(browser, relay):
    yield from make_pages(browser, relay.url)


class Frames:
    """What the page's socket received, as Playwright saw it on the wire."""

    def __init__(self, page: Page) -> None:
        self.received: list[dict] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._add))

    def _add(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            self.received.append(json.loads(payload))

    def of(self, kind: str) -> list[dict]:
        return [f for f in self.received if f.get("type") == kind]


def chatting(agent_pages, name: str) -> tuple[Page, PageWatch, Frames]:
    page, watch = agent_pages.new()
    frames = Frames(page)
    open_app(page)
    sign_in(page, name)
    chat_open(page)
    return page, watch, frames


def run_id(frames: Frames) -> str:
    """The run id of the turn that streams now: the id the relay sent upstream (its
    RUN_STARTED came before the text the caller waited for)."""
    return frames.of("RUN_STARTED")[-1]["runId"]


def upstream_saw(upstream: UpstreamProcess, run: str, outcome: str, within: float = 5.0) -> bool:
    """Whether the upstream reports ``outcome`` for ``run`` before ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with urllib.request.urlopen(upstream.observed_url, timeout=2) as response:
            if json.loads(response.read()).get(run, {}).get("outcome") == outcome:
                return True
        time.sleep(0.05)
    return False


def last_reply_text(page: Page) -> str:
    return page.locator(f"{REPLY} .chat-text").last.inner_text().strip()


def test_a_streamed_reply_arrives_in_the_page(agent_pages):
    page, _, frames = chatting(agent_pages, "agent-ada")
    send(page, "hello relay")
    page.wait_for_selector(f'{REPLY}[data-status="done"]')
    assert last_reply_text(page) == "You said: hello relay. Hello from Pydantic AI."
    assert len(frames.of("TEXT_MESSAGE_CONTENT")) > 3  # it came in pieces
    assert page.locator(SEND).inner_text() == "Send"


def test_a_tool_call_shows_as_a_step_and_then_the_answer(agent_pages):
    page, _, _ = chatting(agent_pages, "agent-bob")
    send(page, "weather in Paris")
    page.wait_for_selector(f'{REPLY}[data-status="done"]')
    tool = page.locator('.chat-activity[data-kind="tool"]')
    assert tool.get_attribute("data-status") == "done"
    summary = tool.locator("summary")
    assert summary.inner_text() == "Used the weather tool ✓"
    assert last_reply_text(page) == "It is sunny in Paris today."
    lines = page.eval_on_selector_all(".chat-list > li", "items => items.map(i => i.className)")
    assert lines == ["chat-message", "chat-activity", "chat-message"]  # question, tool, answer
    # Collapsed; the keyboard opens it, and a screen reader is told it is expanded.
    body = tool.locator(".chat-activity-body")
    assert body.is_hidden()
    summary.press("Enter")  # focuses it, then the key: nothing can take the focus between
    expect(body).to_be_visible()
    assert "sunny in Paris" in body.inner_text()
    assert '{"city":"Paris"}' in body.inner_text().replace(" ", "")
    assert tool.locator("details").evaluate("d => d.open") is True


def test_stop_mid_stream_ends_the_upstream_request(agent_pages, upstream):
    page, _, frames = chatting(agent_pages, "agent-cy")
    send(page, "count slowly")
    page.wait_for_function(
        "(document.querySelector('.chat-message[data-role=assistant] .chat-text') || {})"
        ".textContent?.startsWith('1 2 3 ')"
    )
    run = run_id(frames)
    assert page.locator(SEND).inner_text() == "Stop"
    page.click(SEND)
    page.wait_for_selector(f'{REPLY}[data-status="stopped"]')
    assert upstream_saw(upstream, run, "disconnected")
    reply = page.locator(REPLY).last
    assert reply.locator(".chat-state").inner_text() == "Stopped."
    assert reply.locator(".chat-turn-retry").count() == 0
    assert page.locator(SEND).inner_text() == "Send"
    shown = last_reply_text(page)
    assert shown.startswith("1 2 3") and len(shown.split()) < 400
    send(page, "and now")
    page.wait_for_function(
        "[...document.querySelectorAll('.chat-message[data-role=assistant]')].at(-1)"
        ".dataset.status === 'done'"
    )
    assert last_reply_text(page) == "You said: and now. Hello from Pydantic AI."


@pytest.mark.parametrize(
    ("user", "prompt", "words"),
    [
        ("agent-dee", "please fail", "The assistant service failed (HTTP 500)."),
        ("agent-eve", "please stall", "did not start answering within 2 seconds."),
    ],
)
def test_an_upstream_failure_shows_clear_words_and_the_next_turn_works(
    agent_pages, user, prompt, words
):
    page, _, _ = chatting(agent_pages, user)
    send(page, prompt)
    failed = page.locator(f'{REPLY}[data-status="failed"]').first
    failed.wait_for(timeout=30_000)
    assert words in failed.locator(".chat-state").inner_text()
    assert page.locator("#chat-input").is_enabled()
    send(page, "are you back")
    page.wait_for_selector(f'{REPLY}[data-status="done"]')
    assert last_reply_text(page) == "You said: are you back. Hello from Pydantic AI."
    # The failed turn's Retry asks the same question again, as a new message.
    failed.locator(".chat-turn-retry").click()
    users = page.locator('.chat-message[data-role="user"] .chat-text')
    assert users.all_inner_texts() == [prompt, "are you back", prompt]
    page.locator(f'{REPLY}[data-status="failed"]').nth(1).wait_for(timeout=30_000)
    assert failed.locator(".chat-turn-retry").count() == 0


def test_sign_out_during_a_run_cancels_it(agent_pages, upstream):
    page, _, frames = chatting(agent_pages, "agent-fay")
    send(page, "count slowly")
    page.wait_for_selector(f"{REPLY} .chat-text:not(:empty)")
    run = run_id(frames)
    page.click("#logout")
    settled(page, "anonymous")
    assert upstream_saw(upstream, run, "disconnected")


def test_stop_and_retry_pressed_in_a_follower_tab_reach_the_leader_s_socket(agent_pages, upstream):
    """Two tabs share one socket (the leader's): the follower shows the running answer, its
    Stop ends the upstream request, and its Retry of a failed turn asks again once."""
    leader, _, frames = chatting(agent_pages, "agent-gus")
    follower, _ = agent_pages.new()
    open_app(follower)
    settled(follower, "authenticated")
    follower.wait_for_selector('#chat-panel[data-sharing="follower"][data-connection="open"]')
    send(follower, "count slowly")
    follower.wait_for_function(
        "(document.querySelector('.chat-message[data-role=assistant] .chat-text') || {})"
        ".textContent?.startsWith('1 2 3 ')"
    )
    assert follower.locator(SEND).inner_text() == "Stop"
    follower.click(SEND)
    follower.wait_for_selector(f'{REPLY}[data-status="stopped"]')
    assert upstream_saw(upstream, run_id(frames), "disconnected")
    leader.wait_for_selector(f'{REPLY}[data-status="stopped"]')
    assert [p.locator(SEND).inner_text() for p in (leader, follower)] == ["Send", "Send"]

    send(follower, "please fail")
    failed = follower.locator(f'{REPLY}[data-status="failed"]').first
    failed.wait_for(timeout=30_000)
    failed.locator(".chat-turn-retry").click()
    follower.locator(f'{REPLY}[data-status="failed"]').nth(1).wait_for(timeout=30_000)
    questions = ["count slowly", "please fail", "please fail"]
    for page in (leader, follower):
        texts = page.locator('.chat-message[data-role="user"] .chat-text')
        assert texts.all_inner_texts() == questions
    assert len(frames.of("RUN_STARTED")) == 3  # one run per question: the retry went out once
