"""Questions the server will never answer: found when history arrives, offered to regenerate.

A server that dies mid-reply (a crash, a kill, a replica that went away) forgets its runs and
never sends their end; what it had streamed was not stored either.  Its history then ends with
the user's words and nobody answering them.  The page decides that from two facts of the socket
it has now: the ``history`` frame, and the turns the server said it is answering (a socket that
joins while runs are open gets their ``RUN_STARTED`` before its greeting, waiting ones too)::

    >>> from app.chat.protocol import HistoryItem
    >>> items = (HistoryItem("m1", "user", "hi"), HistoryItem("a1", "assistant", "Hello"),
    ...          HistoryItem("m2", "user", "and then?"))
    >>> unanswered(items, answering=())
    ('m2',)
    >>> unanswered(items, answering=("m2",))
    ()

Only the questions after the last reply history holds count: an older question without a
reply was followed by a newer one, so its user has moved on (or regenerated it).  The page
shows such a turn cut off, with a "Regenerate" button that sends the question again as a new
message, through the outbox like anything typed, so it is carried out exactly once.  Why the
page and not the server: see :mod:`backend.runs` ("A run the server lost").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from app.chat.protocol import HistoryItem
from app.wire.agent_runs import SERVER_GONE, failure

LOST = failure(SERVER_GONE).message  # "The answer was cut off: the server stopped ..."


@dataclass(frozen=True)
class TurnButton:
    """The button under an answer that ended early: it asks the question again."""

    label: str
    name: str  # its accessible name


RETRY = TurnButton("Retry", "Retry: ask the question again")
REGENERATE = TurnButton("Regenerate", "Regenerate the answer: ask the question again")


def unanswered(items: Sequence[HistoryItem], answering: Collection[str]) -> tuple[str, ...]:
    """The ids of the questions at the end of ``items`` (after its last reply) that are not
    among the turns the server is ``answering``, oldest first."""
    tail: list[str] = []
    for item in reversed(items):
        if item.role != "user":
            break
        tail.append(item.id)
    return tuple(mid for mid in reversed(tail) if mid not in answering)


def turn_button(lost: bool) -> TurnButton:
    """Regenerate for an answer the server lost, Retry for one that failed in words."""
    return REGENERATE if lost else RETRY
