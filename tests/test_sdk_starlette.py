"""The SDK's Starlette adapter: roles and scopes stay in separate namespaces."""

from __future__ import annotations

import time

import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from gatepass.core import keys as k
from gatepass.core.access_token import ACCESS_TOKEN_TYP, build_claims
from gatepass.sdk import Verifier
from gatepass.sdk.starlette import GatepassBackend, on_auth_error

ISS, AUD = "https://issuer.example", "api"


@pytest.fixture
def service() -> tuple[TestClient, k.KeyRing]:
    now = time.time()
    ring = k.KeyRing((k.SigningKey.new("ES256", state="active", now=now),))
    verifier = Verifier(issuer=ISS, audience=AUD, keys=ring.verification_keys(now))

    @requires("role:admin", status_code=403)
    async def admin_only(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    @requires("videos:read", status_code=403)
    async def videos(request: Request) -> JSONResponse:
        return JSONResponse({"scope": sorted(request.user.claims.scope)})

    app = Starlette(
        routes=[Route("/admin", admin_only), Route("/videos", videos)],
        middleware=[
            Middleware(
                AuthenticationMiddleware,
                backend=GatepassBackend(verifier),
                on_error=on_auth_error,
            )
        ],
    )
    return TestClient(app), ring


def _token(ring: k.KeyRing, *, scope: list[str], roles: list[str]) -> dict[str, str]:
    claims = build_claims(
        issuer=ISS,
        subject="u1",
        audience=AUD,
        client_id="gpc_x",
        scope=scope,
        roles=roles,
        now=time.time(),
        ttl=300,
        sid=None,
    )
    return {"Authorization": "Bearer " + ring.sign(claims, ACCESS_TOKEN_TYP)}


def test_a_scope_named_like_a_role_does_not_satisfy_the_role(service) -> None:
    client, ring = service
    forged_role = _token(ring, scope=["role:admin", "videos:read"], roles=[])
    assert client.get("/admin", headers=forged_role).status_code == 403
    r = client.get("/videos", headers=forged_role)  # the token's scopes are still all there
    assert r.status_code == 200 and r.json()["scope"] == ["role:admin", "videos:read"]


def test_a_real_role_and_a_real_scope_still_work(service) -> None:
    client, ring = service
    admin = _token(ring, scope=["profile"], roles=["admin"])
    assert client.get("/admin", headers=admin).status_code == 200
    assert client.get("/videos", headers=admin).status_code == 403
    reader = _token(ring, scope=["videos:read"], roles=[])
    assert client.get("/videos", headers=reader).status_code == 200
    assert client.get("/admin").status_code == 403  # no token: unauthenticated
