"""The password grant over HTTP: RFC 6749 §4.3 answers, §5.2 errors, RFC 9068 tokens."""

from __future__ import annotations

import base64
import json

from conftest import PASSWORD, Harness
from gatepass.core.jose import b64url_decode


def _parts(token: str) -> tuple[dict, dict]:
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def test_password_grant_issues_rfc9068_token_and_refresh_token(gp: Harness) -> None:
    r = gp.login("alice")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "profile"
    assert body["refresh_token"].startswith("gpr_") and len(body["refresh_token"]) >= 4 + 43
    header, claims = _parts(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    assert header["kid"] == gp.svc.keys.ring.active().kid
    for claim in ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "client_id", "scope"):
        assert claim in claims
    assert claims["iss"] == "http://testserver"
    assert claims["aud"] == "gatepass"
    assert claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 900


def test_each_login_is_a_new_sid_and_refresh_token_is_stored_only_as_digest(gp: Harness) -> None:
    from gatepass.core import opaque

    a, b = gp.login("alice").json(), gp.login("alice").json()
    assert _parts(a["access_token"])[1]["sid"] != _parts(b["access_token"])[1]["sid"]
    stored = gp.run(gp.svc.logins.refresh_token, opaque.digest(a["refresh_token"]))
    assert stored is not None and stored.sid == _parts(a["access_token"])[1]["sid"]
    assert gp.run(gp.svc.logins.refresh_token, a["refresh_token"]) is None


def test_profile_with_token(gp: Harness) -> None:
    token = gp.access_token("bob")
    r = gp.client.get("/api/profile", headers=gp.bearer(token))
    assert r.status_code == 200
    sub = _parts(token)[1]["sub"]
    assert r.json() == {
        "message": f"Welcome user {sub}",
        "sub": sub,
        "roles": [],
        "scope": "profile",
    }


def test_profile_without_token_is_bare_bearer_challenge(gp: Harness) -> None:
    r = gp.client.get("/api/profile")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="gatepass"'
    assert r.json()["error"] == "invalid_request"


def test_profile_with_bad_token_is_invalid_token(gp: Harness) -> None:
    r = gp.client.get("/api/profile", headers=gp.bearer("abc.def.ghi"))
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert r.json()["error"] == "invalid_token"


def test_admin_route_needs_admin_role(gp: Harness) -> None:
    r = gp.client.get("/admin/events", headers=gp.bearer(gp.access_token("bob")))
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    assert r.json()["error"] == "insufficient_scope"
    r = gp.client.get("/admin/events", headers=gp.bearer(gp.admin_token()))
    assert r.status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_answer(gp: Harness) -> None:
    wrong = gp.login("alice", "not the password")
    unknown = gp.login("mallory", "not the password")
    assert wrong.status_code == unknown.status_code == 400
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": "invalid_grant",
            "error_description": "Invalid username or password.",
        }
    )


def test_confidential_client_with_basic_auth(gp: Harness) -> None:
    cid, secret = gp.create_client("cli", scopes=["profile", "videos:read"])
    auth = base64.b64encode(f"{cid}:{secret}".encode()).decode()
    r = gp.client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": "bob",
            "password": PASSWORD,
            "scope": "videos:read",
        },
        headers={"Authorization": f"Basic {auth}"},
    )
    assert r.status_code == 200, r.text
    claims = _parts(r.json()["access_token"])[1]
    assert claims["client_id"] == cid and claims["scope"] == "videos:read"


def test_confidential_client_with_form_auth_and_wrong_secret(gp: Harness) -> None:
    cid, secret = gp.create_client("cli")
    ok = gp.login("bob", client_id=cid, client_secret=secret or "")
    assert ok.status_code == 200
    bad = gp.login("bob", client_id=cid, client_secret="gps_wrong")
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"
    assert bad.headers["www-authenticate"].startswith("Basic")
    no_secret = gp.login("bob", client_id=cid)
    assert no_secret.status_code == 401


def test_public_client_by_id(gp: Harness) -> None:
    cid, secret = gp.create_client("spa", public=True)
    assert secret is None
    r = gp.login("bob", client_id=cid)
    assert r.status_code == 200
    assert _parts(r.json()["access_token"])[1]["client_id"] == cid


def test_scope_beyond_client_is_invalid_scope(gp: Harness) -> None:
    r = gp.login("bob", scope="admin:everything")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def test_rfc6749_request_errors(gp: Harness) -> None:
    c = gp.client
    assert c.post("/oauth/token", data={}).json()["error"] == "invalid_request"
    r = c.post("/oauth/token", data={"grant_type": "magic"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = c.post("/oauth/token", data={"grant_type": "password", "username": "bob"})
    assert r.json()["error"] == "invalid_request"
    r = c.post(
        "/oauth/token",
        content=b"grant_type=password&grant_type=password",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_client_without_password_grant_is_unauthorized_client(gp: Harness) -> None:
    cid, secret = gp.create_client("m2m", grants=["client_credentials"])
    r = gp.login("bob", client_id=cid, client_secret=secret or "")
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


def test_discovery_documents(gp: Harness) -> None:
    meta = gp.client.get("/.well-known/oauth-authorization-server")
    assert meta.status_code == 200
    m = meta.json()
    assert m["issuer"] == "http://testserver"
    assert m["token_endpoint"] == "http://testserver/oauth/token"
    assert m["jwks_uri"] == "http://testserver/.well-known/jwks.json"
    for key in (
        "introspection_endpoint",
        "revocation_endpoint",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
    ):
        assert key in m
    jwks = gp.client.get("/.well-known/jwks.json")
    assert "max-age=" in jwks.headers["cache-control"]
    keys = jwks.json()["keys"]
    now = gp.svc.clock.now()
    access = {k.kid for k in gp.svc.keys.ring.published(now)}
    id_tokens = {k.kid for k in gp.svc.id_keys.ring.published(now)}
    assert {k["kid"] for k in keys} == access | id_tokens  # both rings, one JWKS
    for k in keys:
        assert k["use"] == "sig" and k["alg"] == ("ES256" if k["kid"] in access else "RS256")
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(k)  # public parts only
