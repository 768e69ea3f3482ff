"""URL-signing keys in the ``url_signing_keys`` table, secrets sealed with the master secret."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.core.sealing import seal, unseal
from gatepass.core.url_keys import UrlKey, UrlKeyRing, rotation_plan
from gatepass.storage.key_rows import serialise, write_plan
from gatepass.storage.models import UrlSigningKeyRow

# The sealed blob is bound to its row by this associated data (and the kid).
_AAD_PREFIX = "url-key:"


class UrlKeyStore:
    def __init__(self, sessions: async_sessionmaker[Any], master: bytes) -> None:
        self._s = sessions
        self._master = master

    async def load(self) -> UrlKeyRing:
        async with self._s() as s:
            rows = (await s.execute(select(UrlSigningKeyRow))).scalars().all()
        return UrlKeyRing(tuple(self._from_row(r) for r in rows if r.state != "retired"))

    async def ensure(self, *, now: float, retire_after: float) -> UrlKeyRing:
        """Make sure a key signs (first start)."""
        ring = await self.load()
        if any(k.state == "active" for k in ring.keys):
            return ring
        return await self.rotate(now=now, retire_after=retire_after, only_if_needed=True)

    async def rotate(
        self, *, now: float, retire_after: float, only_if_needed: bool = False
    ) -> UrlKeyRing:
        """Apply one rotation atomically; concurrent rotations are serialised."""
        async with self._s.begin() as s:
            await serialise(s, "url_signing_keys", 7364503)
            rows = {r.kid: r for r in (await s.execute(select(UrlSigningKeyRow))).scalars()}
            current = [self._from_row(r) for r in rows.values() if r.state != "retired"]
            if only_if_needed and any(k.state == "active" for k in current):
                return UrlKeyRing(tuple(current))
            planned = rotation_plan(current, now=now, retire_after=retire_after)
            write_plan(s, rows, planned, self._to_row)
        return UrlKeyRing(tuple(k for k in planned if k.state != "retired"))

    async def all_rows(self) -> list[UrlSigningKeyRow]:
        async with self._s() as s:
            q = select(UrlSigningKeyRow).order_by(UrlSigningKeyRow.created_at)
            return list((await s.execute(q)).scalars())

    def _from_row(self, row: UrlSigningKeyRow) -> UrlKey:
        return UrlKey(
            kid=row.kid,
            secret=unseal(self._master, _AAD_PREFIX + row.kid, row.sealed_secret),
            state=row.state,  # type: ignore[arg-type]
            created_at=row.created_at,
            activated_at=row.activated_at,
            retire_at=row.retire_at,
        )

    def _to_row(self, k: UrlKey) -> UrlSigningKeyRow:
        return UrlSigningKeyRow(
            kid=k.kid,
            state=k.state,
            sealed_secret=seal(self._master, _AAD_PREFIX + k.kid, k.secret),
            created_at=k.created_at,
            activated_at=k.activated_at,
            retire_at=k.retire_at,
        )
