"""The admin console's JSON API: users (search, get, disable and enable, roles, forced password
reset, new password), client edits, keys, the event list's filters and cursors, and the
``admin.*`` event that every admin action records. Access to every ``/admin`` route."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from conftest import PASSWORD, Harness, basic_auth
from gatepass.clock import FrozenClock
from gatepass.oauth.users import create_user
from gatepass.server.app import ROUTES

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
NEW_PASSWORD = "a brand new passphrase 42"
ADMIN_ROUTES = sorted(
    (m, r.path) for r in ROUTES if r.path.startswith("/admin") for m in (r.methods or ())
)


def _id(h: Harness, name: str) -> str:
    return str(h.run(h.svc.users.by_name, name).id)


def _events(h: Harness, admin: str, **params: Any) -> list[dict[str, Any]]:
    r = h.client.get("/admin/events", params=params, headers=h.bearer(admin))
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def _admin_headers(h: Harness, admin: str) -> dict[str, str]:
    return {**h.bearer(admin), "User-Agent": UA}


def _refresh(h: Harness, token: str) -> Any:
    return h.client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


def _profile(h: Harness, token: str) -> int:
    return h.client.get("/api/profile", headers=h.bearer(token)).status_code


# -- who may call /admin -------------------------------------------------------------------------
def test_the_admin_route_list_covers_the_console() -> None:
    paths = {p for _, p in ADMIN_ROUTES}
    for p in (
        "/admin/users/{user_id}",
        "/admin/users/{user_id}/force-password-reset",
        "/admin/users/{user_id}/password",
        "/admin/clients/{client_id}",
        "/admin/keys",
        "/admin/url-keys/rotate",
        "/admin/events",
    ):
        assert p in paths


@pytest.mark.parametrize(
    ("method", "path"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p in ADMIN_ROUTES]
)
def test_every_admin_route_refuses_whoever_is_not_an_admin(
    gp: Harness, method: str, path: str
) -> None:
    """No token: 401. A user without the role, the admin without the scope, and the admin's
    token from another client: 403. Nothing is changed by any of them."""
    concrete = re.sub(r"\{[^}]+\}", _id(gp, "bob"), path)
    cid, _ = gp.create_client("third-party", public=True, scopes=["profile"])
    callers = {
        "bob": gp.access_token("bob", scope="gatepass:admin"),
        "no scope": gp.access_token("alice"),
        "other client": gp.access_token("alice", client_id=cid),
    }
    body = json.dumps({"disabled": True, "password": NEW_PASSWORD, "name": "x"})
    headers = {"content-type": "application/json"}
    r = gp.client.request(method, concrete, content=body, headers=headers)
    assert r.status_code == 401 and r.json()["error"] == "invalid_request", r.text
    for who, token in callers.items():
        r = gp.client.request(
            method, concrete, content=body, headers={**headers, **gp.bearer(token)}
        )
        assert r.status_code == 403, (who, r.text)
        assert r.json()["error"] == "insufficient_scope"
    bob = gp.run(gp.svc.users.by_name, "bob")
    assert not bob.disabled and not bob.password_reset_required
    assert gp.run(gp.svc.events.newest, limit=10, type_=None)[0].type == "sign_in"


# -- users ---------------------------------------------------------------------------------------
def _people(h: Harness) -> None:
    for name, email in (
        ("Carol", "carol@example.com"),
        ("carla", "c.a@corp.example"),
        ("dave", "CARL@example.org"),
        ("erin_x", None),
        ("erinzy", "erin%y@example.com"),
    ):
        h.run(create_user, h.svc, name, PASSWORD, [], email=email)


def test_users_search_by_username_or_email_prefix_case_insensitive(gp: Harness) -> None:
    _people(gp)
    admin = gp.admin_token()

    def names(q: str) -> list[str]:
        r = gp.client.get("/admin/users", params={"q": q}, headers=gp.bearer(admin))
        assert r.status_code == 200, r.text
        return [u["username"] for u in r.json()["users"]]

    assert names("car") == ["Carol", "carla", "dave"]  # dave by CARL@...
    assert names("CARO") == ["Carol"]
    assert names("c.a@") == ["carla"]
    assert names("erin_") == ["erin_x"]  # "_" and "%" are themselves, not wildcards
    assert names("erin%") == ["erinzy"]  # by its email
    assert names("zzz") == []
    everyone = names("")
    assert set(everyone) == {"alice", "bob", "Carol", "carla", "dave", "erin_x", "erinzy"}


def test_users_pages_with_a_cursor_cover_everyone_once(gp: Harness) -> None:
    _people(gp)
    admin = gp.admin_token()
    seen: list[str] = []
    url = "/admin/users?limit=2"
    pages = 0
    while url:
        r = gp.client.get(url, headers=gp.bearer(admin))
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["users"]) <= 2
        seen += [u["username"] for u in body["users"]]
        url = f"/admin/users?limit=2&cursor={body['next']}" if body["next"] else ""
        pages += 1
    assert pages == 4 and len(seen) == 7 and len(set(seen)) == 7
    assert seen == sorted(seen)  # (username, id) order, as the database compares them


def test_user_view_has_the_fields_and_live_sessions_but_no_hash(gp: Harness) -> None:
    admin = gp.admin_token()
    gp.login("bob")
    gp.login("bob")
    bob_id = _id(gp, "bob")
    r = gp.client.get(f"/admin/users/{bob_id}", headers=gp.bearer(admin))
    assert r.status_code == 200
    user = r.json()
    assert user["username"] == "bob" and user["live_sessions"] == 2
    assert set(user) == {
        "id",
        "username",
        "email",
        "name",
        "roles",
        "disabled",
        "password_reset_required",
        "created_at",
        "live_sessions",
    }
    assert "argon2" not in r.text
    sessions = gp.client.get(f"/admin/users/{bob_id}/sessions", headers=gp.bearer(admin))
    assert [(x["browser"], x["os"]) for x in sessions.json()["sessions"]] == [("unknown",) * 2] * 2
    listed = gp.client.get("/admin/users?q=bob", headers=gp.bearer(admin)).json()["users"]
    assert listed == [user]
    for bad in ("nobody", "x" * 65):
        r = gp.client.get(f"/admin/users/{bad}", headers=gp.bearer(admin))
        assert r.status_code == 404 and r.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=x",
        "cursor=!!!",
        "cursor=" + "A" * 600,
        "cursor=WyJhIl0",  # ["a"]: one item where two belong
        "cursor=WzEsMl0",  # [1,2]: numbers where text belongs
        "q=" + "a" * 321,
    ],
)
def test_users_bad_query_is_400(gp: Harness, query: str) -> None:
    r = gp.client.get(f"/admin/users?{query}", headers=gp.bearer(gp.admin_token()))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text


def test_disabling_ends_every_login_at_once_and_enabling_lets_the_user_back(gp: Harness) -> None:
    admin = gp.admin_token()
    bob = [gp.login("bob").json() for _ in range(2)]
    bob_id = _id(gp, "bob")
    r = gp.client.patch(
        f"/admin/users/{bob_id}", json={"disabled": True}, headers=_admin_headers(gp, admin)
    )
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert r.json()["live_sessions"] == 0
    for b in bob:
        assert _profile(gp, b["access_token"]) == 401  # the denylist knows already
        assert _refresh(gp, b["refresh_token"]).json()["error"] == "invalid_grant"
    assert gp.login("bob").json()["error"] == "invalid_grant"
    (event,) = _events(gp, admin, type="admin.user_disabled")
    alice_id = _id(gp, "alice")
    assert event["user_id"] == bob_id and event["username"] == "bob"
    assert event["details"] == {"by": alice_id, "by_username": "alice", "sessions": 2}
    assert event["ip"] == "testclient" and event["user_agent"] == UA and event["created"] > 0

    r = gp.client.patch(
        f"/admin/users/{bob_id}", json={"disabled": False}, headers=gp.bearer(admin)
    )
    assert r.status_code == 200 and r.json()["disabled"] is False
    assert gp.login("bob").status_code == 200
    assert len(_events(gp, admin, type="admin.user_enabled")) == 1
    # the same state again changes nothing and records nothing
    gp.client.patch(f"/admin/users/{bob_id}", json={"disabled": False}, headers=gp.bearer(admin))
    assert len(_events(gp, admin, type="admin.user_enabled")) == 1


def test_roles_change_with_the_rules_of_create(gp: Harness) -> None:
    admin = gp.admin_token()
    bob_id = _id(gp, "bob")
    r = gp.client.patch(
        f"/admin/users/{bob_id}",
        json={"roles": ["editor", "viewer", "editor"]},
        headers=gp.bearer(admin),
    )
    assert r.status_code == 200 and r.json()["roles"] == ["editor", "viewer"]
    (event,) = _events(gp, admin, type="admin.user_roles_changed")
    assert event["details"]["roles_before"] == [] and event["details"]["roles"] == [
        "editor",
        "viewer",
    ]
    token = gp.access_token("bob")
    assert sorted(gp.client.get("/api/profile", headers=gp.bearer(token)).json()["roles"]) == [
        "editor",
        "viewer",
    ]
    for bad in (
        {"roles": ["has space"]},
        {"roles": "editor"},
        {"roles": [1]},
        {"roles": ["x" * 65]},
        {"roles": ["r"] * 51},
        {"disabled": "yes"},
        {"disabled": 1},
        {"role": ["editor"]},  # unknown field
        {},
    ):
        r = gp.client.patch(f"/admin/users/{bob_id}", json=bad, headers=gp.bearer(admin))
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", (bad, r.text)
    assert gp.run(gp.svc.users.by_id, bob_id).roles == ["editor", "viewer"]


def test_an_admin_cannot_disable_or_unadmin_themselves(gp: Harness) -> None:
    admin = gp.admin_token()
    alice_id = _id(gp, "alice")
    for body in (
        {"disabled": True},
        {"roles": []},
        {"roles": ["admin", "editor"], "disabled": True},  # refused whole: no role added
    ):
        r = gp.client.patch(f"/admin/users/{alice_id}", json=body, headers=gp.bearer(admin))
        assert r.status_code == 400, r.text
    assert _profile(gp, admin) == 200
    assert gp.run(gp.svc.users.by_id, alice_id).roles == ["admin"]
    assert _events(gp, admin, type="admin.user_roles_changed") == []


def test_forced_password_reset_and_a_new_password(gp: Harness) -> None:
    admin = gp.admin_token()
    bob = gp.login("bob").json()
    bob_id = _id(gp, "bob")
    r = gp.client.post(
        f"/admin/users/{bob_id}/force-password-reset", headers=_admin_headers(gp, admin)
    )
    assert r.status_code == 200
    assert r.json() == {"revoked_sessions": 1, "password_reset_required": True}
    assert _profile(gp, bob["access_token"]) == 401
    assert _refresh(gp, bob["refresh_token"]).json()["error"] == "invalid_grant"
    # the right password: told why; a wrong one: told nothing more than ever
    right = gp.login("bob")
    assert right.status_code == 400 and right.json()["error"] == "invalid_grant"
    assert "password reset required" in right.json()["error_description"].lower()
    wrong = gp.login("bob", "not the password")
    assert wrong.json()["error_description"] == "Invalid username or password."
    gp.client.cookies.clear()
    browser = gp.client.post(
        "/auth/login",
        json={"username": "bob", "password": PASSWORD},
        headers={"X-Requested-With": "fetch"},
    )
    assert browser.status_code == 400
    assert "password reset required" in browser.json()["error_description"].lower()
    assert gp.client.get(f"/admin/users/{bob_id}", headers=gp.bearer(admin)).json()[
        "password_reset_required"
    ]

    for bad in ({"password": "short"}, {"password": 5}, {}, {"password": NEW_PASSWORD, "x": 1}):
        r = gp.client.post(f"/admin/users/{bob_id}/password", json=bad, headers=gp.bearer(admin))
        assert r.status_code == 400, (bad, r.text)
    r = gp.client.post(
        f"/admin/users/{bob_id}/password", json={"password": NEW_PASSWORD}, headers=gp.bearer(admin)
    )
    assert r.status_code == 204
    assert gp.login("bob", NEW_PASSWORD).status_code == 200
    assert gp.login("bob").json()["error_description"] == "Invalid username or password."
    events = _events(gp, admin)
    types = [e["type"] for e in events]
    assert "admin.password_reset_forced" in types and "admin.password_set" in types
    text = json.dumps(events)
    assert NEW_PASSWORD not in text and PASSWORD not in text and "argon2" not in text
    r = gp.client.post("/admin/users/nobody/force-password-reset", headers=gp.bearer(admin))
    assert r.status_code == 404


def test_existing_admin_actions_are_events_too(gp: Harness) -> None:
    admin = gp.admin_token()
    headers = _admin_headers(gp, admin)
    r = gp.client.post(
        "/admin/users", json={"username": "carol", "password": PASSWORD}, headers=headers
    )
    assert r.status_code == 201
    gp.login("carol")
    gp.client.post(f"/admin/users/{r.json()['id']}/revoke", headers=headers)
    gp.client.post("/admin/keys/rotate", headers=headers)
    created = gp.client.post(
        "/admin/clients", json={"name": "app", "grants": ["client_credentials"]}, headers=headers
    ).json()
    cid = created["client_id"]
    rotated = gp.client.post(f"/admin/clients/{cid}/rotate-secret", headers=headers).json()
    assert gp.client.delete(f"/admin/clients/{cid}", headers=headers).status_code == 204
    events = _events(gp, admin)
    admin_events = [e for e in events if e["type"].startswith("admin.")]
    assert [e["type"] for e in admin_events] == [
        "admin.client_deleted",
        "admin.client_secret_rotated",
        "admin.client_created",
        "admin.keys_rotated",
        "admin.sessions_ended",
        "admin.user_created",
    ]
    alice_id = _id(gp, "alice")
    for e in admin_events:
        assert e["details"]["by"] == alice_id and e["details"]["by_username"] == "alice"
        assert e["ip"] == "testclient" and e["user_agent"] == UA
    assert admin_events[0]["client_id"] == cid and admin_events[1]["client_id"] == cid
    assert admin_events[4]["username"] == "carol" and admin_events[4]["details"]["sessions"] == 1
    assert admin_events[5]["username"] == "carol"
    text = json.dumps(events)
    for secret in (created["client_secret"], rotated["client_secret"], PASSWORD, admin):
        assert secret not in text


# -- clients -------------------------------------------------------------------------------------
def test_client_edit_is_checked_and_seen_at_once(gp: Harness) -> None:
    admin = gp.admin_token()
    cid, secret = gp.create_client("svc", grants=["client_credentials"], scopes=["jobs", "feeds"])
    creds = basic_auth(cid, secret)

    def token(scope: str) -> Any:
        return gp.client.post(
            "/oauth/token", data={"grant_type": "client_credentials", "scope": scope}, headers=creds
        )

    assert token("jobs").status_code == 200  # the client is now in the cache
    r = gp.client.patch(
        f"/admin/clients/{cid}",
        json={"scopes": ["feeds"], "name": "service", "access_token_ttl": 60},
        headers=gp.bearer(admin),
    )
    assert r.status_code == 200, r.text
    assert r.json()["scopes"] == ["feeds"] and r.json()["name"] == "service"
    assert "client_secret" not in r.json()
    # the clock stands still: only forgetting the cached record makes this refusal
    assert token("jobs").json()["error"] == "invalid_scope"
    issued = token("feeds").json()
    assert issued["expires_in"] == 60
    (event,) = _events(gp, admin, type="admin.client_updated")
    assert event["client_id"] == cid
    assert event["details"]["changed"] == ["access_token_ttl", "name", "scopes"]

    r = gp.client.patch(
        f"/admin/clients/{cid}",
        json={"access_token_ttl": None, "audience": None},
        headers=gp.bearer(admin),
    )
    assert r.status_code == 200 and r.json()["access_token_ttl"] is None
    for bad in (
        {"grants": ["nope"]},
        {"grants": "client_credentials"},
        {"scopes": [1]},
        {"name": ""},
        {"name": "a\x01b"},
        {"name": "x" * 201},
        {"access_token_ttl": "60"},
        {"access_token_ttl": 5},
        {"access_token_ttl": True},
        {"token_format": "paseto"},
        {"audience": ""},
        {"secret": "mine"},
        {"public": True},
        {"redirect_uris": ["https://x.example/cb"]},
        {"grants": ["authorization_code"]},  # no redirect URI registered
        {},
    ):
        r = gp.client.patch(f"/admin/clients/{cid}", json=bad, headers=gp.bearer(admin))
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", (bad, r.text)
    assert len(_events(gp, admin, type="admin.client_updated")) == 2
    for missing in ("gpc_nope", "x" * 65, "gatepass"):
        r = gp.client.patch(
            f"/admin/clients/{missing}", json={"name": "n"}, headers=gp.bearer(admin)
        )
        assert r.status_code == 404, missing


# -- keys ----------------------------------------------------------------------------------------
def test_keys_are_listed_without_private_material_and_url_keys_rotate(gp: Harness) -> None:
    admin = gp.admin_token()
    r = gp.client.get("/admin/keys", headers=gp.bearer(admin))
    assert r.status_code == 200
    listed = r.json()
    (token_key,) = [k for k in listed["token_keys"] if k["state"] == "active"]
    assert token_key["alg"] == "ES256" and token_key["purpose"] == "access"
    assert set(token_key) == {
        "kid",
        "alg",
        "purpose",
        "state",
        "created_at",
        "activated_at",
        "retire_at",
        "published",
    }
    (url_key,) = [k for k in listed["url_keys"] if k["state"] == "active"]
    assert set(url_key) == {
        "kid",
        "alg",
        "state",
        "created_at",
        "activated_at",
        "retire_at",
        "accepted",
    }
    assert "sealed" not in r.text and "secret" not in r.text and '"d"' not in r.text

    signed = gp.client.post("/signed-urls", json={"path": "/v/1.mp4"}, headers=gp.bearer(admin))
    assert signed.status_code == 200, signed.text
    r = gp.client.post("/admin/url-keys/rotate", headers=_admin_headers(gp, admin))
    assert r.status_code == 200, r.text
    assert r.json()["active"] != url_key["kid"]
    states = {k["kid"]: k["state"] for k in r.json()["keys"]}
    assert states[url_key["kid"]] == "retiring" and states[r.json()["active"]] == "active"
    # the URL signed before still passes the edge check (the old key is still accepted)
    url = signed.json()["url"].removeprefix("http://testserver")
    assert gp.client.get("/edge/verify", headers={"X-Original-URI": url}).status_code == 204
    assert (
        gp.client.post("/admin/url-keys/rotate", json={}, headers=gp.bearer(admin)).status_code
        == 200
    )
    r = gp.client.post("/admin/url-keys/rotate", json={"purpose": "x"}, headers=gp.bearer(admin))
    assert r.status_code == 400
    (event, _) = _events(gp, admin, type="admin.keys_rotated")
    assert event["details"]["keys"] == "url" and event["details"]["by_username"] == "alice"
    # a token-key rotation names each ring it rotated, as text the console shows as it is
    r = gp.client.post("/admin/keys/rotate", headers=gp.bearer(admin))
    assert r.status_code == 200, r.text
    body = r.json()
    event = _events(gp, admin, type="admin.keys_rotated")[0]  # newest first
    assert event["details"]["keys"] == "token" and event["details"]["purpose"] == "all"
    assert event["details"]["active"] == (
        f"access {body['active']}, id_token {body['id_token_active']}"
    )


# -- events --------------------------------------------------------------------------------------
def test_events_filters_and_cursor(make_harness: Callable[..., Harness]) -> None:
    clock = FrozenClock()
    h = make_harness(clock=clock)
    h.create_user("alice", roles=("admin",))
    h.create_user("bob")
    start = clock.now()
    for _ in range(3):
        h.login("bob")
        clock.advance(100)
    h.login("alice")
    admin = h.admin_token()
    bob_id = _id(h, "bob")
    bob_events = _events(h, admin, user_id=bob_id)
    assert [e["type"] for e in bob_events] == ["sign_in"] * 3
    assert [e["created"] for e in bob_events] == [start + 200, start + 100, start]
    assert len(_events(h, admin, type="sign_in")) == 5
    window = _events(h, admin, user_id=bob_id, since=int(start + 100), until=int(start + 200))
    assert [e["created"] for e in window] == [start + 100]
    page = h.client.get(f"/admin/events?limit=2&user_id={bob_id}", headers=h.bearer(admin)).json()
    assert len(page["events"]) == 2
    rest = h.client.get(
        f"/admin/events?limit=2&user_id={bob_id}&cursor={page['next']}", headers=h.bearer(admin)
    ).json()
    assert [e["created"] for e in rest["events"]] == [start] and rest["next"] is None
    for bad in (
        "limit=201",
        "cursor=abc!",
        "cursor=WyJ4Il0",  # ["x"]: text where an id belongs
        "since=-1",
        "until=soon",
        "user_id=" + "u" * 65,
        "after=0&cursor=MQ",
        "after=0&user_id=x",
    ):
        r = h.client.get(f"/admin/events?{bad}", headers=h.bearer(admin))
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", (bad, r.text)


def test_console_storage_on_each_database(
    make_harness: Callable[..., Harness], database_url: str
) -> None:
    """User search, keyset pages, live-session counts and event filters on SQLite and
    PostgreSQL (collation, LIKE escapes and row comparisons differ between them)."""
    h = make_harness(database_url=database_url)
    h.create_user("alice", roles=("admin",))
    _people(h)
    h.login("dave")
    admin = h.admin_token()
    r = h.client.get("/admin/users?q=CAR", headers=h.bearer(admin)).json()["users"]
    assert sorted(u["username"] for u in r) == ["Carol", "carla", "dave"]
    assert {u["username"]: u["live_sessions"] for u in r}["dave"] == 1
    r = h.client.get("/admin/users?q=erin_", headers=h.bearer(admin)).json()["users"]
    assert [u["username"] for u in r] == ["erin_x"]
    seen: list[str] = []
    url = "/admin/users?limit=3"
    while url:
        body = h.client.get(url, headers=h.bearer(admin)).json()
        seen += [u["username"] for u in body["users"]]
        url = f"/admin/users?limit=3&cursor={body['next']}" if body["next"] else ""
    assert len(seen) == 6 and len(set(seen)) == 6
    dave = _id(h, "dave")
    r = h.client.patch(f"/admin/users/{dave}", json={"disabled": True}, headers=h.bearer(admin))
    assert r.status_code == 200 and r.json()["live_sessions"] == 0
    (event,) = _events(h, admin, user_id=dave, type="admin.user_disabled")
    assert event["details"]["sessions"] == 1
    assert [e["type"] for e in _events(h, admin, user_id=dave)] == [
        "admin.user_disabled",
        "sign_in",
    ]


def test_disabling_while_the_user_refreshes_leaves_no_working_token(gp: Harness) -> None:
    """Threads rotate the user's refresh tokens while the admin disables the account: once the
    PATCH has answered, no access token the user ever got works, nor any refresh token."""
    import threading

    admin = gp.admin_token()
    bob_id = _id(gp, "bob")
    logins = [gp.login("bob").json() for _ in range(3)]
    issued: list[str] = [x["access_token"] for x in logins]
    latest = [x["refresh_token"] for x in logins]
    stop = threading.Event()
    rotated = [threading.Event() for _ in logins]  # each thread is rotating

    def rotate(i: int) -> None:
        while not stop.is_set():
            r = _refresh(gp, latest[i])
            if r.status_code != 200:
                return
            latest[i] = r.json()["refresh_token"]
            issued.append(r.json()["access_token"])
            rotated[i].set()

    threads = [threading.Thread(target=rotate, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for e in rotated:
        assert e.wait(timeout=60)
    r = gp.client.patch(f"/admin/users/{bob_id}", json={"disabled": True}, headers=gp.bearer(admin))
    assert r.status_code == 200
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(issued) >= 6
    assert {_profile(gp, t) for t in issued} == {401}
    assert {_refresh(gp, t).status_code for t in latest} == {400}
