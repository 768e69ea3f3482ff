"""/oauth/logout (OpenID Connect RP-Initiated Logout 1.0): the confirmation page, the
post-logout redirect (only to a URI registered for the client), and what ending the SSO
session ends. The ID-token hint is checked by ``gatepass.oauth.id_tokens.verify_hint``; here a
stand-in module plays it (the real one is the ID-token work's)."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from conftest import Harness
from gatepass.core import opaque
from gatepass.oauth.issuance import start_login
from gatepass.storage.models import LoginSession
from hosted import LOGOUT_REDIRECT, Browser, form, make_client, query


def child_login(h: Harness, parent: str, user_id: str, scope: str) -> tuple[str, str]:
    """A login started from the SSO session (as the code grant starts one): its sid and an
    access token of it."""

    async def start() -> tuple[str, str]:
        started = await start_login(
            h.svc,
            user_id=user_id,
            roles=(),
            client_id="app",
            scope=frozenset(scope.split()),
            ip=None,
            user_agent=None,
        )
        async with h.svc.sessions.begin() as s:
            await s.execute(
                update(LoginSession).where(LoginSession.id == started.sid).values(parent_sid=parent)
            )
        assert started.sid is not None
        return started.sid, started.access_token

    return h.run(start)


def row(h: Harness, sid: str) -> LoginSession:
    found = h.run(h.svc.logins.get, sid)
    assert found is not None
    return found


def signed_in(h: Harness, cid: str) -> tuple[Browser, LoginSession]:
    b = Browser(h)
    b.sign_in_to(cid)
    return signed_in_as(h, b)


def signed_in_as(h: Harness, b: Browser) -> tuple[Browser, LoginSession]:
    """The browser's live SSO session."""
    found = h.run(h.svc.sso.by_cookie, opaque.digest(b.jar["__Host-gp_session"]), h.svc.clock.now())
    assert found is not None
    return b, found[0]


