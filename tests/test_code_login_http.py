"""POST /auth/login with an authorization code (DESIGN "Browser sessions"): a public client's
single-page app redeems the code its page received from the hosted login page, and gets what a
password login gets there: the access token in the body, the refresh token only in the cookie.
The code grant's checks all apply; refresh and logout work for that login; reuse of its refresh
token also ends the single sign-on session it came from. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conftest import PASSWORD, Harness, basic_auth
from gatepass.clock import FrozenClock
from gatepass.server.refresh_cookie import SECURE
from oidc_codes import Code, new_code, parts, rp, sso_session, user_id

COOKIE = SECURE.name
XRW = {"X-Requested-With": "fetch"}


@pytest.fixture
def h(make_harness: Callable[..., Harness], database_url: str) -> Harness:
    harness = make_harness(clock=FrozenClock(), database_url=database_url)
    harness.create_user("bob")
    return harness


def body_of(grant: Code, client_id: str, /, **changes: Any) -> dict[str, Any]:
    """The code-shaped body; a change to None leaves the field out."""
    body: dict[str, Any] = {
        "code": grant.code,
        "code_verifier": grant.verifier,
        "redirect_uri": grant.redirect_uri,
        "client_id": client_id,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def code_login(h: Harness, body: dict[str, Any], **headers: str) -> Any:
    h.client.cookies.clear()
    return h.client.post("/auth/login", json=body, headers={**XRW, **headers})


def post_cookie(h: Harness, path: str, cookie: str) -> Any:
    h.client.cookies.clear()
    return h.client.post(path, headers={**XRW, "Cookie": f"{COOKIE}={cookie}"})


def set_cookie(r: Any) -> str:
    (header,) = [v for v in r.headers.get_list("set-cookie") if v.startswith(COOKIE + "=")]
    return header


def cookie_value(r: Any) -> str:
    return set_cookie(r).split(";", 1)[0].split("=", 1)[1]


def refused(r: Any, error: str, status: int = 400) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == error, r.text
    assert "gpr_" not in r.text and "Traceback" not in r.text


def live(h: Harness, sid: str) -> bool:
    row = h.run(h.svc.logins.get, sid)
    return row is not None and row.revoked_at is None


def test_a_code_logs_in_like_a_password_with_the_refresh_token_only_in_the_cookie(
    h: Harness,
) -> None:
    cid, _ = rp(h, public=True)
    code = new_code(h, cid, user_id(h, "bob"), scope=("openid", "profile"))
    r = code_login(h, body_of(code, cid))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}  # no refresh, no id token
    assert body["token_type"] == "Bearer" and r.headers["cache-control"] == "no-store"
    assert "gpr_" not in r.text
    attrs = [a.strip() for a in set_cookie(r).split(";")]
    assert attrs[0].startswith(f"{COOKIE}=gpr_")
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/auth"} <= set(attrs)
    claims = parts(body["access_token"])[1]
    assert claims["client_id"] == cid and claims["sub"] == user_id(h, "bob")
    assert h.client.get("/api/profile", headers=h.bearer(body["access_token"])).status_code == 200
    login = h.run(h.svc.logins.get, claims["sid"])
    assert login.client_id == cid and login.parent_sid == code.sso.id


def test_refresh_and_logout_work_for_that_login(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    first = code_login(h, body_of(new_code(h, cid, user_id(h, "bob")), cid))
    sid = parts(first.json()["access_token"])[1]["sid"]
    r = post_cookie(h, "/auth/refresh", cookie_value(first))
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access_token", "token_type", "expires_in"}
    claims = parts(r.json()["access_token"])[1]
    assert claims["sid"] == sid and claims["client_id"] == cid
    assert cookie_value(r) != cookie_value(first) and "gpr_" not in r.text
    again = post_cookie(h, "/auth/refresh", cookie_value(r))
    assert again.status_code == 200, again.text
    out = post_cookie(h, "/auth/logout", cookie_value(again))
    assert out.status_code == 204 and "Max-Age=0" in set_cookie(out)
    assert not live(h, sid)
    refused(post_cookie(h, "/auth/refresh", cookie_value(again)), "invalid_grant")


def test_a_replayed_code_is_refused_and_ends_the_login_of_its_first_use(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    code = new_code(h, cid, user_id(h, "bob"))
    first = code_login(h, body_of(code, cid))
    assert first.status_code == 200, first.text
    sid = parts(first.json()["access_token"])[1]["sid"]
    again = code_login(h, body_of(code, cid))
    refused(again, "invalid_grant")
    assert "set-cookie" not in again.headers or "gpr_" not in again.headers["set-cookie"]
    assert not live(h, sid)
    refused(post_cookie(h, "/auth/refresh", cookie_value(first)), "invalid_grant")


def test_a_wrong_verifier_or_redirect_uri_is_refused_and_leaves_the_code(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    code = new_code(h, cid, user_id(h, "bob"))
    other = new_code(h, cid, user_id(h, "bob"))
    refused(code_login(h, body_of(code, cid, code_verifier=other.verifier)), "invalid_grant")
    refused(
        code_login(h, body_of(code, cid, redirect_uri="https://app.example/x")), "invalid_grant"
    )
    refused(code_login(h, body_of(code, cid, code_verifier="short")), "invalid_request")
    assert code_login(h, body_of(code, cid)).status_code == 200  # still its owner's


def test_a_confidential_client_is_refused_and_keeps_its_code(h: Harness) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    r = code_login(h, body_of(code, cid))
    refused(r, "unauthorized_client")
    assert "set-cookie" not in r.headers
    # it redeems the code where it authenticates
    form = code.form(client_id=cid)
    ok = h.client.post("/oauth/token", data=form, headers=basic_auth(cid, secret))
    assert ok.status_code == 200, ok.text


def test_a_confidential_clients_refresh_token_does_not_work_in_the_cookie(h: Harness) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    token = h.client.post("/oauth/token", data=code.form(), headers=basic_auth(cid, secret))
    refused(post_cookie(h, "/auth/refresh", token.json()["refresh_token"]), "invalid_grant")


def test_a_client_without_the_code_grant_or_unknown_is_refused(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    code = new_code(h, cid, user_id(h, "bob"))
    pw, _ = h.create_client("pw", grants=["password", "refresh_token"], public=True)
    refused(code_login(h, body_of(code, pw)), "unauthorized_client")
    refused(code_login(h, body_of(code, "gatepass")), "invalid_client", 401)
    refused(code_login(h, body_of(code, "no-such-client")), "invalid_client", 401)
    assert code_login(h, body_of(code, cid)).status_code == 200


def test_both_shapes_or_neither_is_invalid_request(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    code = new_code(h, cid, user_id(h, "bob"))
    for body in (
        {**body_of(code, cid), "username": "bob", "password": PASSWORD},
        {**body_of(code, cid), "password": "x"},
        {"username": "bob", "client_id": cid},
        {},
        {"scope": "profile"},
    ):
        refused(code_login(h, body), "invalid_request")
    assert code_login(h, body_of(code, cid)).status_code == 200  # none of them used it


def test_the_cross_site_guard_applies(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    code = new_code(h, cid, user_id(h, "bob"))
    h.client.cookies.clear()
    r = h.client.post("/auth/login", json=body_of(code, cid))  # no X-Requested-With
    refused(r, "invalid_request", 403)
    refused(
        code_login(h, body_of(code, cid), Origin="https://evil.example"), "invalid_request", 403
    )
    assert code_login(h, body_of(code, cid)).status_code == 200


@pytest.mark.parametrize(
    "changes",
    [
        {"code": None},
        {"code_verifier": None},
        {"redirect_uri": None},
        {"client_id": None},
        {"code": 42},
        {"code": ["gpc_x"]},
        {"code_verifier": {"a": 1}},
        {"client_id": True},
        {"redirect_uri": None, "client_id": None, "code_verifier": None},
        {"code": "gpc_" + "A" * 3000},
        {"code": "not-a-code"},
        {"code": "gpc_\u00e9\u00e9"},
        {"client_id": "x" * 65},
        {"client_id": "\u00e9"},
        {"code_verifier": "\u00e9" * 50},
        {"redirect_uri": "\x00"},
    ],
)
def test_junk_is_a_clean_4xx(h: Harness, changes: dict[str, Any]) -> None:
    cid, _ = rp(h, public=True)
    code = new_code(h, cid, user_id(h, "bob"))
    r = code_login(h, body_of(code, cid, **changes))  # None: the field left out
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"] in {"invalid_request", "invalid_grant", "invalid_client"}, r.text
    assert "Traceback" not in r.text and "set-cookie" not in r.headers
    assert code_login(h, body_of(code, cid)).status_code == 200


def test_reuse_of_its_refresh_token_ends_the_sso_session_and_leaves_the_siblings(
    h: Harness,
) -> None:
    spa, _ = rp(h, public=True)
    other, secret = rp(h)
    bob = user_id(h, "bob")
    sso = sso_session(h, bob)
    first = code_login(h, body_of(new_code(h, spa, bob, sso=sso), spa))
    sid = parts(first.json()["access_token"])[1]["sid"]
    # a sibling: another app's login started from the same SSO session
    sibling_code = new_code(h, other, bob, sso=sso)
    sibling = h.client.post(
        "/oauth/token", data=sibling_code.form(), headers=basic_auth(other, secret)
    )
    assert sibling.status_code == 200, sibling.text
    sibling_sid = parts(sibling.json()["access_token"])[1]["sid"]

    stolen = cookie_value(first)
    assert post_cookie(h, "/auth/refresh", stolen).status_code == 200  # the app rotates it
    assert h.clock is not None
    h.clock.advance(h.svc.settings.refresh_reuse_grace + 1)
    refused(post_cookie(h, "/auth/refresh", stolen), "invalid_grant")  # the thief's copy

    assert not live(h, sid)
    ended = h.run(h.svc.logins.get, sso.id)
    assert ended.revoked_at is not None and ended.revoked_reason == "refresh_reuse"
    assert live(h, sibling_sid)  # the other app's login goes on
    # the browser can no longer get codes silently: its cookie names an ended session
    assert h.run(h.svc.sso.by_cookie, sso.cookie_digest, h.svc.clock.now()) is None
    events = h.run(h.svc.events.page, type_="refresh_reuse")
    (event,) = [e for e in events if e.sid == sid]
    assert event.details["sso_sid"] == sso.id


def test_reuse_in_a_password_login_ends_only_that_login(h: Harness) -> None:
    r = code_login(h, {"username": "bob", "password": PASSWORD})
    assert r.status_code == 200, r.text
    sid = parts(r.json()["access_token"])[1]["sid"]
    bob = user_id(h, "bob")
    sso = sso_session(h, bob)
    stolen = cookie_value(r)
    assert post_cookie(h, "/auth/refresh", stolen).status_code == 200
    assert h.clock is not None
    h.clock.advance(h.svc.settings.refresh_reuse_grace + 1)
    refused(post_cookie(h, "/auth/refresh", stolen), "invalid_grant")
    assert not live(h, sid)
    assert live(h, sso.id)  # no parent: the browser's SSO session is not this login's
