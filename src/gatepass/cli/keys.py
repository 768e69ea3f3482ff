"""``gatepass keys list|rotate [--urls]``: token-signing keys (URL-signing keys in ``urls``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

from gatepass.cli import urls as cli_urls
from gatepass.cli.common import fmt_time, key_view
from gatepass.errors import GatepassError


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("keys", help="signing keys").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION"
    )
    urls = cli_urls.URLS_FLAG
    keys.add_parser(
        "list", help="show keys, states and dates", parents=[common, urls]
    ).add_argument("--json", action="store_true")
    kr = keys.add_parser(
        "rotate", help="rotate: next key signs, active key retires", parents=[common, urls]
    )
    kr.add_argument("--json", action="store_true")
    kr.add_argument(
        "--revoke-old",
        action="store_true",
        help="emergency rotation (a key was compromised): retire the old keys at once; every "
        "token they signed stops verifying",
    )


async def _keys_list(svc: Any, args: argparse.Namespace) -> int:
    if args.urls:
        return await cli_urls.keys_list(svc, args)
    now = svc.clock.now()
    items = []
    for r in await svc.keys.rows():
        view = key_view(r, now)
        view["alg"] = r.alg
        view["published"] = view["state"] in ("next", "active", "retiring")
        items.append(view)
    if args.json:
        print(json.dumps(items))
        return 0
    print(f"{'KID':<44} {'ALG':<6} {'STATE':<9} {'CREATED':<21} {'ACTIVATED':<21} RETIRES")
    for k in items:
        print(
            f"{k['kid']:<44} {k['alg']:<6} {k['state']:<9} {fmt_time(k['created_at']):<21} "
            f"{fmt_time(k['activated_at']):<21} {fmt_time(k['retire_at'])}"
        )
    return 0


async def _keys_rotate(svc: Any, args: argparse.Namespace) -> int:
    if args.urls:
        if args.revoke_old:
            raise GatepassError("--revoke-old is for the token-signing keys, not with --urls")
        return await cli_urls.keys_rotate(svc, args)
    ring = await svc.keys.rotate(revoke_old=args.revoke_old)
    active = ring.active()
    if args.json:
        print(json.dumps({"active": active.kid, "alg": active.alg}))
    elif args.revoke_old:
        jwks_for = svc.settings.jwks_max_age + svc.settings.key_refresh_interval
        print(f"rotated: {active.kid} ({active.alg}) now signs; the previous keys are retired and")
        print("every token they signed is refused: by running servers within")
        print(f"{svc.settings.key_refresh_interval} s, by SDK verifiers within {jwks_for} s.")
    else:
        print(f"rotated: {active.kid} ({active.alg}) now signs; the previous key stays published")
        print("until every token it signed has expired. Running servers pick this up within")
        print(f"{svc.settings.key_refresh_interval} s.")
    return 0


HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    ("keys", "list"): _keys_list,
    ("keys", "rotate"): _keys_rotate,
}
