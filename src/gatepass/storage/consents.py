"""What each user allowed each (not first-party) client: one ``consents`` row per user and
client, holding every scope allowed so far."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.storage import keyset
from gatepass.storage.models import Consent

_ATTEMPTS = 20


class Consents:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._s = sessions

    async def scopes(self, user_id: str, client_id: str) -> frozenset[str] | None:
        """What the user allowed the client; None when never asked (or withdrawn)."""
        async with self._s() as s:
            row = await s.get(Consent, (user_id, client_id))
        return frozenset(row.scope.split()) if row is not None else None

    async def get(self, user_id: str, client_id: str) -> Consent | None:
        async with self._s() as s:
            return await s.get(Consent, (user_id, client_id))

    async def allow(self, user_id: str, client_id: str, scopes: frozenset[str], now: float) -> None:
        """Add ``scopes`` to what the user allowed the client. Optimistic, so that concurrent
        consents (two tabs) all count on every database: the row changes only if it still holds
        what was read, and a lost race reads again."""
        for _ in range(_ATTEMPTS):
            async with self._s() as s:
                row = await s.get(Consent, (user_id, client_id))
                seen = row.scope if row is not None else None
            merged = " ".join(sorted(set((seen or "").split()) | scopes))
            try:
                async with self._s.begin() as s:
                    if seen is None:
                        s.add(
                            Consent(
                                user_id=user_id, client_id=client_id, scope=merged, granted_at=now
                            )
                        )
                        return
                    done = await s.execute(
                        update(Consent)
                        .where(
                            Consent.user_id == user_id,
                            Consent.client_id == client_id,
                            Consent.scope == seen,
                        )
                        .values(scope=merged, granted_at=now)
                        .execution_options(synchronize_session=False)
                    )
                    if done.rowcount == 1:
                        return
            except IntegrityError:  # another first consent was inserted meanwhile
                pass
        raise RuntimeError("consent could not be stored: too many concurrent changes")

    async def page_of_user(
        self, user_id: str, *, limit: int, after: tuple[float, str] | None = None
    ) -> list[Consent]:
        """Up to ``limit`` of the user's consents by grant time (then client id), from just
        after ``after`` (a keyset page)."""
        at, client = Consent.granted_at, Consent.client_id
        q = select(Consent).where(Consent.user_id == user_id)
        if (cond := keyset.after(at, client, after, descending=False)) is not None:
            q = q.where(cond)
        q = q.order_by(*keyset.order(at, client, descending=False)).limit(limit)
        async with self._s() as s:
            return list((await s.execute(q)).scalars())

    async def withdraw(self, user_id: str, client_id: str) -> bool:
        async with self._s.begin() as s:
            done = await s.execute(
                delete(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id)
            )
        return bool(done.rowcount)
