"""Revocation of access tokens: the database denylist (both databases), its in-process copy,
restarts, other instances, and the Redis feed on the shared server (under a unique prefix)."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from typing import Any

import pytest

from conftest import Harness
from gatepass.clock import FrozenClock
from gatepass.core.denylist import Revocation
from gatepass.core.jose import b64url_decode
from gatepass.sdk import DenylistUnavailable, RevokedToken, Verifier
from gatepass.sdk.denylist import RedisDenylist
from gatepass.storage.denylist import SqlDenylist
from servers import free_port, wait_until

MAX_LEEWAY = 600  # the largest leeway a verifier may use (README "Revocation")


def claims_of(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[1]))


def refresh(h: Harness, token: str) -> Any:
    return h.client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


def profile(h: Harness, token: str) -> int:
    return h.client.get("/api/profile", headers=h.bearer(token)).status_code


@pytest.fixture
def h(make_harness: Callable[..., Harness], database_url: str) -> Harness:
    harness = make_harness(clock=FrozenClock(), database_url=database_url)
    harness.create_user("bob")
    return harness


def test_reuse_refuses_every_access_token_of_the_family_at_once(h: Harness) -> None:
    login = h.login("bob").json()
    other = h.access_token("bob")  # another login of the same user is not touched
    first = refresh(h, login["refresh_token"]).json()
    second = refresh(h, first["refresh_token"]).json()
    for token in (login["access_token"], first["access_token"], second["access_token"]):
        assert profile(h, token) == 200  # and now cached by the verifier
    assert refresh(h, login["refresh_token"]).json()["error"] == "invalid_grant"
    for token in (login["access_token"], first["access_token"], second["access_token"]):
        r = h.client.get("/api/profile", headers=h.bearer(token))
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
        assert r.json()["error_description"] == "The access token was revoked."
    assert profile(h, other) == 200


def test_sql_denylist_contract(h: Harness) -> None:
    store = SqlDenylist(h.svc.sessions)
    now = h.svc.clock.now()
    h.run(store.add, Revocation("sub", "u", now + 100, now - 5), now=now)
    h.run(store.add, Revocation("sub", "u", now + 50, now - 1), now=now)  # widens not_before
    h.run(store.add, Revocation("jti", "j", now + 10), now=now)
    got = {(e.kind, e.value): e for e in h.run(store.active, now)}
    assert got[("sub", "u")] == Revocation("sub", "u", now + 100, now - 1)
    assert ("jti", "j") in got
    assert h.run(store.purge, now + 20) == 1
    assert [e.kind for e in h.run(store.active, now)] == ["sub"]


def test_a_restart_never_brings_a_revoked_token_back(
    make_harness: Callable[..., Harness], tmp_path: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    first = make_harness(database_url=url)
    first.create_user("bob")
    login = first.login("bob").json()
    sid = claims_of(login["access_token"])["sid"]
    from gatepass.oauth.revocation import end_login

    row = first.run(first.svc.logins.get, sid)
    assert first.run(end_login, first.svc, row, reason="test")
    assert profile(first, login["access_token"]) == 401
    first.client.__exit__(None, None, None)
    again = make_harness(database_url=url)  # a new process would do the same: load from the DB
    assert profile(again, login["access_token"]) == 401


def test_another_instance_on_the_same_database_picks_revocations_up(
    make_harness: Callable[..., Harness], tmp_path: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    a, b = make_harness(database_url=url), make_harness(database_url=url)
    a.create_user("bob")
    token = a.access_token("bob")
    assert profile(b, token) == 200
    c = claims_of(token)
    from gatepass.oauth.revocation import revoke_access_token

    a.run(revoke_access_token, a.svc, c["jti"], c["exp"])
    assert profile(a, token) == 401
    b.run(b.svc.denylist.poll)  # what the server's periodic task does each second (it may
    # have done it first: then this poll finds nothing new, and the token is refused all the same)
    assert profile(b, token) == 401


# -- Redis (the shared server, a prefix of the test's own) ----------------------------------


@pytest.fixture
def prefix() -> str:
    return "gptest-" + secrets.token_hex(4)


def _claims(jti: str) -> Any:
    from gatepass.core.access_token import AccessClaims

    return AccessClaims(
        sub="u", iss="i", aud=("a",), exp=2**40, iat=0, nbf=0, jti=jti,
        client_id="c", scope=frozenset(), roles=frozenset(), sid=None, raw={},
    )  # fmt: skip


def test_redis_denylist_publishes_to_every_follower_and_catches_up(
    redis_url: str, prefix: str
) -> None:
    a = RedisDenylist(redis_url, prefix=prefix, seed=lambda: [])  # as gatepass: seeds Redis
    b = RedisDenylist(redis_url, prefix=prefix)
    try:
        assert a.wait_ready(5) and b.wait_ready(5)
        a.add(Revocation("jti", "j1", 2**40))
        with pytest.raises(RevokedToken):
            a.check(_claims("j1"))  # the writer's own copy at once
        assert wait_until(lambda: b.local.revoked(_claims("j1")), timeout=5)
        late = RedisDenylist(redis_url, prefix=prefix)  # started after: reads the set
        try:
            assert late.wait_ready(5)
            with pytest.raises(RevokedToken):
                late.check(_claims("j1"))
            late.check(_claims("j2"))
        finally:
            late.close()
    finally:
        a.close()
        b.close()
        import redis

        r = redis.Redis.from_url(redis_url)
        r.delete(f"{prefix}:denylist")
        r.close()


def test_redis_denylist_fails_closed_when_redis_is_unreachable() -> None:
    d = RedisDenylist(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert not d.wait_ready(0.5)
        with pytest.raises(DenylistUnavailable):
            d.check(_claims("anything"))
        with pytest.raises(DenylistUnavailable):
            d.add(Revocation("jti", "x", 2**40))
    finally:
        d.close()


def test_server_with_redis_shares_revocations_with_an_sdk_verifier(
    make_harness: Callable[..., Harness], redis_url: str, prefix: str
) -> None:
    h = make_harness(redis_url=redis_url, redis_prefix=prefix)
    h.create_user("bob")
    login = h.login("bob").json()
    token = login["access_token"]
    jwks = h.client.get("/.well-known/jwks.json").json()
    sdk = RedisDenylist(redis_url, prefix=prefix)
    verifier = Verifier.from_jwks("http://testserver", jwks, audience="gatepass", denylist=sdk)
    try:
        assert sdk.wait_ready(5)
        assert verifier.verify(token).sub == claims_of(token)["sub"]
        seen = threading.Event()

        def watch() -> None:
            def revoked() -> bool:
                try:
                    verifier.verify(token)
                    return False
                except RevokedToken:
                    return True

            if wait_until(revoked, timeout=5, interval=0.001):
                seen.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        r = h.client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": login["refresh_token"]},
        )
        assert r.status_code == 200
        new = r.json()["refresh_token"]
        assert refresh(h, new).status_code == 200
        assert refresh(h, login["refresh_token"]).json()["error"] == "invalid_grant"  # reuse
        watcher.join()
        assert seen.is_set()
        assert profile(h, token) == 401
    finally:
        sdk.close()


def test_an_entry_whose_publication_failed_is_published_by_the_next_poll(
    make_harness: Callable[..., Harness], redis_url: str, prefix: str
) -> None:
    h = make_harness(redis_url=redis_url, redis_prefix=prefix)
    sdk = RedisDenylist(redis_url, prefix=prefix)
    try:
        assert sdk.wait_ready(5)
        lost = Revocation("jti", "lost-" + prefix, h.svc.clock.now() + 600)
        h.run(h.svc.denylist.store.add, lost, now=h.svc.clock.now())  # in the DB, never published
        assert not sdk.local.covers(lost)
        assert h.run(h.svc.denylist.poll) == 1  # what every instance does each second
        assert h.svc.denylist.local.covers(lost)
        assert wait_until(lambda: sdk.local.covers(lost), timeout=5)
        assert h.run(h.svc.denylist.poll) == 0  # nothing new the second time
    finally:
        sdk.close()


def test_a_revoked_token_stays_refused_by_a_verifier_with_the_largest_leeway(
    make_harness: Callable[..., Harness],
) -> None:
    """Entries outlive a token by the largest leeway any verifier may use, not the server's."""
    from gatepass.oauth.revocation import end_login, revoke_access_token
    from gatepass.sdk.denylist import LocalOnlyDenylist

    clock = FrozenClock()
    h = make_harness(clock=clock)  # the server's leeway: 30 s
    h.create_user("bob")
    by_jti, by_sid = h.access_token("bob"), h.access_token("bob")
    c = claims_of(by_jti)
    h.run(revoke_access_token, h.svc, c["jti"], c["exp"])
    assert h.run(end_login, h.svc, h.run(h.svc.logins.get, claims_of(by_sid)["sid"]), reason="t")
    jwks = h.client.get("/.well-known/jwks.json").json()
    lenient = Verifier.from_jwks(
        "http://testserver",
        jwks,
        audience="gatepass",
        leeway=MAX_LEEWAY,
        clock=clock.now,
        denylist=LocalOnlyDenylist(h.svc.denylist.local),
    )
    clock.advance(900 + MAX_LEEWAY - 1)  # past exp + the server's leeway, within the SDK's
    now = clock.now()
    h.svc.denylist.local.purge(now)  # what the server's upkeep does
    assert len(h.run(h.svc.denylist.store.active, now)) == 2  # and what a restart reloads
    for token in (by_jti, by_sid):
        with pytest.raises(RevokedToken):
            lenient.verify(token)
    with pytest.raises(ValueError, match="leeway"):
        Verifier.from_jwks("http://testserver", jwks, audience="gatepass", leeway=MAX_LEEWAY + 1)
    from gatepass.core.denylist import MAX_LEEWAY as documented

    assert documented == MAX_LEEWAY
