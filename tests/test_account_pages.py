"""The account pages in process (``server/routes/account_pages.py``, ``account_devices.py``):
what each shows, what each form does through the same use-cases as the JSON API, and the
hostile cases: no session, no or a foreign CSRF token, another user's ids, markup in every
user-supplied string."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import markupsafe
import pytest

from conftest import PASSWORD, Harness
from gatepass.clock import FrozenClock
from gatepass.oauth import sso
from gatepass.oauth.clients import create_client
from gatepass.server import console
from gatepass.server.routes import account_pages
from hosted import REDIRECT, Browser, forms, query

PAGES = ["/account", "/account/sessions", "/account/password", "/account/apps", "/account/activity"]
XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"


def sign_in(
    h: Harness, username: str = "bob", *, ua: str = UA, address: str = "203.0.113.7"
) -> Browser:
    b = Browser(h, address)
    headers = {"User-Agent": ua}
    page = b.get("/account/login", headers=headers)
    fields = forms(page.text)["/account/login"]
    r = b.post(
        "/account/login",
        {**fields, "username": username, "password": PASSWORD},
        headers=headers,
    )
    assert r.status_code == 303, r.text
    return b


def signed(h: Harness, b: Browser) -> sso.Signed:
    found = h.run(sso.current, h.svc, b.jar.get(sso.COOKIE))
    assert found is not None
    return found


def submit(b: Browser, page: Any, action: str, extra: dict[str, str] | None = None) -> Any:
    fields = forms(page.text)[action]
    return b.post(action, {**fields, **(extra or {})})


def live_ids(h: Harness, username: str) -> set[str]:
    user = h.run(h.svc.users.by_name, username)
    rows = h.run(h.svc.logins.of_user, user.id, active_at=h.svc.clock.now())
    return {r.id for r in rows}


def make_app(h: Harness, name: str = "Photo Album") -> str:
    """A public client that users sign in to through the hosted pages (consent) and, for its
    tokens here, with the password grant (the authorization-code exchange is not ours)."""
    client, _ = h.run(
        create_client,
        h.svc,
        name,
        grants=["authorization_code", "password", "refresh_token"],
        public=True,
        redirects=[REDIRECT],
    )
    return str(client.id)


def app_login(h: Harness, b: Browser, cid: str, scope: str = "openid profile") -> dict[str, Any]:
    """The user allows the app through the browser's session (consent), and the app gets its
    own login (tokens at that client)."""
    r = b.authorize(cid, scope=scope)
    if r.status_code == 200 and 'name="consent"' in r.text:
        fields = forms(r.text)["/oauth/authorize/consent"]
        r = b.post("/oauth/authorize/consent", {**fields, "consent": "allow"})
    assert r.status_code == 302 and "code" in query(r.headers["location"]), r.text
    username = signed(h, b).user.username
    tokens = h.login(username, client_id=cid)
    assert tokens.status_code == 200, tokens.text
    return dict(tokens.json())


# -- no session ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        *PAGES,
        "/account/sessions/end-others",
        "/account/sessions/gpoX/end",
        "/account/apps/x/revoke",
    ],
)
def test_every_account_page_sends_to_sign_in_without_a_session(gp: Harness, path: str) -> None:
    b = Browser(gp)
    r = b.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/account/login?next=")
    back = query(r.headers["location"])["next"]
    assert back == path
    assert "no-store" in r.headers["cache-control"]
    if path in ("/account/sessions", "/account/apps", "/account/activity"):
        return  # GET only
    # a form posted without a session changes nothing, and goes to sign in too
    posted = b.post(path, {"name": "x"})
    assert posted.status_code == 303 and posted.headers["location"].startswith("/account/login")


def test_an_ended_session_is_signed_out_of_the_pages(gp: Harness) -> None:
    b = sign_in(gp)
    assert b.get("/account").status_code == 200
    token = gp.access_token("bob")
    gp.client.post("/auth/logout-all", headers=gp.bearer(token))
    r = b.get("/account")
    assert r.status_code == 303 and r.headers["location"].startswith("/account/login")


# -- what the pages show and do ---------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_the_layout_and_strict_headers(gp: Harness, path: str) -> None:
    b = sign_in(gp)
    r = b.get(path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-store"
    assert "<script" not in r.text
    assert f'href="{path}" aria-current="page"' in r.text
    assert "Signed in as <strong>bob</strong>" in r.text
    assert "/account/logout" in forms(r.text)
    assert ">Admin<" not in r.text  # bob is no administrator
    assert ">Admin<" in sign_in(gp, "alice").get(path).text


def test_profile_shows_and_changes_name_and_email(gp: Harness) -> None:
    b = sign_in(gp)
    page = b.get("/account")
    r = submit(b, page, "/account", {"name": "Bob Builder", "email": "bob@example.com"})
    assert r.status_code == 303 and r.headers["location"] == "/account?done=profile"
    done = b.get(r.headers["location"])
    assert "Your profile was saved." in done.text
    assert 'value="Bob Builder"' in done.text and "bob@example.com" in done.text
    assert "not verified" in done.text
    user = gp.run(gp.svc.users.by_name, "bob")
    assert user.name == "Bob Builder" and user.email == "bob@example.com"
    # the same use-case as PATCH /auth/profile: its event
    events = gp.client.get("/auth/activity", headers=gp.bearer(gp.access_token("bob"))).json()
    assert "profile_changed" in [e["type"] for e in events["events"]]
    bad = submit(b, b.get("/account"), "/account", {"email": "not an address"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    assert gp.run(gp.svc.users.by_name, "bob").email == "bob@example.com"
    cleared = submit(b, b.get("/account"), "/account", {"name": "", "email": ""})
    assert cleared.status_code == 303
    user = gp.run(gp.svc.users.by_name, "bob")
    assert user.name is None and user.email is None


def test_sessions_lists_both_devices_and_signs_the_other_out(gp: Harness) -> None:
    phone_ua = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    laptop = sign_in(gp)
    phone = sign_in(gp, ua=phone_ua, address="198.51.100.9")
    page = laptop.get("/account/sessions")
    assert page.text.count('<span class="tag">this device</span>') == 1
    assert "Chrome on Linux" in page.text and "Safari on iOS" in page.text
    assert "198.51.100.9" in page.text and "203.0.113.7" in page.text
    other = signed(gp, phone).session.id
    link = f"/account/sessions/{other}/end"
    assert f'href="{link}"' in page.text
    confirm = laptop.get(link)
    assert confirm.status_code == 200 and "Sign out this session?" in confirm.text
    assert signed(gp, phone)  # a GET ends nothing
    r = submit(laptop, confirm, link)
    assert r.status_code == 303 and r.headers["location"] == "/account/sessions?done=ended"
    assert gp.run(sso.current, gp.svc, phone.jar[sso.COOKIE]) is None
    assert phone.get("/account").status_code == 303
    assert laptop.get("/account").status_code == 200


def test_sign_out_everywhere_else_keeps_this_session(gp: Harness) -> None:
    cid = make_app(gp)
    b = sign_in(gp)
    other = sign_in(gp, address="198.51.100.9")
    app_login(gp, other, cid)
    api = gp.access_token("bob")
    confirm = b.get("/account/sessions/end-others")
    assert "Sign out everywhere else?" in confirm.text
    r = submit(b, confirm, "/account/sessions/end-others")
    assert r.status_code == 303
    assert live_ids(gp, "bob") == {signed(gp, b).session.id}
    assert gp.client.get("/api/profile", headers=gp.bearer(api)).status_code == 401
    assert "Every other session was signed out." in b.get(r.headers["location"]).text


def test_password_change_needs_the_current_one_and_ends_every_other_login(gp: Harness) -> None:
    b = sign_in(gp)
    other = sign_in(gp, address="198.51.100.9")
    api = gp.access_token("bob")
    page = b.get("/account/password")
    wrong = submit(
        b,
        page,
        "/account/password",
        {"current_password": "nope", "new_password": "a much better passphrase"},
    )
    assert wrong.status_code == 400 and "Your current password is not right." in wrong.text
    assert gp.client.get("/api/profile", headers=gp.bearer(api)).status_code == 200
    weak = submit(b, page, "/account/password", {"current_password": PASSWORD, "new_password": "x"})
    assert weak.status_code == 400 and 'aria-invalid="true"' in weak.text
    new = "correct horse battery staple 42"
    ok = submit(b, page, "/account/password", {"current_password": PASSWORD, "new_password": new})
    assert ok.status_code == 303 and ok.headers["location"] == "/account/password?done=password"
    assert "Your password was changed." in b.get(ok.headers["location"]).text
    assert live_ids(gp, "bob") == {signed(gp, b).session.id}  # this session stays
    assert gp.run(sso.current, gp.svc, other.jar[sso.COOKIE]) is None
    assert gp.client.get("/api/profile", headers=gp.bearer(api)).status_code == 401
    assert gp.login("bob", new).status_code == 200
    assert gp.login("bob", PASSWORD).status_code != 200


def test_connected_apps_are_listed_and_disconnecting_one_ends_its_logins(gp: Harness) -> None:
    cid = make_app(gp)
    keep = make_app(gp, "Recipe Box")
    b = sign_in(gp)
    tokens = app_login(gp, b, cid, "openid profile email")
    kept = app_login(gp, b, keep)
    page = b.get("/account/apps")
    assert "Photo Album" in page.text and "Recipe Box" in page.text
    assert "See your email address" in page.text
    link = f"/account/apps/{cid}/revoke"
    confirm = b.get(link)
    assert "Disconnect this app?" in confirm.text and "Photo Album" in confirm.text
    r = submit(b, confirm, link)
    assert r.status_code == 303 and r.headers["location"] == "/account/apps?done=revoked"
    after = b.get(r.headers["location"])
    assert "Photo Album" not in after.text and "Recipe Box" in after.text
    # the app's refresh token and access token stop working at once
    refresh = gp.client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": cid,
        },
    )
    assert refresh.status_code == 400
    assert (
        gp.client.get("/api/profile", headers=gp.bearer(tokens["access_token"])).status_code == 401
    )
    assert gp.client.get("/api/profile", headers=gp.bearer(kept["access_token"])).status_code == 200
    assert b.get("/account").status_code == 200  # the browser session stays
    assert b.get(link).status_code == 404


def test_disconnecting_through_the_api_ends_the_logins_too(gp: Harness) -> None:
    cid = make_app(gp)
    b = sign_in(gp)
    tokens = app_login(gp, b, cid)
    api = gp.access_token("bob")
    assert gp.client.delete(f"/auth/consents/{cid}", headers=gp.bearer(api)).status_code == 204
    assert (
        gp.client.get("/api/profile", headers=gp.bearer(tokens["access_token"])).status_code == 401
    )


def test_activity_shows_the_stolen_token_sentence_and_pages(make_harness: Any) -> None:
    h = make_harness(clock=FrozenClock(time.time()))
    h.create_user("bob")
    b = sign_in(h)
    first = h.login("bob").json()["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": first}
    assert h.client.post("/oauth/token", data=data).status_code == 200
    h.clock.advance(h.svc.settings.refresh_reuse_grace + 1)
    assert h.client.post("/oauth/token", data=data).status_code == 400  # the replay
    page = b.get("/account/activity")
    assert "A stolen refresh token was used; we ended that session." in page.text
    assert 'class="alerted"' in page.text
    assert 'rel="next"' not in page.text
    user = h.run(h.svc.users.by_name, "bob")
    for _ in range(30):
        h.run(h.svc.events.record, "profile_changed", now=h.clock.now(), user_id=user.id)
    page = b.get("/account/activity")
    assert page.text.count("<tr") == 1 + account_pages.ACTIVITY_PAGE
    nxt = re.search(r'href="([^"]+)" rel="next"', page.text)
    assert nxt is not None
    second = b.get(html.unescape(nxt.group(1)))
    assert second.status_code == 200 and 'rel="prev"' in second.text
    assert "A stolen refresh token was used" in second.text  # older: on the second page
    prev = re.search(r'href="([^"]+)" rel="prev"', second.text)
    assert prev is not None and html.unescape(prev.group(1)) == "/account/activity"
    # older than 90 days: not shown (and the first session has long expired)
    h.clock.advance(91 * 86400)
    assert b.get("/account/activity").status_code == 303
    b2 = sign_in(h)
    assert "A stolen refresh token" not in b2.get("/account/activity").text
    assert b2.get("/account/activity?cursor=%25%25").status_code == 400


# -- hostile cases ----------------------------------------------------------------------------


def _state_changes(victim_sid: str, cid: str) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/account", {"name": "changed", "email": ""}),
        (
            "/account/password",
            {"current_password": PASSWORD, "new_password": "another long passphrase"},
        ),
        ("/account/sessions/end-others", {}),
        (f"/account/sessions/{victim_sid}/end", {}),
        (f"/account/apps/{cid}/revoke", {}),
        ("/account/logout", {}),
    ]


@pytest.mark.parametrize("how", ["none", "foreign", "other-form"])
def test_a_state_change_without_or_with_a_foreign_csrf_token_is_refused(
    gp: Harness, how: str
) -> None:
    cid = make_app(gp)
    b = sign_in(gp)
    app_login(gp, b, cid)
    other = sign_in(gp, address="198.51.100.9")
    mine, theirs = signed(gp, b), signed(gp, other)
    before = live_ids(gp, "bob")
    for action, fields in _state_changes(theirs.session.id, cid):
        purpose = {
            "/account": "profile",
            "/account/password": "password",
            "/account/sessions/end-others": "end-others",
            "/account/logout": "sign-out",
        }.get(action) or (
            f"end-session {theirs.session.id}" if "/sessions/" in action else f"revoke-app {cid}"
        )
        if how == "foreign":  # the right form's token, of another session of the same user
            fields = {**fields, "csrf_token": console.form_token(gp.svc, theirs, purpose)}
        elif how == "other-form":
            fields = {**fields, "csrf_token": console.form_token(gp.svc, mine, "not " + purpose)}
        r = b.post(action, {**fields, "x": "1"})
        assert r.status_code == 403, (action, r.status_code)
    assert live_ids(gp, "bob") == before
    user = gp.run(gp.svc.users.by_name, "bob")
    assert user.name is None
    assert gp.login("bob").status_code == 200
    assert b.get("/account/apps").text.count("Photo Album") >= 1


def test_a_form_from_another_site_is_refused(gp: Harness) -> None:
    b = sign_in(gp)
    page = b.get("/account")
    fields = forms(page.text)["/account"]
    r = b.post("/account", {**fields, "name": "x"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert gp.run(gp.svc.users.by_name, "bob").name is None


def test_a_user_cannot_see_or_end_another_users_session(gp: Harness) -> None:
    bob = sign_in(gp)
    alice = sign_in(gp, "alice", address="198.51.100.9")
    theirs = signed(gp, alice).session.id
    assert theirs not in bob.get("/account/sessions").text
    link = f"/account/sessions/{theirs}/end"
    assert bob.get(link).status_code == 404
    me = signed(gp, bob)
    token = console.form_token(gp.svc, me, f"end-session {theirs}")  # a good token, even
    r = bob.post(link, {"csrf_token": token})
    assert r.status_code == 404
    assert gp.run(sso.current, gp.svc, alice.jar[sso.COOKIE]) is not None
    # nor an app of theirs
    cid = make_app(gp)
    app_login(gp, alice, cid)
    assert bob.get(f"/account/apps/{cid}/revoke").status_code == 404
    token = console.form_token(gp.svc, me, f"revoke-app {cid}")
    assert bob.post(f"/account/apps/{cid}/revoke", {"csrf_token": token}).status_code == 404
    assert "Photo Album" in alice.get("/account/apps").text


@pytest.mark.parametrize("payload", XSS)
def test_markup_in_every_user_string_stays_inert(gp: Harness, payload: str) -> None:
    cid = make_app(gp, "App " + payload)
    b = sign_in(gp, ua=f"Mozilla/5.0 {payload}")
    app_login(gp, b, cid)
    user = gp.run(gp.svc.users.by_name, "bob")
    gp.run(gp.svc.users.update, user.id, name="Bob " + payload)
    escaped = str(markupsafe.escape(payload))  # as Jinja2 writes it
    seen = {}
    for path in PAGES:
        text = b.get(path).text
        assert payload not in text, path
        assert "<img" not in text and "<script" not in text, path
        seen[path] = escaped in text or html.escape(payload, quote=False) in text
    assert seen["/account"]  # the name
    assert seen["/account/sessions"]  # the User-Agent and the client name
    assert seen["/account/apps"]  # the client name
    confirm = b.get(f"/account/apps/{cid}/revoke").text
    assert payload not in confirm and escaped in confirm


def test_the_pages_on_every_database(make_harness: Any, database_url: str) -> None:
    h = make_harness(database_url=database_url)
    h.create_user("bob")
    cid = make_app(h)
    b = sign_in(h)
    other = sign_in(h, address="198.51.100.9")
    tokens = app_login(h, other, cid)
    confirm = b.get(f"/account/apps/{cid}/revoke")
    assert submit(b, confirm, f"/account/apps/{cid}/revoke").status_code == 303
    assert h.client.get("/api/profile", headers=h.bearer(tokens["access_token"])).status_code == 401
    confirm = b.get("/account/sessions/end-others")
    assert submit(b, confirm, "/account/sessions/end-others").status_code == 303
    assert live_ids(h, "bob") == {signed(h, b).session.id}
    assert "You disconnected an app" in b.get("/account/activity").text
