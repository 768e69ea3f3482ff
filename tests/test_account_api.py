"""The signed-in user's account API: profile, sessions with browser, OS and "this device",
"sign out everywhere else", and the account's security activity in plain words. No id in any
request reaches another user's account."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from conftest import PASSWORD, Harness
from gatepass.clock import FrozenClock

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
XSS_UA = '"><img src=x onerror=alert(1)><script>alert(2)</script>'


def _login(h: Harness, name: str, ua: str, at: str = "203.0.113.5") -> dict[str, Any]:
    r = h.at(at).post(
        "/oauth/token",
        data={"grant_type": "password", "username": name, "password": PASSWORD},
        headers={"User-Agent": ua},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _sessions(h: Harness, token: str) -> list[dict[str, Any]]:
    r = h.client.get("/auth/sessions", headers=h.bearer(token))
    assert r.status_code == 200, r.text
    return list(r.json()["sessions"])


def _refresh(h: Harness, token: str) -> Any:
    return h.client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


# -- profile -------------------------------------------------------------------------------------
def test_profile_read_and_change(gp: Harness) -> None:
    token = gp.access_token("bob")
    r = gp.client.get("/auth/profile", headers=gp.bearer(token))
    assert r.status_code == 200
    assert r.json() == {
        "sub": r.json()["sub"],
        "username": "bob",
        "name": None,
        "email": None,
        "email_verified": False,
    }
    bob_id = r.json()["sub"]
    gp.run(gp.svc.users.update, bob_id, email="bob@example.com", email_verified=True)
    r = gp.client.patch("/auth/profile", json={"name": "Bob Builder"}, headers=gp.bearer(token))
    assert r.status_code == 200 and r.json()["name"] == "Bob Builder"
    assert r.json()["email_verified"] is True  # the address did not change
    r = gp.client.patch(
        "/auth/profile", json={"email": "bob@example.org"}, headers=gp.bearer(token)
    )
    assert r.json()["email"] == "bob@example.org" and r.json()["email_verified"] is False
    r = gp.client.patch("/auth/profile", json={"name": None}, headers=gp.bearer(token))
    assert r.json()["name"] is None
    events = gp.run(gp.svc.events.newest, limit=10, type_="profile_changed")
    assert [e.details["fields"] for e in events] == [["name"], ["email"], ["name"]]
    assert "bob@example.org" not in json.dumps([e.details for e in events])


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-address"},
        {"email": "a" * 64 + "@" + "b" * 186 + ".com"},  # 255 characters
        {"email": "bob@example.com\r\nBcc: x@example.com"},
        {"email": 5},
        {"name": ""},
        {"name": "a\x00b"},
        {"name": "line\nbreak"},
        {"name": "x" * 201},
        {"name": ["x"]},
        {"username": "mallory"},  # not changeable here
        {"email_verified": True},
        {},
    ],
)
def test_profile_bad_input_is_400(gp: Harness, body: dict[str, Any]) -> None:
    token = gp.access_token("bob")
    r = gp.client.patch("/auth/profile", json=body, headers=gp.bearer(token))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
    assert gp.client.get("/auth/profile", headers=gp.bearer(token)).json()["username"] == "bob"


def test_only_a_first_party_app_may_change_the_profile(gp: Harness) -> None:
    cid, _ = gp.create_client("someone else's app", public=True, scopes=["profile"])
    token = gp.access_token("bob", client_id=cid)
    assert gp.client.get("/auth/profile", headers=gp.bearer(token)).status_code == 200
    r = gp.client.patch(
        "/auth/profile", json={"email": "attacker@example.com"}, headers=gp.bearer(token)
    )
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    first, _ = gp.create_client("our app", public=True, scopes=["profile"], first_party=True)
    mine = gp.access_token("bob", client_id=first)
    r = gp.client.patch("/auth/profile", json={"name": "Bob"}, headers=gp.bearer(mine))
    assert r.status_code == 200
    for method in ("GET", "PATCH"):
        assert gp.client.request(method, "/auth/profile").status_code == 401


# -- sessions ------------------------------------------------------------------------------------
def test_sessions_show_browser_os_and_this_device(gp: Harness) -> None:
    laptop = _login(gp, "bob", FIREFOX_LINUX)
    phone = _login(gp, "bob", SAFARI_IOS)
    odd = _login(gp, "bob", XSS_UA)
    listed = {s["id"]: s for s in _sessions(gp, phone["access_token"])}
    assert len(listed) == 3
    by_ua = {s["user_agent"]: s for s in listed.values()}
    assert (by_ua[FIREFOX_LINUX]["browser"], by_ua[FIREFOX_LINUX]["os"]) == ("Firefox", "Linux")
    assert (by_ua[SAFARI_IOS]["browser"], by_ua[SAFARI_IOS]["os"]) == ("Safari", "iOS")
    assert (by_ua[XSS_UA]["browser"], by_ua[XSS_UA]["os"]) == ("unknown", "unknown")
    assert [s["current"] for s in listed.values()].count(True) == 1
    assert by_ua[SAFARI_IOS]["current"] is True
    assert by_ua[FIREFOX_LINUX]["address"] == "203.0.113.5"
    assert laptop and odd


def test_end_others_keeps_only_this_login(gp: Harness) -> None:
    mine = _login(gp, "bob", FIREFOX_LINUX)
    others = [_login(gp, "bob", SAFARI_IOS) for _ in range(2)]
    alice = _login(gp, "alice", FIREFOX_LINUX)
    r = gp.client.post("/auth/sessions/end-others", headers=gp.bearer(mine["access_token"]))
    assert r.status_code == 200 and r.json() == {"revoked_sessions": 2}
    for o in others:
        assert (
            gp.client.get("/api/profile", headers=gp.bearer(o["access_token"])).status_code == 401
        )
        assert _refresh(gp, o["refresh_token"]).json()["error"] == "invalid_grant"
    assert gp.client.get("/api/profile", headers=gp.bearer(mine["access_token"])).status_code == 200
    assert _refresh(gp, mine["refresh_token"]).status_code == 200
    assert _refresh(gp, alice["refresh_token"]).status_code == 200  # nobody else's
    (event,) = gp.run(gp.svc.events.newest, limit=5, type_="logout_others")
    assert event.details["sessions"] == 2 and event.username == "bob"
    assert gp.client.post("/auth/sessions/end-others").status_code == 401


def test_no_id_reaches_another_users_sessions(gp: Harness) -> None:
    bob = _login(gp, "bob", FIREFOX_LINUX)
    alice = _login(gp, "alice", SAFARI_IOS)
    alice_sid = _sessions(gp, alice["access_token"])[0]["id"]
    bob_token = gp.bearer(bob["access_token"])
    assert [s["id"] for s in _sessions(gp, bob["access_token"])] != [alice_sid]
    r = gp.client.delete(f"/auth/sessions/{alice_sid}", headers=bob_token)
    assert r.status_code == 404
    for path in (
        f"/auth/sessions?user_id={alice_sid}",
        f"/auth/activity?user_id={alice_sid}",
        f"/auth/profile?sub={alice_sid}",
    ):
        body = gp.client.get(path, headers=bob_token).text
        assert alice_sid not in body and "alice" not in body
    r = gp.client.patch("/auth/profile", json={"sub": alice_sid, "name": "x"}, headers=bob_token)
    assert r.status_code == 400
    assert _refresh(gp, alice["refresh_token"]).status_code == 200  # alice is still signed in


# -- activity ------------------------------------------------------------------------------------
def test_activity_in_plain_words(make_harness: Callable[..., Harness]) -> None:
    clock = FrozenClock()
    h = make_harness(clock=clock)
    h.create_user("alice", roles=("admin",))
    h.create_user("bob")
    first = _login(h, "bob", FIREFOX_LINUX, at="198.51.100.7")
    # a refresh token replayed after the grace window: the login ends
    rotated = _refresh(h, first["refresh_token"]).json()
    clock.advance(h.svc.settings.refresh_reuse_grace + 1)
    assert _refresh(h, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert rotated
    _login(h, "bob", SAFARI_IOS, at="192.0.2.44")  # a new device
    for _ in range(h.svc.settings.login_account_threshold + 1):
        h.at("192.0.2.99").post(
            "/oauth/token",
            data={"grant_type": "password", "username": "bob", "password": "wrong"},
        )
    mine = _login(h, "bob", FIREFOX_LINUX, at="198.51.100.7")
    r = h.client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        headers=h.bearer(mine["access_token"]),
    )
    assert r.status_code == 204, r.text
    admin = h.admin_token()
    bob_id = h.run(h.svc.users.by_name, "bob").id
    h.client.patch(f"/admin/users/{bob_id}", json={"roles": ["editor"]}, headers=h.bearer(admin))

    r = h.client.get("/auth/activity", headers=h.bearer(mine["access_token"]))
    assert r.status_code == 200, r.text
    items = r.json()["events"]
    texts = [e["text"] for e in items]
    assert texts[0] == "An administrator changed your roles."
    assert "Your password was changed, and your other sessions were signed out." in texts
    assert "A stolen refresh token was used; we ended that session." in texts
    assert "Sign-ins to your account were paused after several failed attempts." in texts
    assert "You signed in from a new device or network." in texts
    assert "You signed in." in texts
    sign_ins = [e for e in items if e["type"] == "sign_in"]
    assert [e["new_device"] for e in sign_ins] == [False, True, False]
    assert sign_ins[1]["browser"] == "Safari" and sign_ins[1]["os"] == "iOS"
    assert all("details" not in e for e in items)  # not who the administrator was
    assert "alice" not in r.text
    # alice's own sign-ins are not bob's activity
    assert len(sign_ins) == 3


def test_activity_pages_and_keeps_to_ninety_days(make_harness: Callable[..., Harness]) -> None:
    clock = FrozenClock()
    h = make_harness(clock=clock)
    h.create_user("bob")
    _login(h, "bob", FIREFOX_LINUX)
    clock.advance(91 * 86400)
    tokens = [_login(h, "bob", FIREFOX_LINUX)["access_token"] for _ in range(5)]
    seen: list[int] = []
    url = "/auth/activity?limit=2"
    while url:
        r = h.client.get(url, headers=h.bearer(tokens[-1]))
        assert r.status_code == 200, r.text
        seen += [e["id"] for e in r.json()["events"]]
        nxt = r.json()["next"]
        url = f"/auth/activity?limit=2&cursor={nxt}" if nxt else ""
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)  # not the 91-day-old one
    for bad in ("limit=0", "limit=201", "cursor=%%%", "cursor=WyJ4Il0", "cursor=" + "A" * 600):
        r = h.client.get(f"/auth/activity?{bad}", headers=h.bearer(tokens[-1]))
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", bad
    assert h.client.get("/auth/activity").status_code == 401
