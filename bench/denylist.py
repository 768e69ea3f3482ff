#!/usr/bin/env python3
"""SDK verification with the denylist against without it: what the revocation check costs.

    .venv/bin/python bench/denylist.py            # ~20 s
    .venv/bin/python bench/denylist.py --json

Cases, all on ES256 RFC 9068 tokens signed by a gatepass KeyRing:

  miss        ``Verifier.verify`` where every call misses the cache (a pool of distinct tokens
              cycled through a cache half its size): signature + claims + denylist
  hit         the same token text (a new ``str`` each call) answered from the cache + denylist

each with ``denylist=None``, with a ``RedisDenylist`` following a live Redis (local copy of 10,000
entries, none covering the token; the check never touches the network) when Redis is at
127.0.0.1:6379, and with an in-process ``LocalOnlyDenylist`` of the same entries. Rounds are
interleaved; the minimum per-operation time of each case is reported, with the added cost.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

from gatepass.core.access_token import ACCESS_TOKEN_TYP, build_claims
from gatepass.core.denylist import LocalDenylist, Revocation
from gatepass.core.keys import KeyRing, SigningKey
from gatepass.sdk import Verifier
from gatepass.sdk.denylist import LocalOnlyDenylist, RedisDenylist

ISSUER = "https://auth.bench.example"
POOL = 256


def tokens(ring: KeyRing, n: int) -> list[str]:
    now = time.time()
    return [
        ring.sign(
            build_claims(
                issuer=ISSUER, subject=f"user-{i % 50}", audience="api", client_id="c",
                scope=["profile"], roles=[], now=now, ttl=3600, sid=f"gps-{i}",
            ),
            ACCESS_TOKEN_TYP,
        )
        for i in range(n)
    ]  # fmt: skip


def entries(n: int) -> list[Revocation]:
    far = time.time() + 3600
    out = [Revocation("jti", secrets.token_urlsafe(16), far) for _ in range(n // 2)]
    out += [Revocation("sid", "gps-x" + secrets.token_urlsafe(8), far) for _ in range(n // 2)]
    out += [Revocation("sub", f"other-{i}", far, time.time() - 10) for i in range(100)]
    return out


def loop(fn: Callable[[str], Any], inputs: list[str]) -> float:
    gc.disable()
    try:
        t0 = time.perf_counter()
        for t in inputs:
            fn(t)
        return (time.perf_counter() - t0) / len(inputs)
    finally:
        gc.enable()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = ap.parse_args()
    now = time.time()
    ring = KeyRing((SigningKey.new("ES256", state="active", now=now),))
    keys = ring.verification_keys(now)
    pool = tokens(ring, POOL)
    loaded = entries(10_000)

    denylists: dict[str, Any] = {"none": None, "local": LocalOnlyDenylist(LocalDenylist(loaded))}
    redis_dl = None
    try:
        # seeded as gatepass would (with nothing): a follower trusts only a seeded Redis
        redis_dl = RedisDenylist(
            args.redis, prefix="gpbench-" + secrets.token_hex(4), seed=lambda: []
        )
        if redis_dl.wait_ready(3):
            for e in loaded:
                redis_dl.local.add(e)
            denylists["redis"] = redis_dl
        else:
            redis_dl.close()
            redis_dl = None
    except Exception:  # noqa: BLE001 - no Redis: the local case still runs
        redis_dl = None

    cases: dict[str, tuple[Callable[[str], Any], list[str]]] = {}
    for name, dl in denylists.items():
        miss = Verifier(issuer=ISSUER, audience="api", keys=keys, denylist=dl, cache_size=POOL // 2)
        hit = Verifier(issuer=ISSUER, audience="api", keys=keys, denylist=dl)
        hit.verify(pool[0])
        cases[f"miss/{name}"] = (miss.verify, pool * 8)
        cases[f"hit/{name}"] = (hit.verify, [pool[0][:10] + pool[0][10:] for _ in range(20000)])
    best = {k: float("inf") for k in cases}
    order = list(cases)
    for _ in range(args.rounds):
        random.shuffle(order)  # no case always runs right after another
        for k in order:
            fn, inputs = cases[k]
            best[k] = min(best[k], loop(fn, inputs))
    if redis_dl is not None:
        redis_dl.close()
    out = []
    for kind in ("miss", "hit"):
        base = best[f"{kind}/none"]
        for name in denylists:
            t = best[f"{kind}/{name}"]
            out.append(
                {
                    "case": f"{kind}/{name}",
                    "us_per_op": round(t * 1e6, 3),
                    "added_pct": round(100 * (t / base - 1), 1),
                }
            )
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{'case':<12} {'us/op':>9} {'added':>8}")
    for r in out:
        print(f"{r['case']:<12} {r['us_per_op']:>9} {r['added_pct']:>7}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
