"""Fault tests against real `gatepass serve` processes on free loopback ports: a refresh storm,
replay after the grace window, kill -9 under load, two instances sharing PostgreSQL and Redis
with an SDK verifier in a third process, and a private redis-server killed mid-test. Every
process is started here and stopped by its pid."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import PASSWORD
from gatepass.core import opaque
from gatepass.core.jose import b64url_decode
from gatepass.sdk import DenylistUnavailable, RevokedToken, Verifier
from gatepass.sdk.denylist import RedisDenylist
from servers import PrivateRedis, Server, cli, create_user, running, wait_until

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def claims(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[1]))


def login(url: str, user: str = "bob") -> dict[str, Any]:
    r = httpx.post(
        url + "/oauth/token",
        data={"grant_type": "password", "username": user, "password": PASSWORD},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def refresh(client: httpx.Client, url: str, token: str) -> httpx.Response:
    return client.post(
        url + "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


def profile(url: str, token: str) -> int:
    r = httpx.get(url + "/api/profile", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return r.status_code


def end_session(url: str, token: str, sid: str) -> int:
    r = httpx.delete(
        f"{url}/auth/sessions/{sid}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return r.status_code


def family_rows(env: dict[str, str], digests: set[str]) -> dict[str, tuple[str, int]]:
    """sid and generation of each stored refresh token, read straight from the database."""
    from gatepass.settings import load_settings
    from gatepass.storage import db
    from gatepass.storage.logins import Logins

    settings = load_settings(
        data_dir=env["GATEPASS_DATA_DIR"],
        database_url=env.get("GATEPASS_DATABASE_URL") or None,
        secret_key=env["GATEPASS_SECRET_KEY"],
    )

    async def read() -> dict[str, tuple[str, int]]:
        engine = db.make_engine(settings)
        rows = await db.open_token_rows(settings)
        try:
            logins = Logins(db.sessionmaker(engine), rows)
            out = {}
            for d in digests:
                row = await logins.refresh_token(d)
                if row is not None:
                    out[d] = (row.sid, row.generation)
            return out
        finally:
            await rows.close()
            await engine.dispose()

    return asyncio.run(read())


def _storm(url: str, token: str, threads: int, rounds: int) -> list[list[httpx.Response]]:
    """``threads`` clients (tabs sharing one cookie) refresh the token they share at once; each
    round starts from the token the previous round handed out."""
    rounds_out: list[list[httpx.Response]] = []
    held = token
    clients = [httpx.Client(timeout=60) for _ in range(threads)]
    try:
        for _ in range(rounds):
            results: list[httpx.Response] = []
            lock = threading.Lock()
            barrier = threading.Barrier(threads)

            def one(c: httpx.Client, presented: str) -> None:
                barrier.wait()
                r = refresh(c, url, presented)
                with lock:
                    results.append(r)

            workers = [threading.Thread(target=one, args=(c, held)) for c in clients]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            rounds_out.append(results)
            ok = [r for r in results if r.status_code == 200]
            if not ok:
                break
            held = ok[0].json()["refresh_token"]
    finally:
        for c in clients:
            c.close()
    return rounds_out


def test_refresh_storm(tmp_path: Path, database_url: str) -> None:
    settings = {} if database_url.startswith("sqlite") else {"DATABASE_URL": database_url}
    server = Server(tmp_path / "data", **settings)
    with running(server):
        create_user(server.env, "bob", PASSWORD)
        first = login(server.url)
        sid = claims(first["access_token"])["sid"]
        rounds = _storm(server.url, first["refresh_token"], threads=32, rounds=3)
        results = [r for rnd in rounds for r in rnd]
        assert len(results) == 96
        statuses = [r.status_code for r in results]
        assert set(statuses) <= {200, 400}, statuses  # never a 5xx
        refused = [r.json()["error"] for r in results if r.status_code == 400]
        assert set(refused) <= {"invalid_grant"}
        # within the grace window, every tab of a round gets the same child: nobody logged out
        for rnd in rounds:
            assert [r.status_code for r in rnd] == [200] * 32
            assert len({r.json()["refresh_token"] for r in rnd}) == 1
        ok = [r.json() for r in results]
        # every token handed out belongs to the one family
        assert {claims(b["access_token"])["sid"] for b in ok} == {sid}
        handed = {b["refresh_token"] for b in ok}
        rows = family_rows(server.env, {opaque.digest(t) for t in handed})
        assert len(rows) == len(handed) == 3 and {s for s, _ in rows.values()} == {sid}
        assert sorted(g for _, g in rows.values()) == [1, 2, 3]  # one child per generation
        # revoking the family kills every one of them
        latest = ok[-1]["access_token"]
        assert end_session(server.url, latest, sid) == 204
        with httpx.Client(timeout=30) as c:
            for b in ok:
                assert profile(server.url, b["access_token"]) == 401
            for t in handed | {first["refresh_token"]}:
                assert refresh(c, server.url, t).json()["error"] == "invalid_grant"


def test_storm_of_old_generations_is_reuse_never_a_5xx(tmp_path: Path) -> None:
    """Tabs that fall behind present older generations while others rotate on: each such
    presentation is reuse, so the family ends; the answers are still only 200 or invalid_grant
    and nothing older than the current token is ever let through."""
    server = Server(tmp_path / "data")
    with running(server):
        create_user(server.env, "bob", PASSWORD)
        first = login(server.url)
        results: list[httpx.Response] = []
        lock = threading.Lock()
        barrier = threading.Barrier(32)

        def tab() -> None:
            held = first["refresh_token"]
            with httpx.Client(timeout=60) as c:
                barrier.wait()
                for _ in range(5):
                    r = refresh(c, server.url, held)
                    with lock:
                        results.append(r)
                    if r.status_code != 200:
                        return
                    held = r.json()["refresh_token"]

        workers = [threading.Thread(target=tab) for _ in range(32)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert {r.status_code for r in results} <= {200, 400}
        assert {r.json()["error"] for r in results if r.status_code == 400} <= {"invalid_grant"}
        ok = [r.json() for r in results if r.status_code == 200]
        handed = {b["refresh_token"] for b in ok}
        rows = family_rows(server.env, {opaque.digest(t) for t in handed})
        gens = sorted(g for _, g in rows.values())
        assert gens == list(range(1, len(handed) + 1))  # each generation issued once
        with httpx.Client(timeout=30) as c:
            # the first token again, superseded (its child was used): reuse, whether or not a
            # tab fell behind
            assert len(handed) >= 2
            again = refresh(c, server.url, first["refresh_token"])
            assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
            assert all(profile(server.url, b["access_token"]) == 401 for b in ok)
            newest = max(handed, key=lambda t: rows[opaque.digest(t)][1])
            assert refresh(c, server.url, newest).status_code == 400  # the family is over


def test_replay_after_grace_revokes_the_family_at_the_next_request(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", REFRESH_REUSE_GRACE="1")
    with running(server), httpx.Client(timeout=30) as c:
        create_user(server.env, "bob", PASSWORD)
        first = login(server.url)
        second = refresh(c, server.url, first["refresh_token"]).json()
        assert profile(server.url, second["access_token"]) == 200
        time.sleep(1.5)
        r = refresh(c, server.url, first["refresh_token"])
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        assert profile(server.url, second["access_token"]) == 401  # the very next request
        assert profile(server.url, first["access_token"]) == 401
        assert refresh(c, server.url, second["refresh_token"]).status_code == 400


def test_kill_9_under_refresh_load_then_restart(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", REFRESH_REUSE_GRACE="60")
    with running(server):
        create_user(server.env, "bob", PASSWORD)
        chains = [login(server.url) for _ in range(6)]
        doomed = login(server.url)  # revoked before the crash: must stay revoked after it
        assert (
            end_session(server.url, doomed["access_token"], claims(doomed["access_token"])["sid"])
            == 204
        )
        last: list[dict[str, Any]] = [dict(c) for c in chains]
        answered = [0] * len(chains)
        stop = threading.Event()

        def load(i: int) -> None:
            with httpx.Client(timeout=10) as c:
                while not stop.is_set():
                    try:
                        r = refresh(c, server.url, last[i]["refresh_token"])
                    except httpx.HTTPError:
                        return  # the server is gone
                    if r.status_code != 200:
                        raise AssertionError(r.text)
                    last[i] = r.json()
                    answered[i] += 1

        workers = [threading.Thread(target=load, args=(i,)) for i in range(len(chains))]
        for w in workers:
            w.start()
        assert wait_until(lambda: sum(answered) >= 60, timeout=60)
        server.kill9()  # in the middle of the load
        stop.set()
        for w in workers:
            w.join()
        server.start()  # same data directory, same port
        with httpx.Client(timeout=30) as c:
            for held in last:
                # the last answered access token is valid; the last answered refresh token
                # still works (rotated now, or, if its rotation committed unanswered, the same
                # child handed back within grace)
                assert profile(server.url, held["access_token"]) == 200
                r = refresh(c, server.url, held["refresh_token"])
                assert r.status_code == 200, r.text
                assert profile(server.url, r.json()["access_token"]) == 200
            assert profile(server.url, doomed["access_token"]) == 401
            assert refresh(c, server.url, doomed["refresh_token"]).status_code == 400
        print(f"\nkill -9 after {sum(answered)} answered rotations over {len(chains)} chains")


def test_two_instances_one_postgresql_one_redis_and_an_sdk_process(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    prefix = f"gptest-{tmp_path.name[-12:]}-{time.time_ns() % 10**9}"
    shared = {"DATABASE_URL": pg_url, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix}
    a = Server(tmp_path / "a", **shared)
    b = Server(tmp_path / "b", ISSUER=a.url, **shared)  # one issuer, as behind a balancer
    follower: subprocess.Popen[str] | None = None
    with running(a, b):
        create_user(a.env, "bob", PASSWORD)
        first = login(a.url)
        token, sid = first["access_token"], claims(first["access_token"])["sid"]
        assert profile(a.url, token) == 200 and profile(b.url, token) == 200
        follower = subprocess.Popen(
            [sys.executable, str(HERE / "sdk_follower.py"), a.url, redis_url, prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert follower.stdout is not None and follower.stdin is not None
            assert follower.stdout.readline().strip() == "ready"
            follower.stdin.write(token + "\n")
            follower.stdin.flush()
            assert follower.stdout.readline().strip() == "verified"
            t0 = time.time()
            assert end_session(b.url, token, sid) == 204  # revoked on instance B
            t_b = time.time()
            seen_a: list[float] = []

            def refused_by_a() -> bool:
                if profile(a.url, token) == 401:
                    seen_a.append(time.time())
                    return True
                return False

            assert wait_until(refused_by_a, timeout=10, interval=0.001)
            line = follower.stdout.readline().split()
            assert line[0] == "revoked", line
            t_sdk = float(line[1])
            print(
                f"\nrevocation on B (answered in {1000 * (t_b - t0):.1f} ms): "
                f"instance A refused it {1000 * (seen_a[0] - t0):.1f} ms after the request, "
                f"the SDK process {1000 * (t_sdk - t0):.1f} ms after"
            )
        finally:
            follower.kill()
            follower.wait(timeout=10)
            import redis

            r = redis.Redis.from_url(redis_url)
            keys = list(r.scan_iter(f"{prefix}:*"))
            if keys:
                r.delete(*keys)
            r.close()


def test_private_redis_killed_fails_closed_then_recovers(tmp_path: Path) -> None:
    redis_server = PrivateRedis().start()
    server = Server(tmp_path / "data", REDIS_URL=redis_server.url)
    sdk: RedisDenylist | None = None
    try:
        with running(server):
            create_user(server.env, "bob", PASSWORD)
            kept, doomed = login(server.url), login(server.url)
            assert profile(server.url, kept["access_token"]) == 200
            jwks = httpx.get(server.url + "/.well-known/jwks.json").json()
            sdk = RedisDenylist(redis_server.url)
            verifier = Verifier.from_jwks(server.url, jwks, audience="gatepass", denylist=sdk)
            assert sdk.wait_ready(10)
            verifier.verify(kept["access_token"])

            redis_server.kill()
            assert wait_until(lambda: profile(server.url, kept["access_token"]) == 503, timeout=15)
            r = httpx.get(
                server.url + "/api/profile",
                headers={"Authorization": f"Bearer {kept['access_token']}"},
            )
            assert r.json()["error"] == "temporarily_unavailable"
            with pytest.raises(DenylistUnavailable):
                verifier.verify(kept["access_token"])
            # revoked while Redis is down: recorded in the database by the CLI
            cli(server.env, "sessions", "revoke", claims(doomed["access_token"])["sid"])

            redis_server.start()  # back, and empty
            assert wait_until(lambda: profile(server.url, kept["access_token"]) == 200, timeout=15)
            assert profile(server.url, doomed["access_token"]) == 401  # reseeded from the DB
            assert sdk.wait_ready(10)

            def sdk_refuses() -> bool:
                try:
                    verifier.verify(doomed["access_token"])
                    return False
                except RevokedToken:
                    return True

            assert wait_until(sdk_refuses, timeout=10)
            verifier.verify(kept["access_token"])
    finally:
        if sdk is not None:
            sdk.close()
        redis_server.kill()
