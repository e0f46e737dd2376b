"""Retry delays of a failed delivery: exponential back-off with jitter (pure Python)."""

from __future__ import annotations

import random


def retry_delay_s(attempt: int, *, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1 = after the first failure): the nominal ``base * 2^(attempt-1)``,
    capped at `max_s`, of which the second half is random ("equal jitter": uniform in [nominal/2, nominal)), so
    that deliveries that failed together do not retry in step, not even at the cap."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    nominal = min(max_s, base_s * 2.0 ** min(attempt - 1, 40))
    return nominal / 2 + (rng or random).random() * nominal / 2
