"""``/oauth/userinfo`` (OpenID Connect Core §5.3) and the discovery documents (Discovery 1.0
§3, RFC 8414)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conftest import PASSWORD, Harness, basic_auth
from dpop_keys import ProofKey
from gatepass.clock import FrozenClock
from gatepass.oauth.users import create_user
from oidc_codes import new_code, rp, user_id


@pytest.fixture
def h(make_harness: Callable[..., Harness], database_url: str) -> Harness:
    harness = make_harness(clock=FrozenClock(), database_url=database_url)
    harness.run(
        create_user,
        harness.svc,
        "carol",
        PASSWORD,
        (),
        email="carol@example.com",
        name="Carol Q. Public",
        email_verified=True,
    )
    harness.create_user("bob")
    return harness


def tokens(h: Harness, name: str, scope: tuple[str, ...], **client: Any) -> dict[str, Any]:
    cid, secret = rp(h, **client)
    code = new_code(h, cid, user_id(h, name), scope=scope)
    auth = basic_auth(cid, secret) if secret else {}
    form = code.form() if secret else code.form(client_id=cid)
    r = h.client.post("/oauth/token", data=form, headers=auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_claims_follow_the_scope(h: Harness) -> None:
    carol = user_id(h, "carol")
    cases = {
        ("openid",): {"sub": carol},
        ("openid", "profile"): {
            "sub": carol,
            "preferred_username": "carol",
            "name": "Carol Q. Public",
        },
        ("openid", "email"): {
            "sub": carol,
            "email": "carol@example.com",
            "email_verified": True,
        },
        ("openid", "profile", "email"): {
            "sub": carol,
            "preferred_username": "carol",
            "name": "Carol Q. Public",
            "email": "carol@example.com",
            "email_verified": True,
        },
    }
    for scope, expected in cases.items():
        token = tokens(h, "carol", scope)["access_token"]
        for method in ("GET", "POST"):
            r = h.client.request(method, "/oauth/userinfo", headers=h.bearer(token))
            assert r.status_code == 200, r.text
            assert r.json() == expected, scope
            assert r.headers["cache-control"] == "no-store"


def test_a_user_without_email_or_name(h: Harness) -> None:
    token = tokens(h, "bob", ("openid", "profile", "email"))["access_token"]
    r = h.client.get("/oauth/userinfo", headers=h.bearer(token))
    assert r.json() == {"sub": user_id(h, "bob"), "preferred_username": "bob"}


def test_an_unverified_email_says_so(h: Harness) -> None:
    h.run(create_user, h.svc, "dave", PASSWORD, (), email="dave@example.com")
    token = tokens(h, "dave", ("openid", "email"))["access_token"]
    body = h.client.get("/oauth/userinfo", headers=h.bearer(token)).json()
    assert body["email"] == "dave@example.com" and body["email_verified"] is False


def test_opaque_access_tokens_work(h: Harness) -> None:
    token = tokens(h, "carol", ("openid",), token_format="opaque")["access_token"]
    assert token.startswith("gpa_")
    r = h.client.get("/oauth/userinfo", headers=h.bearer(token))
    assert r.status_code == 200 and r.json()["sub"] == user_id(h, "carol")


def test_without_openid_is_403_insufficient_scope(h: Harness) -> None:
    token = tokens(h, "carol", ("profile",))["access_token"]
    r = h.client.get("/oauth/userinfo", headers=h.bearer(token))
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    r = h.client.get("/oauth/userinfo", headers=h.bearer(h.access_token("bob")))
    assert r.status_code == 403


def test_no_token_bad_token_revoked_token(h: Harness) -> None:
    r = h.client.get("/oauth/userinfo")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert "error=" not in r.headers["www-authenticate"]  # RFC 6750 §3.1: no error code
    for bad in ("nope", "a.b.c", "gpa_" + "x" * 43):
        r = h.client.get("/oauth/userinfo", headers=h.bearer(bad))
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    answer = tokens(h, "carol", ("openid",))
    id_token = answer["id_token"]
    r = h.client.get("/oauth/userinfo", headers=h.bearer(id_token))  # not an access token
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    cid = h.run(h.svc.verifier.averify, answer["access_token"]).client_id
    client = h.run(h.svc.clients.get, cid)
    assert client is not None
    # revoked with its login (the refresh token revoked through RFC 7009 ends the login)
    from gatepass.oauth.rfc7009 import revoke

    h.run(revoke, h.svc, client, answer["refresh_token"], None)
    r = h.client.get("/oauth/userinfo", headers=h.bearer(answer["access_token"]))
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


def test_a_post_may_send_the_token_in_a_form_body_only(h: Harness) -> None:
    """RFC 6750 §2.2 (OpenID Connect Core §5.3.1): ``access_token`` in a form-encoded POST
    body; with the header too, 400 invalid_request (§2); never in a query string or another
    kind of body."""
    token = tokens(h, "carol", ("openid", "profile"))["access_token"]
    expected = {
        "sub": user_id(h, "carol"),
        "preferred_username": "carol",
        "name": "Carol Q. Public",
    }
    form = {"content-type": "application/x-www-form-urlencoded"}
    r = h.client.post("/oauth/userinfo", content=f"access_token={token}", headers=form)
    assert r.status_code == 200 and r.json() == expected
    assert r.headers["cache-control"] == "no-store"
    r = h.client.post("/oauth/userinfo", data={"access_token": token, "other": "x"})
    assert r.status_code == 200 and r.json() == expected
    # both ways, even the same token: refused, and the token not echoed
    r = h.client.post("/oauth/userinfo", data={"access_token": token}, headers=h.bearer(token))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in r.headers["www-authenticate"] and token not in r.text
    # a repeated access_token is a malformed request
    twice = f"access_token={token}&access_token={token}"
    r = h.client.post("/oauth/userinfo", content=twice, headers=form)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    # not from a query string (GET or POST), nor from a JSON or text body: no token at all
    for r in (
        h.client.get("/oauth/userinfo", params={"access_token": token}),
        h.client.post("/oauth/userinfo", params={"access_token": token}),
        h.client.post("/oauth/userinfo", json={"access_token": token}),
        h.client.post(
            "/oauth/userinfo",
            content=f"access_token={token}",
            headers={"content-type": "text/plain"},
        ),
    ):
        assert r.status_code == 401 and "error=" not in r.headers["www-authenticate"]
    # a bad token in the body is an invalid token, as in the header
    for bad in ("nope", "a b", "gpa_" + "x" * 43):
        r = h.client.post("/oauth/userinfo", data={"access_token": bad})
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    # an empty one counts as none: the header decides
    r = h.client.post("/oauth/userinfo", data={"access_token": ""}, headers=h.bearer(token))
    assert r.status_code == 200 and r.json() == expected


def test_a_dpop_bound_token_in_a_form_body_is_refused(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    code = new_code(h, cid, user_id(h, "carol"), scope=("openid",))
    key = ProofKey()
    proof = key.proof("POST", "http://testserver/oauth/token", iat=h.svc.clock.now())
    r = h.client.post("/oauth/token", data=code.form(client_id=cid), headers={"DPoP": proof})
    token = r.json()["access_token"]
    proof = key.proof(
        "POST", "http://testserver/oauth/userinfo", token=token, iat=h.svc.clock.now()
    )
    r = h.client.post("/oauth/userinfo", data={"access_token": token}, headers={"DPoP": proof})
    assert r.status_code == 401  # a bound token goes as Authorization: DPoP only (RFC 9449 §7)


def test_a_client_token_with_openid_has_no_user(h: Harness) -> None:
    cid, secret = h.create_client("m2m", grants=["client_credentials"], scopes=["openid"])
    r = h.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic_auth(cid, secret)
    )
    token = r.json()["access_token"]
    r = h.client.get("/oauth/userinfo", headers=h.bearer(token))
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


def test_dpop_bound_tokens_need_their_proof(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    code = new_code(h, cid, user_id(h, "carol"), scope=("openid",))
    key = ProofKey()
    now = h.svc.clock.now()
    proof = key.proof("POST", "http://testserver/oauth/token", iat=now)
    r = h.client.post("/oauth/token", data=code.form(client_id=cid), headers={"DPoP": proof})
    token = r.json()["access_token"]
    r = h.client.get("/oauth/userinfo", headers=h.bearer(token))
    assert r.status_code == 401  # a bound token as Bearer (RFC 9449 §7.2)
    proof = key.proof("GET", "http://testserver/oauth/userinfo", token=token, iat=now)
    r = h.client.get("/oauth/userinfo", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert r.status_code == 200 and r.json()["sub"] == user_id(h, "carol")


def test_openid_configuration(h: Harness) -> None:
    r = h.client.get("/.well-known/openid-configuration")
    assert r.status_code == 200 and "max-age=" in r.headers["cache-control"]
    m = r.json()
    iss = "http://testserver"
    assert m["issuer"] == iss
    assert m["authorization_endpoint"] == f"{iss}/oauth/authorize"
    assert m["token_endpoint"] == f"{iss}/oauth/token"
    assert m["userinfo_endpoint"] == f"{iss}/oauth/userinfo"
    assert m["end_session_endpoint"] == f"{iss}/oauth/logout"
    assert m["jwks_uri"] == f"{iss}/.well-known/jwks.json"
    assert m["response_types_supported"] == ["code"]
    assert m["response_modes_supported"] == ["query"]
    assert m["code_challenge_methods_supported"] == ["S256"]
    assert m["id_token_signing_alg_values_supported"] == ["RS256"]
    assert m["subject_types_supported"] == ["public"]
    assert m["authorization_response_iss_parameter_supported"] is True
    assert {"openid", "profile", "email", "offline_access"} <= set(m["scopes_supported"])
    assert {"sub", "auth_time", "nonce", "sid", "amr", "email_verified"} <= set(
        m["claims_supported"]
    )
    assert "none" in m["token_endpoint_auth_methods_supported"]
    assert {"authorization_code", "refresh_token"} <= set(m["grant_types_supported"])
    # the RFC 8414 document carries the same endpoints
    rfc8414 = h.client.get("/.well-known/oauth-authorization-server").json()
    for key in (
        "authorization_endpoint",
        "userinfo_endpoint",
        "end_session_endpoint",
        "response_types_supported",
        "code_challenge_methods_supported",
        "grant_types_supported",
    ):
        assert rfc8414[key] == m[key], key


def test_configured_scopes_are_listed(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(default_scopes="profile,videos:read")
    scopes = h.client.get("/.well-known/openid-configuration").json()["scopes_supported"]
    assert {"videos:read", "openid", "offline_access"} <= set(scopes)
