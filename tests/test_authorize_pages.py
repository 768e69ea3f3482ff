"""/oauth/authorize and the hosted login and consent pages, in process: the flow, single
sign-on, prompt and max_age, consent and its withdrawal, the SSO session among the user's
logins, branding and escaping (DESIGN "OpenID Connect: browser and app login")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import PASSWORD, Harness
from gatepass.clock import FrozenClock
from gatepass.core import opaque
from gatepass.storage.models import AuthorizationCode, LoginSession
from hosted import REDIRECT, Browser, form, make_client, query

ISS = "http://testserver"


def sso_rows(h: Harness, user: str = "bob") -> list[LoginSession]:
    async def rows() -> list[LoginSession]:
        u = await h.svc.users.by_name(user)
        assert u is not None
        async with h.svc.sessions() as s:
            q = select(LoginSession).where(LoginSession.user_id == u.id, LoginSession.kind == "sso")
            return list((await s.execute(q)).scalars())

    return h.run(rows)


def code_row(h: Harness, code: str) -> AuthorizationCode | None:
    async def get() -> AuthorizationCode | None:
        async with h.svc.sessions() as s:
            return await s.get(AuthorizationCode, opaque.digest(code))

    return h.run(get)


def is_login_page(r: object) -> bool:
    return getattr(r, "status_code", 0) == 200 and 'name="password"' in getattr(r, "text", "")


def test_login_then_consent_then_a_code(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    page = b.authorize(cid, scope="openid profile", nonce="n-1", state="xyz")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    action, fields = form(page.text)
    assert action == "/oauth/authorize/login"
    assert {"username", "password", "csrf_token", "client_id", "state"} <= set(fields)
    assert page.text.count('type="submit"') == 1
    assert 'autocomplete="username"' in page.text and 'autocomplete="current-password"' in page.text
    assert '<label for="username">' in page.text and '<html lang="en">' in page.text
    assert "Photo Album" in page.text

    consent = b.log_in(page)
    assert consent.status_code == 200 and 'name="consent"' in consent.text
    assert 'value="allow"' in consent.text and 'value="deny"' in consent.text
    assert "Confirm your identity" in consent.text and "Photo Album" in consent.text
    cookie = [
        c for c in consent.headers.get_list("set-cookie") if c.startswith("__Host-gp_session=")
    ]
    (header,) = cookie
    attrs = [a.strip() for a in header.split(";")]
    assert attrs[0].startswith("__Host-gp_session=gpo_")
    assert {"HttpOnly", "Secure", "SameSite=Lax", "Path=/"} <= set(attrs)
    assert not any(a.lower().startswith("domain") for a in attrs)

    done = b.submit(consent, {"consent": "allow"})
    assert done.status_code == 302
    location = done.headers["location"]
    assert location.startswith(REDIRECT + "?")
    answer = query(location)
    assert set(answer) == {"code", "state", "iss"}
    assert answer["state"] == "xyz" and answer["iss"] == ISS
    row = code_row(gp, answer["code"])
    assert row is not None and row.client_id == cid and row.nonce == "n-1"
    assert row.redirect_uri == REDIRECT and set(row.scope.split()) == {"openid", "profile"}
    (sso,) = sso_rows(gp)
    assert row.sso_sid == sso.id and sso.client_id == "gatepass" and sso.amr == "pwd"
    assert sso.cookie_digest == opaque.digest(b.jar["__Host-gp_session"])
    assert b.jar["__Host-gp_session"] not in str(sso.__dict__)


def test_a_first_party_client_asks_no_consent(gp: Harness) -> None:
    cid = make_client(gp, first_party=True)
    b = Browser(gp)
    r = b.log_in(b.authorize(cid, scope="openid"))
    assert r.status_code == 302 and "code" in query(r.headers["location"])


def test_single_sign_on_into_a_second_client_needs_no_password(gp: Harness) -> None:
    a, second = make_client(gp, "A"), make_client(gp, "B")
    b = Browser(gp)
    b.sign_in_to(a, scope="openid")
    r = b.authorize(second, scope="openid")
    assert r.status_code == 200 and 'name="consent"' in r.text and 'name="password"' not in r.text
    r = b.submit(r, {"consent": "allow"})
    assert "code" in query(r.headers["location"])
    assert len(sso_rows(gp)) == 1


def test_prompt_none(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    r = b.authorize(cid, prompt="none", state="s1")
    assert r.status_code == 302
    assert query(r.headers["location"]) == {
        "error": "login_required",
        "error_description": "The user is not signed in.",
        "state": "s1",
        "iss": ISS,
    }
    other = make_client(gp, "Other", first_party=True)
    b.sign_in_to(other)
    r = b.authorize(cid, prompt="none", scope="openid")
    assert query(r.headers["location"])["error"] == "consent_required"
    b.sign_in_to(cid, scope="openid")
    r = b.authorize(cid, prompt="none", scope="openid")
    assert "code" in query(r.headers["location"])


def test_prompt_login_asks_for_the_password_again_and_starts_a_new_session(gp: Harness) -> None:
    cid = make_client(gp, first_party=True)
    b = Browser(gp)
    b.sign_in_to(cid)
    first = b.jar["__Host-gp_session"]
    r = b.authorize(cid, prompt="login")
    assert is_login_page(r)
    r = b.log_in(r)
    assert r.status_code == 302 and "code" in query(r.headers["location"])
    assert b.jar["__Host-gp_session"] != first
    live = [s for s in sso_rows(gp) if s.revoked_at is None]
    assert len(live) == 1 and live[0].cookie_digest == opaque.digest(b.jar["__Host-gp_session"])


def test_max_age(make_harness: Callable[..., Harness]) -> None:
    clock = FrozenClock()
    h = make_harness(clock=clock)
    h.create_user("bob")
    cid = make_client(h, first_party=True)
    b = Browser(h)
    b.sign_in_to(cid)
    clock.advance(120)
    assert "code" in query(b.authorize(cid, max_age="300").headers["location"])
    assert is_login_page(b.authorize(cid, max_age="60"))
    r = b.log_in(b.authorize(cid, max_age="60"))
    assert "code" in query(r.headers["location"])
    code = query(r.headers["location"])["code"]
    row = code_row(h, code)
    assert row is not None and row.auth_time == clock.now()


def test_login_hint_fills_in_the_username(gp: Harness) -> None:
    cid = make_client(gp)
    r = Browser(gp).authorize(cid, login_hint="bob")
    assert 'name="username" type="text" value="bob"' in r.text


def test_a_wrong_password_and_an_unknown_user_get_one_answer(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    page = b.authorize(cid)
    wrong = b.log_in(page, "bob", "not the password")
    unknown = b.log_in(page, "nobody", "not the password")
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert 'role="alert"' in r.text and 'aria-invalid="true"' in r.text
        assert "The username or password is not right." in r.text
        assert "__Host-gp_session" not in r.headers.get("set-cookie", "")
    assert wrong.text.replace("bob", "X").count("alert") == unknown.text.replace(
        "nobody", "X"
    ).count("alert")
    empty = b.log_in(page, "", "")
    assert empty.status_code == 400 and 'role="alert"' in empty.text


def test_the_login_throttle_answers_with_a_page_to_wait(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(login_account_threshold=2)
    h.create_user("bob")
    cid = make_client(h)
    b = Browser(h)
    page = b.authorize(cid)
    codes = [b.log_in(page, "bob", "wrong").status_code for _ in range(3)]
    assert codes[:2] == [401, 401] and codes[2] == 429
    r = b.log_in(page, "bob", PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "Wait" in r.text and 'role="alert"' in r.text


def test_consent_is_remembered_per_scopes_and_prompt_consent_asks_again(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    b.sign_in_to(cid, scope="openid")
    assert "code" in query(b.authorize(cid, scope="openid").headers["location"])
    more = b.authorize(cid, scope="openid email")
    assert 'name="consent"' in more.text and "See your email address" in more.text
    b.submit(more, {"consent": "allow"})
    assert "code" in query(b.authorize(cid, scope="email").headers["location"])
    again = b.authorize(cid, scope="openid", prompt="consent")
    assert 'name="consent"' in again.text


def test_deny_is_access_denied(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    r = b.log_in(b.authorize(cid, state="s-9"))
    r = b.submit(r, {"consent": "deny"})
    answer = query(r.headers["location"])
    assert answer["error"] == "access_denied" and answer["state"] == "s-9" and answer["iss"] == ISS
    assert "code" not in answer
    r = b.authorize(cid, prompt="none")
    assert query(r.headers["location"])["error"] == "consent_required"


def test_consents_are_listed_and_withdrawn(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    b.sign_in_to(cid, scope="openid profile")
    token = gp.access_token("bob")
    listed = gp.client.get("/auth/consents", headers=gp.bearer(token))
    assert listed.status_code == 200
    (item,) = listed.json()["consents"]
    assert item["client_id"] == cid and item["client_name"] == "Photo Album"
    assert item["scope"] == "openid profile"
    assert gp.client.get("/auth/consents").status_code == 401
    gone = gp.client.delete(f"/auth/consents/{cid}", headers=gp.bearer(token))
    assert gone.status_code == 204
    assert gp.client.delete(f"/auth/consents/{cid}", headers=gp.bearer(token)).status_code == 404
    assert gp.client.get("/auth/consents", headers=gp.bearer(token)).json() == {
        "consents": [],
        "next": None,
    }
    r = b.authorize(cid, scope="openid", prompt="none")
    assert query(r.headers["location"])["error"] == "consent_required"


def test_the_admin_scope_only_for_admins_through_clients_registered_for_it(gp: Harness) -> None:
    plain = make_client(gp, "Plain", first_party=True)
    r = Browser(gp).authorize(plain, scope="openid gatepass:admin")
    assert query(r.headers["location"])["error"] == "invalid_scope"
    admin_app = make_client(gp, "Console", first_party=True, scope_list=("gatepass:admin",))
    for user, has in (("alice", True), ("bob", False)):
        code = Browser(gp).sign_in_to(admin_app, user, scope="openid gatepass:admin")["code"]
        row = code_row(gp, code)
        assert row is not None and ("gatepass:admin" in row.scope.split()) is has


@pytest.mark.parametrize(
    "ending",
    ["logout_all", "password", "admin_revoke", "session_delete"],
)
def test_the_sso_session_is_a_login_like_the_others(gp: Harness, ending: str) -> None:
    cid = make_client(gp, first_party=True)
    b = Browser(gp)
    b.sign_in_to(cid)
    token = gp.access_token("bob")
    listed = gp.client.get("/auth/sessions", headers=gp.bearer(token)).json()["sessions"]
    (sso,) = sso_rows(gp)
    assert sso.id in [s["id"] for s in listed]
    if ending == "logout_all":
        assert gp.client.post("/auth/logout-all", headers=gp.bearer(token)).status_code == 204
    elif ending == "password":
        r = gp.client.post(
            "/auth/password",
            json={"current_password": PASSWORD, "new_password": "another good passphrase"},
            headers=gp.bearer(token),
        )
        assert r.status_code == 204, r.text
    elif ending == "admin_revoke":
        admin = gp.admin_token()
        r = gp.client.post(f"/admin/users/{sso.user_id}/revoke", headers=gp.bearer(admin))
        assert r.status_code in (200, 204), r.text
    else:
        r = gp.client.delete(f"/auth/sessions/{sso.id}", headers=gp.bearer(token))
        assert r.status_code == 204
    (ended,) = sso_rows(gp)
    assert ended.revoked_at is not None
    assert is_login_page(b.authorize(cid))
    r = b.authorize(cid, prompt="none")
    assert query(r.headers["location"])["error"] == "login_required"


def test_a_disabled_user_is_signed_out(gp: Harness) -> None:
    cid = make_client(gp, first_party=True)
    b = Browser(gp)
    b.sign_in_to(cid)

    async def disable() -> None:
        from sqlalchemy import update

        from gatepass.storage.models import User

        async with gp.svc.sessions.begin() as s:
            await s.execute(update(User).where(User.username == "bob").values(disabled=True))

    gp.run(disable)
    assert query(b.authorize(cid, prompt="none").headers["location"])["error"] == "login_required"


def test_every_page_carries_the_security_headers(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    pages = [b.authorize(cid), b.get("/oauth/authorize", params={"client_id": "nope"})]
    pages.append(b.log_in(pages[0]))
    for r in pages:
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "base-uri 'none'" in csp and "style-src 'self'" in csp and "script" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "<script" not in r.text
    login_csp = pages[0].headers["content-security-policy"]
    assert "form-action 'self' https://app.example;" in login_csp
    assert "form-action 'self';" in pages[1].headers["content-security-policy"]


def test_the_stylesheet_is_served(gp: Harness) -> None:
    r = gp.client.get("/static/gatepass.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert "@media (max-width" in r.text


def test_user_strings_are_escaped(gp: Harness) -> None:
    evil = "<script>alert(1)</script>"
    cid = make_client(gp, evil)
    b = Browser(gp)
    r = b.authorize(cid, login_hint='"><script>x()</script>', state="<script>s</script>")
    assert "<script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "&#34;&gt;&lt;script&gt;x()&lt;/script&gt;" in r.text
    r = b.log_in(r)
    assert r.status_code == 200 and "<script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    _, fields = form(r.text)
    assert fields["state"] == "<script>s</script>"


def test_unknown_scopes_are_shown_by_name_escaped(gp: Harness) -> None:
    cid = make_client(gp, scope_list=("photos:<b>read</b>",))
    b = Browser(gp)
    r = b.log_in(b.authorize(cid, scope="openid photos:<b>read</b>"))
    assert "photos:&lt;b&gt;read&lt;/b&gt;" in r.text and "<b>read" not in r.text


def test_branding_and_a_template_override(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "error.html").write_text(
        '{% extends "base.html" %}{% block content %}<p id="ours">Custom: {{ message }}</p>'
        "{% endblock %}"
    )
    h = make_harness(
        product_name="Acme <ID>", logo_url="https://cdn.example/logo.png", template_dir=templates
    )
    h.create_user("bob")
    cid = make_client(h)
    error = Browser(h).get("/oauth/authorize", params={"client_id": "nope"})
    assert error.status_code == 400 and '<p id="ours">Custom: ' in error.text
    assert "Acme &lt;ID&gt;" in error.text
    login = Browser(h).authorize(cid)
    assert 'src="https://cdn.example/logo.png"' in login.text and "Acme &lt;ID&gt;" in login.text


def test_a_request_with_no_scope_still_asks_consent_once(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    r = b.log_in(b.authorize(cid))
    assert 'name="consent"' in r.text and "See your name and username" in r.text
    b.submit(r, {"consent": "allow"})
    assert "code" in query(b.authorize(cid, prompt="none").headers["location"])


def test_the_flow_on_each_database(make_harness: Callable[..., Harness], database_url: str) -> None:
    h = make_harness(database_url=database_url)
    h.create_user("bob")
    a, second = make_client(h, "A"), make_client(h, "B")
    b = Browser(h)
    b.sign_in_to(a, scope="openid offline_access")
    b.sign_in_to(a, scope="openid profile")  # consent widened: one row, merged
    b.sign_in_to(second, scope="openid")
    token = h.access_token("bob")
    listed = h.client.get("/auth/consents", headers=h.bearer(token)).json()["consents"]
    assert {c["client_id"]: c["scope"] for c in listed} == {
        a: "offline_access openid profile",
        second: "openid",
    }
    action, fields = form(b.get("/oauth/logout").text)
    assert b.post(action, fields).status_code == 200
    assert query(b.authorize(a, prompt="none").headers["location"])["error"] == "login_required"


def test_prompt_login_and_max_age_0_with_consent_complete_after_one_login(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    b.sign_in_to(cid, scope="openid")
    for params in ({"prompt": "login consent"}, {"max_age": "0", "prompt": "consent"}):
        r = b.authorize(cid, scope="openid", **params)
        assert is_login_page(r)
        r = b.log_in(r)
        assert 'name="consent"' in r.text
        r = b.submit(r, {"consent": "allow"})
        assert r.status_code == 302 and "code" in query(r.headers["location"])


def test_a_consent_form_not_from_the_login_cannot_skip_prompt_login(gp: Harness) -> None:
    """A consent page reached without a password (single sign-on) posted back with the
    parameters of a prompt=login request: the password is still asked for."""
    cid = make_client(gp)
    b = Browser(gp)
    b.sign_in_to(make_client(gp, "Other", first_party=True))
    page = b.authorize(cid, scope="openid")
    action, fields = form(page.text)
    assert "consent" in action
    r = b.post(action, {**fields, "prompt": "login", "consent": "allow"})
    assert is_login_page(r)


def test_the_idle_deadline_moves_with_use_and_ends_an_idle_session(
    make_harness: Callable[..., Harness], database_url: str
) -> None:
    clock = FrozenClock()
    h = make_harness(clock=clock, sso_idle_ttl=600, sso_session_ttl=1000, database_url=database_url)
    h.create_user("bob")
    cid = make_client(h, first_party=True)
    b = Browser(h)
    b.sign_in_to(cid)
    for _ in range(3):  # used every 300 s: alive past its first idle deadline
        clock.advance(300)
        assert "code" in query(b.authorize(cid, prompt="none").headers["location"])
    (row,) = sso_rows(h)
    assert row.idle_expires_at == row.expires_at  # never past the absolute deadline
    clock.advance(101)  # past the absolute lifetime
    assert query(b.authorize(cid, prompt="none").headers["location"])["error"] == "login_required"
    b2 = Browser(h)
    b2.sign_in_to(cid)
    clock.advance(601)  # idle too long
    assert query(b2.authorize(cid, prompt="none").headers["location"])["error"] == "login_required"


def test_a_silent_reauthorization_sets_no_cookie(gp: Harness) -> None:
    cid = make_client(gp, first_party=True)
    b = Browser(gp)
    b.sign_in_to(cid)
    b.jar.pop("__Host-gp_csrf")  # a browser that has dropped its pre-session cookie
    r = b.authorize(cid, prompt="none")
    assert r.status_code == 302 and "set-cookie" not in r.headers
