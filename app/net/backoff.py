"""Jittered exponential backoff, as DESIGN.md fixes it.

``delay = min(cap, base + U(0, min(cap, base * 2**attempt)))`` with base 0.5 s and cap 20 s.
The random source is passed in so tests can seed it::

    >>> import random
    >>> 0.5 <= Backoff().delay(0, random.Random(1)) <= 1.0
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class RandomSource(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 20.0

    def window(self, attempt: int) -> tuple[float, float]:
        """The closed interval the delay for ``attempt`` (0-based) is drawn from."""
        # 2**attempt grows without bound; clamp the exponent so huge counters stay finite.
        spread = min(self.cap, self.base * 2 ** min(attempt, 64))
        return min(self.cap, self.base), min(self.cap, self.base + spread)

    def delay(self, attempt: int, rng: RandomSource) -> float:
        low, high = self.window(attempt)
        return min(self.cap, low + rng.uniform(0.0, high - low))
