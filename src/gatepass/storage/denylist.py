"""The denylist in the database: the durable record of every revocation, in both modes.

Without Redis it is the denylist (each instance keeps a copy in memory, loaded at start and
polled for entries written by other instances); with Redis it is what Redis is reseeded from
when it comes back empty. A ``sub`` entry also sets ``users.tokens_not_before``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.core.denylist import Revocation
from gatepass.storage.models import DenylistEntry, User


def _entry(row: DenylistEntry) -> Revocation:
    return Revocation(row.kind, row.value, row.expires_at, row.not_before)  # type: ignore[arg-type]


class SqlDenylist:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._s = sessions

    async def add(self, entry: Revocation, *, now: float) -> None:
        """Insert or widen (later expiry, later not-before) the entry for (kind, value)."""
        async with self._s.begin() as s:
            dialect = s.bind.dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            stmt = insert(DenylistEntry).values(
                kind=entry.kind,
                value=entry.value,
                not_before=entry.not_before,
                created_at=now,
                expires_at=entry.expires_at,
            )
            excluded = stmt.excluded
            await s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["kind", "value"],
                    set_={
                        "expires_at": _greatest(
                            dialect, DenylistEntry.expires_at, excluded.expires_at
                        ),
                        "not_before": _greatest(
                            dialect, DenylistEntry.not_before, excluded.not_before
                        ),
                        "created_at": excluded.created_at,
                    },
                )
            )
            if entry.kind == "sub" and entry.not_before is not None:
                await s.execute(
                    update(User)
                    .where(User.id == entry.value)
                    .values(tokens_not_before=entry.not_before)
                    .execution_options(synchronize_session=False)
                )

    async def active(self, now: float, *, since: float | None = None) -> list[Revocation]:
        """Entries still covering something; with ``since``, only those written after it."""
        q = select(DenylistEntry).where(DenylistEntry.expires_at > now)
        if since is not None:
            q = q.where(DenylistEntry.created_at >= since)
        async with self._s() as s:
            return [_entry(r) for r in (await s.execute(q)).scalars()]

    async def purge(self, now: float, *, batch: int = 1000) -> int:
        """Delete expired entries, ``batch`` at a time; how many went."""
        total = 0
        while True:
            async with self._s.begin() as s:
                keys = (
                    await s.execute(
                        select(DenylistEntry.kind, DenylistEntry.value)
                        .where(DenylistEntry.expires_at <= now)
                        .limit(batch)
                    )
                ).all()
                for kind, value in keys:
                    await s.execute(
                        delete(DenylistEntry).where(
                            DenylistEntry.kind == kind, DenylistEntry.value == value
                        )
                    )
            total += len(keys)
            if len(keys) < batch:
                return total


def _greatest(dialect: str, a: Any, b: Any) -> Any:
    # SQLite's two-argument max() is its scalar GREATEST; NULLs lose in both.
    if dialect == "postgresql":
        return func.greatest(a, b)
    return func.coalesce(func.max(a, b), a, b)
