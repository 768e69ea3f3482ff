"""The admin console (``/console``, ``server/routes/console_*.py``) in process: who may see it
(role ``admin`` through the SSO session, checked on every request), CSRF bound to the
session on every state change, the confirmation step, each action through the same use-case
and ``admin.*`` event as its JSON twin, and hostile strings inert on every page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import PASSWORD, Harness
from gatepass.oauth import sessions, sso
from gatepass.server.app import ROUTES
from hosted import Browser

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
CONSOLE_ROUTES = sorted(
    (m, r.path) for r in ROUTES if r.path.startswith("/console") for m in (r.methods or ())
)


def signed_in(h: Harness, username: str = "alice", address: str = "203.0.113.7") -> Browser:
    b = Browser(h, address)
    page = b.get("/account/login")
    r = b.log_in(page, username)
    assert r.status_code == 303, r.text
    assert sso.COOKIE in b.jar
    return b


def forms(html: str) -> list[tuple[str, dict[str, str]]]:
    """Every form of a page that posts: its action and the values of its inputs (ticked
    boxes only)."""
    found = []
    for m in re.finditer(r'<form method="post" action="([^"]+)"(.*?)</form>', html, re.S):
        fields = {}
        for tag in re.findall(r"<input [^>]*>", m.group(2)):
            named = re.search(r'name="([^"]+)"[^>]*value="([^"]*)"', tag)
            if named and ("checkbox" not in tag and "radio" not in tag or " checked" in tag):
                fields[named.group(1)] = named.group(2)
        found.append((m.group(1).replace("&amp;", "&"), fields))
    return found


def form_to(html: str, action: str) -> dict[str, str]:
    (fields,) = [f for a, f in forms(html) if a == action]
    return fields


def confirm(b: Browser, path: str, **extra: str) -> Any:
    """The confirmation page's GET, then its form's POST."""
    page = b.get(path)
    assert page.status_code == 200, page.text
    fields = form_to(page.text, path)
    return b.post(path, {**fields, **extra}, headers={"User-Agent": UA})


def found(pattern: str, text: str) -> str:
    m = re.search(pattern, text)
    assert m is not None, pattern
    return m.group(1)


def events(h: Harness, type_: str) -> list[Any]:
    return list(h.run(h.svc.events.newest, limit=50, type_=type_))


def _concrete(h: Harness, path: str) -> str:
    bob = h.run(h.svc.users.by_name, "bob")
    return path.replace("{user_id}", bob.id).replace("{client_id}", "gatepass")


# -- who may see the console ---------------------------------------------------------------------
def test_the_console_routes_cover_every_page() -> None:
    paths = {p for _, p in CONSOLE_ROUTES}
    for p in (
        "/console/users",
        "/console/users/{user_id}",
        "/console/users/{user_id}/disable",
        "/console/users/{user_id}/end-sessions",
        "/console/clients",
        "/console/clients/new",
        "/console/clients/{client_id}/rotate-secret",
        "/console/clients/{client_id}/delete",
        "/console/keys",
        "/console/keys/rotate",
        "/console/events",
    ):
        assert p in paths


@pytest.mark.parametrize(
    ("method", "path"), CONSOLE_ROUTES, ids=[f"{m} {p}" for m, p in CONSOLE_ROUTES]
)
def test_every_console_route_refuses_whoever_is_not_an_admin(
    gp: Harness, method: str, path: str
) -> None:
    """No session: the sign-in page (303). A signed-in user without the role: 403, with a
    valid-looking form or not. Nothing changes."""
    url = _concrete(gp, path) + ("?kind=token" if path.endswith("/keys/rotate") else "")
    anonymous = Browser(gp)
    r = anonymous._send(method, url, data={"csrf_token": "x"})
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/account/login")
    bob = signed_in(gp, "bob")
    r = bob._send(method, url, data={"csrf_token": "x", "roles": "admin", "name": "x"})
    assert r.status_code == 403, r.text
    assert "administrators only" in r.text
    assert r.headers["cache-control"] == "no-store"
    user = gp.run(gp.svc.users.by_name, "bob")
    assert not user.disabled and "admin" not in user.roles
    assert not [
        e for e in gp.run(gp.svc.events.newest, limit=50, type_=None) if e.type.startswith("admin.")
    ]


def test_the_role_is_checked_again_on_every_request(gp: Harness) -> None:
    alice = signed_in(gp)
    assert alice.get("/console/users").status_code == 200
    gp.run(gp.svc.users.update, gp.run(gp.svc.users.by_name, "alice").id, roles=[])
    assert alice.get("/console/users").status_code == 403


def test_every_console_page_has_the_strict_headers(gp: Harness) -> None:
    alice = signed_in(gp)
    bob = gp.run(gp.svc.users.by_name, "bob")
    cid, _ = gp.create_client("Reports")
    for path in (
        "/console/users",
        f"/console/users/{bob.id}",
        "/console/clients",
        "/console/clients/new",
        f"/console/clients/{cid}",
        f"/console/clients/{cid}/rotate-secret",
        "/console/keys",
        "/console/events",
        f"/console/users/{bob.id}/disable",
        "/console/keys/rotate?kind=url",
    ):
        r = alice.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["cache-control"] == "no-store"
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert "<script" not in r.text
        assert r.headers["x-frame-options"] == "DENY"
    r = alice.get("/console")
    assert r.status_code == 303 and r.headers["location"] == "/console/users"


# -- CSRF ----------------------------------------------------------------------------------------
def test_a_state_change_without_or_with_a_foreign_csrf_token_is_refused(gp: Harness) -> None:
    gp.create_user("carol", roles=("admin",))
    alice, carol = signed_in(gp), signed_in(gp, "carol", "203.0.113.8")
    bob = gp.run(gp.svc.users.by_name, "bob")
    path = f"/console/users/{bob.id}/disable"
    carols = form_to(carol.get(path).text, path)["csrf_token"]
    # another form's token in the same session
    alices_roles = form_to(
        alice.get(f"/console/users/{bob.id}").text, f"/console/users/{bob.id}/roles"
    )
    for token in (None, "", carols, alices_roles["csrf_token"], "x" * 40):
        data = {"confirm": "yes"} if token is None else {"csrf_token": token}
        r = alice.post(path, data)
        assert r.status_code == 403, r.text
    r = alice.post("/console/keys/rotate?kind=url", {"csrf_token": carols})
    assert r.status_code == 403
    assert not gp.run(gp.svc.users.by_name, "bob").disabled
    assert not events(gp, "admin.user_disabled") and not events(gp, "admin.keys_rotated")
    # a cross-site form is refused before its token is looked at
    token = form_to(alice.get(path).text, path)["csrf_token"]
    r = alice.post(path, {"csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and not gp.run(gp.svc.users.by_name, "bob").disabled
    # and the right token works
    assert alice.post(path, {"csrf_token": token}).status_code == 303
    assert gp.run(gp.svc.users.by_name, "bob").disabled


# -- the actions ---------------------------------------------------------------------------------
def test_users_create_roles_disable_reset_and_end_sessions(gp: Harness) -> None:
    alice = signed_in(gp)
    page = alice.get("/console/users?q=b")
    assert (
        "bob" in page.text and "alice" not in page.text.split("<table", 1)[1].split("</table>")[0]
    )
    fields = form_to(alice.get("/console/users").text, "/console/users")
    # a weak password: the form again, with what was typed
    r = alice.post("/console/users", {**fields, "username": "dan", "password": "x", "roles": "ops"})
    assert r.status_code == 400 and 'value="dan"' in r.text and 'role="alert"' in r.text
    r = alice.post(
        "/console/users",
        {**fields, "username": "dan", "password": PASSWORD, "roles": "ops, viewer"},
        headers={"User-Agent": UA},
    )
    assert r.status_code == 303
    dan = gp.run(gp.svc.users.by_name, "dan")
    assert r.headers["location"] == f"/console/users/{dan.id}?done=created"
    assert sorted(dan.roles) == ["ops", "viewer"]
    (created,) = events(gp, "admin.user_created")
    assert created.user_id == dan.id and created.details["by_username"] == "alice"
    assert created.ip == "203.0.113.7" and created.user_agent == UA

    # dan signs in twice; the console lists both and ends them
    signed_in(gp, "dan", "198.51.100.1")
    gp.access_token("dan")
    base = f"/console/users/{dan.id}"
    page = alice.get(base)
    assert page.text.count("198.51.100.1") == 1 and "Live sessions</dt><dd>2" in page.text
    r = confirm(alice, f"{base}/end-sessions")
    assert r.status_code == 303 and r.headers["location"] == f"{base}?done=ended"
    assert gp.run(gp.svc.logins.of_user, dan.id, active_at=gp.svc.clock.now()) == []
    (ended,) = events(gp, "admin.sessions_ended")
    assert ended.details["sessions"] == 2 and ended.user_agent == UA

    # roles
    roles = form_to(alice.get(base).text, f"{base}/roles")
    assert alice.post(f"{base}/roles", {**roles, "roles": "ops"}).status_code == 303
    assert gp.run(gp.svc.users.by_name, "dan").roles == ["ops"]
    r = alice.post(f"{base}/roles", {**roles, "roles": "not a <role>"})
    assert r.status_code == 400 and 'role="alert"' in r.text

    # disable (confirmed), enable
    assert confirm(alice, f"{base}/disable").status_code == 303
    assert gp.run(gp.svc.users.by_name, "dan").disabled
    enable = form_to(alice.get(base).text, f"{base}/enable")
    assert alice.post(f"{base}/enable", enable).status_code == 303
    assert not gp.run(gp.svc.users.by_name, "dan").disabled

    # a forced reset, then a new password
    assert confirm(alice, f"{base}/force-password-reset").status_code == 303
    assert gp.login("dan").status_code == 400
    password = form_to(alice.get(base).text, f"{base}/password")
    r = alice.post(f"{base}/password", {**password, "password": "another good passphrase 7"})
    assert r.status_code == 303
    assert gp.login("dan", "another good passphrase 7").status_code == 200
    types = [e.type for e in gp.run(gp.svc.events.newest, limit=50, type_=None)]
    for t in (
        "admin.user_roles_changed",
        "admin.user_disabled",
        "admin.user_enabled",
        "admin.password_reset_forced",
        "admin.password_set",
    ):
        assert t in types


def test_an_admin_cannot_disable_themselves_from_the_console(gp: Harness) -> None:
    alice = signed_in(gp)
    me = gp.run(gp.svc.users.by_name, "alice")
    r = confirm(alice, f"/console/users/{me.id}/disable")
    assert r.status_code == 400 and "your own account" in r.text
    assert not gp.run(gp.svc.users.by_name, "alice").disabled


def test_clients_create_with_redirects_edit_rotate_and_delete(gp: Harness) -> None:
    alice = signed_in(gp)
    fields = form_to(alice.get("/console/clients/new").text, "/console/clients")
    data = {
        **fields,
        "type": "confidential",
        "name": "Reports",
        "grant_authorization_code": "on",
        "grant_refresh_token": "on",
        "scopes": "openid profile",
        "redirect_uris": "https://reports.example/cb\r\nhttps://reports.example/cb2",
        "post_logout_redirect_uris": "",
        "access_token_ttl": "",
        "token_format": "jwt",
        "audience": "",
    }
    bad = alice.post("/console/clients", {**data, "redirect_uris": "http://reports.example/cb"})
    assert bad.status_code == 400 and 'value="Reports"' in bad.text
    r = alice.post("/console/clients", data, headers={"User-Agent": UA})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    client_id = found(r'id="client-id">([^<]+)<', r.text)
    secret = found(r'id="client-secret">([^<]+)<', r.text)
    client = gp.run(gp.svc.clients.get, client_id)
    assert client.redirect_uris == ["https://reports.example/cb", "https://reports.example/cb2"]
    assert sorted(client.grants) == ["authorization_code", "refresh_token"]
    assert secret not in alice.get(f"/console/clients/{client_id}").text
    assert secret not in alice.get("/console/clients").text
    (created,) = events(gp, "admin.client_created")
    assert created.client_id == client_id and created.user_agent == UA

    # edit: lifetime and scopes
    base = f"/console/clients/{client_id}"
    edit = form_to(alice.get(base).text, base)
    assert edit["name"] == "Reports" and edit.get("grant_refresh_token") == "on"
    r = alice.post(base, {**edit, "access_token_ttl": "120", "scopes": "openid"})
    assert r.status_code == 303, r.text
    client = gp.run(gp.svc.clients.get, client_id)
    assert client.access_token_ttl == 120 and client.scopes == ["openid"]
    assert events(gp, "admin.client_updated")[0].details["changed"] == [
        "access_token_ttl",
        "scopes",
    ]
    r = alice.post(base, {**edit, "access_token_ttl": "ten"})
    assert r.status_code == 400

    # rotate the secret: the new one is shown once, the old one stops working
    r = confirm(alice, f"{base}/rotate-secret")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    new = found(r'id="client-secret">([^<]+)<', r.text)
    assert new != secret
    assert events(gp, "admin.client_secret_rotated")[0].client_id == client_id

    r = confirm(alice, f"{base}/delete")
    assert r.status_code == 303 and r.headers["location"] == "/console/clients?done=deleted"
    assert gp.run(gp.svc.clients.get, client_id) is None
    assert events(gp, "admin.client_deleted")[0].client_id == client_id
    assert alice.get(base).status_code == 404


@pytest.mark.parametrize("kind", ["token", "token-now", "url"])
def test_each_kind_of_key_rotates(gp: Harness, kind: str) -> None:
    alice = signed_in(gp)
    ring = gp.svc.url_keys.ring if kind == "url" else gp.svc.keys.ring
    before = ring.active().kid
    r = confirm(alice, f"/console/keys/rotate?kind={kind}")
    assert r.status_code == 303 and r.headers["location"] == f"/console/keys?done={kind}"
    ring = gp.svc.url_keys.ring if kind == "url" else gp.svc.keys.ring
    assert ring.active().kid != before
    (rotated,) = events(gp, "admin.keys_rotated")
    assert rotated.details["keys"] == ("url" if kind == "url" else "token")
    assert rotated.details.get("revoke_old", False) == (kind == "token-now")
    page = alice.get(f"/console/keys?done={kind}")
    assert ring.active().kid in page.text and 'role="status"' in page.text
    assert alice.get("/console/keys/rotate?kind=other").status_code == 404


def test_events_filter_by_type_user_and_time_and_page(gp: Harness) -> None:
    alice = signed_in(gp)
    bob = gp.run(gp.svc.users.by_name, "bob")
    for _ in range(30):
        gp.run(
            gp.svc.events.record,
            "lockout",
            now=gp.svc.clock.now(),
            user_id=bob.id,
            username="bob",
            ip="192.0.2.9",
        )
    page = alice.get("/console/events", params={"type": "lockout", "user": "bob"})
    assert page.status_code == 200 and page.text.count("<code>lockout</code>") == 25
    more = found(r'href="([^"]+)" rel="next"', page.text).replace("&amp;", "&")
    second = alice.get(more)
    assert second.text.count("<code>lockout</code>") == 5 and 'rel="prev"' in second.text
    assert (
        alice.get("/console/events", params={"type": "lockout", "user": "alice"}).text.count(
            "<code>lockout</code>"
        )
        == 0
    )
    later = alice.get("/console/events", params={"type": "lockout", "since": "2999-01-01T00:00"})
    assert "No event matches" in later.text
    assert alice.get("/console/events", params={"since": "yesterday"}).status_code == 400
    assert alice.get("/console/events", params={"cursor": "%%%"}).status_code == 400


def test_a_forced_logout_shows_names_under_by_and_to_whom(gp: Harness) -> None:
    alice = signed_in(gp)
    bob = gp.run(gp.svc.users.by_name, "bob")
    gp.access_token("bob")
    r = confirm(alice, f"/console/users/{bob.id}/end-sessions")
    assert r.status_code == 303
    (event,) = events(gp, "forced_logout")
    assert event.username == "bob" and event.details["by_username"] == "alice"
    page = alice.get("/console/events", params={"type": "forced_logout"})
    row = found(r"(?s)(<tr>\s*<td data-label=\"When\">.*?</tr>)", page.text)
    assert '<td data-label="By">alice</td>' in row
    assert '<td data-label="To whom">bob' in row
    assert bob.id not in row  # neither id shows where a name is known
    alice_id = gp.run(gp.svc.users.by_name, "alice").id
    assert alice_id not in row
    # one login ended from the command line: the user by name, "cli" as who did it
    gp.access_token("bob")
    (login,) = gp.run(gp.svc.logins.of_user, bob.id, active_at=gp.svc.clock.now())
    assert gp.run(sessions.force_end_session, gp.svc, login.id, by="cli")
    newest = events(gp, "forced_logout")[0]
    assert newest.username == "bob" and newest.sid == login.id
    row = found(r"(?s)(<tr>\s*<td data-label=\"When\">.*?</tr>)", alice.get("/console/events").text)
    assert '<td data-label="By">cli</td>' in row and '<td data-label="To whom">bob' in row


# -- hostile strings -----------------------------------------------------------------------------
def test_hostile_strings_stay_inert_on_every_console_page(gp: Harness) -> None:
    alice = signed_in(gp)
    bob = gp.run(gp.svc.users.by_name, "bob")
    for payload in HOSTILE:
        gp.run(gp.svc.users.update, bob.id, name=payload)
        cid, _ = gp.create_client(payload)
        # bob signs in from a hostile User-Agent; an event carries hostile details
        b = Browser(gp)
        r = b.submit(
            b.get("/account/login"),
            {"username": "bob", "password": PASSWORD},
            headers={"User-Agent": payload},
        )
        assert r.status_code == 303
        gp.run(
            gp.svc.events.record,
            "lockout",
            now=gp.svc.clock.now(),
            user_id=bob.id,
            username="bob",
            ip="192.0.2.9",
            user_agent=payload,
            details={"note": payload, "list": [payload]},
        )
        pages = [
            "/console/users",
            "/console/users?q=" + payload,
            f"/console/users/{bob.id}",
            f"/console/users/{bob.id}/end-sessions",
            "/console/clients",
            f"/console/clients/{cid}",
            f"/console/clients/{cid}/delete",
            "/console/keys",
            "/console/events",
            "/console/events?type=" + payload,
        ]
        for path in pages:
            r = alice.get(path)
            assert r.status_code in (200, 400), (path, r.status_code)
            assert "<script" not in r.text.lower(), path
            assert "<img src=x" not in r.text and "onerror=alert(1)>" not in r.text.replace(
                "&gt;", ""
            ), path
        events_page = alice.get("/console/events").text
        assert "&lt;script&gt;" in events_page or "&#34;&gt;&lt;img" in events_page


def test_the_json_twin_registers_redirect_uris_too(gp: Harness) -> None:
    body = {
        "name": "Reports",
        "grants": ["authorization_code"],
        "public": True,
        "redirect_uris": ["https://reports.example/cb"],
        "post_logout_redirect_uris": ["https://reports.example/bye"],
    }
    r = gp.client.post("/admin/clients", json=body, headers=gp.bearer(gp.admin_token()))
    assert r.status_code == 201, r.text
    assert r.json()["redirect_uris"] == ["https://reports.example/cb"]
    assert r.json()["post_logout_redirect_uris"] == ["https://reports.example/bye"]
    r = gp.client.post(
        "/admin/clients",
        json={**body, "redirect_uris": "https://reports.example/cb"},
        headers=gp.bearer(gp.admin_token()),
    )
    assert r.status_code == 400
