"""RFC 7662 introspection: JWT and opaque access tokens, refresh tokens; inactive is bare."""

from __future__ import annotations

import pytest

from conftest import Harness, basic_auth
from gatepass.clock import FrozenClock


@pytest.fixture
def rs(gp: Harness) -> dict[str, str]:
    """A resource server's credentials."""
    cid, secret = gp.create_client("api", grants=["client_credentials"])
    return basic_auth(cid, secret or "")


def _introspect(gp: Harness, auth: dict[str, str], token: str, **extra: str):
    r = gp.client.post("/oauth/introspect", data={"token": token, **extra}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()


def test_jwt_access_token(gp: Harness, rs) -> None:
    token = gp.access_token("alice")
    a = _introspect(gp, rs, token)
    assert a["active"] is True and a["token_type"] == "Bearer"
    assert a["username"] == "alice" and a["scope"] == "profile" and a["client_id"] == "gatepass"
    for key in ("sub", "aud", "iss", "exp", "iat", "nbf", "jti", "sid"):
        assert key in a


def test_opaque_access_token(gp: Harness, rs) -> None:
    cid, secret = gp.create_client(
        "m2m", grants=["client_credentials"], token_format="opaque", scopes=["jobs"]
    )
    r = gp.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(cid, secret or ""),
    )
    token = r.json()["access_token"]
    assert token.startswith("gpa_") and "." not in token
    a = _introspect(gp, rs, token)
    assert (
        a["active"] is True and a["sub"] == cid and a["client_id"] == cid and a["scope"] == "jobs"
    )
    from gatepass.core import opaque

    row = gp.run(_row, gp, opaque.digest(token))
    assert row is not None and token not in (row.digest, row.jti)


async def _row(gp: Harness, digest: str):
    return await gp.svc.opaque_tokens.get(digest)


def test_refresh_token_only_for_its_client(gp: Harness, rs) -> None:
    cid, secret = gp.create_client("web")
    auth = basic_auth(cid, secret or "")
    r = gp.client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "bob", "password": "correct horse battery"},
        headers=auth,
    )
    refresh = r.json()["refresh_token"]
    mine = _introspect(gp, auth, refresh, token_type_hint="refresh_token")
    assert (
        mine["active"] is True
        and mine["token_type"] == "refresh_token"
        and mine["username"] == "bob"
    )
    assert _introspect(gp, rs, refresh) == {"active": False}  # another client's refresh token


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "gpa_unknown", "gpr_unknown", "x" * 9000])
def test_unknown_and_malformed_are_bare_inactive(gp: Harness, rs, token: str) -> None:
    r = gp.client.post("/oauth/introspect", data={"token": token}, headers=rs)
    assert r.status_code == 200 and r.json() == {"active": False}


def test_missing_token_is_invalid_request(gp: Harness, rs) -> None:
    r = gp.client.post("/oauth/introspect", data={"token_type_hint": "access_token"}, headers=rs)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_expired_tokens_are_inactive(make_harness) -> None:
    clock = FrozenClock()
    h: Harness = make_harness(clock=clock)
    h.create_user("bob")
    cid, secret = h.create_client("api", grants=["client_credentials"], token_format="opaque")
    auth = basic_auth(cid, secret or "")
    jwt = h.access_token("bob")
    op = h.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=auth
    ).json()["access_token"]
    assert _introspect(h, auth, jwt)["active"] and _introspect(h, auth, op)["active"]
    clock.advance(900 + 31)
    assert _introspect(h, auth, jwt) == {"active": False}
    assert _introspect(h, auth, op) == {"active": False}


def test_introspection_needs_a_confidential_client(gp: Harness) -> None:
    token = gp.access_token("bob")
    r = gp.client.post("/oauth/introspect", data={"token": token})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic")
    pub, _ = gp.create_client("spa", public=True)
    r = gp.client.post("/oauth/introspect", data={"token": token, "client_id": pub})
    assert r.status_code == 401
    cid, _ = gp.create_client("api", grants=["client_credentials"])
    r = gp.client.post(
        "/oauth/introspect", data={"token": token}, headers=basic_auth(cid, "gps_wrong")
    )
    assert r.status_code == 401
