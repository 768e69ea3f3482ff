"""Failed-login throttling policy (pure): count failures in a window, then lock with back-off.

Locks double from ``base`` up to ``max_lock`` and never become permanent, so an attacker who
knows a user's name can slow that user's logins but not lock them out for long.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


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
    failures: int = 0
    window_start: float = 0.0
    lockouts: int = 0
    locked_until: float = 0.0

    def retry_after(self, now: float) -> float:
        return max(0.0, self.locked_until - now)


def record_failure(c: Counter, policy: Policy, now: float) -> tuple[Counter, bool]:
    """The counter after one more failure, and whether this failure started a lock."""
    if now - c.window_start > policy.window:
        # a quiet window forgives earlier lockouts too, once the last lock has run out
        lockouts = c.lockouts if now < c.locked_until + policy.window else 0
        c = Counter(0, now, lockouts, c.locked_until)
    failures = c.failures + 1
    if failures >= policy.threshold:
        lockouts = c.lockouts + 1
        return Counter(0, now, lockouts, now + policy.lock_for(lockouts)), True
    return replace(c, failures=failures), False
