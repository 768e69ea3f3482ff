"""End to end: a real `gatepass serve` process, users made with the CLI, login over a socket,
and a separate service trusting the tokens through the SDK (FastAPI, Starlette, Flask)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gatepass.sdk import AccessClaims, Verifier
from gatepass.sdk.errors import UnknownKeyError
from servers import Server, base_env, cli, running

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e") / "data"
    env = base_env(data)
    cli(
        env, "user", "create", "alice", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    cli(env, "user", "create", "bob", "--password-stdin", stdin=PASSWORD + "\n")
    srv = Server(data).start()
    try:
        yield srv
    finally:
        srv.stop()
    assert "correct horse" not in srv.log.read_text()  # no password in the logs


def _login(
    server: Server, user: str = "bob", password: str = PASSWORD, **form: str
) -> httpx.Response:
    return httpx.post(
        server.url + "/oauth/token",
        data={"grant_type": "password", "username": user, "password": password, **form},
        timeout=10,
    )


def test_login_over_socket_and_profile(server: Server) -> None:
    r = _login(server)
    assert r.status_code == 200
    token = r.json()["access_token"]
    p = httpx.get(server.url + "/api/profile", headers={"Authorization": f"Bearer {token}"})
    assert p.status_code == 200 and p.json()["message"].startswith("Welcome user ")
    assert _login(server, password="wrong password").status_code == 400


def test_sdk_from_issuer_verifies_and_refuses(server: Server) -> None:
    verifier = Verifier.from_issuer(server.url, audience="gatepass")
    token = _login(server).json()["access_token"]
    claims = verifier.verify(token)
    assert claims.iss == server.url and "profile" in claims.scope
    other = Verifier.from_issuer(server.url, audience="another-api")
    with pytest.raises(Exception) as err:
        other.verify(token)
    assert type(err.value).__name__ == "InvalidAudience"


def test_sdk_refetches_jwks_on_rotation(server: Server) -> None:
    verifier = Verifier.from_issuer(server.url, audience="gatepass")
    verifier._jwks.min_interval = 0  # allow the refetch immediately in this test
    admin = _login(server, "alice", scope="gatepass:admin").json()["access_token"]
    r = httpx.post(server.url + "/admin/keys/rotate", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200
    fresh = _login(server).json()["access_token"]
    assert verifier.verify(fresh).sub  # the new active key was already published as "next"
    assert verifier.verify(admin).sub  # the retiring key still verifies


def test_unknown_kid_refetch_is_rate_limited(server: Server) -> None:
    verifier = Verifier.from_issuer(server.url, audience="gatepass")
    verifier.set_keys({})  # forget every key: the next verify must refetch
    token = _login(server).json()["access_token"]
    assert verifier.verify(token).sub  # one refetch allowed...
    verifier.set_keys({})
    with pytest.raises(UnknownKeyError):
        verifier.verify(token)  # ...but not a second within the interval


def _service_apps(verifier: Verifier):
    from flask import Flask, g

    from gatepass.sdk.fastapi import BearerAuth
    from gatepass.sdk.flask import require_token
    from gatepass.sdk.starlette import GatepassBackend, on_auth_error

    auth = BearerAuth(verifier)
    fa = FastAPI()

    @fa.get("/profile")
    async def fa_profile(claims: AccessClaims = Depends(auth)) -> dict:
        return {"sub": claims.sub}

    @fa.get("/admin")
    async def fa_admin(claims: AccessClaims = Depends(auth.require_roles("admin"))) -> dict:
        return {"sub": claims.sub}

    @requires("authenticated")
    async def st_profile(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    @requires("role:admin", status_code=403)
    async def st_admin(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    st = Starlette(
        routes=[Route("/profile", st_profile), Route("/admin", st_admin)],
        middleware=[
            Middleware(
                AuthenticationMiddleware, backend=GatepassBackend(verifier), on_error=on_auth_error
            )
        ],
    )

    fl = Flask("svc")

    @fl.get("/profile")
    @require_token(verifier)
    def fl_profile():
        return {"sub": g.gatepass_claims.sub}

    @fl.get("/admin")
    @require_token(verifier, roles=["admin"])
    def fl_admin():
        return {"sub": g.gatepass_claims.sub}

    return fa, st, fl


@pytest.mark.parametrize("kind", ["fastapi", "starlette", "flask"])
def test_adapters_in_another_service(server: Server, kind: str) -> None:
    verifier = Verifier.from_issuer(server.url, audience="gatepass")
    fa, st, fl = _service_apps(verifier)
    client = fl.test_client() if kind == "flask" else TestClient(fa if kind == "fastapi" else st)
    user = _login(server).json()["access_token"]
    admin = _login(server, "alice").json()["access_token"]

    def get(path: str, token: str | None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.get(path, headers=headers)

    ok = get("/profile", user)
    assert ok.status_code == 200
    assert get("/admin", admin).status_code == 200
    forbidden = get("/admin", user)
    assert forbidden.status_code == 403
    bad = get("/profile", user[:-3] + "abc")
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    if kind != "starlette":  # Starlette's @requires answers a missing login itself
        missing = get("/profile", None)
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith(
            "Bearer"
        )


def test_forwarded_for_is_not_trusted_by_default(tmp_path) -> None:
    """A client cannot pick the address its failed logins count against."""
    srv = Server(tmp_path / "data", login_ip_threshold="3", login_account_threshold="100")
    with running(srv):
        for i in range(3):
            r = httpx.post(
                srv.url + "/oauth/token",
                data={"grant_type": "password", "username": f"u{i}", "password": "wrong password"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            assert r.status_code == 400
        r = httpx.post(
            srv.url + "/oauth/token",
            data={"grant_type": "password", "username": "u9", "password": "wrong password"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert r.status_code == 429


def test_owner_gets_in_through_a_trusted_proxy_while_an_attacker_is_locked(tmp_path) -> None:
    """Issue 9, finding 5, through a real server behind a trusted proxy: the attacker's
    failures lock the account from the attacker's address only."""
    srv = Server(tmp_path / "data", trusted_proxies="127.0.0.1", login_account_threshold="3")
    with running(srv):
        cli(srv.env, "user", "create", "bob", "--password-stdin", stdin=PASSWORD + "\n")

        def login(password: str, address: str) -> httpx.Response:
            return httpx.post(
                srv.url + "/oauth/token",
                data={"grant_type": "password", "username": "bob", "password": password},
                headers={"X-Forwarded-For": address},
            )

        for _ in range(3):
            assert login("wrong password", "203.0.113.66").status_code == 400
        assert login("wrong password", "203.0.113.66").status_code == 429
        assert login(PASSWORD, "203.0.113.66").status_code == 429
        assert login(PASSWORD, "198.51.100.7").status_code == 200


