"""``gatepass sign-url`` and the URL-signing keys of ``keys list|rotate --urls``.

    gatepass sign-url PATH_OR_PREFIX [--ttl SECONDS] [--bind-ip IP] [--format hmac|nginx] [--json]

A trailing ``/`` makes a prefix grant. Output for people is the URL alone on one line (ready for
``curl``); ``--json`` prints ``{"url", "expires_at"}`` (and ``query`` for a prefix).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

from gatepass.cli.common import fmt_time, key_view

URLS_FLAG = argparse.ArgumentParser(add_help=False)
URLS_FLAG.add_argument(
    "--urls", action="store_true", help="the URL-signing keys (signed URLs, playback JWTs)"
)


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "sign-url",
        help="print a signed URL for a path, or a prefix ending in /",
        parents=[common],
    )
    p.add_argument(
        "path", metavar="PATH_OR_PREFIX", help="e.g. /videos/42/master.m3u8 or /videos/42/"
    )
    p.add_argument("--ttl", type=int, help="lifetime in seconds (default $GATEPASS_SIGNED_URL_TTL)")
    p.add_argument("--bind-ip", help="only for this client address or network")
    p.add_argument("--format", choices=["hmac", "nginx"], default="hmac")
    p.add_argument("--json", action="store_true")


async def sign_url(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.oauth.signed_urls import sign_url as sign

    result = sign(
        svc.settings,
        svc.url_keys,
        svc.clock.now(),
        scope=args.path,
        prefix=args.path.endswith("/"),
        expires_in=args.ttl,
        bind_ip=args.bind_ip,
        fmt=args.format,
    )
    print(json.dumps(result.body()) if args.json else result.url)
    return 0


async def keys_list(svc: Any, args: argparse.Namespace) -> int:
    now = svc.clock.now()
    items = []
    for r in await svc.url_keys.rows():
        view = key_view(r, now)
        view["accepted"] = view["state"] in ("next", "active", "retiring")
        items.append(view)
    if args.json:
        print(json.dumps(items))
        return 0
    print(f"{'KID':<14} {'STATE':<9} {'CREATED':<21} {'ACTIVATED':<21} ACCEPTED UNTIL")
    for k in items:
        until = fmt_time(k["retire_at"]) if k["state"] != "retired" else "-"
        print(
            f"{k['kid']:<14} {k['state']:<9} {fmt_time(k['created_at']):<21} "
            f"{fmt_time(k['activated_at']):<21} {until}"
        )
    return 0


async def keys_rotate(svc: Any, args: argparse.Namespace) -> int:
    ring = await svc.url_keys.rotate()
    active = ring.active()
    retiring = [k for k in ring.keys if k.state == "retiring"]
    until = max((k.retire_at or 0.0) for k in retiring) if retiring else None
    if args.json:
        print(json.dumps({"active": active.kid, "previous_accepted_until": until}))
    else:
        print(f"rotated: URL key {active.kid} now signs; the previous key is still accepted")
        print(f"until {fmt_time(until)} (when the last URL it signed has expired). Running")
        print(f"servers pick this up within {svc.settings.key_refresh_interval} s.")
    return 0


HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    ("sign-url", ""): sign_url,
}
