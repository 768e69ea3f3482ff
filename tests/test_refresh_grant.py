"""grant_type=refresh_token over HTTP, on SQLite and PostgreSQL: rotation, grace, reuse,
deadlines, client binding, scope narrowing (RFC 6749 §6, RFC 9700 §4.14)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from conftest import Harness
from gatepass.clock import FrozenClock
from gatepass.core.jose import b64url_decode


def claims(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[1]))


def refresh(h: Harness, token: str, **form: str) -> Any:
    return h.client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token, **form}
    )


@pytest.fixture
def h(make_harness: Callable[..., Harness], database_url: str) -> Harness:
    harness = make_harness(clock=FrozenClock(), database_url=database_url)
    harness.create_user("alice", roles=("admin",))
    harness.create_user("bob")
    return harness


def _events(h: Harness, type_: str) -> list[Any]:
    return h.run(h.svc.events.page, type_=type_)


def test_rotation_issues_new_tokens_and_consumes_the_old(h: Harness) -> None:
    first = h.login("bob").json()
    r = refresh(h, first["refresh_token"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "profile"
    assert body["refresh_token"] != first["refresh_token"]
    assert claims(body["access_token"])["sid"] == claims(first["access_token"])["sid"]
    h.clock.advance(1)
    assert refresh(h, body["refresh_token"]).status_code == 200
    meta = h.client.get("/.well-known/oauth-authorization-server").json()
    assert "refresh_token" in meta["grant_types_supported"]


def test_retry_within_grace_returns_the_same_child(h: Harness) -> None:
    t0 = h.login("bob").json()["refresh_token"]
    a = refresh(h, t0).json()
    h.clock.advance(3)
    b = refresh(h, t0).json()  # a second tab, or a retry after a lost answer
    assert a["refresh_token"] == b["refresh_token"]
    assert a["access_token"] != b["access_token"]
    # both tabs now hold t1; it rotates normally
    assert refresh(h, a["refresh_token"]).status_code == 200
    assert _events(h, "refresh_reuse") == []


def test_older_generation_within_grace_is_reuse_and_revokes_the_family(h: Harness) -> None:
    login = h.login("bob").json()
    t0 = login["refresh_token"]
    t1 = refresh(h, t0).json()["refresh_token"]
    t2 = refresh(h, t1).json()["refresh_token"]
    r = refresh(h, t0)  # generation 0 while generation 2 is current: never let it through
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert refresh(h, t2).status_code == 400  # the whole family is gone
    (event,) = _events(h, "refresh_reuse")
    assert event.sid == claims(login["access_token"])["sid"]
    assert event.user_id == claims(login["access_token"])["sub"]
    assert event.client_id == "gatepass" and event.ip and event.user_agent
    assert event.username == "bob"  # the console's "To whom" shows a name, not an id


def test_replay_after_grace_is_reuse(h: Harness) -> None:
    t0 = h.login("bob").json()["refresh_token"]
    t1 = refresh(h, t0).json()["refresh_token"]
    h.clock.advance(h.svc.settings.refresh_reuse_grace + 1)
    r = refresh(h, t0)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert refresh(h, t1).json()["error"] == "invalid_grant"
    assert len(_events(h, "refresh_reuse")) == 1
    row = h.run(h.svc.logins.get, claims(h.access_token("bob"))["sid"])
    assert row.revoked_at is None  # a new login is unaffected


def test_unknown_and_malformed_tokens_are_invalid_grant(h: Harness) -> None:
    for token in ("gpr_" + "A" * 43, "nope", "gpr_" + "x" * 300):
        r = refresh(h, token)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # no refresh_token at all is a malformed request, not a bad grant (RFC 6749 §5.2;
    # tests/test_missing_parameters.py)
    r = h.client.post("/oauth/token", data={"grant_type": "refresh_token"})
    assert r.json()["error"] == "invalid_request"


def test_idle_and_absolute_deadlines(make_harness: Callable[..., Harness]) -> None:
    clock = FrozenClock()
    h = make_harness(clock=clock, refresh_token_ttl=300, refresh_idle_ttl=100)
    h.create_user("bob")
    t = h.login("bob").json()["refresh_token"]
    for _ in range(2):  # each use moves the idle deadline
        clock.advance(90)
        r = refresh(h, t)
        assert r.status_code == 200, r.text
        t = r.json()["refresh_token"]
    clock.advance(101)  # idle for longer than the idle TTL
    assert refresh(h, t).json()["error"] == "invalid_grant"
    t = h.login("bob").json()["refresh_token"]
    for _ in range(3):
        clock.advance(99)
        t = refresh(h, t).json()["refresh_token"]
    clock.advance(4)  # 301 s after the login: past the absolute deadline, never idle
    assert refresh(h, t).json()["error"] == "invalid_grant"


def test_refresh_token_is_bound_to_its_client(h: Harness) -> None:
    cid, secret = h.create_client("one")
    other, other_secret = h.create_client("two")
    login = h.login("bob", client_id=cid, client_secret=secret or "").json()
    r = refresh(h, login["refresh_token"], client_id=other, client_secret=other_secret or "")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert refresh(h, login["refresh_token"]).json()["error"] == "invalid_grant"  # first party
    r = refresh(h, login["refresh_token"], client_id=cid, client_secret="gps_wrong")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # none of that consumed or revoked it
    r = refresh(h, login["refresh_token"], client_id=cid, client_secret=secret or "")
    assert r.status_code == 200 and claims(r.json()["access_token"])["client_id"] == cid


def test_scope_may_narrow_but_never_widen(h: Harness) -> None:
    cid, secret = h.create_client("cli", scopes=["profile", "videos:read"])
    auth = {"client_id": cid, "client_secret": secret or ""}
    t = h.login("bob", **auth).json()["refresh_token"]
    r = refresh(h, t, scope="profile admin", **auth)
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = refresh(h, t, scope="videos:read", **auth)
    assert r.status_code == 200 and r.json()["scope"] == "videos:read"
    assert claims(r.json()["access_token"])["scope"] == "videos:read"
    # the login keeps its scope: the next refresh may have all of it again
    r = refresh(h, r.json()["refresh_token"], **auth)
    assert r.json()["scope"] == "profile videos:read"


def test_disabled_grant_for_client(h: Harness) -> None:
    cid, secret = h.create_client("pw-only", grants=["password"])
    t = h.login("bob", client_id=cid, client_secret=secret or "").json()["refresh_token"]
    r = refresh(h, t, client_id=cid, client_secret=secret or "")
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


def test_only_digests_are_stored_and_child_is_not_stored_raw(h: Harness) -> None:
    from gatepass.core import opaque

    t0 = h.login("bob").json()["refresh_token"]
    t1 = refresh(h, t0).json()["refresh_token"]
    row = h.run(h.svc.logins.refresh_token, opaque.digest(t1))
    assert row is not None and row.generation == 1 and row.parent_digest == opaque.digest(t0)
    assert h.run(h.svc.logins.refresh_token, t1) is None
