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


def _first_party_revoke(gp: Harness, token: str, **extra: str):
    return gp.client.post("/oauth/revoke", data={"token": token, "client_id": "gatepass", **extra})


def test_first_party_tokens_are_revoked_as_the_public_client_gatepass(gp: Harness) -> None:
    """Tokens of a login that named no client carry ``client_id: gatepass``; RFC 7009 needs the
    client identified, and ``client_id=gatepass`` (no secret) is that client."""
    first = gp.login("bob").json()
    second = gp.login("bob").json()
    r = _first_party_revoke(gp, first["access_token"], token_type_hint="access_token")
    assert r.status_code == 200, r.text
    assert _profile(gp, first["access_token"]) == 401
    assert _first_party_revoke(gp, second["refresh_token"]).status_code == 200
    assert _profile(gp, second["access_token"]) == 401
    again = gp.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # the browser session's cookie token is first-party too
    gp.client.cookies.clear()
    browser = gp.client.post(
        "/auth/login",
        json={"username": "bob", "password": PASSWORD},
        headers={"X-Requested-With": "fetch"},
    )
    assert _first_party_revoke(gp, browser.json()["access_token"]).status_code == 200
    assert _profile(gp, browser.json()["access_token"]) == 401


def test_the_client_gatepass_cannot_revoke_other_clients_tokens(gp: Harness) -> None:
    cid, secret = gp.create_client("web")
    tokens = _login(gp, basic_auth(cid, secret))
    spa, _ = gp.create_client("spa", public=True)
    public = gp.login("bob", client_id=spa).json()
    for token in (tokens["access_token"], tokens["refresh_token"], public["refresh_token"]):
        r = _first_party_revoke(gp, token)
        assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    assert _profile(gp, tokens["access_token"]) == 200
    assert _profile(gp, public["access_token"]) == 200
    # and another client cannot revoke first-party tokens
    mine = gp.login("bob").json()
    r = _revoke(gp, basic_auth(cid, secret), mine["refresh_token"])
    assert r.status_code == 400 and _profile(gp, mine["access_token"]) == 200


def test_the_client_gatepass_has_no_secret_and_no_confidential_use(gp: Harness) -> None:
    token = gp.access_token("bob")
    r = gp.client.post("/oauth/revoke", data={"token": token}, headers=basic_auth("gatepass", "x"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = _first_party_revoke(gp, token, client_secret="gps_guess")
    assert r.status_code == 401 and _profile(gp, token) == 200
    r = gp.client.post("/oauth/introspect", data={"token": token, "client_id": "gatepass"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    cc = gp.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": "gatepass"}
    )
    assert cc.status_code == 401 and cc.json()["error"] == "invalid_client"
    # naming it at the token endpoint is the same as naming no client
    named = gp.login("bob", client_id="gatepass")
    assert named.status_code == 200 and named.json()["scope"] == "profile"
