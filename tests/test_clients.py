"""The client registry: admin API and CLI (create, list, delete, rotate-secret)."""

from __future__ import annotations

import json

from conftest import PASSWORD, Harness, basic_auth
from gatepass.cli import main


def test_admin_client_lifecycle(gp: Harness) -> None:
    admin = gp.bearer(gp.admin_token())
    r = gp.client.post(
        "/admin/clients",
        json={
            "name": "reports",
            "grants": ["password"],
            "scopes": ["reports:read"],
            "audience": "reports-api",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    cid, secret = body["client_id"], body["client_secret"]
    assert body["grants"] == ["password"] and body["audience"] == "reports-api"
    assert r.headers["cache-control"] == "no-store"

    listed = gp.client.get("/admin/clients", headers=admin)
    assert cid in listed.text and secret not in listed.text and "digest" not in listed.text
    assert gp.client.get(f"/admin/clients/{cid}", headers=admin).json()["name"] == "reports"

    login = dict(grant_type="password", username="bob", password=PASSWORD)
    assert (
        gp.client.post("/oauth/token", data=login, headers=basic_auth(cid, secret)).status_code
        == 200
    )

    rotated = gp.client.post(f"/admin/clients/{cid}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    assert new_secret != secret
    assert (
        gp.client.post("/oauth/token", data=login, headers=basic_auth(cid, secret)).status_code
        == 401
    )
    assert (
        gp.client.post("/oauth/token", data=login, headers=basic_auth(cid, new_secret)).status_code
        == 200
    )

    assert gp.client.delete(f"/admin/clients/{cid}", headers=admin).status_code == 204
    assert gp.client.delete(f"/admin/clients/{cid}", headers=admin).status_code == 404
    assert (
        gp.client.post("/oauth/token", data=login, headers=basic_auth(cid, new_secret)).status_code
        == 401
    )


def test_admin_client_validation(gp: Harness) -> None:
    admin = gp.bearer(gp.admin_token())
    bad = [
        {"name": "x", "grants": ["implicit"]},
        {"name": "x", "public": True, "grants": ["client_credentials"]},
        {"name": "x", "token_format": "saml"},
        {"name": "x", "access_token_ttl": 10_000_000},
        {"name": "x", "access_token_ttl": "60"},
        {"name": "x", "scopes": ["bad scope\\"]},
        {"name": ""},
        {"grants": ["password"]},
        {"name": "x", "grants": "password"},
    ]
    for payload in bad:
        r = gp.client.post("/admin/clients", json=payload, headers=admin)
        assert r.status_code == 400, (payload, r.text)
        assert r.json()["error"] in ("invalid_request", "invalid_scope")
    pub = gp.client.post("/admin/clients", json={"name": "spa", "public": True}, headers=admin)
    assert pub.status_code == 201 and pub.json()["client_secret"] is None
    cid = pub.json()["client_id"]
    assert gp.client.post(f"/admin/clients/{cid}/rotate-secret", headers=admin).status_code == 404


def test_client_admin_needs_admin_role(gp: Harness) -> None:
    user = gp.bearer(gp.access_token("bob"))
    assert gp.client.get("/admin/clients", headers=user).status_code == 403
    assert gp.client.post("/admin/clients", json={"name": "x"}).status_code == 401


def test_cli_delete_and_rotate_secret(tmp_path, monkeypatch, capsys) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GATEPASS_SECRET_KEY", "cli-test-secret-0123456789abcdefgh")
    d = ["--data-dir", str(tmp_path / "data")]
    assert main(["client", "create", "svc", "--grant", "client_credentials", "--json", *d]) == 0
    created = json.loads(capsys.readouterr().out)
    assert main(["client", "rotate-secret", created["client_id"], "--json", *d]) == 0
    rotated = json.loads(capsys.readouterr().out)
    assert rotated["client_secret"] != created["client_secret"]
    assert main(["client", "delete", created["client_id"], "--json", *d]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"] is True
    assert main(["client", "delete", created["client_id"], *d]) == 1
    assert main(["client", "rotate-secret", "nope", *d]) == 1
    assert main(["client", "create", "x", "--public", "--grant", "client_credentials", *d]) == 1
    assert "public client" in capsys.readouterr().err


def test_client_cache_follows_the_app_clock(make_harness) -> None:
    """The client-record cache ages with the injected clock: a client deleted behind this
    instance's back (another instance, the CLI) stops working once the TTL has passed."""
    from gatepass.clock import FrozenClock
    from gatepass.storage.clients import CACHE_TTL, Clients

    clock = FrozenClock()
    h: Harness = make_harness(clock=clock)
    h.create_user("bob")
    cid, secret = h.create_client("web")
    login = dict(grant_type="password", username="bob", password=PASSWORD)
    assert (
        h.client.post("/oauth/token", data=login, headers=basic_auth(cid, secret)).status_code
        == 200
    )
    h.run(Clients(h.svc.sessions).delete, cid)  # another instance's store
    assert (
        h.client.post("/oauth/token", data=login, headers=basic_auth(cid, secret)).status_code
        == 200
    )
    clock.advance(CACHE_TTL + 1)
    assert (
        h.client.post("/oauth/token", data=login, headers=basic_auth(cid, secret)).status_code
        == 401
    )
