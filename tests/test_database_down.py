"""A database that goes away: the requests that need it get 503 temporarily_unavailable (never a
500 or a traceback), those that do not keep working, and service comes back with the database.

The fault is real: PostgreSQL is reached through a TCP relay (tests/servers.py) whose path is
cut, so every pooled connection, SQLAlchemy's and the token rows' asyncpg pool, is reset."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from conftest import Harness, basic_auth
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
