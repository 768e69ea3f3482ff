"""Scopes at registration: a client's scopes fit in one request (2000 characters), every login
and token row holds them on both databases, and no scope may look like a role."""

from __future__ import annotations

import os

import pytest

from conftest import PASSWORD, Harness, basic_auth
from gatepass.cli import main
from gatepass.oauth.scopes import MAX_SCOPE_CHARS

# 20 scopes of 99 characters: 1999 characters with the spaces, the longest set allowed
LONGEST = [f"s{i:02d}:" + "x" * 95 for i in range(20)]


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_the_longest_registrable_scopes_fit_every_row(
    make_harness, database_url: str, token_format: str
) -> None:
    """On PostgreSQL the scope columns were VARCHAR(1000): a login with more was a 500."""
    assert len(" ".join(LONGEST)) == MAX_SCOPE_CHARS - 1
    h: Harness = make_harness(database_url=database_url)
    h.create_user("bob")
    h.create_user("alice", roles=("admin",))
    r = h.client.post(
        "/admin/clients",
        json={"name": "wide", "scopes": LONGEST, "token_format": token_format},
        headers=h.bearer(h.admin_token()),
    )
    assert r.status_code == 201, r.text
    creds = basic_auth(r.json()["client_id"], r.json()["client_secret"])
    login = h.client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "bob", "password": PASSWORD},
        headers=creds,
    )
    assert login.status_code == 200, login.text
    assert login.json()["scope"].split() == LONGEST
    again = h.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": login.json()["refresh_token"]},
        headers=creds,
    )
    assert again.status_code == 200 and again.json()["scope"].split() == LONGEST
    seen = h.client.post(
        "/oauth/introspect", data={"token": again.json()["access_token"]}, headers=creds
    )
    assert seen.json()["active"] is True and seen.json()["scope"].split() == LONGEST


def test_registration_refuses_more_scope_than_one_request_may_carry(gp: Harness) -> None:
    too_long = [*LONGEST, "one-more"]
    r = gp.client.post(
        "/admin/clients",
        json={"name": "too wide", "scopes": too_long},
        headers=gp.bearer(gp.admin_token()),
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert "2000" in r.json()["error_description"]
    listed = gp.client.get("/admin/clients", headers=gp.bearer(gp.admin_token())).json()
    assert listed == {"clients": [], "next": None}  # nothing was registered


def test_cli_refuses_more_scope_than_one_request_may_carry(tmp_path, monkeypatch, capsys) -> None:
    for key in [k for k in os.environ if k.startswith("GATEPASS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GATEPASS_SECRET_KEY", "cli-test-secret-0123456789abcdefgh")
    args = ["client", "create", "too-wide", "--data-dir", str(tmp_path / "data")]
    for s in [*LONGEST, "one-more"]:
        args += ["--scope", s]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "2000" in err and "Traceback" not in err


@pytest.mark.parametrize("scope", ["role:admin", "Role:admin", "profile role:editor"])
def test_registration_refuses_scopes_that_look_like_roles(gp: Harness, scope: str) -> None:
    """The SDK's Starlette adapter shows roles as ``role:<name>``: a client registered with
    scope ``role:admin`` must not exist."""
    r = gp.client.post(
        "/admin/clients",
        json={"name": "sneaky", "scopes": [scope]},
        headers=gp.bearer(gp.admin_token()),
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert "role:" in r.json()["error_description"]
