"""Failed-login counters in the database, so they survive restarts and span instances."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.core.throttle import Counter, Policy, record_failure
from gatepass.storage.models import LoginThrottle


class SqlThrottle:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._s = sessions

    async def retry_after(self, keys: list[str], now: float) -> float:
        async with self._s() as s:
            q = select(LoginThrottle.locked_until).where(LoginThrottle.key.in_(keys))
            until = [u for u in (await s.execute(q)).scalars()]
        return max([0.0, *(u - now for u in until)])

    async def fail(self, key: str, policy: Policy, now: float) -> tuple[bool, float]:
        """Count one failure; returns (a lock started now, seconds until the lock ends)."""
        async with self._s.begin() as s:
            ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
            await s.execute(
                ins(LoginThrottle)
                .values(key=key, failures=0, window_start=now, lockouts=0, locked_until=0.0)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            row = (
                await s.execute(
                    select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
                )
            ).scalar_one()
            before = Counter(row.failures, row.window_start, row.lockouts, row.locked_until)
            after, locked = record_failure(before, policy, now)
            row.failures, row.window_start = after.failures, after.window_start
            row.lockouts, row.locked_until = after.lockouts, after.locked_until
        return locked, after.retry_after(now)

    async def reset(self, key: str) -> None:
        async with self._s.begin() as s:
            await s.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
