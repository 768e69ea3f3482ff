"""The code flow's statements on SQLite (``storage/code_rows``): on the token rows' ``sqlite3``
connection, on the event loop, with its ``BEGIN IMMEDIATE`` and busy back-off
(``storage/token_rows/sqlite.py``)."""

from __future__ import annotations

import sqlite3
from typing import Any

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
from gatepass.storage.token_rows.sqlite import SqliteTokenRows

_SQLITE_SSO = SELECT_SSO.format(p1="?1", p2="?2")
_SQLITE_CODE = SELECT_CODE.format(p1="?1")
_SQLITE_INSERT_CODE = """
INSERT INTO authorization_codes (digest, client_id, user_id, sso_sid, redirect_uri, code_challenge,
                                 nonce, scope, auth_time, amr, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_SQLITE_SSO_LIVE = (
    "SELECT 1 FROM login_sessions WHERE id = ? AND revoked_at IS NULL AND expires_at > ?"
)
_SQLITE_REDEEM = (
    "UPDATE authorization_codes SET used_at = ?, login_sid = ?"
    " WHERE digest = ? AND used_at IS NULL AND login_sid IS NULL AND expires_at > ?"
)
_SQLITE_INSERT_LOGIN = """
INSERT INTO login_sessions (id, user_id, client_id, scope, created_at, last_used_at, expires_at,
                            idle_expires_at, user_agent, ip, jkt, kind, parent_sid, auth_time, amr)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_SQLITE_INSERT_REFRESH = """
INSERT INTO refresh_tokens (digest, sid, generation, parent_digest, issued_at, used_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""


class SqliteCodeRows:
    def __init__(self, rows: SqliteTokenRows) -> None:
        self._rows = rows
        self._add = Coalesce(self._insert_codes, split_on=(sqlite3.IntegrityError,))

    async def sso(self, cookie_digest: str, now: float) -> tuple[LoginSession, User] | None:
        found = await self._rows.read(
            lambda db: db.execute(_SQLITE_SSO, (cookie_digest, now)).fetchone()
        )
        return sso_found(found) if found is not None else None

    async def add_code(self, row: CodeRow) -> None:
        await self._add(code_values(row))

    async def _insert_codes(self, rows: list[list[Any]]) -> list[None]:
        await self._rows.write(lambda db: db.executemany(_SQLITE_INSERT_CODE, rows))
        return [None] * len(rows)

    async def code(self, digest: str) -> CodeFound | None:
        found = await self._rows.read(lambda db: db.execute(_SQLITE_CODE, (digest,)).fetchone())
        return code_found(found) if found is not None else None

    async def redeem(self, step: Redemption) -> Redeemed:
        now = step.now
        login, refresh = login_values(step.login)

        def run(db: sqlite3.Connection) -> Redeemed:
            if db.execute(_SQLITE_SSO_LIVE, (step.sso_sid, now)).fetchone() is None:
                return Redeemed.SSO_ENDED
            consumed = db.execute(_SQLITE_REDEEM, (now, step.login.sid, step.digest, now))
            if consumed.rowcount != 1:
                return Redeemed.LOST
            db.execute(_SQLITE_INSERT_LOGIN, login)
            if refresh is not None:
                db.execute(_SQLITE_INSERT_REFRESH, refresh)
            return Redeemed.REDEEMED

        return await self._rows.write(run)

    async def close(self) -> None:
        await self._add.drain()
