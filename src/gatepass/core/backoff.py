"""Retry delays: exponential backoff, capped, with jitter (the randomness is passed in)."""

from __future__ import annotations


def delay(attempt: int, *, base: float, cap: float, rand: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first failure).

    "Equal jitter": half of ``min(cap, base * 2**(attempt-1))`` for sure, the other half scaled
    by ``rand`` in [0, 1). The sure half keeps the delays growing, the random half keeps many
    senders that failed at once (a receiver down) from all retrying at the same moment."""
    if attempt < 1 or not 0.0 <= rand < 1.0:
        raise ValueError("attempt counts from 1, rand is in [0, 1)")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 60))
    return ceiling / 2 + rand * ceiling / 2
