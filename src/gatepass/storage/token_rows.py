"""The statements every token request runs, on the database driver directly.

Four statements carry the request load: storing an opaque access token, reading one back
(introspection, ``/api/profile``), reading a presented refresh token with its login and user,
and rotating it. Through an async SQLAlchemy session each cost 0.4-0.9 ms of CPU (greenlet
switches, pool check-out with a ping on PostgreSQL, five or six hops to aiosqlite's thread),
several times the statement itself, and building model instances from the rows cost more than
the statements (rows come back as the plain frozen classes below). Here they run:

* on SQLite, on the event loop, on one ``sqlite3`` connection of this process: a WAL commit
  without fsync (``synchronous=NORMAL``) takes tens of µs, less than one hop to a thread. A
  write transaction starts with ``BEGIN IMMEDIATE`` and never waits inside SQLite (busy
  timeout 0): when another process or connection holds the write lock, it backs off with
  ``asyncio.sleep`` and tries again, so the loop never blocks on a lock. The loop never fsyncs
  either: this connection does not checkpoint; a thread checkpoints the WAL a few times a
  second instead.
* on PostgreSQL, on an asyncpg pool of its own, one round trip each; rotation is a single
  statement.

Opaque tokens stored (both) or read (PostgreSQL) at the same moment share one statement
(``storage/coalesce.py``); nothing is answered before its commit. Everything else stays on
SQLAlchemy; the schema is the models' (``storage/models.py``), and the same suites run on both.

Rotation is the atomic step of ``oauth/refresh.py``: the login must be live and the parent
unused; consuming the parent and writing the child happen together or not at all, and so does
moving the login's idle deadline when it moves by more than ``idle_step``. SQLite holds the
write lock for the statements; PostgreSQL locks the login row (``FOR UPDATE``) and consumes the
parent with a conditional ``UPDATE``, which a concurrent rotation of the same parent re-checks
after the first commits, and then skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import asyncpg

from gatepass.storage.coalesce import Coalesce

T = TypeVar("T")


class Rotation(enum.Enum):
    ROTATED = "rotated"  # this call consumed the parent and wrote the child
    LOST = "lost"  # the parent was already used (another request won, or it is reuse)
    DEAD = "dead"  # the login was revoked or expired meanwhile; nothing changed


# the opaque-token columns, in the order of the statements below and of OpaqueRow's fields
_OPAQUE_COLUMNS = (
    "digest",
    "jti",
    "client_id",
    "sub",
    "sid",
    "username",
    "scope",
    "roles",
    "audience",
    "issued_at",
    "expires_at",
    "jkt",
)
# both dialects; {p} is the parameter: "?" for sqlite3, "$1" for asyncpg
_SELECT_REFRESH = """
SELECT l.id, l.user_id, l.client_id, l.scope, l.created_at, l.last_used_at, l.expires_at,
       l.idle_expires_at, l.revoked_at, l.revoked_reason, l.user_agent, l.ip, l.jkt,
       r.digest, r.sid, r.generation, r.parent_digest, r.issued_at, r.used_at, r.expires_at,
       u.id, u.username, u.roles, u.disabled, u.created_at, u.tokens_not_before
