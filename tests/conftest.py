"""Shared fixtures: settings on a temporary data dir, a running app (TestClient), and real
PostgreSQL/Redis servers. Under CI=true a missing server fails the run instead of skipping."""

from __future__ import annotations

import base64
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gatepass.clock import FrozenClock
from gatepass.oauth.services import Services
from gatepass.server.app import create_app
from gatepass.settings import Settings, load_settings

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PASSWORD = "correct horse battery"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_server(name: str, host: str, port: int) -> None:
    if not _reachable(host, port):
        msg = f"{name} is not reachable at {host}:{port}"
        if IN_CI:
            pytest.fail(msg + " (CI=true: .ci/run must start it)")
        pytest.skip(msg)


def basic_auth(client_id: str, secret: str | None) -> dict[str, str]:
    """The ``Authorization`` header of HTTP Basic client authentication (RFC 6749 §2.3.1)."""
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def need_binary(name: str, hint: str) -> str:
    """The path of an installed program; a skip without it, a failure under CI=true."""
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if os.access(p, os.X_OK)),
        None,
    )
    if found is None:
        msg = f"{name} is not installed ({hint})"
        if IN_CI:
            pytest.fail(msg + " (CI=true: .ci/run must install it)")
        pytest.skip(msg)
    return found


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    need_server("PostgreSQL", PG_HOST, PG_PORT)
    from servers import pg_database

    url, drop = pg_database(PG_HOST, PG_PORT)
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def redis_url() -> str:
    need_server("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gatepass.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    for key in list(os.environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)

    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "issuer": "http://testserver",
            "secret_key": "test-master-secret-0123456789abcdef",
        }
        base.update(overrides)
        return load_settings(**base)

    return make


class Harness:
    """A running app plus helpers to reach its services from a test."""

    def __init__(self, client: TestClient, clock: FrozenClock | None) -> None:
        self.client = client
        self.clock = clock

    @property
    def svc(self) -> Services:
        svc: Services = self.client.app.state.services  # type: ignore[attr-defined]
        return svc

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            return await fn(*args, **kwargs)

        portal = self.client.portal
        assert portal is not None
        return portal.call(call)

    def create_user(self, name: str, password: str = PASSWORD, roles: tuple[str, ...] = ()) -> Any:
        from gatepass.oauth.users import create_user

        return self.run(create_user, self.svc, name, password, roles)

    def create_client(self, name: str = "app", **kw: Any) -> tuple[str, str | None]:
        kw.setdefault("grants", ["password", "refresh_token"])
        kw.setdefault("scopes", [])
        kw.setdefault("public", False)
        kw.setdefault("token_format", "jwt")
        client, secret = self.run(self.svc.clients.create, name, now=self.svc.clock.now(), **kw)
        return client.id, secret

    def at(self, address: str) -> TestClient:
        """A client of the same running app whose requests come from ``address`` (the ASGI
        scope's client, which uvicorn sets from the socket or a trusted proxy's header)."""
        client = TestClient(self.client.app, client=(address, 50000))
        client.portal = self.client.portal  # the running app's event loop
        return client

    def login(
        self, username: str, password: str = PASSWORD, *, at: str | None = None, **form: str
    ) -> Any:
        data = {"grant_type": "password", "username": username, "password": password, **form}
        return (self.at(at) if at else self.client).post("/oauth/token", data=data)

    def access_token(self, username: str, password: str = PASSWORD, **form: str) -> str:
        r = self.login(username, password, **form)
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def admin_token(self, username: str = "alice") -> str:
        """An access token for the admin API: the user's role and the ``gatepass:admin`` scope
        asked for through the built-in client."""
        return self.access_token(username, scope="gatepass:admin")

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_harness(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Harness]]:
    opened: list[TestClient] = []

    def make(clock: FrozenClock | None = None, **overrides: Any) -> Harness:
        client = TestClient(create_app(make_settings(**overrides), clock=clock))
        client.__enter__()
        opened.append(client)
        return Harness(client, clock)

    yield make
    for c in reversed(opened):
        c.__exit__(None, None, None)


@pytest.fixture
def gp(make_harness: Callable[..., Harness]) -> Harness:
    """The app on SQLite with a user ``alice`` (role admin) and ``bob`` (no role)."""
    h = make_harness()
    h.create_user("alice", roles=("admin",))
    h.create_user("bob")
    return h
