"""Logins (refresh-token families) and their refresh tokens, stored as digests only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.storage.models import LoginSession, RefreshToken


@dataclass(frozen=True, slots=True)
class NewLogin:
    sid: str
    user_id: str
    client_id: str
    scope: str
    refresh_digest: str
    now: float
    absolute_ttl: int
    idle_ttl: int
    user_agent: str | None
    ip: str | None


class Logins:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._s = sessions

    async def start(self, login: NewLogin) -> LoginSession:
        """Create the family and its first refresh token in one transaction."""
        now = login.now
        expires = now + login.absolute_ttl
        row = LoginSession(
            id=login.sid,
            user_id=login.user_id,
            client_id=login.client_id,
            scope=login.scope,
            created_at=now,
            last_used_at=now,
            expires_at=expires,
            idle_expires_at=min(expires, now + login.idle_ttl),
            user_agent=(login.user_agent or "")[:512] or None,
            ip=login.ip,
        )
        async with self._s.begin() as s:
            s.add(row)
            await s.flush()
            s.add(
                RefreshToken(
                    digest=login.refresh_digest,
                    sid=login.sid,
                    generation=0,
                    parent_digest=None,
                    issued_at=now,
                    used_at=None,
                    expires_at=min(expires, now + login.idle_ttl),
                )
            )
        return row

    async def get(self, sid: str) -> LoginSession | None:
        async with self._s() as s:
            return await s.get(LoginSession, sid)

    async def refresh_token(self, digest: str) -> RefreshToken | None:
        async with self._s() as s:
            return await s.get(RefreshToken, digest)

    async def of_user(self, user_id: str, *, active_at: float | None = None) -> list[LoginSession]:
        q = select(LoginSession).where(LoginSession.user_id == user_id)
        if active_at is not None:
            q = q.where(LoginSession.revoked_at.is_(None), LoginSession.expires_at > active_at)
        async with self._s() as s:
            return list((await s.execute(q.order_by(LoginSession.created_at))).scalars())
