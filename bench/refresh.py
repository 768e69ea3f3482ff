#!/usr/bin/env python3
"""Refresh-grant throughput: rotations per second of `gatepass serve` (one worker) on SQLite and
on PostgreSQL, driven by C concurrent chains (each chain rotates its own login's refresh token,
one request after another, as a client would).

    .venv/bin/python bench/refresh.py                 # both databases, 64 chains, 10 s each
    .venv/bin/python bench/refresh.py --db sqlite --chains 32 --seconds 5 --json

Each answered rotation is a real one: conditional update of the parent, family deadlines moved,
child inserted, an ES256 access token signed. Errors (anything but 200) are counted and must be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import UNDER_LOAD, Server, pg_database  # noqa: E402

PASSWORD = "correct horse battery"


async def _login(client: httpx.AsyncClient, url: str) -> str:
    r = await client.post(
        url + "/oauth/token",
        data={"grant_type": "password", "username": "bench", "password": PASSWORD},
    )
    r.raise_for_status()
    return str(r.json()["refresh_token"])


async def run(url: str, chains: int, seconds: float) -> dict[str, float]:
    limits = httpx.Limits(max_connections=chains, max_keepalive_connections=chains)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        tokens = [await _login(client, url) for _ in range(chains)]
        latencies: list[float] = []
        errors = 0
        stop_at = time.monotonic() + seconds

        async def chain(i: int) -> None:
            nonlocal errors
            held = tokens[i]
            while time.monotonic() < stop_at:
                t0 = time.perf_counter()
                r = await client.post(
                    url + "/oauth/token",
                    data={"grant_type": "refresh_token", "refresh_token": held},
                )
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1
                    held = await _login(client, url)
                    continue
                held = r.json()["refresh_token"]

        # a short warm-up, then the measured run
        started = time.monotonic()
        await asyncio.gather(*(chain(i) for i in range(chains)))
        elapsed = time.monotonic() - started
    lat = sorted(latencies)
    return {
        "rotations": len(lat),
        "per_second": round(len(lat) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(lat), 2),
        "p99_ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 2),
        "errors": errors,
    }


def bench(db: str, chains: int, seconds: float) -> dict[str, object]:
    drop = None
    settings: dict[str, str] = {}
    if db == "postgresql":
        url, drop = pg_database()
        settings["DATABASE_URL"] = url
    server = Server(**UNDER_LOAD, **settings)
    try:
        server.cli("user", "create", "bench", "--password-stdin", stdin=PASSWORD + "\n")
        server.start()
        asyncio.run(run(server.url, min(chains, 8), 1.0))  # warm-up
        result = asyncio.run(run(server.url, chains, seconds))
    finally:
        server.stop()
        if drop is not None:
            drop()  # type: ignore[operator]
    return {"db": db, "chains": chains, "seconds": seconds, **result}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--chains", type=int, default=64)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    rows = [bench(db, args.chains, args.seconds) for db in dbs]
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'db':<11} {'chains':>6} {'rotations/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for r in rows:
        print(
            f"{r['db']:<11} {r['chains']:>6} {r['per_second']:>12} {r['p50_ms']:>8} "
            f"{r['p99_ms']:>8} {r['errors']:>6}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
