"""Logins (refresh-token families) and their refresh tokens, stored as digests only.

Rotation is one atomic step: a conditional ``UPDATE ... WHERE used_at IS NULL`` consumes the
parent, the family's deadlines move only if it is still live, and the child is inserted, all in
one transaction; the loser of a race sees zero rows updated, never a half-done rotation. That
step and the lookup before it run on the driver directly (``storage/token_rows/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.storage import keyset
from gatepass.storage.models import LoginSession, RefreshToken
from gatepass.storage.token_rows import RefreshFound, Rotation, RotationStep, TokenRows

__all__ = ["Logins", "NewLogin", "Rotation", "RotationStep"]


@dataclass(frozen=True, slots=True)
class NewLogin:
    sid: str
    user_id: str
    client_id: str
    scope: str
    refresh_digest: str | None  # None: a login without refresh tokens (its access token only)
    now: float
    absolute_ttl: int
    idle_ttl: int
    user_agent: str | None
    ip: str | None
    jkt: str | None = None  # the DPoP key its refresh tokens are bound to (RFC 9449 §5)
    # a login started from an authorization code: the SSO session that approved it, and when
    # and how the user authenticated there (OIDC auth_time, RFC 8176 amr)
    parent_sid: str | None = None
    auth_time: float | None = None
    amr: str | None = None


class Logins:
    def __init__(self, sessions: async_sessionmaker[Any], rows: TokenRows) -> None:
        self._s = sessions
        self._rows = rows  # the refresh grant's two statements (lookup, rotation)

    async def start(self, login: NewLogin) -> LoginSession:
        """Create the family and its first refresh token (if any) in one transaction."""
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
            jkt=login.jkt,
            parent_sid=login.parent_sid,
            auth_time=login.auth_time,
            amr=login.amr,
        )
        async with self._s.begin() as s:
            s.add(row)
            if login.refresh_digest is None:
                return row
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

    async def lookup(self, digest: str) -> tuple[LoginSession, RefreshToken] | None:
        """The presented token's row and its family, read together."""
        q = (
            select(LoginSession, RefreshToken)
            .join(RefreshToken, RefreshToken.sid == LoginSession.id)
            .where(RefreshToken.digest == digest)
        )
        async with self._s() as s:
            row = (await s.execute(q)).first()
        return (row[0], row[1]) if row is not None else None

    async def lookup_with_user(self, digest: str) -> RefreshFound | None:
        """As :meth:`lookup`, with the login's user (None when gone), in one statement on the
        hot path (``token_rows``)."""
        return await self._rows.refresh(digest)

    async def rotate(self, step: RotationStep) -> Rotation:
        """Consume the parent and write the child, atomically (see ``token_rows``)."""
        return await self._rows.rotate(step)

    async def child_used(self, child_digest: str) -> bool | None:
        """Whether the child was used; None when it does not exist."""
        async with self._s() as s:
            used = (
                await s.execute(
                    select(RefreshToken.used_at).where(RefreshToken.digest == child_digest)
                )
            ).first()
        return None if used is None else used[0] is not None

    async def revoke(self, sid: str, *, now: float, reason: str) -> LoginSession | None:
        """End one login. Returns the row when this call revoked it, None when it was not live."""
        async with self._s.begin() as s:
            done = await s.execute(
                update(LoginSession)
                .where(LoginSession.id == sid, LoginSession.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason=reason[:64])
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:
                return None
            return await s.get(LoginSession, sid)

    async def revoke_user(
        self, user_id: str, *, now: float, reason: str, keep: str | None = None
    ) -> list[LoginSession]:
        """End every live login of a user (but ``keep``); the rows this call revoked."""
        q = select(LoginSession).where(
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
        )
        async with self._s() as s:
            rows = [r for r in (await s.execute(q)).scalars() if r.id != keep]
        out = []
        for r in rows:
            done = await self.revoke(r.id, now=now, reason=reason)
            if done is not None:
                out.append(done)
        return out

    async def of_user(self, user_id: str, *, active_at: float | None = None) -> list[LoginSession]:
        q = select(LoginSession).where(LoginSession.user_id == user_id)
        if active_at is not None:
            q = q.where(
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > active_at,
                LoginSession.idle_expires_at > active_at,
            )
        async with self._s() as s:
            return list((await s.execute(q.order_by(LoginSession.created_at))).scalars())

    async def page_of_user(
        self,
        user_id: str,
        *,
        active_at: float,
        limit: int,
        after: tuple[float, str] | None = None,
        descending: bool = False,
        leave_out: str | None = None,
    ) -> list[LoginSession]:
        """Up to ``limit`` live logins of the user by start (then id), from just after
        ``after`` (a keyset page), without ``leave_out``."""
        at, sid = LoginSession.created_at, LoginSession.id
        q = select(LoginSession).where(
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > active_at,
            LoginSession.idle_expires_at > active_at,
        )
        if (cond := keyset.after(at, sid, after, descending=descending)) is not None:
            q = q.where(cond)
        if leave_out is not None:
            q = q.where(sid != leave_out)
        q = q.order_by(*keyset.order(at, sid, descending=descending)).limit(limit)
        async with self._s() as s:
            return list((await s.execute(q)).scalars())

    async def live_counts(self, user_ids: list[str], *, now: float) -> dict[str, int]:
        """How many live logins each of ``user_ids`` has (absent: none), in one query."""
        if not user_ids:
            return {}
        q = (
            select(LoginSession.user_id, func.count())
            .where(
                LoginSession.user_id.in_(user_ids),
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > now,
                LoginSession.idle_expires_at > now,
            )
            .group_by(LoginSession.user_id)
        )
        async with self._s() as s:
            return {uid: int(n) for uid, n in (await s.execute(q)).all()}