FROM refresh_tokens r
JOIN login_sessions l ON l.id = r.sid
LEFT JOIN users u ON u.id = l.user_id
WHERE r.digest = {p}
"""


@dataclass(frozen=True, slots=True)
class OpaqueRow:
    """An opaque access token's row (``models.OpaqueAccessToken``'s columns)."""

    digest: str
    jti: str
    client_id: str
    sub: str
    sid: str | None
    username: str | None
    scope: str
    roles: list[str]
    audience: str
    issued_at: float
    expires_at: float
    jkt: str | None = None  # the DPoP key it is bound to (RFC 9449 §6)


@dataclass(frozen=True, slots=True)
class LoginRow:
    """A login's row (``models.LoginSession``'s columns)."""

    id: str
    user_id: str
    client_id: str
    scope: str
    created_at: float
    last_used_at: float
    expires_at: float
    idle_expires_at: float
    revoked_at: float | None
    revoked_reason: str | None
    user_agent: str | None
    ip: str | None
    jkt: str | None  # the DPoP key its refresh tokens are bound to (RFC 9449 §5)


@dataclass(frozen=True, slots=True)
class RefreshRow:
    """A refresh token's row (``models.RefreshToken``'s columns)."""

    digest: str
    sid: str
    generation: int
    parent_digest: str | None
    issued_at: float
    used_at: float | None
    expires_at: float


@dataclass(frozen=True, slots=True)
class UserRow:
    """What the refresh grant needs of a user: never the password hash."""

    id: str
    username: str
    roles: list[str]
    disabled: bool
    created_at: float
    tokens_not_before: float | None


@dataclass(frozen=True, slots=True)
class RotationStep:
    """One rotation: consume ``parent_digest`` (of ``generation``) and write its child; move the
    login's idle deadline (and ``last_used_at``) only if that moves it by more than
    ``idle_step`` seconds (``core.refresh.idle_step``)."""

    sid: str
    parent_digest: str
    child_digest: str
    generation: int
    now: float
    idle_deadline: float
    idle_step: float = 0.0


# plain rows, not model instances: building three instrumented instances per refresh cost more
# than the statement (measured 60 µs of 250 µs per request)
RefreshFound = tuple[LoginRow, RefreshRow, UserRow | None]


def _opaque_row(values: Sequence[Any]) -> OpaqueRow:
    row = list(values)
    row[7] = _json_list(row[7])  # roles
    return OpaqueRow(*row)


def _refresh_found(values: Sequence[Any]) -> RefreshFound:
    login = LoginRow(*values[:13])
    token = RefreshRow(*values[13:20])
    uid, username, roles, disabled, created_at, not_before = values[20:]
    user = None
    if uid is not None:
        user = UserRow(uid, username, _json_list(roles), bool(disabled), created_at, not_before)
    return login, token, user


def _json_list(value: Any) -> list[str]:
    data = json.loads(value) if isinstance(value, str | bytes) else value
    return [str(v) for v in data or ()]


def _opaque_values(row: OpaqueRow) -> list[Any]:
    values = [getattr(row, c) for c in _OPAQUE_COLUMNS]
    values[_OPAQUE_COLUMNS.index("roles")] = json.dumps(list(row.roles))
    return values


class TokenRows(Protocol):
    async def add_opaque(self, row: OpaqueRow) -> None: ...

    async def opaque(self, digest: str) -> OpaqueRow | None: ...

    async def refresh(self, digest: str) -> RefreshFound | None:
        """The presented refresh token's row, its login and the login's user (None if gone)."""

    async def rotate(self, step: RotationStep) -> Rotation:
        """Consume the parent and write the child, atomically (see the module docstring)."""

    async def close(self) -> None: ...


# -- SQLite ---------------------------------------------------------------------------------

_SQLITE_INSERT_OPAQUE = """
INSERT INTO opaque_tokens (digest, jti, client_id, sub, sid, username, scope, roles, audience,
                           issued_at, expires_at, jkt)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_SQLITE_OPAQUE = """
SELECT digest, jti, client_id, sub, sid, username, scope, roles, audience, issued_at, expires_at,
       jkt
FROM opaque_tokens WHERE digest = ?
"""
_SQLITE_REFRESH = _SELECT_REFRESH.format(p="?")
_SQLITE_LIVE = (
    "SELECT 1 FROM login_sessions"
    " WHERE id = ? AND revoked_at IS NULL AND expires_at > ? AND idle_expires_at > ?"
)
_SQLITE_MOVE_LOGIN = (
    "UPDATE login_sessions SET last_used_at = ?, idle_expires_at = ?"
    " WHERE id = ? AND idle_expires_at < ?"
)
_SQLITE_CONSUME = (
    "UPDATE refresh_tokens SET used_at = ? WHERE digest = ? AND sid = ? AND used_at IS NULL"
)
_SQLITE_INSERT_REFRESH = """
INSERT INTO refresh_tokens (digest, sid, generation, parent_digest, issued_at, used_at, expires_at)
VALUES (?, ?, ?, ?, ?, NULL, ?)
"""

