#!/usr/bin/env python3
"""Security alerts: what the outbox costs and how fast it delivers, in one process, SQLite in a
temp dir (or GATEPASS_DATABASE_URL, an empty PostgreSQL database).

    .venv/bin/python bench/alerts.py                    # 200 events, 2,000 rotations
    .venv/bin/python bench/alerts.py -n 500 --rotations 5000 --json

1. Delivery latency, event -> SMTP accept: ``-n`` refresh-reuse events, one every ``--gap`` s, each
   with an email to a real SMTP server (aiosmtpd, the tests' own ``tests/alert_receivers.py``)
   sent by the server's worker (``alerts/worker.py``); the latency is the SMTP server's DATA
   accept time minus the event's time.
2. What the outbox adds to a refresh that records an event (a replayed token: family revoked,
   ``refresh_reuse`` recorded), with the outbox on (an email and a webhook queued in the
   event's transaction) and off (no alert settings): the difference, against the time of a
   plain rotation. A plain rotation records no event, so it runs no outbox code: its time is
   measured on both setups too, as a check. The two setups take turns, one request each.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sqlalchemy import select  # noqa: E402

from alert_receivers import SmtpInbox, WebhookInbox  # noqa: E402
from gatepass.alerts.worker import deliver_alerts  # noqa: E402
from gatepass.errors import InvalidGrant  # noqa: E402
from gatepass.oauth.issuance import start_login  # noqa: E402
from gatepass.oauth.refresh import refresh_grant  # noqa: E402
from gatepass.oauth.services import Services, open_services  # noqa: E402
from gatepass.settings import load_settings  # noqa: E402
from gatepass.storage.models import AlertOutbox  # noqa: E402

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


async def services(alerts: dict[str, Any]) -> Services:
    data = Path(tempfile.mkdtemp(prefix="gp-bench-alerts-"))
    settings = load_settings(
        data_dir=data,
        issuer="http://bench",
        secret_key="bench-master-secret-0123456789abcdef",
        database_url=os.environ.get("GATEPASS_DATABASE_URL") or None,
        refresh_reuse_grace=0,
        **alerts,
    )
    return await open_services(settings)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def latency(n: int, gap: float) -> dict[str, float]:
    smtp = SmtpInbox().start()
    svc = await services(
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_starttls": False,
            "smtp_sender": "security@bench.example",
        }
    )
    worker = asyncio.create_task(deliver_alerts(svc.events.outbox, svc.settings, svc.clock))
    try:
        name = "bob" + secrets.token_hex(4)
        user = await svc.users.create(name, "$argon2id$x", [], svc.clock.now(), email="b@x.ex")
        for _ in range(n):
            await svc.events.record(
                "refresh_reuse", now=svc.clock.now(), user_id=user.id, sid="gps", details={}
            )
            await asyncio.sleep(gap)
        while (await svc.events.outbox.counts()).get("delivered", 0) < n:
            await asyncio.sleep(0.05)
        async with svc.sessions() as s:
            rows = (await s.execute(select(AlertOutbox.message_id, AlertOutbox.created_at))).all()
        created = {f"<{m}@bench.example>": t for m, t in rows}
        ms = [(m.received_at - created[str(m.message["Message-ID"])]) * 1000 for m in smtp.received()]
        return {
            "events": n,
        "gap_ms": gap * 1000,
            "p50_ms": round(pct(ms, 50), 1),
            "p99_ms": round(pct(ms, 99), 1),
            "max_ms": round(max(ms), 1),
            "smtp_accepted": len(smtp.received()),
        }
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await svc.close()
        smtp.stop()


async def logins(svc: Services, user_id: str, k: int) -> list[str]:
    out = []
    for _ in range(k):
        r = await start_login(
            svc,
            user_id=user_id,
            roles=(),
            client_id="gatepass",
            scope=frozenset({"profile"}),
            ip="203.0.113.7",
            user_agent=UA,
        )
        assert r.refresh_token is not None
        out.append(r.refresh_token)
    return out


async def rotate(svc: Services, token: str) -> str:
    r = await refresh_grant(
        svc, token, client_id="gatepass", scope=None, ip="203.0.113.7", user_agent=UA
    )
    assert r.refresh_token is not None
    return r.refresh_token


async def replays(svc: Services, user_id: str, k: int) -> list[str]:
    """k tokens that their own logins already rotated: presenting one again is a reuse."""
    out = []
    for token in await logins(svc, user_id, k):
        await rotate(svc, token)
        out.append(token)
    return out


async def timed(call: Any) -> float:
    t = time.perf_counter()
    try:
        await call
    except InvalidGrant:
        pass
    return time.perf_counter() - t


async def cost(rotations: int, reuses: int, *, with_worker: bool = False) -> dict[str, Any]:
    """Both setups do the same requests in turn, one each, the order swapped every pair, so
    that the machine's load falls on both alike. The outbox's cost is the median of the paired
    differences (steady under load) beside the difference of the two medians (which is not).

    By default no worker runs (the rows just queue): the time measured is the request's own.
    ``with_worker``: the server's worker delivers every alert meanwhile, on the same event loop,
    to an SMTP server and a webhook receiver that run in threads of this process (so they take
    this process's CPU and GIL too: an upper bound of what delivery costs the requests)."""
    smtp = SmtpInbox().start() if with_worker else None
    hooks = WebhookInbox().start() if with_worker else None
    on = await services(
        {
            "smtp_host": "127.0.0.1",  # without a worker nothing listens: the rows just queue
            "smtp_port": smtp.port if smtp else 9,
            "smtp_starttls": False,
            "smtp_sender": "security@bench.example",
            "webhook_urls": hooks.url if hooks else "http://127.0.0.1:9/hook",
            "webhook_secret": SECRET,
        }
    )
    off = await services({})
    setups = {"on": on, "off": off}
    worker = None
    if with_worker:
        worker = asyncio.create_task(deliver_alerts(on.events.outbox, on.settings, on.clock))
    try:
        users = {}
        for name, svc in setups.items():
            who = "bob" + secrets.token_hex(4)
            u = await svc.users.create(who, "$argon2id$x", [], svc.clock.now(), email="b@x.ex")
            users[name] = u.id
        rot: dict[str, list[float]] = {"on": [], "off": []}
        reuse: dict[str, list[float]] = {"on": [], "off": []}
        chains = {k: (await logins(svc, users[k], 1))[0] for k, svc in setups.items()}
        for i in range(rotations):
            for name in ("on", "off") if i % 2 else ("off", "on"):
                t = time.perf_counter()
                chains[name] = await rotate(setups[name], chains[name])
                rot[name].append(time.perf_counter() - t)
        rounds = 10  # replays made in batches, so that the tables grow alike on both
        for _ in range(rounds):
            tokens = {k: await replays(svc, users[k], reuses // rounds) for k, svc in setups.items()}
            for i in range(reuses // rounds):
                for name in ("on", "off") if i % 2 else ("off", "on"):
                    reuse[name].append(await timed(rotate(setups[name], tokens[name][i])))
        queued = await on.events.outbox.counts()
        if sum(queued.values()) != 2 * len(reuse["on"]):
            raise SystemExit(f"expected an email and a webhook per reuse, got {queued}")
        med = {k: statistics.median(v) * 1e6 for k, v in rot.items()}
        med_reuse = {k: statistics.median(v) * 1e6 for k, v in reuse.items()}
        paired = statistics.median(a - b for a, b in zip(reuse["on"], reuse["off"], strict=True))
        added = med_reuse["on"] - med_reuse["off"]
        return {
            "rotation_us_median": {k: round(v) for k, v in med.items()},
            "reuse_us_median": {k: round(v) for k, v in med_reuse.items()},
            "outbox_adds_us": round(added),
            "outbox_adds_pct_of_reuse": round(100 * added / med_reuse["off"], 1),
            "paired_difference_us_median": round(paired * 1e6),
            "alerts_queued": queued.get("pending", 0),
            "alerts_delivered_meanwhile": queued.get("delivered", 0),
        }
    finally:
        if worker is not None:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        await on.close()
        await off.close()
        for receiver in (smtp, hooks):
            if receiver is not None:
                receiver.stop()


async def main() -> None:
    logging.getLogger("gatepass").setLevel(logging.ERROR)  # one warning per replay otherwise
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=200, help="events for the latency figure")
    p.add_argument("--gap", type=float, default=0.01, help="seconds between events")
    p.add_argument("--rotations", type=int, default=2000)
    p.add_argument("--reuses", type=int, default=500)
    p.add_argument("--with-worker", action="store_true", help="cost with delivery going on")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    out = {
        "latency": await latency(args.n, args.gap),
        "cost": await cost(args.rotations, args.reuses, with_worker=args.with_worker),
    }
    if args.json:
        print(json.dumps(out))
        return
    lat, c = out["latency"], out["cost"]
    print(f"event -> SMTP accept, {lat['events']} events {lat['gap_ms']:g} ms apart: p50 {lat['p50_ms']} ms, "
          f"p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms")
    print(f"plain rotation (median): {c['rotation_us_median']['off']} us without alert settings, "
          f"{c['rotation_us_median']['on']} us with them (no outbox code on this path)")
    print(f"refresh reuse (median): {c['reuse_us_median']['off']} us without, "
          f"{c['reuse_us_median']['on']} us with an email and a webhook queued")
    print(f"the outbox adds {c['outbox_adds_us']} us = {c['outbox_adds_pct_of_reuse']}% "
          f"of that refresh's own time (paired: {c['paired_difference_us_median']} us), "
          "and nothing to a plain rotation")


if __name__ == "__main__":
    asyncio.run(main())
