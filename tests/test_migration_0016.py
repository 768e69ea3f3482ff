"""Migration 0016: ``login_sessions.revoked_at`` is indexed only where it is set, so that a
statement finding a login by key with ``revoked_at IS NULL`` beside the key cannot take that
index instead of the key's (on PostgreSQL with no statistics, the generic plans of the rotation
and of the code redemption did, and read every live login each time)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
from sqlalchemy import text

from gatepass.settings import Settings
from gatepass.storage import db
from gatepass.storage.code_rows.postgresql import _PG_REDEEM
from gatepass.storage.token_rows.postgresql import _PG_REFRESH, _PG_ROTATE, _PG_ROTATE_KEEP
from migrations import downgrade

LOGINS = 300


async def _definition(conn: Any) -> str:
    if conn.dialect.name == "postgresql":
        sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_login_sessions_revoked_at'"
    else:
        sql = "SELECT sql FROM sqlite_master WHERE name = 'ix_login_sessions_revoked_at'"
    return str((await conn.execute(text(sql))).scalar())


def test_0016_up_and_down(make_settings: Callable[..., Settings], database_url: str) -> None:
    async def main() -> None:
        engine = db.make_engine(make_settings(database_url=database_url))
        try:
            await db.upgrade(engine, "0015")
            async with engine.begin() as conn:
                assert "WHERE" not in (await _definition(conn)).upper()

            await db.upgrade(engine, "0016")
            async with engine.begin() as conn:
                assert "revoked_at IS NOT NULL" in await _definition(conn)

            async with engine.begin() as conn:
                await conn.run_sync(downgrade, "0015")
            async with engine.begin() as conn:
                assert "WHERE" not in (await _definition(conn)).upper()
        finally:
            await engine.dispose()

    asyncio.run(main())


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _login_rows_read(plan: dict[str, Any]) -> Iterator[float]:
    """Rows each scan of ``login_sessions`` in the plan looked at: returned plus filtered out."""
    if plan.get("Relation Name") == "login_sessions" and "Scan" in plan["Node Type"]:
        loops = max(plan.get("Actual Loops", 1), 1)
        yield (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) / loops
    for child in plan.get("Plans", ()):
        yield from _login_rows_read(child)


def test_hot_statements_read_one_login_however_many_are_live(
    make_settings: Callable[..., Settings], pg_url: str
) -> None:
    """Generic plans (what asyncpg's prepared statements get after five runs) on tables with
    no statistics, as on a new database: the refresh lookup, the rotation, with and without
    the idle-deadline move, and the code redemption's check of its SSO session each read the one
    login row they name, with 300 live logins in the table (at 0015 the rotation read all 300)."""

    async def main() -> None:
        engine = db.make_engine(make_settings(database_url=pg_url))
        await db.upgrade(engine)
        await engine.dispose()
        dsn = pg_url.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(
            dsn,
            server_settings={"enable_seqscan": "off", "plan_cache_mode": "force_generic_plan"},
        )
        try:
            now = time.time()
            # ids as long as real ones: with short ones the primary key's index is as shallow
            # as the revoked_at index and wins anyway, and 0015's plan would not show here
            sids = [secrets.token_urlsafe(18) for _ in range(LOGINS)]
            await conn.execute("ALTER TABLE login_sessions SET (autovacuum_enabled = off)")
            await conn.execute(
                "INSERT INTO users (id, username, password_hash, roles, disabled, created_at)"
                " VALUES ('u', 'u', 'x', '[]', false, $1)",
                now,
            )
            await conn.executemany(
                "INSERT INTO login_sessions (id, user_id, client_id, scope, created_at,"
                " last_used_at, expires_at, idle_expires_at, kind)"
                " VALUES ($1, 'u', 'gatepass', '', $2, $2, $3, $3, $4)",
                [
                    (sid, now, now + 3600, "sso" if i == 7 else "refresh")
                    for i, sid in enumerate(sids)
                ],
            )
            await conn.execute(
                "INSERT INTO refresh_tokens (digest, sid, generation, parent_digest, issued_at,"
                " used_at, expires_at) VALUES ('parent', $1, 0, NULL, $2, NULL, $3)",
                sids[5],
                now,
                now + 3600,
            )
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM pg_stats WHERE tablename = 'login_sessions'"
                )
                == 0
            )
            rotation = [sids[5], "parent", "child", 1, now + 1, now + 7200]
            statements = {
                "rotation": (_PG_ROTATE_KEEP, rotation),
                "rotation moving the idle deadline": (_PG_ROTATE, [*rotation, 1.0]),
                "code redemption": (_PG_REDEEM, [sids[7], now, "no-such-code"] + [None] * 22),
                "refresh lookup": (_PG_REFRESH, ["parent"]),
            }
            for name, (sql, args) in statements.items():
                probe = conn.transaction()  # rolled back: each starts from the same rows
                await probe.start()
                try:
                    await conn.execute(f"PREPARE probe AS {sql}")
                    found = await conn.fetchval(
                        "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE probe("
                        + ", ".join(map(_literal, args))
                        + ")"
                    )
                finally:
                    await probe.rollback()
                    await conn.execute("DEALLOCATE ALL")
                plan = (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]
                read = list(_login_rows_read(plan))
                assert read and max(read) <= 1, (name, read)
        finally:
            await conn.close()

    asyncio.run(main())
