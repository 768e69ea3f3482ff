"""Failed-login counters in the database, so that they survive restarts and hold across worker
processes and instances.

:meth:`SqlThrottle.reserve` is the atomic step (policy in ``core/throttle.py``): one transaction
that holds the keys' rows locked (an upsert of each, in key order: on PostgreSQL it locks the
row; SQLite has one writer, taken by the first) while it counts the attempt on every key, or on
none. A lock that is already running refuses with a plain read, without taking a write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gatepass.core.throttle import Counter, Policy, Verdict, reserve
from gatepass.storage.models import LoginThrottle

Limit = tuple[str, Policy]  # a key (``acct:…``, ``ip:…``, ``acct_ip:…``) and its policy


@dataclass(frozen=True, slots=True)
class Reservation:
    """The outcome of :meth:`SqlThrottle.reserve`: allowed (every key counted the attempt), or
    refused for ``retry_after`` seconds, with the keys whose lock this attempt started."""

    allowed: bool
    retry_after: float = 0.0
    lock_started: tuple[str, ...] = field(default_factory=tuple)


class SqlThrottle:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._s = sessions

    async def reserve(self, limits: Sequence[Limit], now: float) -> Reservation:
        """Count one attempt on every key, atomically, or refuse it without counting."""
        limits = sorted(dict(limits).items())  # one order everywhere: no deadlock between two
        keys = [key for key, _ in limits]
        async with self._s.begin() as s:
            wait = await self._running_lock(s, keys, now)
            if wait > 0:
                return Reservation(False, wait)
            rows = [(await self._locked_row(s, key, policy, now), policy) for key, policy in limits]
            outcomes = [(row, policy, *reserve(_counter(row), policy, now)) for row, policy in rows]
            refused = [
                (row, c) for row, _, c, verdict in outcomes if verdict is not Verdict.ALLOWED
            ]
            if refused:
                # nothing is counted; only the locks that this attempt started are written
                started = []
                for row, policy, after, verdict in outcomes:
                    if verdict is Verdict.LOCK_STARTED:
                        _store(row, after, policy)
                        started.append(row.key)
                return Reservation(
                    False, max(c.retry_after(now) for _, c in refused), tuple(started)
                )
            for row, policy, after, _ in outcomes:
                _store(row, after, policy)
        return Reservation(True)

    async def give_back(self, keys: Sequence[str], *, clear: Sequence[str] = ()) -> None:
        """After a success: ``keys`` no longer count the attempt, ``clear`` are forgotten (in
        key order, as :meth:`reserve` locks them)."""
        async with self._s.begin() as s:
            for key in sorted({*keys, *clear}):
                row = LoginThrottle.key == key
                if key in clear:
                    await s.execute(delete(LoginThrottle).where(row))
                else:
                    await s.execute(
                        update(LoginThrottle)
                        .where(row, LoginThrottle.failures > 0)
                        .values(failures=LoginThrottle.failures - 1)
                    )

    @staticmethod
    async def _locked_row(s: AsyncSession, key: str, policy: Policy, now: float) -> LoginThrottle:
        """The key's row, made if missing, locked until the transaction ends: one upsert, so a
        row that the purge deletes meanwhile is made again rather than missed."""
        ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        fresh = Counter(window_start=now)
        stmt = (
            ins(LoginThrottle)
            .values(
                key=key,
                failures=0,
                window_start=now,
                lockouts=0,
                locked_until=0.0,
                expires_at=fresh.expires_at(policy),
            )
            .on_conflict_do_update(
                index_elements=["key"], set_={"failures": LoginThrottle.failures}
            )
            .returning(LoginThrottle)
            .execution_options(populate_existing=True)
        )
        row: LoginThrottle = (await s.scalars(stmt)).one()
        return row

    @staticmethod
    async def _running_lock(s: AsyncSession, keys: list[str], now: float) -> float:
        q = select(LoginThrottle.locked_until).where(LoginThrottle.key.in_(keys))
        return max([0.0, *(until - now for until in (await s.execute(q)).scalars())])


def _counter(row: LoginThrottle) -> Counter:
    return Counter(row.failures, row.window_start, row.lockouts, row.locked_until)


def _store(row: LoginThrottle, c: Counter, policy: Policy) -> None:
    row.failures, row.window_start = c.failures, c.window_start
    row.lockouts, row.locked_until = c.lockouts, c.locked_until
    row.expires_at = c.expires_at(policy)
