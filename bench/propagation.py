#!/usr/bin/env python3
"""Revocation propagation: two `gatepass serve` instances on one PostgreSQL and one Redis; a login
is ended on instance B (DELETE /auth/sessions/{sid}) and instance A, which had the access token
verified and cached, is polled until it refuses it. Also timed: an SDK RedisDenylist in this
process (what a third-party service runs), from the same request.

    .venv/bin/python bench/propagation.py              # 100 revocations
    .venv/bin/python bench/propagation.py -n 30 --json

Reported, per revocation, in milliseconds: ``b_answer`` (B's answer to the DELETE: database
writes, Redis write and publish), ``a_refuses`` (from B's answer until A's first 401; A is
polled in a loop, so this includes one request's latency, ~1 ms), ``a_total`` (from the DELETE
being sent until A's first 401), ``sdk`` (from B's answer until the SDK's local copy has the
entry; negative when it arrived before B had even answered), and ``redis_hop`` (one client
writes and publishes an entry, another client's local copy has it: the Redis round trip alone).
Needs PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 (a unique key prefix is used).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import UNDER_LOAD, Server, pg_database  # noqa: E402

PASSWORD = "correct horse battery"

from gatepass.core.access_token import AccessClaims  # noqa: E402
from gatepass.core.denylist import Revocation  # noqa: E402
from gatepass.core.jose import b64url_decode  # noqa: E402
from gatepass.sdk.denylist import RedisDenylist  # noqa: E402

REDIS = "redis://127.0.0.1:6379/0"


def _claims(token: str) -> dict[str, object]:
    return json.loads(b64url_decode(token.split(".")[1]))


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))], 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    db_url, drop = pg_database()
    prefix = "gpbench-" + secrets.token_hex(4)
    shared = {"DATABASE_URL": db_url, "REDIS_URL": REDIS, "REDIS_PREFIX": prefix, **UNDER_LOAD}
    a = Server(**shared)
    b = Server(ISSUER=a.url, **shared)
    sdk = None
    rows: dict[str, list[float]] = {
        "b_answer": [],
        "a_refuses": [],
        "a_total": [],
        "sdk": [],
        "redis_hop": [],
    }
    try:
        a.cli("user", "create", "bench", "--password-stdin", stdin=PASSWORD + "\n")
        a.start()
        b.start()
        sdk = RedisDenylist(REDIS, prefix=prefix)
        if not sdk.wait_ready(10):
            raise RuntimeError("Redis feed not ready")
        with httpx.Client(timeout=30) as ca, httpx.Client(timeout=30) as cb:
            for _ in range(args.n):
                r = ca.post(
                    a.url + "/oauth/token",
                    data={"grant_type": "password", "username": "bench", "password": PASSWORD},
                )
                token = r.json()["access_token"]
                c = _claims(token)
                probe = AccessClaims(
                    sub=str(c["sub"]), iss="", aud=(), exp=0, iat=int(c["iat"]),  # type: ignore[call-overload]
                    nbf=None, jti=str(c["jti"]), client_id="", scope=frozenset(),
                    roles=frozenset(), sid=str(c["sid"]), raw={},
                )  # fmt: skip
                auth = {"Authorization": f"Bearer {token}"}
                if ca.get(a.url + "/api/profile", headers=auth).status_code != 200:
                    raise RuntimeError("token not accepted by A")
                seen: list[float] = []

                def watch(probe: AccessClaims = probe, seen: list[float] = seen) -> None:
                    deadline = time.perf_counter() + 5
                    while time.perf_counter() < deadline:
                        if sdk is not None and sdk.local.revoked(probe):
                            seen.append(time.perf_counter())
                            return

                watcher = threading.Thread(target=watch)
                watcher.start()
                t0 = time.perf_counter()
                if cb.delete(f"{b.url}/auth/sessions/{c['sid']}", headers=auth).status_code != 204:
                    raise RuntimeError("revocation failed")
                t1 = time.perf_counter()
                while ca.get(a.url + "/api/profile", headers=auth).status_code != 401:
                    if time.perf_counter() - t1 > 5:
                        raise RuntimeError("A never refused the token")
                t2 = time.perf_counter()
                watcher.join()
                rows["b_answer"].append(1000 * (t1 - t0))
                rows["a_refuses"].append(1000 * (t2 - t1))
                rows["a_total"].append(1000 * (t2 - t0))
                if seen:
                    rows["sdk"].append(1000 * (seen[0] - t1))
        # the Redis hop alone: a write + publish by one client, seen by another's local copy
        writer = RedisDenylist(REDIS, prefix=prefix, start=False)
        for i in range(args.n):
            jti = f"hop-{i}-{secrets.token_hex(4)}"
            probe = AccessClaims(
                sub="x", iss="", aud=(), exp=0, iat=0, nbf=None, jti=jti, client_id="",
                scope=frozenset(), roles=frozenset(), sid=None, raw={},
            )  # fmt: skip
            t0 = time.perf_counter()
            writer.add(Revocation("jti", jti, time.time() + 60))
            while not sdk.local.revoked(probe):
                if time.perf_counter() - t0 > 5:
                    raise RuntimeError("the follower never saw the entry")
            rows["redis_hop"].append(1000 * (time.perf_counter() - t0))
        writer.close()
    finally:
        if sdk is not None:
            sdk.close()
        a.stop()
        b.stop()
        drop()
        import redis

        r = redis.Redis.from_url(REDIS)
        keys = list(r.scan_iter(f"{prefix}:*"))
        if keys:
            r.delete(*keys)
        r.close()
    summary = {
        k: {"n": len(v), "p50_ms": pct(v, 0.5), "p99_ms": pct(v, 0.99), "max_ms": round(max(v), 2)}
        for k, v in rows.items()
        if v
    }
    summary["sdk"]["mean_ms"] = round(statistics.mean(rows["sdk"]), 2)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{'measure':<10} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for k, s in summary.items():
        print(f"{k:<10} {s['n']:>4} {s['p50_ms']:>8} {s['p99_ms']:>8} {s['max_ms']:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
