"""Engine, sessions and migrations for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from gatepass.settings import Settings
from gatepass.storage.code_rows import CodeRows
from gatepass.storage.code_rows.postgresql import PostgresCodeRows
from gatepass.storage.code_rows.sqlite import SqliteCodeRows
from gatepass.storage.token_rows import TokenRows
from gatepass.storage.token_rows.postgresql import PostgresTokenRows
from gatepass.storage.token_rows.sqlite import SQLITE_PRAGMAS, SqliteTokenRows

MIGRATIONS = Path(__file__).parent / "migrations"
# what SQLite may create beside the database file; it gives them the database file's mode
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

log = logging.getLogger("gatepass.storage")

# What a database that is down, unreachable, locked past its busy timeout or out of connections
# raises, through SQLAlchemy or the drivers directly: the server answers 503, not 500. Interface
# errors are left out on purpose: they mean a bug here (a bad parameter), which stays a 500.
UNAVAILABLE: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlite3.OperationalError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    ConnectionError,  # refused or reset on connect
    TimeoutError,
)


def make_engine(settings: Settings) -> AsyncEngine:
    url = settings.async_database_url
    # hide_parameters: a database error in a log never carries a digest, hash or token (the
    # token rows' asyncpg errors are logged without their detail: server/errors.py)
    kwargs: dict[str, Any] = {"pool_pre_ping": not settings.is_sqlite, "hide_parameters": True}
    if settings.is_sqlite:
        Path(settings.sqlite_path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_sqlite_files(settings.sqlite_path)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20)
    engine = create_async_engine(url, **kwargs)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine.sync_engine, "handle_error", _unavailable_as_operational)
    return engine


# SQLSTATE classes of a server that cannot take the request now: 08 connection exception,
# 53 insufficient resources (53300 too many connections), 57P01-57P03 shut down or starting
_UNAVAILABLE_STATES = ("08", "53", "57P01", "57P02", "57P03")


def _unavailable_as_operational(ctx: Any) -> Exception | None:
    """SQLAlchemy's asyncpg dialect wraps most server refusals, "too many clients" among them
    (asyncpg's ``TooManyConnectionsError``), as a plain ``DBAPIError``, which would be a 500:
    make those an ``OperationalError``, which ``UNAVAILABLE`` answers with 503."""
    original = ctx.original_exception
    cause = original.__cause__ if original.__cause__ is not None else original
    state = getattr(cause, "sqlstate", None) or ""
    if isinstance(ctx.sqlalchemy_exception, sqlalchemy.exc.OperationalError) or not (
        isinstance(cause, UNAVAILABLE) or state.startswith(_UNAVAILABLE_STATES)
    ):
        return None
    return sqlalchemy.exc.OperationalError(
        ctx.statement, ctx.parameters, original, hide_parameters=True
    )


def private_sqlite_files(path: str) -> None:
    """Make the SQLite database (password hashes, sessions, addresses) readable by its owner
    only: create the file 0600 before SQLite opens it (SQLite then creates its ``-wal``, ``-shm``
    and ``-journal`` with the same mode), and bring back to 0600 any of them that an earlier
    version left readable by others. Independent of the umask and of the directory's mode."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for name in (path, *(path + suffix for suffix in SQLITE_COMPANIONS)):
        try:
            mode = os.stat(name).st_mode
        except FileNotFoundError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            os.chmod(name, 0o600)


def warn_if_exposed(settings: Settings) -> list[Path]:
    """Log a warning for each directory holding gatepass's files (the data directory, and the
    SQLite database's) that its group or others may enter or read; returns them."""
    dirs = {settings.data_dir.resolve()}
    if settings.is_sqlite:
        dirs.add(Path(settings.sqlite_path).resolve().parent)
    exposed = []
    for d in sorted(dirs):
        try:
            mode = d.stat().st_mode
        except FileNotFoundError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            exposed.append(d)
            log.warning(
                "data directory is accessible to its group or others: %s (mode %s; chmod 700 "
                "it); gatepass's own files in it are 0600",
                d,
                oct(stat.S_IMODE(mode)),
                extra={"path": str(d)},
            )
    return exposed


async def open_token_rows(settings: Settings) -> TokenRows:
    """The hot statements' own connections (``storage/token_rows/``), beside the engine."""
    if settings.is_sqlite:
        return SqliteTokenRows(settings.sqlite_path)
    url = make_url(settings.async_database_url).set(drivername="postgresql")
    return await PostgresTokenRows.open(url.render_as_string(hide_password=False))


def code_rows_on(token_rows: TokenRows) -> CodeRows:
    """The code flow's statements (``storage/code_rows/``), on the token rows' connections."""
    if isinstance(token_rows, SqliteTokenRows):
        return SqliteCodeRows(token_rows)
    if isinstance(token_rows, PostgresTokenRows):
        return PostgresCodeRows(token_rows.pool)
    raise TypeError(f"no code rows for {type(token_rows).__name__}")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cur.execute(pragma)
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent; serialised across processes on PG)."""

    def run(conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7364501)")
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def get(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(get)
