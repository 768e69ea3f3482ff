"""A token, introspection or revocation request that lacks a parameter its grant or endpoint
requires is ``invalid_request`` (RFC 6749 §5.2; RFC 7662 §2.1; RFC 7009 §2.1), never
``invalid_grant``, and whatever the other parameters (a scope, a bad scope) say.

An empty value counts as absent (RFC 6749 §3.1)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import PASSWORD, Harness, basic_auth


@pytest.fixture
def site(gp: Harness) -> tuple[Harness, dict[str, str]]:
    cid, secret = gp.create_client(
        "app", grants=["password", "refresh_token", "client_credentials"], scopes=["profile"]
    )
    return gp, basic_auth(cid, secret)


def _token(h: Harness, auth: dict[str, str], form: dict[str, str]) -> Any:
    return h.client.post("/oauth/token", data=form, headers=auth)


def _assert_invalid_request(r: Any, *names: str) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_request", body
    for name in names:
        assert name in body["error_description"], body


SCOPES = ({}, {"scope": "profile"}, {"scope": "no-such-scope"})


@pytest.mark.parametrize("scope", SCOPES)
def test_refresh_grant_without_refresh_token_is_invalid_request(site, scope) -> None:
    h, auth = site
    for form in (
        {"grant_type": "refresh_token"},
        {"grant_type": "refresh_token", "refresh_token": ""},
    ):
        _assert_invalid_request(_token(h, auth, {**form, **scope}), "refresh_token")


def test_refresh_grant_without_refresh_token_first_party(site) -> None:
    h, _ = site  # no client authentication: the first-party public client
    _assert_invalid_request(_token(h, {}, {"grant_type": "refresh_token"}), "refresh_token")


@pytest.mark.parametrize("scope", SCOPES)
def test_password_grant_without_username_is_invalid_request(site, scope) -> None:
    h, auth = site
    form = {"grant_type": "password", "password": PASSWORD, **scope}
    _assert_invalid_request(_token(h, auth, form), "username")


@pytest.mark.parametrize("scope", SCOPES)
def test_password_grant_without_password_is_invalid_request(site, scope) -> None:
    h, auth = site
    form = {"grant_type": "password", "username": "alice", **scope}
    _assert_invalid_request(_token(h, auth, form), "password")


def test_password_grant_without_either_names_both(site) -> None:
    h, auth = site
    r = _token(h, auth, {"grant_type": "password", "username": "", "password": ""})
    _assert_invalid_request(r, "username", "password")
    _assert_invalid_request(_token(h, {}, {"grant_type": "password"}), "username", "password")


def test_a_missing_parameter_costs_no_failed_login(site) -> None:
    """Not a guess: it counts toward no lock (the threshold is 5), and records no lockout."""
    h, auth = site
    for _ in range(10):
        _token(h, auth, {"grant_type": "password", "username": "alice"})
    r = h.login("alice")
    assert r.status_code == 200, r.text
    assert h.run(h.svc.events.page, type_="lockout") == []


def test_token_request_without_grant_type_is_invalid_request(site) -> None:
    h, auth = site
    _assert_invalid_request(_token(h, auth, {"scope": "profile"}), "grant_type")


def test_introspection_without_token_is_invalid_request(site) -> None:
    h, auth = site
    for form in ({"token": ""}, {"token_type_hint": "access_token"}):
        r = h.client.post("/oauth/introspect", data=form, headers=auth)
        _assert_invalid_request(r, "token")


def test_revocation_without_token_is_invalid_request(site) -> None:
    h, auth = site
    for form in ({"token": ""}, {"token_type_hint": "refresh_token"}):
        r = h.client.post("/oauth/revoke", data=form, headers=auth)
        _assert_invalid_request(r, "token")


def test_controls_the_same_requests_with_the_parameter_pass(site) -> None:
    h, auth = site
    login = _token(h, auth, {"grant_type": "password", "username": "alice", "password": PASSWORD})
    assert login.status_code == 200, login.text
    refreshed = _token(
        h, auth, {"grant_type": "refresh_token", "refresh_token": login.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["access_token"]
    assert h.client.post("/oauth/introspect", data={"token": token}, headers=auth).json()["active"]
    assert h.client.post("/oauth/revoke", data={"token": token}, headers=auth).status_code == 200


@pytest.mark.parametrize("missing", ["code", "redirect_uri", "code_verifier"])
@pytest.mark.parametrize("scope", SCOPES)
def test_code_grant_without_a_required_parameter_is_invalid_request(
    gp: Harness, missing: str, scope: dict[str, str]
) -> None:
    from oidc_codes import new_code, rp, user_id

    cid, secret = rp(gp)
    code = new_code(gp, cid, user_id(gp, "bob"))
    auth = basic_auth(cid, secret)
    for form in (
        {k: v for k, v in code.form().items() if k != missing},
        code.form(**{missing: ""}),
    ):
        _assert_invalid_request(_token(gp, auth, {**form, **scope}), missing)
    r = _token(gp, auth, code.form())  # none of it consumed the code
    assert r.status_code == 200, r.text


def test_code_grant_without_any_names_all_three(gp: Harness) -> None:
    from oidc_codes import rp

    cid, secret = rp(gp)
    r = _token(gp, basic_auth(cid, secret), {"grant_type": "authorization_code"})
    _assert_invalid_request(r, "code", "redirect_uri", "code_verifier")
