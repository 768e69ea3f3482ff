"""Key rotation seen from outside: JWKS holds the next key before it signs, old tokens keep
verifying until they expire, rotation needs the admin role."""

from __future__ import annotations

from conftest import Harness
from gatepass.clock import FrozenClock
from gatepass.core.jose import b64url_decode


def _kid(token: str) -> str:
    import json

    return json.loads(b64url_decode(token.split(".")[0]))["kid"]


def _access_kids(h: Harness) -> set[str]:
    """The access-token keys in the JWKS (ES256 here; the ID-token keys are RS256)."""
    keys = h.client.get("/.well-known/jwks.json").json()["keys"]
    return {k["kid"] for k in keys if k["alg"] == "ES256"}


def test_rotation_over_http(make_harness) -> None:
    clock = FrozenClock()
    h: Harness = make_harness(clock=clock)
    h.create_user("alice", roles=("admin",))
    admin = h.admin_token()
    before = _access_kids(h)
    assert _kid(admin) in before and len(before) == 2

    r = h.client.post("/admin/keys/rotate", headers=h.bearer(admin))
    assert r.status_code == 200
    new_active = r.json()["active"]
    assert new_active in before  # it was published before it signed
    assert new_active != _kid(admin)

    after = _access_kids(h)
    assert _kid(admin) in after and new_active in after and len(after) == 3

    fresh = h.access_token("alice")
    assert _kid(fresh) == new_active
    assert h.client.get("/api/profile", headers=h.bearer(admin)).status_code == 200
    assert h.client.get("/api/profile", headers=h.bearer(fresh)).status_code == 200

    # once every token the old key signed has expired, it leaves the JWKS
    clock.advance(900 + 30 + 61)
    final = _access_kids(h)
    assert _kid(admin) not in final and new_active in final


def test_rotation_needs_admin(gp: Harness) -> None:
    r = gp.client.post("/admin/keys/rotate", headers=gp.bearer(gp.access_token("bob")))
    assert r.status_code == 403
    assert gp.client.post("/admin/keys/rotate").status_code == 401


def test_other_instance_rotation_is_picked_up(make_harness, tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    a: Harness = make_harness(database_url=db)
    b: Harness = make_harness(database_url=db)
    a.create_user("alice", roles=("admin",))
    a.run(a.svc.keys.rotate)
    b.run(b.svc.keys.reload)  # what the periodic refresher does
    assert b.svc.keys.ring.active().kid == a.svc.keys.ring.active().kid
    token = a.access_token("alice")
    assert b.client.get("/api/profile", headers=b.bearer(token)).status_code == 200


def test_admin_can_create_users(gp: Harness) -> None:
    admin = gp.bearer(gp.admin_token())
    r = gp.client.post(
        "/admin/users",
        json={"username": "erin", "password": "a fine password", "roles": ["editor"]},
        headers=admin,
    )
    assert r.status_code == 201
    assert r.json()["roles"] == ["editor"] and "password" not in r.text
    assert gp.login("erin", "a fine password").status_code == 200
    dup = gp.client.post(
        "/admin/users", json={"username": "erin", "password": "a fine password"}, headers=admin
    )
    assert dup.status_code == 409
    weak = gp.client.post(
        "/admin/users", json={"username": "x", "password": "short"}, headers=admin
    )
    assert weak.status_code == 400
    sessions = gp.client.get(f"/admin/users/{r.json()['id']}/sessions", headers=admin)
    assert sessions.status_code == 200 and len(sessions.json()["sessions"]) == 1
    assert gp.client.get("/admin/users/nope/sessions", headers=admin).status_code == 404


def test_emergency_rotation_over_http_retires_the_old_key_at_once(make_harness) -> None:
    clock = FrozenClock()
    h: Harness = make_harness(clock=clock)
    h.create_user("alice", roles=("admin",))
    admin = h.admin_token("alice")
    r = h.client.post("/admin/keys/rotate", headers=h.bearer(admin))  # an ordinary one first
    assert r.status_code == 200
    second = h.admin_token("alice")
    assert _kid(second) != _kid(admin)

    r = h.client.post("/admin/keys/rotate", headers=h.bearer(second), json={"revoke_old": True})
    assert r.status_code == 200
    kids = _access_kids(h)
    assert _kid(admin) not in kids and _kid(second) not in kids  # retiring and active: both gone
    assert r.json()["active"] in kids and len(kids) == 2
    for token in (admin, second):  # refused at once, not when they expire
        assert h.client.get("/api/profile", headers=h.bearer(token)).status_code == 401
    fresh = h.access_token("alice")
    assert h.client.get("/api/profile", headers=h.bearer(fresh)).status_code == 200


def test_emergency_rotation_flag_must_be_a_boolean(gp: Harness) -> None:
    admin = gp.admin_token("alice")
    for body in ({"revoke_old": "yes"}, {"revoke_old": 1}):
        r = gp.client.post("/admin/keys/rotate", headers=gp.bearer(admin), json=body)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = gp.client.post("/admin/keys/rotate", headers=gp.bearer(admin), content=b"true")
    assert r.status_code == 415  # not application/json
    r = gp.client.post(
        "/admin/keys/rotate",
        headers={**gp.bearer(admin), "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert r.status_code == 400
