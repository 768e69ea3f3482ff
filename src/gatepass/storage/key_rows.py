"""What the two key tables (token-signing keys, URL-signing keys) share: serialised rotation
and writing a rotation plan back to the rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def serialise(s: AsyncSession, table: str, lock_id: int) -> None:
    """Serialise writers: an advisory lock on PostgreSQL, the write lock on SQLite."""
    if s.get_bind().dialect.name == "postgresql":
        await s.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
    else:
        await s.execute(text(f"UPDATE {table} SET state = state WHERE 1 = 0"))  # noqa: S608


def write_plan(
    s: AsyncSession, rows: Mapping[str, Any], planned: Iterable[Any], to_row: Callable[[Any], Any]
) -> None:
    """New keys become rows; existing rows take the planned state and dates."""
    for k in planned:
        row = rows.get(k.kid)
        if row is None:
            s.add(to_row(k))
        else:
            row.state, row.activated_at, row.retire_at = k.state, k.activated_at, k.retire_at
