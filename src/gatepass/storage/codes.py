"""Authorization codes (RFC 6749 §4.1.2), stored only as SHA-256 digests.

Issued by ``/oauth/authorize`` (``oauth/authorization_code.issue_code``); redeemed once by the
token endpoint with one conditional ``UPDATE ... WHERE used_at IS NULL AND expires_at > now``:
of any number of concurrent redemptions, exactly one sees a row updated. The token endpoint's
statements (storing, reading, and the redemption that starts the login and writes its id into
``login_sid`` in the same transaction) run on the driver directly (``storage/code_rows/``).

``login_sid`` links a redeemed code to the login its redemption started, so that a replay can
revoke it (§4.1.2, RFC 9700 §4.5). A redemption by :meth:`Codes.redeem` writes it afterwards
(:meth:`Codes.attach_login`; an earlier version redeemed every code so): a replay may land in
between; it then writes :data:`REPLAYED` there first, and the redemption, whose own conditional
write of ``login_sid`` then finds the column taken, revokes its login itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.storage.code_rows import CodeFound, CodeRow, CodeRows, Redeemed, Redemption
from gatepass.storage.models import AuthorizationCode

REPLAYED = "!replayed"  # never a login id (those start with "gps")


class Codes:
    def __init__(self, sessions: async_sessionmaker[Any], rows: CodeRows) -> None:
        self._s = sessions
        self._rows = rows  # the code flow's statements (storage/code_rows/)

    async def add(self, row: CodeRow) -> None:
        await self._rows.add_code(row)

    async def lookup(self, digest: str) -> CodeFound | None:
        """The code, its user and its SSO session's deadlines, in one statement."""
        return await self._rows.code(digest)

    async def redeem_starting(self, step: Redemption) -> Redeemed:
        """Consume the code and start its login, atomically; the code names the login."""
        return await self._rows.redeem(step)

    async def redeem(self, digest: str, *, now: float) -> bool:
        """Consume the code: True for the one call that did, False for every other (used
        already, expired, unknown)."""
        return await self._set(
            digest,
            {"used_at": now},
            AuthorizationCode.used_at.is_(None),
            AuthorizationCode.expires_at > now,
        )

    async def attach_login(self, digest: str, sid: str) -> bool:
        """Record the login the redemption started; False when a replay got there first (the
        column holds :data:`REPLAYED`), and the caller must revoke that login."""
        return await self._set(digest, {"login_sid": sid}, AuthorizationCode.login_sid.is_(None))

    async def mark_replayed(self, digest: str) -> str | None:
        """For a replay: the login to revoke, or None when there is none (yet): the mark is
        then in place and the redemption, when it writes its login, revokes it."""
        if await self._set(digest, {"login_sid": REPLAYED}, AuthorizationCode.login_sid.is_(None)):
            return None
        async with self._s() as s:
            sid = (
                await s.execute(
                    select(AuthorizationCode.login_sid).where(AuthorizationCode.digest == digest)
                )
            ).scalar()
        return None if sid in (None, REPLAYED) else sid

    async def _set(self, digest: str, values: dict[str, Any], *conditions: Any) -> bool:
        async with self._s.begin() as s:
            done = await s.execute(
                update(AuthorizationCode)
                .where(AuthorizationCode.digest == digest, *conditions)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return bool(done.rowcount == 1)
