"""Engine, sessions and migrations for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import sqlite3
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
from gatepass.storage.token_rows import TokenRows
from gatepass.storage.token_rows.postgresql import PostgresTokenRows
from gatepass.storage.token_rows.sqlite import SQLITE_PRAGMAS, SqliteTokenRows

MIGRATIONS = Path(__file__).parent / "migrations"

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
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20)
    engine = create_async_engine(url, **kwargs)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


async def open_token_rows(settings: Settings) -> TokenRows:
    """The hot statements' own connections (``storage/token_rows.py``), beside the engine."""
    if settings.is_sqlite:
        return SqliteTokenRows(settings.sqlite_path)
    url = make_url(settings.async_database_url).set(drivername="postgresql")
    return await PostgresTokenRows.open(url.render_as_string(hide_password=False))


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
