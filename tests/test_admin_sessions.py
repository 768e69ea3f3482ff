"""Administration of logins (POST /admin/users/{id}/revoke, GET .../sessions, GET /admin/events),
the `gatepass sessions` and `gatepass db purge` commands, and the purge itself on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import Harness
from gatepass.clock import FrozenClock
from gatepass.core.jose import b64url_decode
from gatepass.storage.models import LoginSession, RefreshToken
from gatepass.storage.purge import purge


def sub_sid(token: str) -> tuple[str, str]:
    c = json.loads(b64url_decode(token.split(".")[1]))
    return c["sub"], c["sid"]


def profile(h: Harness, token: str) -> int:
    return h.client.get("/api/profile", headers=h.bearer(token)).status_code


def test_admin_revoke_ends_every_login_of_the_user(gp: Harness) -> None:
    admin = gp.admin_token()
    bob = [gp.login("bob").json() for _ in range(2)]
    bob_id, _ = sub_sid(bob[0]["access_token"])
    listed = gp.client.get(f"/admin/users/{bob_id}/sessions", headers=gp.bearer(admin))
    assert len(listed.json()["sessions"]) == 2
    assert (
        gp.client.post(
            f"/admin/users/{bob_id}/revoke", headers=gp.bearer(bob[0]["access_token"])
        ).status_code
        == 403
    )
    r = gp.client.post(f"/admin/users/{bob_id}/revoke", headers=gp.bearer(admin))
    assert r.status_code == 200 and r.json() == {"revoked_sessions": 2}
    for b in bob:
        assert profile(gp, b["access_token"]) == 401
        refresh = {"grant_type": "refresh_token", "refresh_token": b["refresh_token"]}
        assert gp.client.post("/oauth/token", data=refresh).json()["error"] == "invalid_grant"
    assert profile(gp, admin) == 200
    listed = gp.client.get(f"/admin/users/{bob_id}/sessions", headers=gp.bearer(admin))
    assert listed.json()["sessions"] == []
    assert gp.client.post("/admin/users/nobody/revoke", headers=gp.bearer(admin)).status_code == 404
    events = gp.client.get("/admin/events?type=forced_logout", headers=gp.bearer(admin)).json()
    (event,) = events["events"]
    assert event["user_id"] == bob_id and event["details"]["sessions"] == 2
    assert event["details"]["by"] == sub_sid(admin)[0]
    assert profile(gp, gp.access_token("bob")) == 200  # a later login works


def test_events_are_paginated(gp: Harness) -> None:
    admin = gp.admin_token()
    for _ in range(3):
        gp.client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": "gpr_" + "x" * 43},
        )
        t = gp.login("bob").json()
        gp.client.post("/auth/logout-all", headers=gp.bearer(t["access_token"]))
    # newest first, a cursor to the next page
    page = gp.client.get("/admin/events?limit=2&type=logout_all", headers=gp.bearer(admin)).json()
    assert len(page["events"]) == 2 and isinstance(page["next"], str)
    ids = [e["id"] for e in page["events"]]
    assert ids == sorted(ids, reverse=True)
    more = f"/admin/events?limit=2&type=logout_all&cursor={page['next']}"  # sign_ins between
    rest = gp.client.get(more, headers=gp.bearer(admin)).json()
    assert len(rest["events"]) == 1 and rest["next"] is None
    assert rest["events"][0]["id"] < ids[-1]
    # the older form: ?after=ID, oldest first, next the last id of a full page
    old = gp.client.get("/admin/events?after=0&limit=2&type=logout_all", headers=gp.bearer(admin))
    first = old.json()
    assert [e["id"] for e in first["events"]] == sorted(ids + [rest["events"][0]["id"]])[:2]
    assert first["next"] == first["events"][-1]["id"]
    after = f"/admin/events?limit=2&type=logout_all&after={first['next']}"
    last = gp.client.get(after, headers=gp.bearer(admin)).json()
    assert len(last["events"]) == 1 and last["next"] is None


def test_purge_deletes_only_what_is_dead(
    make_harness: Callable[..., Harness], database_url: str
) -> None:
    clock = FrozenClock()
    h = make_harness(
        clock=clock, database_url=database_url, refresh_token_ttl=3600, refresh_idle_ttl=600
    )
    h.create_user("bob")
    old = h.login("bob").json()  # will expire
    t = old["refresh_token"]
    for _ in range(3):  # leave used tokens behind
        t = h.client.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": t}
        ).json()["refresh_token"]
    clock.advance(3000)
    live = h.login("bob").json()
    revoked = h.login("bob").json()
    h.client.delete(
        f"/auth/sessions/{sub_sid(revoked['access_token'])[1]}",
        headers=h.bearer(live["access_token"]),
    )
    clock.advance(1600)  # every login so far is idle-dead, the denylist entry past coverage
    # (access-token TTL 900 + the largest leeway 600 + a 60 s margin)
    fresh = h.login("bob").json()
    nxt = h.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]},
    )
    assert nxt.status_code == 200
    done = h.run(purge, h.svc.sessions, clock.now(), used_retention=3600, revoked_retention=60)
    assert done.counts["login_sessions"] == 3 and done.counts["denylist"] == 1
    assert done.counts["refresh_tokens"] >= 4

    async def rows() -> tuple[list[Any], list[Any]]:
        from sqlalchemy import select

        async with h.svc.sessions() as s:
            fams = list((await s.execute(select(LoginSession))).scalars())
            toks = list((await s.execute(select(RefreshToken))).scalars())
        return fams, toks

    fams, toks = h.run(rows)
    assert [f.id for f in fams] == [sub_sid(fresh["access_token"])[1]]
    assert len(toks) == 2  # the used parent (still needed for reuse detection) and its child
    again = h.run(purge, h.svc.sessions, clock.now())
    assert again.total == 0


def test_purge_keeps_a_used_token_for_the_retention_after_its_use_not_its_issue(
    make_harness: Callable[..., Harness], database_url: str
) -> None:
    """Used tokens are found through ``issued_at`` (``used_at`` has no index): one issued long
    before it was used is still kept ``used_retention`` after the use (until then a replay would
    count as reuse); then it goes, and its child stays and still refreshes."""
    clock = FrozenClock()
    h = make_harness(
        clock=clock, database_url=database_url, refresh_token_ttl=86400, refresh_idle_ttl=86400
    )
    h.create_user("bob")
    first = h.login("bob").json()["refresh_token"]
    clock.advance(7200)  # issued two hours ago, used now
    r = h.client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first})
    assert r.status_code == 200

    async def tokens() -> int:
        from sqlalchemy import func, select

        async with h.svc.sessions() as s:
            return int((await s.execute(select(func.count()).select_from(RefreshToken))).scalar())

    clock.advance(3000)  # used 3,000 s ago: kept
    done = h.run(purge, h.svc.sessions, clock.now(), used_retention=3600)
    assert done.counts["refresh_tokens"] == 0 and h.run(tokens) == 2
    clock.advance(700)  # used 3,700 s ago: gone
    done = h.run(purge, h.svc.sessions, clock.now(), used_retention=3600)
    assert done.counts["refresh_tokens"] == 1 and h.run(tokens) == 1
    replay = {"grant_type": "refresh_token", "refresh_token": first}
    assert h.client.post("/oauth/token", data=replay).json()["error"] == "invalid_grant"
    child = {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]}
    assert h.client.post("/oauth/token", data=child).status_code == 200  # not taken for reuse


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(__import__("os").environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GATEPASS_SECRET_KEY", "test-master-secret-0123456789abcdef")
    monkeypatch.setenv("GATEPASS_ISSUER", "http://testserver")
    return tmp_path / "cli-data"


def test_cli_sessions_list_revoke_and_purge(
    make_harness: Callable[..., Harness], cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gatepass.cli import main

    h = make_harness(data_dir=cli_env)
    h.create_user("bob")
    a, b = h.login("bob").json(), h.login("bob").json()
    _, sid_a = sub_sid(a["access_token"])
    capsys.readouterr()
    assert main(["sessions", "list", "bob", "--json", "--data-dir", str(cli_env)]) == 0
    assert {s["id"] for s in json.loads(capsys.readouterr().out)} == {
        sid_a,
        sub_sid(b["access_token"])[1],
    }
    assert main(["sessions", "list", "bob", "--data-dir", str(cli_env)]) == 0
    assert sid_a in capsys.readouterr().out
    assert main(["sessions", "revoke", sid_a, "--json", "--data-dir", str(cli_env)]) == 0
    assert json.loads(capsys.readouterr().out)["revoked_sessions"] == 1
    h.run(h.svc.denylist.poll)  # what the running server does each second
    assert profile(h, a["access_token"]) == 401 and profile(h, b["access_token"]) == 200
    assert main(["sessions", "revoke", "bob", "--data-dir", str(cli_env)]) == 0
    assert "ended 1 login(s) of bob" in capsys.readouterr().out
    h.run(h.svc.denylist.poll)
    assert profile(h, b["access_token"]) == 401
    assert main(["sessions", "revoke", "nobody", "--data-dir", str(cli_env)]) == 1
    capsys.readouterr()
    assert main(["db", "purge", "--data-dir", str(cli_env)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("purged ") and "purging" in captured.err
    assert main(["db", "purge", "--json", "--data-dir", str(cli_env)]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {
        "refresh_tokens",
        "login_sessions",
        "opaque_tokens",
        "denylist",
        "alert_outbox",
        "dpop_proofs_seen",
        "login_throttle",
        "security_events",
        "authorization_codes",
    }


def test_purge_forgets_failed_login_counters_after_their_window_and_old_events(
    make_harness: Callable[..., Harness], database_url: str
) -> None:
    """Issue 9, finding 7: guesses at any name (known or not) left a counter row for ever, and
    security events were never deleted."""
    from sqlalchemy import func, select

    from gatepass.storage.models import LoginThrottle, SecurityEvent

    clock = FrozenClock(1_800_000_000)
    h = make_harness(
        clock=clock, database_url=database_url, login_window=600, login_account_threshold=2
    )
    h.create_user("bob")
    for i in range(50):
        assert h.login(f"nobody-{i}", "wrong password", at=f"203.0.113.{i}").status_code == 400
    for _ in range(3):  # bob's counter from this address locks: kept while the lock means it
        h.login("bob", "wrong password", at="198.51.100.7")
    h.run(h.svc.events.record, "refresh_reuse", now=clock.now() - 91 * 86400)

    async def count(model: Any) -> int:
        async with h.svc.sessions() as s:
            return int((await s.execute(select(func.count()).select_from(model))).scalar_one())

    week = 7 * 86400.0
    assert h.run(count, LoginThrottle) == 50 * 3 + 3  # acct_ip, acct, ip for each name
    done = h.run(purge, h.svc.sessions, clock.now(), event_retention=90 * 86400)
    assert done.counts["login_throttle"] == 0 and done.counts["security_events"] == 1
    assert h.run(count, SecurityEvent) == 1  # bob's lockout, minutes old
    clock.advance(601)  # the guesses' window is over; bob's lock (30 s) and its memory are not
    done = h.run(purge, h.svc.sessions, clock.now(), batch=7)
    assert done.counts["login_throttle"] == 50 * 3 + 2  # all but bob's account-at-address row
    clock.advance(30)  # now that is over too
    assert h.run(purge, h.svc.sessions, clock.now()).counts["login_throttle"] == 1
    assert h.run(count, LoginThrottle) == 0
    assert h.login("bob", at="198.51.100.7").status_code == 200
    clock.advance(90 * 86400 + week)
    done = h.run(purge, h.svc.sessions, clock.now(), event_retention=90 * 86400)
    # bob's lockout and his sign-in (a sign_in event, for the alerts) are both past retention
    assert done.counts["security_events"] == 2 and h.run(count, SecurityEvent) == 0
