"""What each user allowed each (not first-party) client: one ``consents`` row per user and
client, holding every scope allowed so far."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.storage.models import Consent


class Consents:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._s = sessions

    async def scopes(self, user_id: str, client_id: str) -> frozenset[str] | None:
        """What the user allowed the client; None when never asked (or withdrawn)."""
        async with self._s() as s:
            row = await s.get(Consent, (user_id, client_id))
        return frozenset(row.scope.split()) if row is not None else None

    async def allow(self, user_id: str, client_id: str, scopes: frozenset[str], now: float) -> None:
        """Add ``scopes`` to what the user allowed the client (a concurrent first consent that
        wins the insert is merged into on the retry)."""
        for _ in range(2):
            try:
                async with self._s.begin() as s:
                    row = await s.get(Consent, (user_id, client_id), with_for_update=True)
                    if row is None:
                        s.add(
                            Consent(
                                user_id=user_id,
                                client_id=client_id,
                                scope=" ".join(sorted(scopes)),
                                granted_at=now,
                            )
                        )
                    else:
                        row.scope = " ".join(sorted(set(row.scope.split()) | scopes))
                        row.granted_at = now
                return
            except IntegrityError:
                continue

    async def of_user(self, user_id: str) -> list[Consent]:
        q = select(Consent).where(Consent.user_id == user_id).order_by(Consent.granted_at)
        async with self._s() as s:
            return list((await s.execute(q)).scalars())

    async def withdraw(self, user_id: str, client_id: str) -> bool:
        async with self._s.begin() as s:
            done = await s.execute(
                delete(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id)
            )
        return bool(done.rowcount)