BUSY_WAIT_FIRST = 0.0002  # seconds before the first retry of a locked database
BUSY_WAIT_MAX = 0.01  # longest back-off between retries
BUSY_TIMEOUT = 30.0  # then the lock error goes up, as SQLAlchemy's busy timeout would
CHECKPOINT_INTERVAL = 0.25  # seconds between WAL checkpoints (in a thread) after writes
WAL_SIZE_LIMIT = 64 << 20  # bytes the WAL file is cut back to when it starts over
CHECKPOINT_LOCK_WAIT = 1.0  # how long a checkpoint waits for the write lock, then skips a round


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # pragma: no cover - Python < 3.11
        return "locked" in str(exc)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SqliteTokenRows:
    """The four statements on one ``sqlite3`` connection, run on the event loop."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._db = _connect(path)
        # this connection never checkpoints (a checkpoint fsyncs): _checkpoints does, in a thread
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        self._add_opaque = Coalesce(self._insert_opaque, split_on=(sqlite3.IntegrityError,))
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoints, name="gatepass-wal-checkpoint", daemon=True
        )
        self._checkpointer.start()

    async def add_opaque(self, row: OpaqueRow) -> None:
        """Stored (committed) when this returns. Inserts that arrive together share one commit:
        each commit writes every b-tree page it touched, ~8 pages per token alone."""
        await self._add_opaque(_opaque_values(row))

    async def _insert_opaque(self, rows: list[list[Any]]) -> list[None]:
        await self._write(lambda db: db.executemany(_SQLITE_INSERT_OPAQUE, rows))
        return [None] * len(rows)

    async def opaque(self, digest: str) -> OpaqueRow | None:
        found = await self._read(lambda db: db.execute(_SQLITE_OPAQUE, (digest,)).fetchone())
        return _opaque_row(found) if found is not None else None

    async def refresh(self, digest: str) -> RefreshFound | None:
        found = await self._read(lambda db: db.execute(_SQLITE_REFRESH, (digest,)).fetchone())
        return _refresh_found(found) if found is not None else None

    async def rotate(self, step: RotationStep) -> Rotation:
        sid, now, idle = step.sid, step.now, step.idle_deadline

        def run(db: sqlite3.Connection) -> Rotation:
            if db.execute(_SQLITE_LIVE, (sid, now, now)).fetchone() is None:
                return Rotation.DEAD
            consumed = db.execute(_SQLITE_CONSUME, (now, step.parent_digest, sid))
            if consumed.rowcount != 1:
                return Rotation.LOST
            db.execute(_SQLITE_MOVE_LOGIN, (now, idle, sid, idle - step.idle_step))
            db.execute(
                _SQLITE_INSERT_REFRESH,
                (step.child_digest, sid, step.generation + 1, step.parent_digest, now, idle),
            )
            return Rotation.ROTATED

        return await self._write(run)

    async def close(self) -> None:
        await self._add_opaque.drain()
        self._closed.set()
        self._dirty.set()
        await asyncio.to_thread(self._checkpointer.join)
        self._db.close()

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        # a read in WAL mode takes no lock a writer holds; busy only in rare moments (recovery)
        return await _when_free(functools.partial(query, self._db))

    async def _write(self, step: Callable[[sqlite3.Connection], T]) -> T:
        """``step`` in one write transaction: committed if it returns, rolled back if it raises.

        No ``await`` between BEGIN and COMMIT: nothing else on this loop runs in between."""
        db = self._db
        await _when_free(functools.partial(db.execute, "BEGIN IMMEDIATE"))
        try:
            result = step(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._dirty.set()
        return result

    def _checkpoints(self) -> None:
        """Checkpoints that let the WAL start over instead of growing under steady writes.

        A PASSIVE checkpoint never finishes while writers keep appending, and the WAL only
        starts over after one that did; a RESTART holds off writers while it runs (the loop
        meets a busy database and backs off without blocking, ``_write``). So: PASSIVE for the
        bulk, then RESTART for the few frames written meanwhile."""
        db = _connect(self._path, timeout=CHECKPOINT_LOCK_WAIT)
        try:
            while not self._closed.is_set():
                self._dirty.wait()
                self._dirty.clear()
                with contextlib.suppress(sqlite3.Error):  # busy now: the next round catches up
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")  # the bulk, writers go on
                    db.execute("PRAGMA wal_checkpoint(RESTART)")  # the rest, writers wait
                self._closed.wait(CHECKPOINT_INTERVAL)
        finally:
            db.close()


# every SQLite connection of gatepass's (these and SQLAlchemy's, storage/db.py)
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")


def _connect(path: str, *, timeout: float = 0) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        db.execute(pragma)
    return db


async def _when_free(attempt: Callable[[], T]) -> T:
    """``attempt()``, again after growing sleeps while the database is busy; the lock error
    after ``BUSY_TIMEOUT``. The first try costs no sleep and no switch: the common case."""
    try:
        return attempt()
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT
    wait = BUSY_WAIT_FIRST
    while loop.time() < deadline:
        await asyncio.sleep(wait)
        wait = min(wait * 2, BUSY_WAIT_MAX)
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
    raise sqlite3.OperationalError("database is locked")


# -- PostgreSQL -------------------------------------------------------------------------------

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
_PG_REFRESH = _SELECT_REFRESH.format(p="$1")  # one by one: cheaper than ANY for a 3-way join
# $1 sid, $2 parent, $3 child, $4 child generation, $5 now, $6 idle deadline, $7 idle step
_PG_ROTATE = """
WITH live AS (
    SELECT id FROM login_sessions
    WHERE id = $1 AND revoked_at IS NULL AND expires_at > $5 AND idle_expires_at > $5
    FOR UPDATE
), consumed AS (
    UPDATE refresh_tokens SET used_at = $5
    WHERE digest = $2 AND used_at IS NULL AND sid IN (SELECT id FROM live)
    RETURNING sid
), moved AS (
    UPDATE login_sessions SET last_used_at = $5, idle_expires_at = $6
    WHERE id IN (SELECT sid FROM consumed) AND idle_expires_at < $6::float8 - $7::float8
), child AS (
    INSERT INTO refresh_tokens (digest, sid, generation, parent_digest, issued_at, used_at,
                                expires_at)
    SELECT $3, sid, $4, $2, $5, NULL, $6 FROM consumed
    RETURNING digest
)
SELECT (SELECT count(*) FROM live), (SELECT count(*) FROM child)
"""


class PostgresTokenRows:
    """The four statements on an asyncpg pool: one round trip each, and one for all the opaque
    tokens stored or read at the same moment (``Coalesce``: the database's own CPU, on the same
    cores as the server, is what limits it)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._add_opaque = Coalesce(
            self._insert_opaque, split_on=(asyncpg.IntegrityConstraintViolationError,)
        )
        self._opaque = Coalesce(self._opaque_rows)

    @classmethod
    async def open(cls, dsn: str, *, max_size: int = 10) -> PostgresTokenRows:
        # Connections open on first use (min_size 0), so an idle instance holds none. Every
        # statement here finds its rows by key; enable_seqscan=off keeps a plan that PostgreSQL
        # cached while a table was tiny (a sequential scan was cheapest then) from scanning it
        # once it has grown: measured 500 us of server CPU per refresh lookup, against 70.
        pool = await asyncpg.create_pool(
            dsn, min_size=0, max_size=max_size, server_settings={"enable_seqscan": "off"}
        )
        return cls(pool)

    async def add_opaque(self, row: OpaqueRow) -> None:
        values = _opaque_values(row)
        values[9], values[10] = float(values[9]), float(values[10])  # issued_at, expires_at
        await self._add_opaque(values)

    async def opaque(self, digest: str) -> OpaqueRow | None:
        return await self._opaque(digest)

    async def refresh(self, digest: str) -> RefreshFound | None:
        found = await self._pool.fetchrow(_PG_REFRESH, digest)
        return _refresh_found(tuple(found)) if found is not None else None

    async def _insert_opaque(self, rows: list[list[Any]]) -> list[None]:
        await self._pool.execute(
            _PG_INSERT_OPAQUE, *(list(column) for column in zip(*rows, strict=True))
        )
        return [None] * len(rows)

    async def _opaque_rows(self, digests: list[str]) -> list[OpaqueRow | None]:
        found = {r[0]: _opaque_row(tuple(r)) for r in await self._pool.fetch(_PG_OPAQUE, digests)}
        return [found.get(d) for d in digests]

    async def rotate(self, step: RotationStep) -> Rotation:
        live, written = await self._pool.fetchrow(
            _PG_ROTATE,
            step.sid,
            step.parent_digest,
            step.child_digest,
            step.generation + 1,
            step.now,
            step.idle_deadline,
            step.idle_step,
        )
        if not live:
            return Rotation.DEAD
        return Rotation.ROTATED if written else Rotation.LOST

    async def close(self) -> None:
        for batches in (self._add_opaque, self._opaque):
            await batches.drain()
        await self._pool.close()
