"""Stress content for the preview: the messages that break layouts when nobody looks.

Each function returns stored-history rows (``{id, role, text, created_at}``), the shape the
server's ``history`` frame carries, so the panel renders them through its normal path::

    >>> len(many_messages(300))
    300
"""

from __future__ import annotations

LOREM = (
    "Designers need to see what happens when a message keeps going well past the width of the "
    "panel, wraps across many lines, and still stays readable. "
)
# One unbroken "word" far wider than the panel (not a URL: nothing here may point off-origin).
LONG_WORD = "a-very-long-path-segment-without-any-spaces/" * 12


def _row(index: int, role: str, text: str) -> dict:
    return {"id": f"preview-{index}", "role": role, "text": text, "created_at": 0.0}


def _conversation(texts: list[tuple[str, str]]) -> list[dict]:
    return [_row(i, role, text) for i, (role, text) in enumerate(texts)]


def long_message() -> list[dict]:
    body = LOREM * 40
    return _conversation(
        [
            ("user", body + LONG_WORD),
            ("assistant", "You said:\n\n> " + body + "\n\n" + LONG_WORD),
        ]
    )


def many_messages(count: int = 300) -> list[dict]:
    return [
        _row(i, "user" if i % 2 == 0 else "assistant", f"Message {i + 1} of {count}")
        for i in range(count)
    ]


def bidirectional() -> list[dict]:
    return _conversation(
        [
            ("user", "مرحبا، كيف حالك اليوم؟"),
            ("assistant", "You said:\n\n> مرحبا، كيف حالك اليوم؟"),
            ("user", "שלום! The meeting is at 10:30 בבוקר, room 4B."),
            ("assistant", "Mixed: English, עברית and العربية in one line, with numbers 1234."),
            ("user", "(RTL in parentheses: [שלום]) and punctuation at the end!"),
        ]
    )


def emoji() -> list[dict]:
    return _conversation(
        [
            ("user", "👋🏽 Hi! 🎉🎉🎉"),
            ("assistant", "Family 👨‍👩‍👧‍👦, flags 🇯🇵🇧🇷🇿🇦, skin tones 👍🏻👍🏿, keycaps 1️⃣#️⃣"),
            ("user", "🧑‍💻" * 60),
        ]
    )


def markup() -> list[dict]:
    return _conversation(
        [
            ("user", '<img src=x onerror="alert(1)"> <b>not bold</b> <script>alert(2)</script>'),
            (
                "assistant",
                'Shown as text, never as HTML: <a href="javascript:alert(3)">click</a> '
                "&amp; <iframe src=//evil.invalid></iframe>",
            ),
        ]
    )
