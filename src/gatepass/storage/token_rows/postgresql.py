"""The hot statements on PostgreSQL (``storage/token_rows``): asyncpg connections of their own
(``storage/pg_pool.py``); rotation is a single statement.

Calls that arrive together share a round trip (``Coalesce``): opaque tokens as one statement over
arrays; refresh lookups and rotations as the same one-row statement once per call, pipelined by
asyncpg's ``fetchmany`` before a single Sync. PostgreSQL runs pipelined statements in order in one
implicit transaction: the rotations of a batch share one commit, each applied as it would be
alone (a later one of the same login sees the earlier one's writes), all committed or none. Under
refresh load this took the server's CPU per refresh from ~600 to ~250 us (bench/README.md).
"""

from __future__ import annotations

import functools
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
# one statement per digest (pipelined when several): cheaper than ANY for a 3-way join
_PG_REFRESH = SELECT_REFRESH.format(p="$1")
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
        self._refresh = Coalesce(self._refresh_rows)
        # a batch that fails on one call's error is run again call by call (Coalesce): a
        # duplicate key, or a deadlock with a statement that locks logins in another order
        split = (asyncpg.IntegrityConstraintViolationError, asyncpg.DeadlockDetectedError)
        self._rotate_keep = Coalesce(
            functools.partial(self._rotate_many, _PG_ROTATE_KEEP), split_on=split
        )
        self._rotate_move = Coalesce(
            functools.partial(self._rotate_many, _PG_ROTATE), split_on=split
        )

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
        return await self._refresh(digest)

    async def _refresh_rows(self, digests: list[str]) -> list[RefreshFound | None]:
        if len(digests) == 1:
            row = await self._pool.fetchrow(_PG_REFRESH, digests[0])
            return [refresh_found(tuple(row)) if row is not None else None]
        rows = await self._pool.fetchmany(_PG_REFRESH, [(d,) for d in digests])
        # a digest not found has no row: each row is matched to its lookup by the token's digest
        found = {f[1].digest: f for f in (refresh_found(tuple(r)) for r in rows)}
        return [found.get(d) for d in digests]

    async def _insert_opaque(self, rows: list[list[Any]]) -> list[None]:
        await self._pool.execute(
            _PG_INSERT_OPAQUE, *(list(column) for column in zip(*rows, strict=True))
        )
        return [None] * len(rows)

    async def _opaque_rows(self, digests: list[str]) -> list[OpaqueRow | None]:
        found = {r[0]: opaque_row(tuple(r)) for r in await self._pool.fetch(_PG_OPAQUE, digests)}
        return [found.get(d) for d in digests]

    async def rotate(self, step: RotationStep) -> Rotation:
        call = (step.sid, step.parent_digest, step.child_digest, step.generation + 1, step.now)
        if step.move_login:
            return await self._rotate_move((*call, step.idle_deadline, step.idle_step))
        return await self._rotate_keep((*call, step.idle_deadline))

    async def _rotate_many(self, query: str, calls: list[tuple[Any, ...]]) -> list[Rotation]:
        """The rotations of one batch in one transaction (see the module docstring), in order of
        their logins' ids: every batch locks logins in that one order, so that two batches,
        from two connections or two workers, cannot deadlock (nor ``SsoSessions.adopt``, which
        locks in the same order)."""
        rows: list[Any]
        if len(calls) == 1:
            rows = [await self._pool.fetchrow(query, *calls[0])]
        else:
            # a stable sort: two rotations of one login run in the order they came
            order = sorted(range(len(calls)), key=lambda i: calls[i][0])
            ran = await self._pool.fetchmany(query, [calls[i] for i in order])
            rows = [None] * len(calls)
            for i, row in zip(order, ran, strict=True):
                rows[i] = row
        return [_outcome(*row) for row in rows]

    async def close(self) -> None:
        for batches in (
            self._add_opaque,
            self._opaque,
            self._refresh,
            self._rotate_keep,
            self._rotate_move,
        ):
            await batches.drain()
        await self._pool.close()


def _outcome(live: int, written: int) -> Rotation:
    if not live:
        return Rotation.DEAD
    return Rotation.ROTATED if written else Rotation.LOST
