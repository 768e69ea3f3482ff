"""The administration scope (DESIGN "Administration"): /admin/* needs role ``admin`` and scope
``gatepass:admin``; the scope is granted only when asked for, only to users with the role, and
only through the built-in client ``gatepass`` or clients registered for it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import PASSWORD, Harness, basic_auth
from gatepass.core.jose import b64url_decode

ADMIN = "gatepass:admin"
XRW = {"X-Requested-With": "fetch"}
# one request per admin endpoint: what a token that may not administer must never get through
ADMIN_CALLS = [
    ("GET", "/admin/events"),
    ("GET", "/admin/clients"),
    ("POST", "/admin/keys/rotate"),
    ("POST", "/admin/users/nobody/revoke"),
]


def _scope(token: str) -> set[str]:
    return set(json.loads(b64url_decode(token.split(".")[1]))["scope"].split())


def _admin_calls(h: Harness, token: str) -> list[int]:
    return [h.client.request(m, p, headers=h.bearer(token)).status_code for m, p in ADMIN_CALLS]


def test_admin_token_through_a_third_party_client_does_not_reach_admin(gp: Harness) -> None:
    """An admin signing in to someone else's app hands it a token that is not an admin token."""
    cid, _ = gp.create_client("third-party app", public=True, scopes=["profile"])
    r = gp.login("alice", client_id=cid)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert gp.client.get("/api/profile", headers=gp.bearer(token)).json()["roles"] == ["admin"]
    statuses = _admin_calls(gp, token)
    assert statuses == [403] * len(ADMIN_CALLS)
    r = gp.client.get("/admin/events", headers=gp.bearer(token))
    assert r.json()["error"] == "insufficient_scope" and ADMIN in r.headers["www-authenticate"]
    asked = gp.login("alice", client_id=cid, scope=f"profile {ADMIN}")
    assert asked.status_code == 400 and asked.json()["error"] == "invalid_scope"


def test_admin_endpoints_need_the_scope_not_just_the_role(gp: Harness) -> None:
    token = gp.access_token("alice")  # the built-in client, nothing asked: no admin scope
    assert ADMIN not in _scope(token)
    assert _admin_calls(gp, token) == [403] * len(ADMIN_CALLS)
    assert _admin_calls(gp, gp.admin_token()) == [200, 200, 200, 404]


def test_the_admin_scope_needs_the_admin_role(gp: Harness) -> None:
    r = gp.login("bob", scope=f"profile {ADMIN}")
    assert r.status_code == 200 and r.json()["scope"] == "profile"  # issued less than asked
    assert _admin_calls(gp, r.json()["access_token"]) == [403] * len(ADMIN_CALLS)


def test_a_client_registered_for_the_admin_scope_can_carry_it(gp: Harness) -> None:
    cid, secret = gp.create_client("console", scopes=["profile", ADMIN])
    creds = basic_auth(cid, secret)
    plain = gp.client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "alice", "password": PASSWORD},
        headers=creds,
    )
    assert plain.json()["scope"] == "profile"  # only when asked for
    asked = gp.client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "alice", "password": PASSWORD, "scope": ADMIN},
        headers=creds,
    )
    assert asked.json()["scope"] == ADMIN
    assert (
        gp.client.get("/admin/events", headers=gp.bearer(asked.json()["access_token"])).status_code
        == 200
    )
    # and a refresh keeps it, for as long as the user has the role
    again = gp.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": asked.json()["refresh_token"]},
        headers=creds,
    )
    assert again.status_code == 200 and again.json()["scope"] == ADMIN


def test_client_credentials_never_carry_the_admin_scope(gp: Harness) -> None:
    cid, secret = gp.create_client("svc", grants=["client_credentials"], scopes=["jobs", ADMIN])
    r = gp.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": f"jobs {ADMIN}"},
        headers=basic_auth(cid, secret),
    )
    assert r.status_code == 200 and r.json()["scope"] == "jobs"


def test_refresh_drops_the_admin_scope_once_the_role_is_gone(gp: Harness) -> None:
    login = gp.login("alice", scope=ADMIN).json()
    user = gp.run(gp.svc.users.by_name, "alice")
    gp.run(_set_roles, gp, user.id, [])
    again = gp.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": login["refresh_token"]},
    )
    assert again.status_code == 200 and again.json()["scope"] == ""


async def _set_roles(h: Harness, user_id: str, roles: list[str]) -> None:
    from sqlalchemy import update

    from gatepass.storage.models import User

    async with h.svc.sessions.begin() as s:
        await s.execute(update(User).where(User.id == user_id).values(roles=roles))


@pytest.mark.parametrize(("body", "admin"), [({}, False), ({"scope": ADMIN}, True)])
def test_browser_login_grants_the_admin_scope_only_when_asked(
    gp: Harness, body: dict[str, Any], admin: bool
) -> None:
    gp.client.cookies.clear()
    r = gp.client.post(
        "/auth/login", json={"username": "alice", "password": PASSWORD, **body}, headers=XRW
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert (ADMIN in _scope(token)) is admin
    assert gp.client.get("/admin/events", headers=gp.bearer(token)).status_code == (
        200 if admin else 403
    )


def test_browser_login_refuses_a_scope_the_built_in_client_may_not_have(gp: Harness) -> None:
    gp.client.cookies.clear()
    r = gp.client.post(
        "/auth/login",
        json={"username": "alice", "password": PASSWORD, "scope": "videos:delete"},
        headers=XRW,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