def test_workers_that_start_slowly_are_not_killed_before_they_serve(tmp_path) -> None:
    """On a loaded machine a worker takes seconds before it can answer uvicorn's liveness ping
    (its interpreter starts and imports the gatepass command first). uvicorn's default patience
    of 5 s killed every worker, and every replacement, before it served (bench/soak.py, load
    average 15 on two cores). Here each worker process is held 7 s at interpreter start (a
    sitecustomize that sleeps only in multiprocessing's spawned children): the server must
    still come up with its two workers, and the first ones must be the ones serving."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys, time\n"
        "if '--multiprocessing-fork' in sys.argv:\n"
        "    time.sleep(7)\n"
    )
    server = Server(tmp_path / "data", workers=2)
    server.env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site), server.env.get("PYTHONPATH", "")) if p
    )
    with running(server):
        assert server.proc is not None
        workers = _spawned_children(server.proc.pid)
        assert len(workers) == 2
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
        time.sleep(6)  # past uvicorn's old 5 s: the same two workers, none replaced
        assert _spawned_children(server.proc.pid) == workers


def _spawned_children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmd = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmd:
                out.add(int(child))
    return out


def test_a_server_refuses_a_port_another_process_listens_on(tmp_path: Path) -> None:
    """Else that process would answer the readiness check and the test (or bench) would run
    against it while gatepass exits with "Address already in use"."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        server = Server(tmp_path, port=other.getsockname()[1])
        with pytest.raises(RuntimeError, match="in use by another process"):
            server.start()
        assert server.proc is None  # nothing was started
