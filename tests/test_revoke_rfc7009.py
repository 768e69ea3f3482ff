"""RFC 7009 revocation: each token kind, only one's own, unknown answered 200."""

from __future__ import annotations

from conftest import PASSWORD, Harness, basic_auth


def _login(gp: Harness, auth: dict[str, str]) -> dict:
    r = gp.client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "bob", "password": PASSWORD},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    return r.json()


def _revoke(gp: Harness, auth: dict[str, str], token: str, **extra: str):
    return gp.client.post("/oauth/revoke", data={"token": token, **extra}, headers=auth)


def _profile(gp: Harness, token: str) -> int:
    return gp.client.get("/api/profile", headers=gp.bearer(token)).status_code


def test_revoking_a_jwt_access_token(gp: Harness) -> None:
    cid, secret = gp.create_client("web")
    auth = basic_auth(cid, secret)
    tokens = _login(gp, auth)
    assert _profile(gp, tokens["access_token"]) == 200
    r = _revoke(gp, auth, tokens["access_token"], token_type_hint="access_token")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert _profile(gp, tokens["access_token"]) == 401
    # the login itself goes on: its refresh token still works
    again = gp.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=auth,
    )
    assert again.status_code == 200


def test_revoking_a_refresh_token_ends_the_login_and_its_access_tokens(gp: Harness) -> None:
    cid, secret = gp.create_client("web")
    auth = basic_auth(cid, secret)
    tokens = _login(gp, auth)
    other = _login(gp, auth)  # another login of the same user is untouched
    assert _revoke(gp, auth, tokens["refresh_token"]).status_code == 200
    assert _profile(gp, tokens["access_token"]) == 401
    r = gp.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=auth,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert _profile(gp, other["access_token"]) == 200


def test_revoking_an_opaque_access_token(gp: Harness) -> None:
    cid, secret = gp.create_client("m2m", grants=["client_credentials"], token_format="opaque")
    auth = basic_auth(cid, secret)
    token = gp.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=auth
    ).json()["access_token"]
    assert gp.client.post("/oauth/introspect", data={"token": token}, headers=auth).json()["active"]
    assert _revoke(gp, auth, token).status_code == 200
    assert gp.client.post("/oauth/introspect", data={"token": token}, headers=auth).json() == {
        "active": False
    }


def test_unknown_and_malformed_tokens_answer_200(gp: Harness) -> None:
    cid, secret = gp.create_client("web")
    auth = basic_auth(cid, secret)
    for token in ("gpr_nope", "gpa_nope", "a.b.c", "whatever", "x" * 10000):
        assert _revoke(gp, auth, token).status_code == 200


def test_another_clients_token_is_refused_and_stays_valid(gp: Harness) -> None:
    a_id, a_secret = gp.create_client("a")
    b_id, b_secret = gp.create_client("b")
    tokens = _login(gp, basic_auth(a_id, a_secret))
    for token in (tokens["access_token"], tokens["refresh_token"]):
        r = _revoke(gp, basic_auth(b_id, b_secret), token)
        assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    assert _profile(gp, tokens["access_token"]) == 200


def test_public_client_revokes_its_own_refresh_token(gp: Harness) -> None:
    cid, _ = gp.create_client("spa", public=True)
    tokens = gp.login("bob", client_id=cid).json()
    r = gp.client.post("/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": cid})
    assert r.status_code == 200
    assert _profile(gp, tokens["access_token"]) == 401


def test_revocation_needs_a_client(gp: Harness) -> None:
    token = gp.access_token("bob")
    r = gp.client.post("/oauth/revoke", data={"token": token})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    cid, _ = gp.create_client("web")
    r = _revoke(gp, basic_auth(cid, "gps_wrong"), token)
    assert r.status_code == 401
    r = gp.client.post("/oauth/revoke", data={}, headers=basic_auth(*gp.create_client("x")))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
