"""Security events: refresh reuse, lockouts, forced logouts, password changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.storage.models import SecurityEvent


class Events:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._s = sessions

    async def record(self, type_: str, *, now: float, **fields: Any) -> None:
        details = fields.pop("details", None) or {}
        async with self._s.begin() as s:
            s.add(SecurityEvent(type=type_, created_at=now, details=details, **fields))

    async def page(
        self, *, after_id: int = 0, limit: int = 50, type_: str | None = None
    ) -> list[SecurityEvent]:
        q = select(SecurityEvent).where(SecurityEvent.id > after_id)
        if type_:
            q = q.where(SecurityEvent.type == type_)
        async with self._s() as s:
            return list((await s.execute(q.order_by(SecurityEvent.id).limit(limit))).scalars())
