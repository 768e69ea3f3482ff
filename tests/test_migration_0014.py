"""Migration 0014 drops two structures of ``opaque_tokens`` that no query used: the index on
``client_id`` and the unique constraint on ``jti``. On SQLite the table is rebuilt (the
constraint has no name there), so the tokens in it must survive both ways, and the indexes
that queries do use must come back with it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect, text

from gatepass.settings import Settings
from gatepass.storage import db
from migrations import downgrade

ROW = (
    "INSERT INTO opaque_tokens (digest, jti, client_id, sub, sid, username, scope, roles,"
    " audience, issued_at, expires_at, jkt) VALUES ('d1', 'j1', 'gpc_c', 'u1', 's1', NULL,"
    " 'profile', '[]', 'api', 1, 2, 'k1')"
)
KEPT = {"ix_opaque_tokens_expires_at", "ix_opaque_tokens_sid", "ix_opaque_tokens_sub"}


def _shape(conn: Any) -> tuple[set[str], list[list[str]]]:
    i = inspect(conn)
    indexes = {ix["name"] for ix in i.get_indexes("opaque_tokens") if not ix.get("unique")}
    uniques = [u["column_names"] for u in i.get_unique_constraints("opaque_tokens")]
    return indexes, uniques


def test_0014_up_and_down_keep_the_tokens(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    async def main() -> None:
        engine = db.make_engine(make_settings(database_url=database_url))
        try:
            await db.upgrade(engine, "0013")
            async with engine.begin() as conn:
                await conn.execute(text(ROW))
                assert await conn.run_sync(_shape) == (
                    KEPT | {"ix_opaque_tokens_client_id"},
                    [["jti"]],
                )

            await db.upgrade(engine, "0014")
            async with engine.begin() as conn:
                assert await conn.run_sync(_shape) == (KEPT, [])
                rows = (
                    await conn.execute(text("SELECT digest, jti, sid, jkt FROM opaque_tokens"))
                ).all()
                assert [tuple(r) for r in rows] == [("d1", "j1", "s1", "k1")]
                # two tokens may now share a jti (128 random bits; nothing looks tokens up by it)
                await conn.execute(text(ROW.replace("'d1'", "'d2'")))

            async with engine.begin() as conn:
                await conn.execute(text("DELETE FROM opaque_tokens WHERE digest = 'd2'"))
                await conn.run_sync(downgrade, "0013")
            async with engine.begin() as conn:
                assert await conn.run_sync(_shape) == (
                    KEPT | {"ix_opaque_tokens_client_id"},
                    [["jti"]],
                )
                count = (await conn.execute(text("SELECT count(*) FROM opaque_tokens"))).scalar()
                assert count == 1
        finally:
            await engine.dispose()

    asyncio.run(main())
