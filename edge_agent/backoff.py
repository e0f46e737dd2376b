"""Exponential back-off with full jitter, shared by source reopening and the uplink."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays initial_s, 2·initial_s, 4·initial_s … capped at max_s, each scaled by a random factor in
    [1 - jitter, 1] so that many agents restarting together do not retry in lock step."""

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    attempts: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def next_delay_s(self) -> float:
        base = min(self.max_s, self.initial_s * (self.multiplier**self.attempts))
        self.attempts += 1
        return base * (1.0 - self.jitter * self._random.random())

    def reset(self) -> None:
        self.attempts = 0
