"""Tokens issued for a client's own audience (``client create --audience``): the issuer still
judges them in introspection and revocation, and its own API refuses them, JWT or opaque.

Regressions: revocation answered 200 without revoking such a JWT, introspection called it
inactive, and /api/profile accepted an opaque token meant for another API."""

from __future__ import annotations

from sqlalchemy import update

from conftest import PASSWORD, Harness, basic_auth
from gatepass.storage.models import User


def login(gp: Harness, auth: dict[str, str]) -> dict:
    form = {"grant_type": "password", "username": "bob", "password": PASSWORD}
    r = gp.client.post("/oauth/token", data=form, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_jwt_for_a_client_audience_is_introspected_and_really_revoked(gp: Harness) -> None:
    app = basic_auth(*gp.create_client("reports", audience="reports-api"))
    rs = basic_auth(*gp.create_client("rs", grants=["client_credentials"]))
    token = login(gp, app)["access_token"]
    seen = gp.client.post("/oauth/introspect", data={"token": token}, headers=rs).json()
    assert seen["active"] is True and seen["aud"] == "reports-api"
    assert gp.client.get("/api/profile", headers=gp.bearer(token)).status_code == 401  # not ours

    assert gp.client.post("/oauth/revoke", data={"token": token}, headers=app).status_code == 200
    after = gp.client.post("/oauth/introspect", data={"token": token}, headers=rs).json()
    assert after == {"active": False}  # on the denylist now, for every verifier of reports-api
    entries = gp.svc.denylist.local.entries()
    assert any(e.kind == "jti" and e.value == seen["jti"] for e in entries)


def test_an_opaque_token_for_another_api_is_refused_by_gatepass_own(gp: Harness) -> None:
    app = basic_auth(*gp.create_client("reports", audience="reports-api", token_format="opaque"))
    token = login(gp, app)["access_token"]
    assert token.startswith("gpa_")
    assert gp.client.get("/api/profile", headers=gp.bearer(token)).status_code == 401
    mine = login(gp, basic_auth(*gp.create_client("web", token_format="opaque")))["access_token"]
    assert gp.client.get("/api/profile", headers=gp.bearer(mine)).status_code == 200


def test_a_disabled_users_refresh_token_is_inactive(gp: Harness) -> None:
    cid, secret = gp.create_client("web")
    refresh = login(gp, basic_auth(cid, secret))["refresh_token"]
    seen = gp.client.post(
        "/oauth/introspect", data={"token": refresh}, headers=basic_auth(cid, secret)
    )
    assert seen.json()["active"] is True

    async def disable() -> None:
        async with gp.svc.sessions.begin() as s:
            await s.execute(update(User).where(User.username == "bob").values(disabled=True))

    gp.run(disable)
    again = gp.client.post(
        "/oauth/introspect", data={"token": refresh}, headers=basic_auth(cid, secret)
    )
    assert again.json() == {"active": False}
