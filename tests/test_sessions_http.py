"""Browser sessions over HTTP: the refresh cookie, cross-site refusals, logout, logout-all,
the user's sessions, password change (DESIGN "Browser sessions")."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from conftest import PASSWORD, Harness
from gatepass.core.jose import b64url_decode
from gatepass.server.refresh_cookie import SECURE
from gatepass.settings import ConfigError

COOKIE = SECURE.name

XRW = {"X-Requested-With": "fetch"}


def sid_of(token: str) -> str:
    return str(json.loads(b64url_decode(token.split(".")[1]))["sid"])


def set_cookie(r: Any) -> str:
    (header,) = [h for h in r.headers.get_list("set-cookie") if h.startswith(COOKIE + "=")]
    return header


def cookie_value(r: Any) -> str:
    return set_cookie(r).split(";", 1)[0].split("=", 1)[1]


def browser_login(h: Harness, user: str = "bob", password: str = PASSWORD, **headers: str) -> Any:
    h.client.cookies.clear()
    return h.client.post(
        "/auth/login", json={"username": user, "password": password}, headers={**XRW, **headers}
    )


def post_cookie(h: Harness, path: str, cookie: str | None, **headers: str) -> Any:
    h.client.cookies.clear()
    extra = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    return h.client.post(path, headers={**XRW, **extra, **headers})


def profile(h: Harness, token: str) -> int:
    return h.client.get("/api/profile", headers=h.bearer(token)).status_code


def test_login_puts_the_refresh_token_only_in_a_strict_cookie(gp: Harness) -> None:
    r = browser_login(gp)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and r.headers["cache-control"] == "no-store"
    header = set_cookie(r)
    attrs = [a.strip() for a in header.split(";")]
    assert attrs[0].startswith(f"{COOKIE}=gpr_")
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/auth"} <= set(attrs)
    assert "gpr_" not in r.text
    assert profile(gp, body["access_token"]) == 200


def test_refresh_rotates_the_cookie(gp: Harness) -> None:
    first = browser_login(gp)
    r = post_cookie(gp, "/auth/refresh", cookie_value(first))
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access_token", "token_type", "expires_in"}
    assert cookie_value(r) != cookie_value(first) and "gpr_" not in r.text
    assert sid_of(r.json()["access_token"]) == sid_of(first.json()["access_token"])
    again = post_cookie(gp, "/auth/refresh", cookie_value(r))
    assert again.status_code == 200
    missing = post_cookie(gp, "/auth/refresh", None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    assert "Max-Age=0" in set_cookie(missing)


def test_cookie_endpoints_refuse_cross_site_requests(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(allowed_origins="https://app.example")
    h.create_user("bob")
    login = browser_login(h)
    cookie = cookie_value(login)
    h.client.cookies.clear()
    no_header = h.client.post("/auth/refresh", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert no_header.status_code == 403 and no_header.json()["error"] == "invalid_request"
    evil = post_cookie(h, "/auth/refresh", cookie, Origin="https://evil.example")
    assert evil.status_code == 403
    assert "access-control-allow-origin" not in evil.headers
    r = browser_login(h, Origin="https://evil.example")
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert post_cookie(h, "/auth/logout", cookie, Origin="null").status_code == 403
    # none of that consumed the cookie; the configured origin may use it, with CORS
    ok = post_cookie(h, "/auth/refresh", cookie, Origin="https://app.example")
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert ok.headers["access-control-allow-credentials"] == "true"
    same = post_cookie(h, "/auth/refresh", cookie_value(ok), Origin="http://testserver")
    assert same.status_code == 200
    pre = h.client.options(
        "/auth/refresh",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 204
    assert "x-requested-with" in pre.headers["access-control-allow-headers"]
    bad = h.client.options("/auth/refresh", headers={"Origin": "https://evil.example"})
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers


def test_logout_ends_this_login_and_clears_the_cookie(gp: Harness) -> None:
    mine, other = browser_login(gp), browser_login(gp)
    r = post_cookie(gp, "/auth/logout", cookie_value(mine))
    assert r.status_code == 204
    assert "Max-Age=0" in set_cookie(r) and "Path=/auth" in set_cookie(r)
    assert profile(gp, mine.json()["access_token"]) == 401
    assert post_cookie(gp, "/auth/refresh", cookie_value(mine)).status_code == 400
    assert profile(gp, other.json()["access_token"]) == 200
    assert post_cookie(gp, "/auth/logout", None).status_code == 204  # nothing to end: fine


def test_logout_all_ends_every_login_but_not_the_next_one(gp: Harness) -> None:
    a, b = browser_login(gp), browser_login(gp)
    api = gp.login("bob").json()
    alice = gp.access_token("alice")
    r = gp.client.post("/auth/logout-all", headers=gp.bearer(a.json()["access_token"]))
    assert r.status_code == 204
    for token in (a.json()["access_token"], b.json()["access_token"], api["access_token"]):
        assert profile(gp, token) == 401
    assert post_cookie(gp, "/auth/refresh", cookie_value(b)).status_code == 400
    assert profile(gp, alice) == 200
    fresh = browser_login(gp)  # possibly within the same second as the revocation
    assert profile(gp, fresh.json()["access_token"]) == 200
    events = gp.run(gp.svc.events.page, type_="logout_all")
    assert len(events) == 1 and events[0].details["sessions"] == 3
    assert events[0].username == "bob"  # the console's "To whom" shows a name


def test_sessions_list_and_end_one(gp: Harness) -> None:
    a = browser_login(gp, **{"User-Agent": "tab-a"})
    b = browser_login(gp, **{"User-Agent": "tab-b"})
    token = a.json()["access_token"]
    r = gp.client.get("/auth/sessions", headers=gp.bearer(token))
    assert r.status_code == 200
    items = r.json()["sessions"]
    assert {s["user_agent"] for s in items} == {"tab-a", "tab-b"}
    for s in items:
        assert {"id", "created", "last_used", "client", "user_agent", "address"} <= set(s)
    assert [s["current"] for s in items] == [True, False]
    other = sid_of(b.json()["access_token"])
    alice_sid = sid_of(gp.access_token("alice"))
    assert (
        gp.client.delete(f"/auth/sessions/{alice_sid}", headers=gp.bearer(token)).status_code == 404
    )
    assert gp.client.delete(f"/auth/sessions/{other}", headers=gp.bearer(token)).status_code == 204
    assert profile(gp, b.json()["access_token"]) == 401
    assert profile(gp, token) == 200
    left = gp.client.get("/auth/sessions", headers=gp.bearer(token)).json()["sessions"]
    assert [s["id"] for s in left] == [sid_of(token)]
    assert gp.client.get("/auth/sessions").status_code == 401


def test_password_change_ends_other_logins_and_keeps_this_one(gp: Harness) -> None:
    mine, other = browser_login(gp), browser_login(gp)
    api = gp.login("bob").json()
    token = mine.json()["access_token"]

    def change(current: str, new: str) -> Any:
        return gp.client.post(
            "/auth/password",
            json={"current_password": current, "new_password": new},
            headers=gp.bearer(token),
        )

    assert change("wrong password", "a brand new passphrase").json()["error"] == "invalid_grant"
    assert change(PASSWORD, "short").status_code == 400
    assert profile(gp, other.json()["access_token"]) == 200  # refusals changed nothing
    assert change(PASSWORD, "a brand new passphrase").status_code == 204
    assert profile(gp, token) == 200
    assert post_cookie(gp, "/auth/refresh", cookie_value(mine)).status_code == 200
    for t in (other.json()["access_token"], api["access_token"]):
        assert profile(gp, t) == 401
    assert post_cookie(gp, "/auth/refresh", cookie_value(other)).status_code == 400
    assert gp.login("bob").status_code == 400
    assert gp.login("bob", "a brand new passphrase").status_code == 200
    (event,) = gp.run(gp.svc.events.page, type_="password_change")
    assert event.details["sessions"] == 2 and event.username == "bob"


def _cookie_header(r: Any, name: str) -> list[str]:
    (header,) = [h for h in r.headers.get_list("set-cookie") if h.startswith(name + "=")]
    return [a.strip() for a in header.split(";")]


def test_refresh_cookie_default_form_is_secure_prefixed_on_auth_path(gp: Harness) -> None:
    attrs = _cookie_header(browser_login(gp), "__Secure-gp_refresh")
    assert {"Path=/auth", "HttpOnly", "Secure", "SameSite=Strict"} <= set(attrs)
    assert not any(a.lower().startswith("domain=") for a in attrs)


def test_refresh_cookie_host_prefixed_form_guards_against_cookie_tossing(
    make_harness: Callable[..., Harness],
) -> None:
    """With GATEPASS_REFRESH_COOKIE_HOST_PREFIX the cookie is ``__Host-``: a sibling subdomain
    can neither set nor shadow it. The browser requires Path=/, Secure and no Domain for it."""
    h = make_harness(refresh_cookie_host_prefix=True)
    h.create_user("bob")
    login = browser_login(h)
    assert not [c for c in login.headers.get_list("set-cookie") if c.startswith("__Secure-")]
    attrs = _cookie_header(login, "__Host-gp_refresh")
    assert {"Path=/", "HttpOnly", "Secure", "SameSite=Strict"} <= set(attrs)
    assert not any(a.lower().startswith("domain=") for a in attrs)
    token = attrs[0].split("=", 1)[1]

    def post(path: str, name: str, value: str) -> Any:
        h.client.cookies.clear()
        return h.client.post(path, headers={**XRW, "Cookie": f"{name}={value}"})

    # a cookie of the other name (what a sibling subdomain could toss) is not read
    tossed = post("/auth/refresh", "__Secure-gp_refresh", token)
    assert tossed.status_code == 400 and tossed.json()["error"] == "invalid_grant"
    assert "Path=/" in _cookie_header(tossed, "__Host-gp_refresh")
    r = post("/auth/refresh", "__Host-gp_refresh", token)
    assert r.status_code == 200, r.text
    rotated = _cookie_header(r, "__Host-gp_refresh")[0].split("=", 1)[1]
    assert rotated != token
    out = post("/auth/logout", "__Host-gp_refresh", rotated)
    cleared = _cookie_header(out, "__Host-gp_refresh")
    assert out.status_code == 204 and "Max-Age=0" in cleared and "Path=/" in cleared
    assert profile(h, r.json()["access_token"]) == 401


def test_refresh_cookie_setting_is_checked(make_settings: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError, match="GATEPASS_REFRESH_COOKIE_HOST_PREFIX"):
        make_settings(refresh_cookie_host_prefix="sometimes")
