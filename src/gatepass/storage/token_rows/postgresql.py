"""The hot statements on PostgreSQL (``storage/token_rows``): asyncpg connections of their own
(``storage/pg_pool.py``), one round trip each; rotation is a single statement."""

from __future__ import annotations

from typing import Any

import asyncpg

from gatepass.storage.coalesce import Coalesce
from gatepass.storage.pg_pool import PgPool
from gatepass.storage.token_rows import (
    SELECT_REFRESH,
    OpaqueRow,
    RefreshFound,
    Rotation,
    RotationStep,
    opaque_row,
    opaque_values,
    refresh_found,
)

# many rows per statement (``Coalesce``): one array per column, one digest array
_PG_INSERT_OPAQUE = """
INSERT INTO opaque_tokens (digest, jti, client_id, sub, sid, username, scope, roles, audience,
                           issued_at, expires_at, jkt)
SELECT d, j, c, s, si, u, sc, r::json, a, i, e, k
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::float8[], $11::float8[], $12::text[])
     AS t(d, j, c, s, si, u, sc, r, a, i, e, k)
"""
_PG_OPAQUE = """
SELECT digest, jti, client_id, sub, sid, username, scope, roles, audience, issued_at, expires_at,
       jkt
FROM opaque_tokens WHERE digest = ANY($1::text[])
"""
_PG_REFRESH = SELECT_REFRESH.format(p="$1")  # one by one: cheaper than ANY for a 3-way join
# $1 sid, $2 parent, $3 child, $4 child generation, $5 now, $6 idle deadline, $7 idle step
_PG_LIVE = """
WITH live AS (
    SELECT id FROM login_sessions
    WHERE id = $1 AND revoked_at IS NULL AND expires_at > $5 AND idle_expires_at > $5
    FOR UPDATE
), consumed AS (
    UPDATE refresh_tokens SET used_at = $5
    WHERE digest = $2 AND used_at IS NULL AND sid IN (SELECT id FROM live)
    RETURNING sid
),"""
_PG_MOVE = """ moved AS (
    UPDATE login_sessions SET last_used_at = $5, idle_expires_at = $6
    WHERE id IN (SELECT sid FROM consumed) AND idle_expires_at < $6::float8 - $7::float8
),"""
_PG_CHILD = """ child AS (
    INSERT INTO refresh_tokens (digest, sid, generation, parent_digest, issued_at, used_at,
                                expires_at)
    SELECT $3, sid, $4, $2, $5, NULL, $6 FROM consumed
    RETURNING digest
)
SELECT (SELECT count(*) FROM live), (SELECT count(*) FROM child)
"""
_PG_ROTATE = _PG_LIVE + _PG_MOVE + _PG_CHILD
# the same without the login's row (RotationStep.move_login False, most rotations): an UPDATE
# of login_sessions in the statement, even one that changes no row, costs its executor start
# (opening the table's seven indexes, a hash aggregate, an index scan)
_PG_ROTATE_KEEP = _PG_LIVE + _PG_CHILD


class PostgresTokenRows:
    """The four statements on a pool of asyncpg connections: one round trip each, and one for
    all the opaque tokens stored or read at the same moment (``Coalesce``: the database's own
    CPU, on the same cores as the server, is what limits it)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._add_opaque = Coalesce(
            self._insert_opaque, split_on=(asyncpg.IntegrityConstraintViolationError,)
        )
        self._opaque = Coalesce(self._opaque_rows)

    @classmethod
    async def open(cls, dsn: str, *, max_size: int = 10) -> PostgresTokenRows:
        # Connections open on first use, so an idle instance holds none (``storage/pg_pool.py``:
        # no reset query when a connection goes back, a fifth of the server's CPU in a profile of
        # the code flow, and 80 us less client CPU per statement than asyncpg's pool). Every
        # statement here finds its rows by key; enable_seqscan=off keeps a plan that PostgreSQL
        # cached while a table was tiny (a sequential scan was cheapest then) from scanning it
        # once it has grown: measured 500 us of server CPU per refresh lookup, against 70.
        pool = PgPool(dsn, max_size=max_size, server_settings={"enable_seqscan": "off"})
        return cls(pool)

    @property
    def pool(self) -> Any:
        """The pool (the code flow's statements share it: ``storage/code_rows/postgresql.py``)."""
        return self._pool

    async def add_opaque(self, row: OpaqueRow) -> None:
        values = opaque_values(row)
        values[9], values[10] = float(values[9]), float(values[10])  # issued_at, expires_at
        await self._add_opaque(values)

    async def opaque(self, digest: str) -> OpaqueRow | None:
        return await self._opaque(digest)

    async def refresh(self, digest: str) -> RefreshFound | None:
        found = await self._pool.fetchrow(_PG_REFRESH, digest)
        return refresh_found(tuple(found)) if found is not None else None

    async def _insert_opaque(self, rows: list[list[Any]]) -> list[None]:
        await self._pool.execute(
            _PG_INSERT_OPAQUE, *(list(column) for column in zip(*rows, strict=True))
        )
        return [None] * len(rows)

    async def _opaque_rows(self, digests: list[str]) -> list[OpaqueRow | None]:
        found = {r[0]: opaque_row(tuple(r)) for r in await self._pool.fetch(_PG_OPAQUE, digests)}
        return [found.get(d) for d in digests]

    async def rotate(self, step: RotationStep) -> Rotation:
        query, last = _PG_ROTATE_KEEP, [step.idle_deadline]
        if step.move_login:
            query, last = _PG_ROTATE, [step.idle_deadline, step.idle_step]
        live, written = await self._pool.fetchrow(
            query,
            step.sid,
            step.parent_digest,
            step.child_digest,
            step.generation + 1,
            step.now,
            *last,
        )
        if not live:
            return Rotation.DEAD
        return Rotation.ROTATED if written else Rotation.LOST

    async def close(self) -> None:
        for batches in (self._add_opaque, self._opaque):
            await batches.drain()
        await self._pool.close()
