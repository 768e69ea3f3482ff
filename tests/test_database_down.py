"""A database that goes away: the requests that need it get 503 temporarily_unavailable (never a
500 or a traceback), those that do not keep working, and service comes back with the database.

The fault is real: PostgreSQL is reached through a TCP relay (tests/servers.py) whose path is
cut, so every pooled connection, SQLAlchemy's and the token rows' asyncpg pool, is reset."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from conftest import Harness, basic_auth
from gatepass.settings import Settings
from servers import TcpRelay, wait_until

pytestmark = pytest.mark.postgres


def test_a_database_error_is_logged_without_the_values_it_quotes(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL's message for a duplicate key quotes the key (a digest, for a token row)."""
    import asyncio

    import asyncpg

    from gatepass.server.errors import unexpected

    async def duplicate() -> Exception:
        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute("CREATE TABLE t (digest text PRIMARY KEY)")
            await conn.execute("INSERT INTO t VALUES ('d1g3st-of-a-token')")
            await conn.execute("INSERT INTO t VALUES ('d1g3st-of-a-token')")
        except asyncpg.UniqueViolationError as exc:
            return exc
        finally:
            await conn.close()
        raise AssertionError("no duplicate-key error")

    exc = asyncio.run(duplicate())
    assert "d1g3st" in str(exc) + str(getattr(exc, "detail", ""))  # what would have been logged
    answer = asyncio.run(unexpected(None, exc))  # type: ignore[arg-type]
    assert answer.status_code == 500
    assert "UniqueViolationError" in caplog.text and "23505" in caplog.text
    assert "d1g3st" not in caplog.text


def test_database_down_is_503_and_service_returns_with_it(
    make_harness: Callable[..., Harness], pg_url: str
) -> None:
    where = urlsplit(pg_url)
    relay = TcpRelay(where.hostname or "127.0.0.1", where.port or 5432).start()
    h = make_harness(database_url=pg_url.replace(where.netloc, f"postgres@127.0.0.1:{relay.port}"))
    opaque = basic_auth(
        *h.create_client("svc", grants=["client_credentials"], token_format="opaque")
    )
    jwt = basic_auth(*h.create_client("jwt", grants=["client_credentials"]))
    grant = {"grant_type": "client_credentials"}

    def issue(headers: dict[str, str]) -> int:
        return int(h.client.post("/oauth/token", data=grant, headers=headers).status_code)

    live = h.client.post("/oauth/token", data=grant, headers=opaque)
    assert live.status_code == 200
    token = live.json()["access_token"]
    assert issue(jwt) == 200  # the client records are cached from here on

    relay.cut()
    for answer in (
        h.client.post("/oauth/token", data=grant, headers=opaque),  # stores the token
        h.client.post("/oauth/introspect", data={"token": token}, headers=opaque),  # reads it
        h.client.get("/api/profile", headers={"Authorization": f"Bearer {token}"}),
        h.login("nobody", "wrong password"),  # reads users and the throttle (SQLAlchemy)
    ):
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "temporarily_unavailable"
        assert answer.headers["retry-after"] == "1"
        assert "Traceback" not in answer.text and "asyncpg" not in answer.text.lower()
    assert issue(jwt) == 200  # a signed JWT for a cached client needs no database

    relay.restore()
    assert wait_until(lambda: issue(opaque) == 200, timeout=20)
    again = h.client.post("/oauth/introspect", data={"token": token}, headers=opaque)
    assert again.status_code == 200 and again.json()["active"] is True
    relay.cut()


def test_a_server_out_of_connections_is_unavailable_not_a_bug(
    pg_url: str, make_settings: Callable[..., Settings]
) -> None:
    """PostgreSQL refusing a connection ("too many clients", SQLSTATE 53300) is the database
    being unavailable (503), not an unexpected error (500): SQLAlchemy's asyncpg dialect wraps
    it as a plain DBAPIError, which make_engine turns into an OperationalError. The refusal is
    real: a role limited to one connection asks for a second."""
    import asyncio
    import secrets

    import asyncpg
    import sqlalchemy.exc
    from sqlalchemy import text

    from gatepass.storage.db import UNAVAILABLE, make_engine

    parts = urlsplit(pg_url)
    role = f"gp_limited_{secrets.token_hex(4)}"
    admin = f"postgresql://{parts.netloc}/{parts.path.lstrip('/')}"

    async def run() -> BaseException:
        conn = await asyncpg.connect(admin)
        await conn.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER CONNECTION LIMIT 1")
        try:
            host = parts.netloc.rsplit("@", 1)[-1]
            engine = make_engine(
                make_settings(database_url=f"postgresql://{role}@{host}{parts.path}")
            )
            try:
                async with engine.connect() as first:
                    await first.execute(text("SELECT 1"))
                    with pytest.raises(sqlalchemy.exc.DBAPIError) as refused:
                        async with engine.connect() as second:
                            await second.execute(text("SELECT 1"))
                return refused.value
            finally:
                await engine.dispose()
        finally:
            await conn.execute(f"DROP ROLE {role}")
            await conn.close()

    exc = asyncio.run(run())
    assert isinstance(exc, sqlalchemy.exc.OperationalError)
    assert isinstance(exc, UNAVAILABLE)
