"""The shared layer of the signed-in pages (``server/console.py``, ``routes/console_login.py``):
the sign-in page and where it goes back to, CSRF bound to the SSO session, signing out,
pagination links."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from conftest import PASSWORD, Harness
from gatepass.oauth import sso
from gatepass.server import console
from hosted import Browser, form, make_client, query


def signed_in(h: Harness, username: str = "bob", next_: str | None = None) -> tuple[Browser, Any]:
    b = Browser(h)
    page = b.get("/account/login" + (f"?next={next_}" if next_ else ""))
    assert page.status_code == 200 and 'name="password"' in page.text
    r = b.log_in(page, username)
    return b, r


def signed(h: Harness, b: Browser) -> sso.Signed:
    found = h.run(sso.current, h.svc, b.jar.get(sso.COOKIE))
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/account/sessions", "/account/sessions"),
        ("/account/activity?cursor=abc", "/account/activity?cursor=abc"),
        ("//evil.example/x", "/account"),
        ("/\\evil.example", "/account"),
        ("https://evil.example/", "/account"),
        ("javascript:alert(1)", "/account"),
        ("evil.example", "/account"),
        ("/a\r\nSet-Cookie: x=1", "/account"),
        ("/a b", "/account"),
        ("/account/login?next=/account/login", "/account"),
        ("", "/account"),
        (None, "/account"),
        ("/" + "a" * 3000, "/account"),
    ],
)
def test_next_is_only_ever_a_path_of_this_site(value: str | None, expected: str) -> None:
    assert console.safe_next(value) == expected


def test_the_sign_in_page_goes_back_to_next_with_a_session(gp: Harness) -> None:
    b, r = signed_in(gp, next_="/account/sessions")
    assert r.status_code == 303
    assert r.headers["location"] == "/account/sessions"
    assert sso.COOKIE in b.jar
    assert "no-store" in r.headers["cache-control"]
    # signed in already: the sign-in page goes straight on
    again = b.get("/account/login?next=/account/apps")
    assert again.status_code == 303 and again.headers["location"] == "/account/apps"


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_the_sign_in_page_never_redirects_off_site(gp: Harness, target: str) -> None:
    b = Browser(gp)
    page = b.get("/account/login", params={"next": target})
    _, fields = form(page.text)
    assert fields["next"] == "/account"
    # even when the form is changed by hand
    fields.update({"username": "bob", "password": PASSWORD, "next": target})
    r = b.post("/account/login", fields)
    assert r.status_code == 303 and r.headers["location"] == "/account"


def test_the_sign_in_page_has_the_hosted_login_words(gp: Harness) -> None:
    b = Browser(gp)
    page = b.get("/account/login")
    _, fields = form(page.text)
    wrong = b.post("/account/login", {**fields, "username": "bob", "password": "nope"})
    unknown = b.post("/account/login", {**fields, "username": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "The username or password is not right." in wrong.text
    assert "The username or password is not right." in unknown.text
    assert sso.COOKIE not in b.jar
    empty = b.post("/account/login", {**fields, "username": "bob", "password": ""})
    assert empty.status_code == 400 and "Enter your username and password." in empty.text


def test_the_sign_in_page_needs_its_csrf_token(gp: Harness) -> None:
    b = Browser(gp)
    b.get("/account/login")
    r = b.post("/account/login", {"username": "bob", "password": PASSWORD})
    assert r.status_code == 403 and sso.COOKIE not in b.jar
    other = Browser(gp)
    _, fields = form(other.get("/account/login").text)
    r = b.post("/account/login", {**fields, "username": "bob", "password": PASSWORD})
    assert r.status_code == 403 and sso.COOKIE not in b.jar


def test_the_sign_in_page_is_throttled_like_the_hosted_login(make_harness: Any) -> None:
    h = make_harness(login_account_threshold=2)
    h.create_user("bob")
    b = Browser(h)
    _, fields = form(b.get("/account/login").text)
    codes = [
        b.post("/account/login", {**fields, "username": "bob", "password": "x"}).status_code
        for _ in range(3)
    ]
    assert codes[-1] == 429
    right = b.post("/account/login", {**fields, "username": "bob", "password": PASSWORD})
    assert right.status_code == 429 and "Too many failed attempts" in right.text


def test_a_session_token_is_bound_to_its_session_and_purpose(gp: Harness) -> None:
    a, _ = signed_in(gp)
    c, _ = signed_in(gp)
    sa, sc = signed(gp, a), signed(gp, c)
    token = console.form_token(gp.svc, sa, "profile")
    assert console.check_form(gp.svc, sa, "profile", token)
    assert not console.check_form(gp.svc, sc, "profile", token)  # another session's
    assert not console.check_form(gp.svc, sa, "password", token)  # another form's
    assert not console.check_form(gp.svc, sa, "profile", None)
    changed = token[:-1] + ("B" if token[-1] != "B" else "C")  # never the token itself
    assert not console.check_form(gp.svc, sa, "profile", changed)


def test_sign_out_needs_the_token_of_this_session_then_ends_it(gp: Harness) -> None:
    a, _ = signed_in(gp)
    c, _ = signed_in(gp)
    own, foreign = signed(gp, a), signed(gp, c)
    bad = a.post("/account/logout", {"csrf_token": console.form_token(gp.svc, foreign, "sign-out")})
    assert bad.status_code == 403
    none = a.post("/account/logout", {"x": "1"})
    assert none.status_code == 403
    assert gp.run(sso.current, gp.svc, a.jar.get(sso.COOKIE)) is not None
    ok = a.post("/account/logout", {"csrf_token": console.form_token(gp.svc, own, "sign-out")})
    assert ok.status_code == 200 and "signed out" in ok.text
    assert sso.COOKIE not in a.jar
    assert gp.run(sso.current, gp.svc, c.jar.get(sso.COOKIE)) is not None  # the other stays


def test_a_disabled_user_is_no_viewer(gp: Harness) -> None:
    b, _ = signed_in(gp)
    user = gp.run(gp.svc.users.by_name, "bob")
    gp.run(gp.svc.users.update, user.id, disabled=True)
    r = b.get("/account/login?next=/account/sessions")
    assert r.status_code == 200 and 'name="password"' in r.text


def _request(path: str, query: str = "") -> Request:
    return Request({"type": "http", "path": path, "query_string": query.encode(), "headers": []})


def test_to_sign_in_keeps_the_page_and_its_query() -> None:
    r = console.to_sign_in(_request("/account/activity", "cursor=abc"))
    assert r.status_code == 303
    assert r.headers["location"] == "/account/login?next=%2Faccount%2Factivity%3Fcursor%3Dabc"


def test_the_pager_goes_forward_and_back_through_cursors() -> None:
    first = console.pager(_request("/account/activity"), "C1")
    assert first == {"previous": None, "next": "/account/activity?cursor=C1"}
    second = console.pager(_request("/account/activity", "cursor=C1"), "C2")
    assert second["previous"] == "/account/activity"
    assert second["next"] == "/account/activity?cursor=C2&trail=C1"
    third = console.pager(_request("/account/activity", "cursor=C2&trail=C1"), None)
    assert third == {"previous": "/account/activity?cursor=C1", "next": None}
    kept = console.pager(_request("/x", "type=sign_in&cursor=C1"), "C2")
    assert kept["next"] == "/x?type=sign_in&cursor=C2&trail=C1"


def test_a_confirmed_action_shows_its_page_then_acts_only_with_its_token(gp: Harness) -> None:
    """``console.ConfirmedActions``, the confirm-then-act pair of the console's user and client
    pages: the GET names the subject and posts back with a token for its own purpose; the POST
    acts with that token only."""
    b, _ = signed_in(gp)
    me = signed(gp, b)
    acted: list[str] = []

    async def name_of(svc: Any, thing: str) -> str:
        return f"<Thing {thing}>"

    async def act(svc: Any, request: Request, who: sso.Signed, thing: str) -> Response:
        acted.append(thing)
        return console.redirect(f"/things/{thing}?done=zapped")

    actions = console.ConfirmedActions(
        param="thing",
        name_of=name_of,
        page_of=lambda thing: f"/things/{thing}",
        purpose=lambda action, thing: f"things {action} {thing}",
        actions={"zap": console.Action("Zap it?", "{name} is zapped.", "Zap", act)},
    )
    routes = actions.routes("/things/{thing}", console.signed_in)
    assert [(r.path, sorted(r.methods or ())) for r in routes] == [
        ("/things/{thing}/zap", ["GET"]),
        ("/things/{thing}/zap", ["POST"]),
    ]
    endpoints = actions.endpoints("zap")

    def call(method: str, body: bytes = b"") -> Any:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        scope = {
            "type": "http",
            "method": method,
            "path": "/things/t1/zap",
            "query_string": b"",
            "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
            "path_params": {"thing": "t1"},
        }
        try:
            return gp.run(endpoints[method], gp.svc, Request(scope, receive), me)
        except console.Refused as exc:
            return exc.response

    page = call("GET")
    text = page.body.decode()
    assert page.status_code == 200 and "Zap it?" in text and "&lt;Thing t1&gt; is zapped." in text
    assert 'action="/things/t1/zap"' in text and 'href="/things/t1"' in text
    assert console.form_token(gp.svc, me, "things zap t1") in text
    for wrong in ("things zap t2", "things other t1"):
        token = console.form_token(gp.svc, me, wrong)
        assert call("POST", f"csrf_token={token}".encode()).status_code == 403
    assert call("POST").status_code == 403 and acted == []
    token = console.form_token(gp.svc, me, "things zap t1")
    done = call("POST", f"csrf_token={token}".encode())
    assert done.status_code == 303 and done.headers["location"] == "/things/t1?done=zapped"
    assert acted == ["t1"]


def test_a_sign_in_token_of_one_login_form_is_refused_by_the_other(gp: Harness) -> None:
    """The hosted login of the authorization flow and the account sign-in page bind their CSRF
    tokens to the same browser cookie: each form has its own purpose."""
    cid = make_client(gp, first_party=True)
    b = Browser(gp)
    account_action, account = form(b.get("/account/login").text)
    authorize_action, authorize = form(b.authorize(cid).text)
    assert account_action == "/account/login" and authorize_action == "/oauth/authorize/login"
    assert account["csrf_token"] != authorize["csrf_token"]
    credentials = {"username": "bob", "password": PASSWORD}
    swapped = {**authorize, **credentials, "csrf_token": account["csrf_token"]}
    assert b.post(authorize_action, swapped).status_code == 403
    swapped = {**account, **credentials, "csrf_token": authorize["csrf_token"]}
    assert b.post(account_action, swapped).status_code == 403
    assert sso.COOKIE not in b.jar
    # each with its own token signs in
    assert b.post(account_action, {**account, **credentials}).status_code == 303
    assert sso.COOKIE in b.jar
    r = b.post(authorize_action, {**authorize, **credentials})
    assert r.status_code == 302 and "code" in query(r.headers["location"])
