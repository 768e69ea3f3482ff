"""The hot statements on SQLite (``storage/token_rows``): one ``sqlite3`` connection of this
process, used on the event loop; ``BEGIN IMMEDIATE`` with a busy timeout of 0 and an
``asyncio.sleep`` back-off; WAL checkpoints in a thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from gatepass import tailtrace
from gatepass.storage.coalesce import Coalesce
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

T = TypeVar("T")


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
_SQLITE_REFRESH = SELECT_REFRESH.format(p="?")
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
RESTART_WAL_BYTES = 32 << 20  # a WAL this large is made to start over (writers wait meanwhile)
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
        self._rotate = Coalesce(self._rotate_many, split_on=(sqlite3.IntegrityError,))
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoints, name="gatepass-wal-checkpoint", daemon=True
        )
        self._checkpointer.start()

    async def add_opaque(self, row: OpaqueRow) -> None:
        """Stored (committed) when this returns. Inserts that arrive together share one commit:
        each commit writes every b-tree page it touched, ~8 pages per token alone."""
        await self._add_opaque(opaque_values(row))

    async def _insert_opaque(self, rows: list[list[Any]]) -> list[None]:
        await self.write(lambda db: db.executemany(_SQLITE_INSERT_OPAQUE, rows))
        return [None] * len(rows)

    async def opaque(self, digest: str) -> OpaqueRow | None:
        found = await self.read(lambda db: db.execute(_SQLITE_OPAQUE, (digest,)).fetchone())
        return opaque_row(found) if found is not None else None

    async def refresh(self, digest: str) -> RefreshFound | None:
        found = await self.read(lambda db: db.execute(_SQLITE_REFRESH, (digest,)).fetchone())
        return refresh_found(found) if found is not None else None

    async def rotate(self, step: RotationStep) -> Rotation:
        """Committed when this returns. Rotations that arrive together share one transaction,
        each applied in turn exactly as alone (a later one of the same login sees the earlier
        one's writes): one commit writes each b-tree page they touched once, not once each."""
        return await self._rotate(step)

    async def _rotate_many(self, steps: list[RotationStep]) -> list[Rotation]:
        return await self.write(lambda db: [_rotate_one(db, step) for step in steps])

    async def close(self) -> None:
        await self._add_opaque.drain()
        await self._rotate.drain()
        self._closed.set()
        self._dirty.set()
        await asyncio.to_thread(self._checkpointer.join)
        self._db.close()

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """``query`` on this connection (the code flow's statements share it too,
        ``storage/code_rows/sqlite.py``)."""
        # a read in WAL mode takes no lock a writer holds; busy only in rare moments (recovery)
        return await _when_free(functools.partial(query, self._db))

    async def write(self, step: Callable[[sqlite3.Connection], T]) -> T:
        """``step`` in one write transaction: committed if it returns, rolled back if it raises.
        Other hot writes share it too: the code flow's (``storage/code_rows/sqlite.py``), the
        security events' (``storage/events.py``).

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
        meets a busy database and backs off without blocking, ``write``). So: PASSIVE for the
        bulk, every round; RESTART for the few frames written meanwhile, once the WAL has grown
        past ``RESTART_WAL_BYTES``. A RESTART every round (4 a second) held off every write
        then in flight, and their back-offs made up most of the refresh grant's p99
        (bench/README.md, "Tail latency")."""
        db = _connect(self._path, timeout=CHECKPOINT_LOCK_WAIT)
        restart_frames = RESTART_WAL_BYTES // db.execute("PRAGMA page_size").fetchone()[0]
        try:
            while not self._closed.is_set():
                self._dirty.wait()
                self._dirty.clear()
                with contextlib.suppress(sqlite3.Error):  # busy now: the next round catches up
                    with tailtrace.span("checkpoint.passive"):  # the bulk, writers go on
                        _, frames, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if frames >= restart_frames:
                        with tailtrace.span("checkpoint.restart"):  # the rest, writers wait
                            db.execute("PRAGMA wal_checkpoint(RESTART)")
                self._closed.wait(CHECKPOINT_INTERVAL)
        finally:
            db.close()


def _rotate_one(db: sqlite3.Connection, step: RotationStep) -> Rotation:
    """One rotation, inside the caller's write transaction: nothing is written unless the login
    is live and the parent still unused."""
    sid, now, idle = step.sid, step.now, step.idle_deadline
    if db.execute(_SQLITE_LIVE, (sid, now, now)).fetchone() is None:
        return Rotation.DEAD
    consumed = db.execute(_SQLITE_CONSUME, (now, step.parent_digest, sid))
    if consumed.rowcount != 1:
        return Rotation.LOST
    if step.move_login:
        db.execute(_SQLITE_MOVE_LOGIN, (now, idle, sid, idle - step.idle_step))
    db.execute(
        _SQLITE_INSERT_REFRESH,
        (step.child_digest, sid, step.generation + 1, step.parent_digest, now, idle),
    )
    return Rotation.ROTATED


# every SQLite connection of gatepass's (these and SQLAlchemy's, storage/db.py)
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")


def _connect(path: str, *, timeout: float = 0) -> sqlite3.Connection:
    """A connection whose statements wait ``timeout`` seconds for a lock. Its pragmas wait up to
    ``BUSY_TIMEOUT`` (at start-up, off the request path): another process may hold the database
    for a moment then (``serve --workers 2`` starts two at once), as SQLAlchemy's do."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        db.execute(pragma)
    db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return db


async def _when_free(attempt: Callable[[], T]) -> T:
    """``attempt()``, again after growing sleeps while the database is busy; the lock error
    after ``BUSY_TIMEOUT``. The first try costs no sleep and no switch: the common case."""
    try:
        return attempt()
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
    with tailtrace.span("sqlite.busy_wait"):  # only while tracing: how long a writer backed off
        return await _back_off(attempt)


async def _back_off(attempt: Callable[[], T]) -> T:
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
