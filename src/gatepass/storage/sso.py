"""Single sign-on sessions of the hosted login pages: ``login_sessions`` rows of kind ``sso``,
found by the digest of their cookie (never the cookie itself), on the driver directly
(``storage/code_rows/``: every ``/oauth/authorize`` of a signed-in user looks one up)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.storage.code_rows import CodeRows
from gatepass.storage.models import LoginSession, User

KIND = "sso"


class SsoSessions:
    def __init__(self, sessions: async_sessionmaker[Any], rows: CodeRows) -> None:
        self._s = sessions
        self._rows = rows

    async def start(self, row: LoginSession) -> LoginSession:
        async with self._s.begin() as s:
            s.add(row)
        return row

    async def by_cookie(self, digest: str, now: float) -> tuple[LoginSession, User] | None:
        """The live session with this cookie digest and its user: not revoked, not expired (nor
        idle too long), its user not disabled. Model instances, attached to no ORM session."""
        return await self._rows.sso(digest, now)

    async def touch(self, sid: str, now: float, idle_ttl: int) -> None:
        """Used now: the idle deadline moves (never past the absolute one), in one statement."""
        idle = now + idle_ttl
        async with self._s.begin() as s:
            await s.execute(
                update(LoginSession)
                .where(LoginSession.id == sid, LoginSession.revoked_at.is_(None))
                .values(
                    last_used_at=now,
                    idle_expires_at=case(
                        (LoginSession.expires_at < idle, LoginSession.expires_at), else_=idle
                    ),
                )
                .execution_options(synchronize_session=False)
            )

    async def children(self, sid: str) -> list[LoginSession]:
        """The live logins started from this session (through an authorization code)."""
        q = select(LoginSession).where(
            LoginSession.parent_sid == sid, LoginSession.revoked_at.is_(None)
        )
        async with self._s() as s:
            return list((await s.execute(q)).scalars())

    async def adopt(self, old_sid: str, new_sid: str) -> int:
        """The live logins started from ``old_sid`` now hang from ``new_sid``; how many moved.

        They are locked first in order of id, the order in which a batch of refresh rotations
        locks its logins (``storage/token_rows/postgresql.py``): an UPDATE taking them in its
        scan's order could deadlock with a batch that holds two of them."""
        live = (LoginSession.parent_sid == old_sid, LoginSession.revoked_at.is_(None))
        async with self._s.begin() as s:
            locked = select(LoginSession.id).where(*live).order_by(LoginSession.id)
            sids = list((await s.execute(locked.with_for_update())).scalars())
            if not sids:
                return 0
            result = await s.execute(
                update(LoginSession)
                .where(LoginSession.id.in_(sids), *live)
                .values(parent_sid=new_sid)
                .execution_options(synchronize_session=False)
            )
        return int(result.rowcount)