@pytest.fixture
def hint_checker(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """A stand-in ``gatepass.oauth.id_tokens``: a hint is good when it is a key of the dict."""
    known: dict[str, dict[str, Any]] = {}
    module = types.ModuleType("gatepass.oauth.id_tokens")
    module.verify_hint = lambda svc, token: known.get(token)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gatepass.oauth.id_tokens", module)
    return known


def test_without_a_hint_the_user_confirms(gp: Harness) -> None:
    cid = make_client(gp, first_party=True)
    b, sso = signed_in(gp, cid)
    page = b.get("/oauth/logout", params={"client_id": cid})
    assert page.status_code == 200 and "Sign out" in page.text
    action, fields = form(page.text)
    assert action == "/oauth/logout/confirm" and fields["csrf_token"]
    assert row(gp, sso.id).revoked_at is None  # a link alone signs no one out
    done = b.post(action, fields)
    assert done.status_code == 200 and "You are signed out" in done.text
    assert "__Host-gp_session" not in b.jar
    assert row(gp, sso.id).revoked_at is not None
    r = b.authorize(cid, prompt="none")
    assert query(r.headers["location"])["error"] == "login_required"


def test_the_confirmation_needs_its_csrf_token(gp: Harness) -> None:
    cid = make_client(gp, first_party=True)
    b, sso = signed_in(gp, cid)
    action, fields = form(b.get("/oauth/logout").text)
    other, _ = signed_in(gp, cid)
    _, theirs = form(other.get("/oauth/logout").text)
    assert b.post(action, {**fields, "csrf_token": theirs["csrf_token"]}).status_code == 403
    assert b.post(action, {"client_id": cid}).status_code == 403  # no token
    r = b.post(action, fields, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert row(gp, sso.id).revoked_at is None


def test_ending_the_session_ends_the_logins_started_from_it_but_offline_ones(gp: Harness) -> None:
    cid = make_client(gp, first_party=True)
    b, sso = signed_in(gp, cid)
    online, online_token = child_login(gp, sso.id, sso.user_id, "openid profile")
    offline, offline_token = child_login(gp, sso.id, sso.user_id, "openid offline_access")
    assert gp.client.get("/api/profile", headers=gp.bearer(online_token)).status_code == 200
    action, fields = form(b.get("/oauth/logout").text)
    b.post(action, fields)
    assert row(gp, online).revoked_at is not None
    assert row(gp, offline).revoked_at is None
    # the denylist has learnt the ended login's sid: its access tokens stop at once
    assert gp.client.get("/api/profile", headers=gp.bearer(online_token)).status_code == 401
    assert gp.client.get("/api/profile", headers=gp.bearer(offline_token)).status_code == 200


def test_post_logout_redirect_with_state(gp: Harness) -> None:
    cid = make_client(gp, first_party=True)
    b, _ = signed_in(gp, cid)
    params = {"client_id": cid, "post_logout_redirect_uri": LOGOUT_REDIRECT, "state": "a b&c"}
    page = b.get("/oauth/logout", params=params)
    assert "form-action 'self' https://app.example;" in page.headers["content-security-policy"]
    r = b.submit(page)
    assert r.status_code == 302
    assert r.headers["location"] == LOGOUT_REDIRECT + "?state=a+b%26c"
    assert any("Max-Age=0" in c for c in r.headers.get_list("set-cookie"))
    # without a session there is nothing to confirm: straight back
    r = b.get("/oauth/logout", params=params)
    assert r.status_code == 302 and r.headers["location"].startswith(LOGOUT_REDIRECT)


@pytest.mark.parametrize(
    "params",
    [
        {"post_logout_redirect_uri": LOGOUT_REDIRECT},  # no client named
        {"client_id": "CID", "post_logout_redirect_uri": "https://evil.example/bye"},
        {"client_id": "CID", "post_logout_redirect_uri": LOGOUT_REDIRECT + "/"},
        {"client_id": "CID", "post_logout_redirect_uri": "https://app.example/cb"},  # login URI
        {"client_id": "unknown", "post_logout_redirect_uri": LOGOUT_REDIRECT},
        {"client_id": "OTHER", "post_logout_redirect_uri": LOGOUT_REDIRECT},
    ],
)
def test_an_unregistered_post_logout_redirect_uri_gets_no_redirect(
    gp: Harness, params: dict[str, str]
) -> None:
    cid = make_client(gp, first_party=True)
    other = make_client(gp, "Other", post_logout=("https://other.example/bye",))
    b, sso = signed_in(gp, cid)
    sent = {k: v.replace("CID", cid).replace("OTHER", other) for k, v in params.items()}
    for request in (b.get("/oauth/logout", params=sent), b.post("/oauth/logout", sent)):
        assert request.status_code == 400 and "location" not in request.headers
        assert 'role="alert"' in request.text
    assert row(gp, sso.id).revoked_at is None


def test_bad_logout_input_is_an_error_page(gp: Harness) -> None:
    b = Browser(gp)
    assert b.get("/oauth/logout?state=a&state=b").status_code == 400
    assert b.get("/oauth/logout", params={"state": "x" * 3000}).status_code == 400
    assert b.get("/oauth/logout", params={"client_id": "a\x01"}).status_code == 400
    r = b.client.post(
        "/oauth/logout",
        content=b"\xff",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400


def test_a_valid_hint_for_this_session_ends_it_at_once(
    gp: Harness, hint_checker: dict[str, dict[str, Any]]
) -> None:
    cid = make_client(gp, first_party=True)
    b, sso = signed_in(gp, cid)
    hint_checker["good"] = {"sub": sso.user_id, "sid": sso.id, "aud": cid}
    r = b.get(
        "/oauth/logout",
        params={"id_token_hint": "good", "post_logout_redirect_uri": LOGOUT_REDIRECT, "state": "z"},
    )
    assert r.status_code == 302 and r.headers["location"] == LOGOUT_REDIRECT + "?state=z"
    assert row(gp, sso.id).revoked_at is not None


def test_a_hint_naming_a_login_started_from_the_session_also_ends_it(
    gp: Harness, hint_checker: dict[str, dict[str, Any]]
) -> None:
    cid = make_client(gp, first_party=True)
    b, sso = signed_in(gp, cid)
    child, _ = child_login(gp, sso.id, sso.user_id, "openid")
    hint_checker["good"] = {"sub": sso.user_id, "sid": child, "aud": [cid]}
    r = b.get("/oauth/logout", params={"id_token_hint": "good"})
    assert r.status_code == 200 and "You are signed out" in r.text
    assert row(gp, sso.id).revoked_at is not None and row(gp, child).revoked_at is not None


def test_a_hint_for_another_session_or_a_bad_hint_asks_first(
    gp: Harness, hint_checker: dict[str, dict[str, Any]]
) -> None:
    cid = make_client(gp, first_party=True)
    b, sso = signed_in(gp, cid)
    hint_checker["other"] = {"sub": sso.user_id, "sid": "gpo-someone-else", "aud": cid}
    for hint in ("other", "forged"):
        r = b.get("/oauth/logout", params={"id_token_hint": hint})
        assert r.status_code == 200 and 'action="/oauth/logout/confirm"' in r.text
    assert row(gp, sso.id).revoked_at is None


def test_a_hint_for_another_client_than_client_id_is_refused(
    gp: Harness, hint_checker: dict[str, dict[str, Any]]
) -> None:
    cid = make_client(gp, first_party=True)
    other = make_client(gp, "Other")
    b, sso = signed_in(gp, cid)
    hint_checker["good"] = {"sub": sso.user_id, "sid": sso.id, "aud": other}
    r = b.get("/oauth/logout", params={"id_token_hint": "good", "client_id": cid})
    assert r.status_code == 400 and row(gp, sso.id).revoked_at is None


@pytest.mark.parametrize("again", [{"prompt": "login"}, {"max_age": "0"}])
def test_a_new_sign_in_takes_over_the_logins_of_the_session_it_replaces(
    make_harness: Callable[..., Harness], database_url: str, again: dict[str, str]
) -> None:
    """prompt=login (or max_age) in the same browser replaces the SSO session; the logins
    started from the old one move to the new, so RP-initiated logout still ends them (but
    offline_access ones)."""
    gp = make_harness(database_url=database_url)
    gp.create_user("bob")
    cid = make_client(gp, first_party=True)
    b, old = signed_in(gp, cid)
    online, online_token = child_login(gp, old.id, old.user_id, "openid profile")
    offline, _ = child_login(gp, old.id, old.user_id, "openid offline_access")
    b.sign_in_to(cid, **again)
    _, new = signed_in_as(gp, b)
    assert new.id != old.id and row(gp, old.id).revoked_at is not None
    assert row(gp, online).parent_sid == new.id and row(gp, offline).parent_sid == new.id
    action, fields = form(b.get("/oauth/logout", params={"client_id": cid}).text)
    assert b.post(action, fields).status_code == 200
    assert row(gp, new.id).revoked_at is not None
    assert row(gp, online).revoked_at is not None
    assert row(gp, offline).revoked_at is None
    assert gp.client.get("/api/profile", headers=gp.bearer(online_token)).status_code == 401


def test_another_user_signing_in_in_the_browser_does_not_take_over_the_logins(
    gp: Harness,
) -> None:
    cid = make_client(gp, first_party=True)
    b, old = signed_in(gp, cid)
    bobs, bobs_token = child_login(gp, old.id, old.user_id, "openid")
    b.sign_in_to(cid, username="alice", prompt="login")
    _, new = signed_in_as(gp, b)
    assert new.user_id != old.user_id
    assert row(gp, bobs).parent_sid == old.id  # never under alice's session
    action, fields = form(b.get("/oauth/logout").text)
    b.post(action, fields)
    assert row(gp, new.id).revoked_at is not None and row(gp, bobs).revoked_at is None
    assert gp.client.get("/api/profile", headers=gp.bearer(bobs_token)).status_code == 200


def _logout_events(h: Harness) -> list[Any]:
    return list(h.run(h.svc.events.newest, limit=50, type_="logout"))


def test_rp_initiated_logout_is_a_logout_event_in_the_activity_and_the_console(
    gp: Harness, hint_checker: dict[str, dict[str, Any]]
) -> None:
    cid = make_client(gp, first_party=True)
    b, sso = signed_in(gp, cid)
    child_login(gp, sso.id, sso.user_id, "openid")
    action, fields = form(b.get("/oauth/logout", params={"client_id": cid}).text)
    assert _logout_events(gp) == []  # asking is not signing out
    b.post(action, fields, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0"})
    (event,) = _logout_events(gp)
    assert (event.user_id, event.username, event.client_id, event.sid) == (
        sso.user_id,
        "bob",
        cid,
        sso.id,
    )
    assert event.details == {"rp_initiated": True, "id_token_hint": False, "sessions": 2}
    assert event.ip == "203.0.113.7" and "Firefox" in (event.user_agent or "")
    # without a session there is nothing to end, and nothing to record
    b.get("/oauth/logout", params={"client_id": cid})
    assert len(_logout_events(gp)) == 1

    # with a hint for the session: at once, and said so
    b, sso = signed_in(gp, cid)
    hint_checker["good"] = {"sub": sso.user_id, "sid": sso.id, "aud": cid}
    b.get("/oauth/logout", params={"id_token_hint": "good"})
    newest = _logout_events(gp)[0]
    assert newest.sid == sso.id and newest.client_id == cid
    assert newest.details == {"rp_initiated": True, "id_token_hint": True, "sessions": 1}

    # the account's activity says it in words; the console lists it with the user's name
    me = Browser(gp)
    assert me.log_in(me.get("/account/login")).status_code == 303
    activity = me.get("/account/activity")
    assert activity.text.count("You signed out through an app.") == 2
    admin = Browser(gp)
    assert admin.log_in(admin.get("/account/login"), "alice").status_code == 303
    page = admin.get("/console/events", params={"type": "logout"})
    assert page.text.count("<code>logout</code>") == 2
    assert page.text.count(f'<td data-label="To whom">bob<br>client <code>{cid}</code>') == 2
    assert "rp_initiated: True" in page.text
