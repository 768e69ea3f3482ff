"""``gatepass keys list|rotate [--purpose all|access|id_token] [--urls]``: token-signing keys,
access-token and ID-token rings (URL-signing keys in ``urls``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

from gatepass.cli import urls as cli_urls
from gatepass.cli.common import fmt_time, key_view
from gatepass.errors import GatepassError
from gatepass.oauth.keys import PURPOSE_CHOICES, managers_for


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("keys", help="signing keys").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION"
    )
    urls = cli_urls.URLS_FLAG
    kl = keys.add_parser("list", help="show keys, states and dates", parents=[common, urls])
    kl.add_argument("--json", action="store_true")
    kr = keys.add_parser(
        "rotate", help="rotate: next key signs, active key retires", parents=[common, urls]
    )
    kr.add_argument("--json", action="store_true")
    for p in (kl, kr):
        p.add_argument(
            "--purpose",
            choices=PURPOSE_CHOICES,
            default="all",
            help="the access-token keys, the ID-token keys, or both (default)",
        )
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
    for manager in managers_for((svc.keys, svc.id_keys), args.purpose):
        for r in await manager.rows():
            view = key_view(r, now)
            view["alg"] = r.alg
            view["purpose"] = r.purpose
            view["published"] = view["state"] in ("next", "active", "retiring")
            items.append(view)
    if args.json:
        print(json.dumps(items))
        return 0
    print(
        f"{'KID':<44} {'PURPOSE':<9} {'ALG':<6} {'STATE':<9} {'CREATED':<21} {'ACTIVATED':<21} "
        "RETIRES"
    )
    for k in items:
        print(
            f"{k['kid']:<44} {k['purpose']:<9} {k['alg']:<6} {k['state']:<9} "
            f"{fmt_time(k['created_at']):<21} {fmt_time(k['activated_at']):<21} "
            f"{fmt_time(k['retire_at'])}"
        )
    return 0


async def _keys_rotate(svc: Any, args: argparse.Namespace) -> int:
    if args.urls:
        if args.revoke_old:
            raise GatepassError("--revoke-old is for the token-signing keys, not with --urls")
        return await cli_urls.keys_rotate(svc, args)
    out: dict[str, dict[str, str]] = {}
    for manager in managers_for((svc.keys, svc.id_keys), args.purpose):
        active = (await manager.rotate(revoke_old=args.revoke_old)).active()
        out[manager.purpose] = {"active": active.kid, "alg": active.alg}
    if args.json:
        # the access ring's answer at the top (as before ID tokens), each ring's under its name
        print(json.dumps({**out.get("access", {}), **out}))
        return 0
    for purpose, key in out.items():
        what = "access tokens" if purpose == "access" else "ID tokens"
        print(f"rotated: {key['active']} ({key['alg']}) now signs {what}.")
    if args.revoke_old:
        jwks_for = svc.settings.jwks_max_age + svc.settings.key_refresh_interval
        print("The previous keys are retired and every token they signed is refused: by")
        print(f"running servers within {svc.settings.key_refresh_interval} s, by SDK verifiers")
        print(f"within {jwks_for} s.")
    else:
        print("The previous keys stay published until every token they signed has expired.")
        print(f"Running servers pick this up within {svc.settings.key_refresh_interval} s.")
    return 0


HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    ("keys", "list"): _keys_list,
    ("keys", "rotate"): _keys_rotate,
}
