"""A DPoP replay cache in the database (RFC 9449 §11.1), for ``gatepass serve --workers N``
without Redis: every worker shares the database, so a proof accepted by one is refused by all.

One statement decides: an ``INSERT`` of the proof's key, which the primary key lets through
once; a key whose earlier row has expired is taken over by a conditional ``UPDATE``. A
database that cannot answer is :class:`ReplayCacheUnavailable` (503), never a pass.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.clock import Clock
from gatepass.sdk.errors import ReplayCacheUnavailable
from gatepass.storage.db import UNAVAILABLE
from gatepass.storage.models import DpopProofSeen


class SqlReplayCache:
    def __init__(self, sessions: async_sessionmaker[Any], clock: Clock) -> None:
        self._s = sessions
        self._clock = clock

    def first_use(self, key: str, ttl: int) -> bool:
        raise TypeError("SqlReplayCache is asynchronous: use afirst_use")

    async def afirst_use(self, key: str, ttl: int) -> bool:
        now = self._clock.now()
        try:
            try:
                async with self._s.begin() as s:
                    await s.execute(insert(DpopProofSeen).values(key=key, expires_at=now + ttl))
                return True
            except IntegrityError:
                async with self._s.begin() as s:
                    taken = await s.execute(
                        update(DpopProofSeen)
                        .where(DpopProofSeen.key == key, DpopProofSeen.expires_at <= now)
                        .values(expires_at=now + ttl)
                    )
                return taken.rowcount == 1
        except UNAVAILABLE as exc:
            raise ReplayCacheUnavailable(f"DPoP replay cache: {type(exc).__name__}") from None


async def purge_seen(sessions: async_sessionmaker[Any], now: float) -> int:
    async with sessions.begin() as s:
        return int(
            (await s.execute(delete(DpopProofSeen).where(DpopProofSeen.expires_at <= now))).rowcount
        )
