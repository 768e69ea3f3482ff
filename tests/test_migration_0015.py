"""Migration 0015: ``refresh_tokens.used_at`` loses its index (so the rotation's consuming UPDATE
is a heap-only update on PostgreSQL) and ``issued_at`` gains one (the purge's way to used
tokens); on PostgreSQL the table keeps 10% of each page free for those updates."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import inspect, text

from gatepass.oauth.services import open_services
from gatepass.settings import Settings
from gatepass.storage import db
from gatepass.storage.logins import NewLogin
from gatepass.storage.token_rows.postgresql import _PG_ROTATE_KEEP
from migrations import downgrade

KEPT = {"ix_refresh_tokens_sid", "ix_refresh_tokens_expires_at"}


def _indexes(conn: Any) -> set[str]:
    return {ix["name"] for ix in inspect(conn).get_indexes("refresh_tokens")}


async def _options(conn: Any) -> Any:
    if conn.dialect.name != "postgresql":
        return None
    found = await conn.execute(
        text("SELECT reloptions FROM pg_class WHERE relname = 'refresh_tokens'")
    )
    return found.scalar()


def test_0015_up_and_down(make_settings: Callable[..., Settings], database_url: str) -> None:
    pg = database_url.startswith("postgresql")

    async def main() -> None:
        engine = db.make_engine(make_settings(database_url=database_url))
        try:
            await db.upgrade(engine, "0014")
            async with engine.begin() as conn:
                assert await conn.run_sync(_indexes) == KEPT | {"ix_refresh_tokens_used_at"}
                assert await _options(conn) is None

            await db.upgrade(engine, "0015")
            async with engine.begin() as conn:
                assert await conn.run_sync(_indexes) == KEPT | {"ix_refresh_tokens_issued_at"}
                assert await _options(conn) == (["fillfactor=90"] if pg else None)

            async with engine.begin() as conn:
                await conn.run_sync(downgrade, "0014")
            async with engine.begin() as conn:
                assert await conn.run_sync(_indexes) == KEPT | {"ix_refresh_tokens_used_at"}
                assert await _options(conn) is None
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_rotation_consumes_the_parent_with_a_heap_only_update(
    make_settings: Callable[..., Settings], pg_url: str
) -> None:
    """The rotation statement itself, on a page filled as far as inserts fill it: the parent's
    new version stays on its page and no index entry is written (``used_at`` indexed, or the
    page full, and the update is not HOT)."""

    async def main() -> None:
        svc = await open_services(make_settings(database_url=pg_url))
        conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            user = await svc.users.create("hot", "x", [], 0)
            now = time.time()
            head = secrets.token_hex(32)
            await svc.logins.start(
                NewLogin("sid-hot", user.id, "gatepass", "p", head, now, 10**6, 10**5, None, None)
            )
            await conn.executemany(
                "INSERT INTO refresh_tokens (digest, sid, generation, parent_digest, issued_at,"
                " used_at, expires_at) VALUES ($1, 'sid-hot', 0, NULL, $2, NULL, $3)",
                [(secrets.token_hex(32), now, now + 10**5) for _ in range(400)],
            )
            pages = await conn.fetchval(
                "SELECT count(DISTINCT (ctid::text::point)[0]) FROM refresh_tokens"
            )
            assert pages > 2  # the head's page took as many rows as inserts put there
            async with conn.transaction():
                live, written = await conn.fetchrow(
                    _PG_ROTATE_KEEP, "sid-hot", head, secrets.token_hex(32), 1, now + 1, now + 10**5
                )
                assert (live, written) == (1, 1)
                hot = await conn.fetchval(
                    "SELECT pg_stat_get_xact_tuples_hot_updated('refresh_tokens'::regclass)"
                )
                assert hot == 1
        finally:
            await conn.close()
            await svc.close()

    asyncio.run(main())
