"""The Redis revocation feed under bad data and lost data, against private redis-server processes
(and real `gatepass serve` where the finding needs it): malformed entries are ignored and never
stop the feed, a Redis that lost the denylist is never trusted as complete, expired entries
leave the SDK's copy while it stays connected, and losing the feed is logged."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from conftest import PASSWORD
from gatepass.core.denylist import Revocation
from gatepass.sdk import RevokedToken, Verifier
from gatepass.sdk.denylist import RedisDenylist
from servers import PrivateRedis, Server, create_user, wait_until

MALFORMED = [
    '[["jti"],"x",9999999999,null]',  # the finding: a kind that is a list
    '["jti",["x"],9999999999,null]',
    '["jti","x","9999999999",null]',
    '["jti","x",true,null]',
    '["jti","x",NaN,null]',
    '["sub","u",9999999999,{"a":1}]',
    '{"a":1,"b":2,"c":3,"d":4}',  # unpacks to four keys
    '["jti","x",9999999999]',
    "[" * 100_000,
    "\xff\xfe",
    "null",
]


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    r = PrivateRedis().start()
    try:
        yield r
    finally:
        r.kill()


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _claims_of(token: str) -> dict[str, object]:
    from gatepass.core.jose import b64url_decode

    return dict(json.loads(b64url_decode(token.split(".")[1])))


def _login(url: str, username: str) -> dict[str, str]:
    r = httpx.post(
        url + "/oauth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    r.raise_for_status()
    return dict(r.json())


def _profile(url: str, token: str) -> int:
    return httpx.get(url + "/api/profile", headers={"Authorization": f"Bearer {token}"}).status_code


def _sdk_claims(jti: str) -> object:
    from gatepass.core.access_token import AccessClaims

    return AccessClaims(
        sub="u", iss="i", aud=("a",), exp=2**40, iat=0, nbf=0, jti=jti,
        client_id="c", scope=frozenset(), roles=frozenset(), sid=None, raw={},
    )  # fmt: skip


# -- finding 2: one malformed entry never stops verification ---------------------------------


def test_a_malformed_revocation_message_never_stops_the_sdk_feed(
    private_redis: PrivateRedis,
) -> None:
    seeder = RedisDenylist(private_redis.url, seed=lambda: [])  # as gatepass: seeds Redis
    follower = RedisDenylist(private_redis.url)
    r = _redis(private_redis.url)
    try:
        assert seeder.wait_ready(10) and follower.wait_ready(10)
        for raw in MALFORMED:
            assert r.publish("gatepass:denylist:events", raw) == 2
        r.zadd("gatepass:denylist", {MALFORMED[0]: 9999999999})  # survives restarts
        seeder.add(Revocation("jti", "after", 2**40))  # published after the bad ones
        assert wait_until(lambda: follower.local.covers(Revocation("jti", "after", 2**40)))
        assert follower.ready and follower.reconnects == 1  # never lost the feed
        with pytest.raises(RevokedToken):
            follower.check(_sdk_claims("after"))  # type: ignore[arg-type]
        follower.check(_sdk_claims("x"))  # type: ignore[arg-type]

        late = RedisDenylist(private_redis.url)  # catches up past the bad member
        try:
            assert late.wait_ready(10)
            with pytest.raises(RevokedToken):
                late.check(_sdk_claims("after"))  # type: ignore[arg-type]
        finally:
            late.close()
    finally:
        r.close()
        follower.close()
        seeder.close()


def test_a_malformed_revocation_message_leaves_gatepass_verifying_and_ready(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    server = Server(tmp_path / "data", REDIS_URL=private_redis.url)
    r = _redis(private_redis.url)
    try:
        server.start()
        create_user(server.env, "bob", PASSWORD)
        kept, doomed = _login(server.url, "bob"), _login(server.url, "bob")
        for raw in MALFORMED:
            r.publish("gatepass:denylist:events", raw)
        r.zadd("gatepass:denylist", {MALFORMED[0]: 9999999999})
        # a well-formed entry behind the bad ones, seen only through the feed
        entry = Revocation("jti", str(_claims_of(doomed["access_token"])["jti"]), time.time() + 900)
        r.publish("gatepass:denylist:events", entry.encode())
        assert wait_until(lambda: _profile(server.url, doomed["access_token"]) == 401)
        assert _profile(server.url, kept["access_token"]) == 200
        assert httpx.get(server.url + "/readyz").status_code == 200

        server.stop()  # the bad member is still in Redis when it starts again
        server.start()
        assert _profile(server.url, kept["access_token"]) == 200
        assert httpx.get(server.url + "/readyz").json()["checks"]["denylist"] == "ok"
    finally:
        r.close()
        server.stop()


# -- finding 4: Redis's copy is trusted only when verifiably complete --------------------------


def test_sdk_verifiers_started_after_redis_lost_the_denylist_refuse_revoked_tokens(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    server = Server(tmp_path / "data", REDIS_URL=private_redis.url)
    r = _redis(private_redis.url)
    followers: list[RedisDenylist] = []
    try:
        server.start()
        create_user(server.env, "bob", PASSWORD)
        create_user(server.env, "carol", PASSWORD)
        bob, carol = _login(server.url, "bob"), _login(server.url, "carol")
        r_out = httpx.post(
            server.url + "/auth/logout-all",
            headers={"Authorization": f"Bearer {bob['access_token']}"},
        )
        assert r_out.status_code in (200, 204)
        assert _profile(server.url, bob["access_token"]) == 401
        jwks = httpx.get(server.url + "/.well-known/jwks.json").json()

        for lose in (lambda: r.delete(*r.keys("gatepass:denylist*")), r.flushdb):
            lose()  # an eviction, a DEL or a FLUSHDB while gatepass stays connected
            fresh = RedisDenylist(private_redis.url)
            followers.append(fresh)
            verifier = Verifier.from_jwks(server.url, jwks, audience="gatepass", denylist=fresh)
            assert fresh.wait_ready(20)  # only once gatepass has reseeded Redis
            with pytest.raises(RevokedToken):
                verifier.verify(bob["access_token"])
            assert verifier.verify(carol["access_token"]).sub
        assert _profile(server.url, bob["access_token"]) == 401
    finally:
        for f in followers:
            f.close()
        r.close()
        server.stop()


def test_a_follower_is_not_ready_while_redis_has_no_seed_marker(
    private_redis: PrivateRedis,
) -> None:
    r = _redis(private_redis.url)
    r.zadd("gatepass:denylist", {Revocation("jti", "j", 2**40).encode(): 2**40})  # no marker
    follower = RedisDenylist(private_redis.url)
    try:
        follower.add(Revocation("jti", "k", 2**40))  # a write of its own brings no marker
        assert not follower.wait_ready(1.5)
        seeder = RedisDenylist(private_redis.url, seed=lambda: [])
        try:
            assert follower.wait_ready(10) and seeder.ready
        finally:
            seeder.close()
    finally:
        follower.close()
        r.close()


def test_denylist_key_has_no_ttl_so_volatile_eviction_never_takes_it(
    private_redis: PrivateRedis,
) -> None:
    d = RedisDenylist(private_redis.url, seed=lambda: [Revocation("sid", "s", time.time() + 60)])
    r = _redis(private_redis.url)
    try:
        assert d.wait_ready(10)
        d.add(Revocation("jti", "j", time.time() + 60))
        assert r.keys("gatepass:denylist*") == [b"gatepass:denylist"]
        assert r.ttl("gatepass:denylist") == -1  # no expiry: volatile-* policies skip it
    finally:
        r.close()
        d.close()


# -- finding 6: expired entries leave the SDK's copy while it stays connected ------------------


def test_sdk_follower_drops_expired_entries_while_connected(private_redis: PrivateRedis) -> None:
    seeder = RedisDenylist(private_redis.url, seed=lambda: [])
    r = _redis(private_redis.url)
    now = [time.time()]
    follower: RedisDenylist | None = None
    try:
        assert seeder.wait_ready(10)
        soon = now[0] + 2
        pipe = r.pipeline()
        for i in range(20_000):
            pipe.zadd("gatepass:denylist", {Revocation("jti", f"j{i}", soon).encode(): soon})
        pipe.execute()
        follower = RedisDenylist(private_redis.url, clock=lambda: now[0])
        assert follower.wait_ready(10)
        assert len(follower.local) == 20_000
        now[0] = soon + 1  # they have all expired (Redis's TTL-less set is trimmed on writes)
        assert wait_until(lambda: len(follower.local) == 0, timeout=30)
        assert follower.ready and follower.reconnects == 1  # dropped while connected
    finally:
        if follower is not None:
            follower.close()
        seeder.close()
        r.close()


# -- finding 11: losing the feed is logged ---------------------------------------------------


def test_losing_the_denylist_feed_logs_a_warning(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gatepass.sdk.denylist")
    d = RedisDenylist(private_redis.url, seed=lambda: [])
    try:
        assert d.wait_ready(10)
        private_redis.kill()
        assert wait_until(lambda: not d.ready, timeout=20)
        assert wait_until(
            lambda: any("denylist feed lost" in m for m in caplog.messages), timeout=20
        )
    finally:
        d.close()
