"""What the chat panel says about a message, a tool call or a refusal, and what its send button
is, decided without the DOM.

>>> from app.chat.conversation import Message
>>> message_view(Message("m1", "user", "hi", "failed", None))
MessageView(who='You', state='Not sent', retry=True, retry_turn=None, turn_button=None)
>>> activity_view(Message("c1", "tool", '{"city": "Paris"}', "done", name="get_weather")).summary
'Looked up the weather ✓'
>>> send_button(answering=True, stopping=False, connected=True).label
'Stop'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.chat.conversation import Accepted, Message
from app.chat.cut import TurnButton, turn_button
from app.wire.limits import MAX_TEXT

WHO = {"user": "You", "assistant": "Assistant"}
USER_WORDS = {"pending": "Waiting to send", "sent": "", "failed": "Not sent"}
REPLY_WORDS = {
    "streaming": "Typing…",
    "done": "",
    "stopped": "Stopped.",
    "failed": "The answer was cut off.",
}
REFUSALS = {
    Accepted.TOO_LONG: f"Messages can be at most {MAX_TEXT} characters long.",
    Accepted.QUEUE_FULL: "Too many messages are waiting to be sent. Wait for the connection "
    "to come back, then send the rest.",
}
EMPTY_LOG = "No messages yet. Say hello, or type /help."


@dataclass(frozen=True)
class MessageView:
    who: str
    state: str  # the small status line under the text
    retry: bool  # a Retry button that resends this message of the user's (its own id)
    retry_turn: str | None  # a button that sends the user message with this id again
    turn_button: TurnButton | None = None  # what that button says: Retry, or Regenerate


def message_view(message: Message) -> MessageView:
    """For the user's messages and the agent's text (``user`` and ``assistant``)."""
    if message.role == "user":
        state = message.error or USER_WORDS.get(message.status, "")
        return MessageView("You", state, message.status == "failed", None)
    retry_turn = (
        message.reply_to
        if message.status == "failed" and message.error is not None and not message.retried
        else None
    )
    state = message.error or REPLY_WORDS.get(message.status, "")
    button = turn_button(message.lost) if retry_turn is not None else None
    return MessageView(WHO.get(message.role, ""), state, False, retry_turn, button)


# ------------------------------------------------------------------------ tool calls, steps

# A tool's name read as what it does: a leading verb in the past (done) and in the present
# (running), the rest as its object.  A name without one of these verbs reads as a tool.
VERBS = {
    "get": ("Looking up", "Looked up"),
    "lookup": ("Looking up", "Looked up"),
    "fetch": ("Fetching", "Fetched"),
    "search": ("Searching", "Searched"),
    "find": ("Looking for", "Looked for"),
    "list": ("Listing", "Listed"),
    "read": ("Reading", "Read"),
    "check": ("Checking", "Checked"),
    "create": ("Creating", "Created"),
    "update": ("Updating", "Updated"),
    "delete": ("Deleting", "Deleted"),
    "send": ("Sending", "Sent"),
    "run": ("Running", "Ran"),
    "calculate": ("Calculating", "Calculated"),
}
REASONING = {"streaming": "Thinking…", "done": "Reasoning"}
ENDINGS = {
    "running": "{present}…",
    "done": "{past} ✓",
    "stopped": "{present}: stopped",
    "failed": "{present}: did not finish",
}


def words_of(name: str) -> list[str]:
    """``get_weather``, ``getWeather``, ``get-weather`` and ``get weather`` all read
    ``['get', 'weather']``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [word.lower() for word in re.split(r"[\s_.:/-]+", spaced) if word]


def _phrases(name: str) -> tuple[str, str]:
    words = words_of(name)
    if words[:2] == ["look", "up"]:
        words = ["lookup", *words[2:]]
    if words and words[0] in VERBS:
        present, past = VERBS[words[0]]
        rest = " ".join(words[1:])
        thing = f" the {rest}" if rest else ""
        return present + thing, past + thing
    if not words:
        return "Using a tool", "Used a tool"
    tool = " ".join(words)
    return f"Using the {tool} tool", f"Used the {tool} tool"


@dataclass(frozen=True)
class ActivityView:
    kind: str  # "tool", "step" or "reasoning": the data-kind of its line
    summary: str  # the one line shown (a <summary> for tool calls and reasoning)
    details: str  # what opening it shows ("" for a step: it has nothing more)


def activity_view(message: Message) -> ActivityView:
    """The compact line for a tool call, a step or a block of reasoning (collapsed)."""
    ending = ENDINGS.get(message.status, "{present}…")
    if message.role == "tool":
        present, past = _phrases(message.name)
        details = f"Asked with: {message.text or '(nothing)'}"
        if message.result is not None:
            details += f"\nAnswer: {message.result}"
        return ActivityView("tool", ending.format(present=present, past=past), details)
    if message.role == "step":
        name = message.text[:1].upper() + message.text[1:]
        return ActivityView("step", ending.format(present=name, past=name), "")
    summary = REASONING.get(message.status) or ending.format(present="Reasoning")
    return ActivityView("reasoning", summary, message.text)


# ------------------------------------------------------------------------ the send button


@dataclass(frozen=True)
class SendButton:
    action: str  # "send" submits the form; "stop" stops the reply that is streaming
    label: str
    hint: str  # its accessible name, when it says more than the label
    disabled: bool


SEND = SendButton("send", "Send", "Send the message", False)
STOP = SendButton("stop", "Stop", "Stop the answer", False)
STOPPING = SendButton("stop", "Stopping…", "Stopping the answer", True)


def send_button(answering: bool, stopping: bool, connected: bool) -> SendButton:
    """Stop while an answer streams to an open socket (a message typed meanwhile still goes
    out with Enter, and waits its turn on the server); Send otherwise, because a stop cannot
    reach a server this page is not connected to."""
    if not (answering and connected):
        return SEND
    return STOPPING if stopping else STOP


def refusal(why: Accepted) -> str:
    """The notice for a message the outbox did not take (empty text needs no words)."""
    return REFUSALS.get(why, "")
