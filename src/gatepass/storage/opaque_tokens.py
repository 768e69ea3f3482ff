"""Opaque access tokens: stored as digests, with the claims they stand for."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.storage.models import OpaqueAccessToken
from gatepass.storage.token_rows import OpaqueRow, TokenRows


class OpaqueTokens:
    """Insert and lookup run on the hot path (``token_rows``); the rest on SQLAlchemy."""

    def __init__(self, sessions: async_sessionmaker[Any], rows: TokenRows) -> None:
        self._s = sessions
        self._rows = rows

    async def add(self, row: OpaqueRow) -> None:
        await self._rows.add_opaque(row)

    async def get(self, digest: str) -> OpaqueRow | None:
        return await self._rows.opaque(digest)

    async def delete(self, digest: str) -> bool:
        async with self._s.begin() as s:
            result = await s.execute(
                delete(OpaqueAccessToken).where(OpaqueAccessToken.digest == digest)
            )
        return bool(result.rowcount)

    async def delete_for(self, *, sid: str | None = None, sub: str | None = None) -> int:
        """Drop every opaque token of a login (``sid``) or of a subject (``sub``)."""
        q = delete(OpaqueAccessToken)
        if sid is not None:
            q = q.where(OpaqueAccessToken.sid == sid)
        elif sub is not None:
            q = q.where(OpaqueAccessToken.sub == sub)
        else:
            return 0
        async with self._s.begin() as s:
            result = await s.execute(q)
        return int(result.rowcount or 0)
