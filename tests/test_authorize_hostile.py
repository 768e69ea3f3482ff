"""Hostile requests to /oauth/authorize and the hosted pages, each its own test: no open
redirect, PKCE required, state echoed exactly, CSRF, framing, cross-origin logins, session
fixation, and bad input that must never be a 500."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Harness
from hosted import REDIRECT, Browser, form, make_client, pkce, query


def refused_on_a_page(r: Any) -> None:
    assert r.status_code == 400, r.text
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html") and 'role="alert"' in r.text


@pytest.mark.parametrize(
    "presented",
    [
        "https://app.example/cb/",  # trailing slash
        "https://APP.example/cb",  # case of the host
        "https://app.example/CB",  # case of the path
        "https://app.example:8443/cb",  # port
        "https://app.example/cb/extra",  # path suffix
        "https://app.example/cbx",
        "https://evil@app.example/cb",  # userinfo
        "https://app.example@evil.example/cb",
        "https://app.example/cb#frag",  # fragment
        "https://app.example/cb?x=1",
        "http://app.example/cb",
        "https://evil.example/cb",
    ],
)
def test_a_redirect_uri_that_differs_gets_an_error_page(gp: Harness, presented: str) -> None:
    cid = make_client(gp)
    refused_on_a_page(Browser(gp).authorize(cid, redirect_uri=presented))


def test_an_unknown_client_or_no_redirect_uri_gets_an_error_page(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    refused_on_a_page(b.authorize("no-such-client"))
    refused_on_a_page(b.authorize(cid, redirect_uri=""))
    refused_on_a_page(b.authorize(""))
    refused_on_a_page(b.authorize("x" * 5000))
    refused_on_a_page(b.authorize("bad\x01id"))


def test_repeated_client_id_or_redirect_uri_gets_an_error_page(gp: Harness) -> None:
    cid = make_client(gp)
    _, challenge = pkce()
    base = f"response_type=code&code_challenge={challenge}&code_challenge_method=S256"
    for extra in (
        f"client_id={cid}&client_id={cid}&redirect_uri={REDIRECT}",
        f"client_id={cid}&redirect_uri={REDIRECT}&redirect_uri=https://evil.example/cb",
    ):
        refused_on_a_page(Browser(gp).get(f"/oauth/authorize?{base}&{extra}"))


def test_a_loopback_redirect_uri_matches_on_any_port(gp: Harness) -> None:
    cid = make_client(gp, redirects=("http://127.0.0.1/cb",), first_party=True)
    b = Browser(gp)
    r = b.log_in(b.authorize(cid, redirect_uri="http://127.0.0.1:53211/cb"))
    assert r.headers["location"].startswith("http://127.0.0.1:53211/cb?code=")
    refused_on_a_page(b.authorize(cid, redirect_uri="http://127.0.0.1:53211/other"))


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"code_challenge": ""}, "code_challenge is required"),
        ({"code_challenge_method": ""}, "code_challenge_method must be S256"),
        ({"code_challenge_method": "plain"}, "code_challenge_method must be S256"),
        ({"code_challenge": "short"}, "43-128 base64url"),
        ({"code_challenge": "a" * 129}, "43-128 base64url"),
        ({"code_challenge": "+" * 43}, "43-128 base64url"),
    ],
)
def test_pkce_is_required_and_only_s256(
    gp: Harness, params: dict[str, str], description: str
) -> None:
    cid = make_client(gp)
    r = Browser(gp).authorize(cid, state="s", **params)
    assert r.status_code == 302
    answer = query(r.headers["location"])
    assert answer["error"] == "invalid_request" and description in answer["error_description"]
    assert answer["state"] == "s" and answer["iss"] == "http://testserver"


@pytest.mark.parametrize(
    "state",
    ["a b+c/d?e=f&g#h", "ü€😀", "%41%20", "'\"<>`", "=", "a" * 2000],
)
def test_state_is_echoed_byte_for_byte(gp: Harness, state: str) -> None:
    cid = make_client(gp, first_party=True)
    b = Browser(gp)
    page = b.authorize(cid, state=state)
    assert form(page.text)[1]["state"] == state
    r = b.log_in(page)
    assert query(r.headers["location"])["state"] == state
    again = b.authorize(cid, state=state)
    assert query(again.headers["location"])["state"] == state
    refused = b.authorize(cid, state=state, response_type="token")
    assert query(refused.headers["location"])["state"] == state


def test_an_oversized_state_is_refused_and_not_echoed(gp: Harness) -> None:
    cid = make_client(gp)
    r = Browser(gp).authorize(cid, state="a" * 2001)
    answer = query(r.headers["location"])
    assert answer["error"] == "invalid_request" and "state" not in answer


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "openid nope"}, "invalid_scope"),
        ({"scope": "bad\\scope"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "select_account"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "1e3"}, "invalid_request"),
        ({"max_age": "٣"}, "invalid_request"),
        ({"nonce": "n" * 513}, "invalid_request"),
        ({"login_hint": "x" * 151}, "invalid_request"),
        ({"nonce": "a\x01b"}, "invalid_request"),
        ({"state": "ok", "login_hint": "a\nb"}, "invalid_request"),
        ({"request": "eyJ"}, "request_not_supported"),
        ({"request_uri": "https://x"}, "request_uri_not_supported"),
    ],
)
def test_bad_parameters_redirect_with_their_error(
    gp: Harness, params: dict[str, str], error: str
) -> None:
    cid = make_client(gp)
    r = Browser(gp).authorize(cid, **params)
    assert r.status_code == 302, r.text
    assert query(r.headers["location"])["error"] == error


def test_nul_in_a_parameter_goes_back_as_invalid_request_on_each_database(
    make_harness: Any, database_url: str
) -> None:
    h = make_harness(database_url=database_url)
    cid = make_client(h)
    for params in ({"state": "a\x00b"}, {"nonce": "\x00"}, {"login_hint": "bob\x00"}):
        r = Browser(h).authorize(cid, **params)
        assert r.status_code == 302, r.text
        answer = query(r.headers["location"])
        assert answer["error"] == "invalid_request"
        assert ("state" in answer) is ("state" not in params)  # a state with a NUL: not echoed
    refused_on_a_page(Browser(h).authorize("x\x00y"))


def test_a_repeated_parameter_is_invalid_request(gp: Harness) -> None:
    cid = make_client(gp)
    _, challenge = pkce()
    url = (
        f"/oauth/authorize?response_type=code&client_id={cid}&redirect_uri={REDIRECT}"
        f"&code_challenge={challenge}&code_challenge_method=S256&scope=openid&scope=email"
    )
    r = Browser(gp).get(url)
    assert query(r.headers["location"])["error"] == "invalid_request"


def test_nul_and_bad_bodies_are_never_a_500(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    refused_on_a_page(b.get(f"/oauth/authorize?client_id={cid}%00"))
    refused_on_a_page(b.get(f"/oauth/authorize?client_id={cid}&redirect_uri={REDIRECT}%00"))
    assert b.get("/oauth/logout?client_id=a%00").status_code == 400
    for body, ctype in (
        (b"client_id=a%00b", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"{}", "application/json"),
    ):
        for path in ("/oauth/authorize", "/oauth/authorize/login", "/oauth/authorize/consent"):
            r = b.client.post(path, content=body, headers={"content-type": ctype})
            assert 400 <= r.status_code < 500, (path, r.status_code)
    r = b.client.post("/oauth/authorize", content=b"x" * 70000)
    assert r.status_code == 413


def test_authorize_accepts_a_form_post(gp: Harness) -> None:
    cid = make_client(gp)
    _, challenge = pkce()
    r = Browser(gp).post(
        "/oauth/authorize",
        {
            "response_type": "code",
            "client_id": cid,
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert r.status_code == 200 and 'name="password"' in r.text


def test_a_login_without_a_csrf_token_is_refused(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    action, fields = form(b.authorize(cid).text)
    del fields["csrf_token"]
    r = b.post(action, {**fields, "username": "bob", "password": "correct horse battery"})
    assert r.status_code == 403 and "__Host-gp_session" not in b.jar
    assert r.headers["content-type"].startswith("text/html")


def test_a_login_with_another_browsers_csrf_token_is_refused(gp: Harness) -> None:
    cid = make_client(gp)
    attacker, victim = Browser(gp), Browser(gp)
    _, theirs = form(attacker.authorize(cid).text)
    action, fields = form(victim.authorize(cid).text)
    fields["csrf_token"] = theirs["csrf_token"]
    r = victim.post(action, {**fields, "username": "bob", "password": "correct horse battery"})
    assert r.status_code == 403 and "__Host-gp_session" not in victim.jar
    # and the attacker's own token with no cookie at all
    victim.jar.clear()
    r = victim.post(action, {**fields, "username": "bob", "password": "correct horse battery"})
    assert r.status_code == 403


def test_a_consent_with_a_token_of_another_session_is_refused(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    consent = b.log_in(b.authorize(cid))
    _, old = form(consent.text)
    b.log_in(b.authorize(cid, prompt="login"))  # a new session in the same browser
    action, fields = form(b.authorize(cid).text)
    fields["csrf_token"] = old["csrf_token"]
    assert b.post(action, {**fields, "consent": "allow"}).status_code == 403


def test_the_pages_may_not_be_framed(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    for r in (b.authorize(cid), b.get("/oauth/logout"), b.authorize("unknown")):
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_a_login_posted_from_an_attackers_origin_is_refused(gp: Harness) -> None:
    cid = make_client(gp)
    b = Browser(gp)
    page = b.authorize(cid)
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    ):
        r = b.submit(
            page, {"username": "bob", "password": "correct horse battery"}, headers=headers
        )
        assert r.status_code == 403 and "__Host-gp_session" not in b.jar
    ok = b.submit(
        page,
        {"username": "bob", "password": "correct horse battery"},
        headers={"Origin": "http://testserver"},
    )
    assert ok.status_code == 200 and "__Host-gp_session" in b.jar


def test_a_session_cookie_set_before_login_is_not_the_one_after(gp: Harness) -> None:
    cid = make_client(gp, first_party=True)
    victim = Browser(gp)
    planted = "gpo_" + "A" * 43
    victim.jar["__Host-gp_session"] = planted
    r = victim.log_in(victim.authorize(cid))
    assert r.status_code == 302
    after = victim.jar["__Host-gp_session"]
    assert after != planted
    # an attacker's own live session cookie, planted before the victim logs in, is replaced
    attacker = Browser(gp)
    attacker.sign_in_to(cid, "alice")
    stolen = attacker.jar["__Host-gp_session"]
    victim2 = Browser(gp)
    victim2.jar["__Host-gp_session"] = stolen
    page = victim2.authorize(cid, prompt="login")
    victim2.log_in(page, "bob")
    assert victim2.jar["__Host-gp_session"] != stolen
    # the replaced session is ended: the planted cookie no longer signs anyone in
    attacker_again = attacker.authorize(cid, prompt="none")
    assert query(attacker_again.headers["location"])["error"] == "login_required"


@pytest.mark.postgres
def test_a_database_that_goes_away_is_temporarily_unavailable(
    make_harness: Any, pg_url: str
) -> None:
    """A real fault (tests/servers.TcpRelay cut): once the redirect URI is trusted (the client
    record is cached), the client hears ``temporarily_unavailable`` there; before that, or on a
    form, the browser gets a 503 page. Never a 500, never JSON."""
    from urllib.parse import urlsplit

    from servers import TcpRelay

    where = urlsplit(pg_url)
    relay = TcpRelay(where.hostname or "127.0.0.1", where.port or 5432).start()
    try:
        h = make_harness(
            database_url=pg_url.replace(where.netloc, f"postgres@127.0.0.1:{relay.port}")
        )
        h.create_user("bob")
        cid = make_client(h, first_party=True)
        b, other = Browser(h), Browser(h)
        b.sign_in_to(cid)  # the client record is cached from here on
        page = other.authorize(cid)
        relay.cut()
        r = b.authorize(cid, state="s-1")  # its session cannot be looked up
        assert r.status_code == 302
        assert query(r.headers["location"]) == {
            "error": "temporarily_unavailable",
            "error_description": "Try again in a moment.",
            "state": "s-1",
            "iss": "http://testserver",
        }
        for answer in (other.log_in(page), b.authorize("unknown"), b.get("/oauth/logout")):
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"].startswith("text/html")
            assert answer.headers["retry-after"] == "1" and 'role="alert"' in answer.text
    finally:
        relay.cut()


def test_origin_null_from_our_own_no_referrer_page_is_let_through(gp: Harness) -> None:
    """What Chromium sends for a form on a ``Referrer-Policy: no-referrer`` page of our own."""
    cid = make_client(gp)
    b = Browser(gp)
    r = b.submit(
        b.authorize(cid),
        {"username": "bob", "password": "correct horse battery"},
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 200 and "__Host-gp_session" in b.jar
