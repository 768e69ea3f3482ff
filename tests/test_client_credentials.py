"""client_credentials (RFC 6749 §4.4): service tokens, no refresh token, no login."""

from __future__ import annotations

import json

from conftest import Harness, basic_auth
from gatepass.core.jose import b64url_decode
from gatepass.sdk import Verifier


def _claims(token: str) -> dict:
    return json.loads(b64url_decode(token.split(".")[1]))


def _cc(gp: Harness, **form: str):
    return gp.client.post("/oauth/token", data={"grant_type": "client_credentials", **form})


def test_basic_auth_issues_service_token_without_refresh(gp: Harness) -> None:
    cid, secret = gp.create_client(
        "worker", grants=["client_credentials"], scopes=["jobs:run", "jobs:read"]
    )
    r = gp.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic_auth(cid, secret)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "refresh_token" not in body and body["token_type"] == "Bearer"
    assert body["scope"] == "jobs:read jobs:run"
    claims = _claims(body["access_token"])
    assert claims["sub"] == cid and claims["client_id"] == cid
    assert "sid" not in claims and claims["roles"] == []
    assert (
        gp.client.get("/api/profile", headers=gp.bearer(body["access_token"])).json()["sub"] == cid
    )


def test_post_auth_and_scope_narrowing(gp: Harness) -> None:
    cid, secret = gp.create_client("worker", grants=["client_credentials"], scopes=["a", "b"])
    r = _cc(gp, client_id=cid, client_secret=secret or "", scope="a")
    assert r.status_code == 200 and r.json()["scope"] == "a"
    r = _cc(gp, client_id=cid, client_secret=secret or "", scope="a c")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def test_wrong_secret_is_401_invalid_client_with_basic_challenge(gp: Harness) -> None:
    cid, _ = gp.create_client("worker", grants=["client_credentials"])
    r = gp.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(cid, "gps_nope"),
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic")
    r = _cc(gp, client_id="gpc_unknown", client_secret="gps_nope")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = _cc(gp)  # no client at all
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_public_client_cannot_use_client_credentials(gp: Harness) -> None:
    cid, _ = gp.create_client("spa", public=True, grants=["password"])
    r = _cc(gp, client_id=cid)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_client_without_the_grant_is_unauthorized_client(gp: Harness) -> None:
    cid, secret = gp.create_client("web", grants=["password"])
    r = _cc(gp, client_id=cid, client_secret=secret or "")
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


def test_client_audience_and_lifetime(gp: Harness) -> None:
    cid, secret = gp.create_client(
        "reports", grants=["client_credentials"], audience="reports-api", access_token_ttl=60
    )
    body = _cc(gp, client_id=cid, client_secret=secret or "").json()
    claims = _claims(body["access_token"])
    assert (
        claims["aud"] == "reports-api"
        and body["expires_in"] == 60
        and claims["exp"] - claims["iat"] == 60
    )
    # meant for another resource server: gatepass's own API refuses it, a verifier for that
    # audience accepts it
    assert gp.client.get("/api/profile", headers=gp.bearer(body["access_token"])).status_code == 401
    jwks = gp.client.get("/.well-known/jwks.json").json()
    assert (
        Verifier.from_jwks("http://testserver", jwks, audience="reports-api")
        .verify(body["access_token"])
        .sub
        == cid
    )


def test_password_grant_uses_client_audience_too(gp: Harness) -> None:
    cid, secret = gp.create_client("reports", audience="reports-api")
    token = gp.access_token("bob", client_id=cid, client_secret=secret or "")
    assert _claims(token)["aud"] == "reports-api"
