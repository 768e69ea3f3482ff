"""``gatepass client create|list|delete|rotate-secret``: the OAuth client registry."""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

from gatepass.errors import GatepassError
from gatepass.settings import ConfigError


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    client = sub.add_parser("client", help="manage OAuth clients").add_subparsers(
        dest="client_command", required=True, metavar="ACTION"
    )
    cc = client.add_parser(
        "create", help="register a client (prints its secret once)", parents=[common]
    )
    cc.add_argument("name")
    cc.add_argument("--grant", action="append", default=[], help="an allowed grant (repeatable)")
    cc.add_argument("--scope", action="append", default=[], help="an allowed scope (repeatable)")
    cc.add_argument("--token-format", choices=["jwt", "opaque"], default="jwt")
    cc.add_argument("--public", action="store_true", help="a public client (no secret)")
    cc.add_argument(
        "--dpop", action="store_true", help="DPoP required: only sender-constrained tokens"
    )
    cc.add_argument("--audience", help="audience of its access tokens (default GATEPASS_AUDIENCE)")
    cc.add_argument(
        "--access-token-ttl", type=int, help="seconds (at most GATEPASS_ACCESS_TOKEN_TTL)"
    )
    cc.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        help="where authorization codes may be sent (repeatable; --grant authorization_code)",
    )
    cc.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        help="where /oauth/logout may send the user back (repeatable)",
    )
    cc.add_argument(
        "--first-party",
        action="store_true",
        help="one of your own apps: its users are never asked for consent",
    )
    cc.add_argument("--json", action="store_true")
    client.add_parser("list", help="list clients", parents=[common]).add_argument(
        "--json", action="store_true"
    )
    cd = client.add_parser("delete", help="delete a client", parents=[common])
    cd.add_argument("client_id")
    cd.add_argument("--json", action="store_true")
    cr = client.add_parser(
        "rotate-secret",
        help="give a client a new secret (the old one stops working)",
        parents=[common],
    )
    cr.add_argument("client_id")
    cr.add_argument("--json", action="store_true")


async def _client_create(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.oauth.clients import GRANTS, create_client

    bad = [g for g in args.grant if g not in GRANTS]
    if bad:
        raise ConfigError(f"--grant: expected one of {', '.join(GRANTS)}")
    client, secret = await create_client(
        svc,
        args.name,
        grants=args.grant,
        scope_list=args.scope,
        public=args.public,
        token_format=args.token_format,
        audience=args.audience,
        access_token_ttl=args.access_token_ttl,
        dpop_bound_access_tokens=args.dpop,
        redirects=args.redirect_uri,
        post_logout_redirects=args.post_logout_redirect_uri,
        first_party=args.first_party,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "client_id": client.id,
                    "client_secret": secret,
                    "redirect_uris": list(client.redirect_uris or []),
                    "post_logout_redirect_uris": list(client.post_logout_redirect_uris or []),
                    "first_party": bool(client.first_party),
                }
            )
        )
    else:
        print(f"client_id:     {client.id}")
        if secret:
            print(f"client_secret: {secret}")
            print("The secret is shown once and stored only as a hash: keep it now.")
        print(
            f"grants: {' '.join(client.grants)}; scopes: {' '.join(client.scopes) or '(default)'}"
        )
        for uri in client.redirect_uris or []:
            print(f"redirect URI: {uri}")
        for uri in client.post_logout_redirect_uris or []:
            print(f"post-logout redirect URI: {uri}")
        if client.first_party:
            print("first-party: its users are never asked for consent")
    return 0


async def _client_delete(svc: Any, args: argparse.Namespace) -> int:
    deleted = await svc.clients.delete(args.client_id)
    if args.json:
        print(json.dumps({"client_id": args.client_id, "deleted": deleted}))
    else:
        print(f"deleted {args.client_id}" if deleted else f"no client {args.client_id}")
    return 0 if deleted else 1


async def _client_rotate_secret(svc: Any, args: argparse.Namespace) -> int:
    secret = await svc.clients.rotate_secret(args.client_id)
    if secret is None:
        raise GatepassError(f"no confidential client {args.client_id}")
    if args.json:
        print(json.dumps({"client_id": args.client_id, "client_secret": secret}))
    else:
        print(f"client_secret: {secret}")
        print("The old secret no longer works. The new one is shown once: keep it now.")
    return 0


async def _client_list(svc: Any, args: argparse.Namespace) -> int:
    rows = await svc.clients.list()
    items = [
        {
            "client_id": c.id,
            "name": c.name,
            "public": c.public,
            "grants": c.grants,
            "scopes": c.scopes,
            "token_format": c.token_format,
            "dpop_bound_access_tokens": bool(c.dpop_bound_access_tokens),
            "redirect_uris": list(c.redirect_uris or []),
            "post_logout_redirect_uris": list(c.post_logout_redirect_uris or []),
            "first_party": bool(c.first_party),
        }
        for c in rows
    ]
    if args.json:
        print(json.dumps(items))
    else:
        for c in items:
            kind = "public" if c["public"] else "confidential"
            dpop = "  dpop" if c["dpop_bound_access_tokens"] else ""
            print(f"{c['client_id']}  {c['name']}  {kind}  grants={' '.join(c['grants'])}{dpop}")
    return 0


HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    ("client", "create"): _client_create,
    ("client", "list"): _client_list,
    ("client", "delete"): _client_delete,
    ("client", "rotate-secret"): _client_rotate_secret,
}
