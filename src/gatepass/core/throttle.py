"""Failed-login throttling policy (pure): reserve each attempt before the password is checked,
lock with back-off once a key's attempts reach its threshold.

An attempt is counted when it is *reserved*, before its Argon2id check, not when it has failed:
otherwise every request that arrives while the first failures are still being checked passes
the lock (issue 9, finding 1: 60 parallel guesses, 59 evaluated). A key allows an attempt only
while fewer than ``threshold`` are counted in its window, so however many arrive at once, at
most ``threshold`` are evaluated; the next one starts the lock and is refused. A success gives
its attempt back (``SqlThrottle.give_back``), or clears the key (a login from that address for
that account proved the password).

Locks double from ``base`` up to ``max_lock`` and never become permanent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum


@dataclass(frozen=True, slots=True)
class Policy:
    threshold: int
    window: float
    max_lock: float
    base: float = 30.0

    def lock_for(self, lockouts: int) -> float:
        return min(self.max_lock, self.base * 2 ** max(0, lockouts - 1))


@dataclass(frozen=True, slots=True)
class Counter:
    failures: int = 0  # attempts reserved in the window and not given back (pending or failed)
    window_start: float = 0.0
    lockouts: int = 0
    locked_until: float = 0.0

    def retry_after(self, now: float) -> float:
        return max(0.0, self.locked_until - now)

    def expires_at(self, policy: Policy) -> float:
        """When this counter says nothing any more (its window, lock and the memory of its
        lockouts all over): a row past it is the same as no row, and may be purged."""
        return max(self.window_start, self.locked_until) + policy.window


class Verdict(Enum):
    ALLOWED = "allowed"  # counted; the password may be checked
    LOCKED = "locked"  # refused: a lock is running
    LOCK_STARTED = "lock_started"  # refused: the threshold was reached, this starts the lock


def reserve(c: Counter, policy: Policy, now: float) -> tuple[Counter, Verdict]:
    """The counter after one more attempt is asked for, and the verdict on it."""
    if now < c.locked_until:
        return c, Verdict.LOCKED
    if now - c.window_start > policy.window:
        # a quiet window forgives earlier lockouts too, once the last lock has run out
        lockouts = c.lockouts if now < c.locked_until + policy.window else 0
        c = Counter(0, now, lockouts, c.locked_until)
    if c.failures >= policy.threshold:
        lockouts = c.lockouts + 1
        return Counter(0, now, lockouts, now + policy.lock_for(lockouts)), Verdict.LOCK_STARTED
    return replace(c, failures=c.failures + 1), Verdict.ALLOWED
