"""Which questions history leaves unanswered, and what the button under a cut answer says."""

from __future__ import annotations

import pytest

from app.chat.cut import REGENERATE, RETRY, turn_button, unanswered
from app.chat.protocol import HistoryItem

Q1, A1 = HistoryItem("q1", "user", "first"), HistoryItem("a1", "assistant", "answer")
Q2, Q3 = HistoryItem("q2", "user", "second"), HistoryItem("q3", "user", "third")


@pytest.mark.parametrize(
    ("items", "answering", "expected"),
    [
        ((), (), ()),
        ((Q1, A1), (), ()),  # answered
        ((Q1,), (), ("q1",)),  # the server died before anything was stored
        ((Q1,), ("q1",), ()),  # still being answered
        ((Q1, A1, Q2, Q3), (), ("q2", "q3")),  # every question after the last reply, in order
        ((Q1, A1, Q2, Q3), ("q2",), ("q3",)),  # q3 waits on a server that names it too
        ((Q1, Q2, A1), (), ()),  # an older question followed by a newer one: moved on
    ],
)
def test_the_questions_after_the_last_reply_that_nobody_answers(items, answering, expected):
    assert unanswered(items, answering) == expected


def test_a_lost_answer_offers_regenerate_a_failed_one_retry():
    assert turn_button(lost=True) == REGENERATE
    assert turn_button(lost=False) == RETRY
    assert REGENERATE.label == "Regenerate" and "ask the question again" in REGENERATE.name
