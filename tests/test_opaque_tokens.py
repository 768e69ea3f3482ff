"""Opaque access tokens end to end: the server's own API, refresh for opaque clients,
revocation on the next request, and the SDK's Introspector in another service."""

from __future__ import annotations

import json

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from conftest import PASSWORD, Harness, basic_auth
from gatepass.sdk import AccessClaims, Verifier
from gatepass.sdk.errors import InvalidTokenError
from gatepass.sdk.fastapi import BearerAuth
from gatepass.sdk.introspect import (
    IntrospectionUnavailable,
    Introspector,
    claims_from_introspection,
)
from servers import Server, base_env, cli, running


def test_opaque_login_refresh_profile_and_revocation(gp: Harness) -> None:
    cid, secret = gp.create_client("legacy", token_format="opaque")
    auth = basic_auth(cid, secret)
    r = gp.client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "bob", "password": PASSWORD},
        headers=auth,
    )
    body = r.json()
    assert body["access_token"].startswith("gpa_")
    profile = gp.client.get("/api/profile", headers=gp.bearer(body["access_token"]))
    assert profile.status_code == 200 and profile.json()["scope"] == "profile"

    refreshed = gp.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        headers=auth,
    ).json()
    assert refreshed["access_token"].startswith("gpa_")
    assert (
        gp.client.get("/api/profile", headers=gp.bearer(refreshed["access_token"])).status_code
        == 200
    )

    gp.client.post("/oauth/revoke", data={"token": refreshed["access_token"]}, headers=auth)
    r = gp.client.get("/api/profile", headers=gp.bearer(refreshed["access_token"]))
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


def test_ending_the_login_kills_its_opaque_tokens(gp: Harness) -> None:
    cid, secret = gp.create_client("legacy", token_format="opaque")
    auth = basic_auth(cid, secret)
    body = gp.client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "bob", "password": PASSWORD},
        headers=auth,
    ).json()
    gp.client.post("/oauth/revoke", data={"token": body["refresh_token"]}, headers=auth)
    assert gp.client.get("/api/profile", headers=gp.bearer(body["access_token"])).status_code == 401


def test_unknown_opaque_token_is_invalid_token(gp: Harness) -> None:
    r = gp.client.get("/api/profile", headers=gp.bearer("gpa_" + "A" * 43))
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


def test_claims_from_introspection() -> None:
    c = claims_from_introspection(
        {
            "active": True,
            "sub": "u",
            "exp": 10,
            "iat": 1,
            "scope": "a b",
            "aud": "api",
            "client_id": "c",
            "token_type": "Bearer",
        }
    )
    assert c.sub == "u" and c.scope == frozenset({"a", "b"}) and c.aud == ("api",)
    for bad in (
        {"active": False},
        {},
        {"active": "true", "sub": "u", "exp": 1},
        {"active": True, "exp": 1, "token_type": "Bearer"},
        {"active": True, "sub": "u", "exp": 10, "aud": "api"},  # no token_type
        {"active": True, "sub": "u", "exp": 10, "aud": "api", "token_type": "refresh_token"},
    ):
        with pytest.raises(InvalidTokenError):
            claims_from_introspection(bad)


def _resource_server_and_opaque_client(env: dict[str, str]) -> tuple[dict, dict]:
    """Registered through the CLI: a resource server (introspects) and an opaque-token client."""
    rs = json.loads(cli(env, "client", "create", "rs", "--grant", "client_credentials", "--json"))
    op = json.loads(
        cli(
            env,
            "client",
            "create",
            "op",
            "--grant",
            "client_credentials",
            "--token-format",
            "opaque",
            "--json",
        )
    )
    return rs, op


def test_introspector_in_another_service(tmp_path) -> None:
    """A resource server using Introspector against a real gatepass process."""
    data = tmp_path / "data"
    rs, op = _resource_server_and_opaque_client(base_env(data))
    with running(Server(data)) as (srv,):
        import httpx

        token = httpx.post(
            srv.url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(op["client_id"], op["client_secret"]),
        ).json()["access_token"]
        introspector = Introspector.from_issuer(
            srv.url,
            audience="gatepass",
            client_id=rs["client_id"],
            client_secret=rs["client_secret"],
            cache_ttl=0,
        )
        elsewhere = Introspector.from_issuer(
            srv.url,
            audience="reports-api",
            client_id=rs["client_id"],
            client_secret=rs["client_secret"],
            cache_ttl=0,
        )
        with pytest.raises(InvalidTokenError):
            elsewhere.resolve(token)  # a live token, but for another service
        verifier = Verifier.from_issuer(srv.url, audience="gatepass")
        auth = BearerAuth(verifier, opaque=introspector.aresolve)
        app = FastAPI()

        @app.get("/whoami")
        async def whoami(claims: AccessClaims = Depends(auth)) -> dict:
            return {"sub": claims.sub}

        client = TestClient(app)
        r = client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json() == {"sub": op["client_id"]}
        assert introspector.resolve(token).client_id == op["client_id"]
        httpx.post(
            srv.url + "/oauth/revoke",
            data={"token": token},
            auth=(op["client_id"], op["client_secret"]),
        )
        r = client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401  # revoked: the next request already sees it
        bad = Introspector.from_issuer(
            srv.url, audience="gatepass", client_id=rs["client_id"], client_secret="gps_wrong"
        )
        with pytest.raises(IntrospectionUnavailable):
            bad.resolve(token)  # the service's own credentials are wrong: fail closed


def test_introspector_cache_honours_a_revocation_published_through_redis(
    tmp_path, redis_url
) -> None:
    """A cached introspection answer dies as soon as the revocation reaches the service's
    denylist feed (Redis), without waiting for the cache to expire."""
    import secrets
    import time

    import httpx

    from gatepass.sdk.denylist import RedisDenylist
    from gatepass.sdk.errors import RevokedToken

    prefix = "gp-test-" + secrets.token_hex(4)
    data = tmp_path / "data"
    settings = {"redis_url": redis_url, "redis_prefix": prefix}
    rs, op = _resource_server_and_opaque_client(base_env(data, **settings))
    denylist = RedisDenylist(redis_url, prefix=prefix)
    try:
        assert denylist.wait_ready(10)
        with running(Server(data, **settings)) as (srv,):
            creds = (op["client_id"], op["client_secret"])
            token = httpx.post(
                srv.url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=creds
            ).json()["access_token"]
            introspector = Introspector.from_issuer(
                srv.url,
                audience="gatepass",
                client_id=rs["client_id"],
                client_secret=rs["client_secret"],
                cache_ttl=600,
                denylist=denylist,
            )
            assert introspector.resolve(token).sub == op["client_id"]  # now cached for 10 minutes
            httpx.post(srv.url + "/oauth/revoke", data={"token": token}, auth=creds)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    introspector.resolve(token)
                except RevokedToken:
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the cached answer outlived the revocation")
    finally:
        denylist.close()
