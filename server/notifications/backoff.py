"""Retry delays of a failed delivery: exponential back-off with jitter (pure Python)."""

from __future__ import annotations

import random


def retry_delay_s(attempt: int, *, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1 = after the first failure): ``base * 2^(attempt-1)``, capped at
    `max_s`, then scaled by a uniform factor in [0.5, 1.5) so that many failed deliveries do not retry in step."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    nominal = min(max_s, base_s * 2.0 ** min(attempt - 1, 40))
    factor = 0.5 + (rng or random).random()
    return min(max_s, nominal * factor)
