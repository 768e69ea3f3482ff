"""The code flow's statements on PostgreSQL (``storage/code_rows``): on the token rows' asyncpg
pool, one round trip each; the redemption is a single statement."""

from __future__ import annotations

from typing import Any

import asyncpg

from gatepass.storage.coalesce import Coalesce
from gatepass.storage.code_rows import (
    SELECT_CODE,
    SELECT_SSO,
    CodeFound,
    CodeRow,
    Redeemed,
    Redemption,
    code_found,
    code_values,
    login_values,
    sso_found,
)
from gatepass.storage.models import LoginSession, User

_PG_SSO = SELECT_SSO.format(p1="$1", p2="$2")
_PG_CODE = SELECT_CODE.format(p1="$1")
# many codes per statement (``Coalesce``): one array per column
_PG_INSERT_CODE = """
INSERT INTO authorization_codes (digest, client_id, user_id, sso_sid, redirect_uri, code_challenge,
                                 nonce, scope, auth_time, amr, created_at, expires_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::float8[], $10::text[], $11::float8[],
                     $12::float8[])
"""
# $1 SSO sid, $2 now, $3 code digest, $4..$18 the login (login_values), $19..$25 its refresh
# token (NULLs without one). The SSO session's row is share-locked: a logout revoking it waits
# for this statement's commit, or this statement waits for the logout's and then sees it ended.
_PG_REDEEM = """
WITH sso AS (
    SELECT id FROM login_sessions
    WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2::float8
    FOR SHARE
), redeemed AS (
    UPDATE authorization_codes SET used_at = $2::float8, login_sid = $4::text
    WHERE digest = $3 AND used_at IS NULL AND login_sid IS NULL AND expires_at > $2::float8
      AND EXISTS (SELECT 1 FROM sso)
    RETURNING digest
), login AS (
    INSERT INTO login_sessions (id, user_id, client_id, scope, created_at, last_used_at,
                                expires_at, idle_expires_at, user_agent, ip, jkt, kind,
                                parent_sid, auth_time, amr)
    SELECT $4::text, $5::text, $6::text, $7::text, $8::float8, $9::float8, $10::float8,
           $11::float8, $12::text, $13::text, $14::text, $15::text, $16::text, $17::float8,
           $18::text
    FROM redeemed
    RETURNING id
), refresh AS (
    INSERT INTO refresh_tokens (digest, sid, generation, parent_digest, issued_at, used_at,
                                expires_at)
    SELECT $19::text, $20::text, $21::int, $22::text, $23::float8, $24::float8, $25::float8
    FROM login WHERE $19::text IS NOT NULL
    RETURNING digest
)
SELECT (SELECT count(*) FROM sso), (SELECT count(*) FROM login), (SELECT count(*) FROM refresh)
"""
_NO_REFRESH = [None] * 7


class PostgresCodeRows:
    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._add = Coalesce(
            self._insert_codes, split_on=(asyncpg.IntegrityConstraintViolationError,)
        )

    async def sso(self, cookie_digest: str, now: float) -> tuple[LoginSession, User] | None:
        found = await self._pool.fetchrow(_PG_SSO, cookie_digest, float(now))
        return sso_found(tuple(found)) if found is not None else None

    async def add_code(self, row: CodeRow) -> None:
        values = code_values(row)
        for i in (8, 10, 11):  # auth_time, created_at, expires_at
            values[i] = float(values[i])
        await self._add(values)

    async def _insert_codes(self, rows: list[list[Any]]) -> list[None]:
        await self._pool.execute(
            _PG_INSERT_CODE, *(list(column) for column in zip(*rows, strict=True))
        )
        return [None] * len(rows)

    async def code(self, digest: str) -> CodeFound | None:
        found = await self._pool.fetchrow(_PG_CODE, digest)
        return code_found(tuple(found)) if found is not None else None

    async def redeem(self, step: Redemption) -> Redeemed:
        login, refresh = login_values(step.login)
        live, started, _ = await self._pool.fetchrow(
            _PG_REDEEM,
            step.sso_sid,
            float(step.now),
            step.digest,
            *login,
            *(refresh if refresh is not None else _NO_REFRESH),
        )
        if not live:
            return Redeemed.SSO_ENDED
        return Redeemed.REDEEMED if started else Redeemed.LOST

    async def close(self) -> None:
        await self._add.drain()
