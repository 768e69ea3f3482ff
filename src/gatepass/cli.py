"""The ``gatepass`` command. Output for people is plain text; ``--json`` output is for programs.

Errors are one line on stderr and exit status 2 (usage, configuration) or 1 (anything else).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from gatepass import __version__, cli_sessions, cli_urls
from gatepass.cli_common import fmt_time, key_view
from gatepass.core.sealing import SealError
from gatepass.errors import GatepassError
from gatepass.settings import ConfigError, Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gatepass", description="Token-based authentication server.")
    p.add_argument("--version", action="version", version=f"gatepass {__version__}")
    p.add_argument(
        "--data-dir", help="data directory (default: $GATEPASS_DATA_DIR or ./gatepass-data)"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", dest="data_dir_sub", metavar="DIR", help="data directory")

    serve = sub.add_parser("serve", help="run the HTTP server", parents=[common])
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")

    dbp = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    dbp.add_parser("upgrade", help="apply migrations", parents=[common])

    user = sub.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    uc = user.add_parser("create", help="create a user", parents=[common])
    uc.add_argument("name")
    uc.add_argument("--role", action="append", default=[], help="a role (repeatable)")
    uc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    uc.add_argument("--json", action="store_true")

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

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION"
    )
    urls = cli_urls.URLS_FLAG
    keys.add_parser(
        "list", help="show keys, states and dates", parents=[common, urls]
    ).add_argument("--json", action="store_true")
    keys.add_parser(
        "rotate", help="rotate: next key signs, active key retires", parents=[common, urls]
    ).add_argument("--json", action="store_true")
    cli_urls.add_sign_url(sub, common)
    cli_sessions.add_parsers(sub, common, dbp)

    tok = sub.add_parser("token", help="tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    ti = tok.add_parser(
        "inspect",
        help="show a token's header and claims, and whether it verifies",
        parents=[common],
    )
    ti.add_argument("token", help="the token ('-' reads it from stdin)")
    ti.add_argument("--json", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    data_dir = getattr(args, "data_dir_sub", None) or args.data_dir
    try:
        if args.command == "serve":
            settings = load_settings(data_dir=data_dir, host=args.host, port=args.port)
            return _serve(settings, args.workers)
        settings = load_settings(data_dir=data_dir)
        handler = _HANDLERS[(args.command, _action(args))]
        return asyncio.run(_with_services(settings, handler, args))
    except ConfigError as exc:
        print(f"gatepass: configuration error: {exc}", file=sys.stderr)
        return 2
    except GatepassError as exc:
        print(f"gatepass: {exc.description}", file=sys.stderr)
        return 1
    except SealError as exc:
        print(f"gatepass: configuration error: {exc}", file=sys.stderr)
        return 2
    except (OSError, SQLAlchemyError) as exc:
        print(f"gatepass: the database is unreachable or failing ({_brief(exc)})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _brief(exc: BaseException) -> str:
    """A one-line cause without URLs or credentials."""
    if isinstance(exc, SQLAlchemyError) and getattr(exc, "orig", None) is not None:
        exc = exc.orig  # type: ignore[attr-defined]
    return type(exc).__name__


def _action(args: argparse.Namespace) -> str:
    for name in ("db_command", "user_command", "client_command", "keys_command", "token_command"):
        if getattr(args, name, None):
            return str(getattr(args, name))
    for name in ("sessions_command",):
        if getattr(args, name, None):
            return str(getattr(args, name))
    return ""


def _serve(settings: Settings, workers: int) -> int:
    import uvicorn

    from gatepass import logs
    from gatepass.server.app import create_app

    logs.configure(settings.log_level)
    if workers < 1:
        raise ConfigError("--workers: expected a whole number of at least 1")
    # Keys, secret file and schema are made once here, before any worker starts.
    asyncio.run(_prepare(settings))
    if workers == 1:
        uvicorn.run(
            create_app(settings, freeze_gc=True),
            host=settings.host,
            port=settings.port,
            access_log=settings.access_log,
            log_config=None,
            server_header=False,
            **_proxy_options(settings),
        )
    else:
        import os

        os.environ.update(
            GATEPASS_HOST=settings.host,
            GATEPASS_PORT=str(settings.port),
            GATEPASS_DATA_DIR=str(settings.data_dir),
            GATEPASS_ISSUER=settings.issuer,
        )
        uvicorn.run(
            "gatepass.server.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            access_log=settings.access_log,
            log_config=None,
            server_header=False,
            **_proxy_options(settings),
        )
    return 0


def _proxy_options(settings: Settings) -> dict[str, Any]:
    """Trust X-Forwarded-For / -Proto only from the proxies named in GATEPASS_TRUSTED_PROXIES;
    by default nobody, so a client cannot choose the address its failed logins count against."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.trusted_proxies)}


async def _prepare(settings: Settings) -> None:
    from gatepass.oauth.services import open_services

    svc = await open_services(settings)
    await svc.close()


async def _with_services(
    settings: Settings,
    handler: Callable[[Any, argparse.Namespace], Awaitable[int]],
    args: argparse.Namespace,
) -> int:
    from gatepass.oauth.services import open_services

    svc = await open_services(settings)
    try:
        return await handler(svc, args)
    finally:
        await svc.close()


async def _db_upgrade(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.storage.db import current_revision

    print(f"database at revision {await current_revision(svc.engine)}")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise GatepassError("the passwords do not match")
    return first


async def _user_create(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.oauth.users import create_user

    password = _read_password(args.password_stdin)
    user = await create_user(svc, args.name, password, args.role)
    if args.json:
        print(json.dumps({"id": user.id, "username": user.username, "roles": user.roles}))
    else:
        roles = ", ".join(user.roles) or "no roles"
        print(f"created user {user.username} ({user.id}), {roles}")
    return 0


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
    )
    if args.json:
        print(json.dumps({"client_id": client.id, "client_secret": secret}))
    else:
        print(f"client_id:     {client.id}")
        if secret:
            print(f"client_secret: {secret}")
            print("The secret is shown once and stored only as a hash: keep it now.")
        print(
            f"grants: {' '.join(client.grants)}; scopes: {' '.join(client.scopes) or '(default)'}"
        )
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
        return await cli_urls.keys_rotate(svc, args)
    ring = await svc.keys.rotate()
    active = ring.active()
    if args.json:
        print(json.dumps({"active": active.kid, "alg": active.alg}))
    else:
        print(f"rotated: {active.kid} ({active.alg}) now signs; the previous key stays published")
        print("until every token it signed has expired. Running servers pick this up within")
        print(f"{svc.settings.key_refresh_interval} s.")
    return 0


async def _token_inspect(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.core import jose
    from gatepass.sdk.errors import VerifierError

    token = sys.stdin.readline().strip() if args.token == "-" else args.token.strip()
    parts = token.split(".")
    report: dict[str, Any] = {"header": None, "claims": None}
    if len(parts) == 3 and len(token) <= jose.MAX_TOKEN_BYTES:
        for name, seg in (("header", parts[0]), ("claims", parts[1])):
            try:
                report[name] = json.loads(jose.b64url_decode(seg))
            except (jose.JoseError, ValueError, UnicodeDecodeError):
                report[name] = None
    report["dpop_jkt"] = _dpop_binding(report["claims"])
    try:
        svc.verifier.verify(token)
        report["verified"], report["reason"] = True, None
    except VerifierError as exc:
        report["verified"] = False
        report["reason"] = getattr(exc, "reason", type(exc).__name__)
    if args.json:
        print(json.dumps(report))
    else:
        if report["header"] is None:
            print("not a JWT (three base64url parts of JSON)")
        else:
            print("header: " + json.dumps(report["header"], indent=2))
            print("claims: " + json.dumps(report["claims"], indent=2))
            exp = report["claims"].get("exp") if isinstance(report["claims"], dict) else None
            if isinstance(exp, int | float):
                print(f"expires: {fmt_time(exp)}")
            jkt = report["dpop_jkt"]
            print(
                f"binding: DPoP, key thumbprint {jkt} (usable only with a proof by that key)"
                if jkt
                else "binding: none (a bearer token: whoever holds it can use it)"
            )
        verdict = "verifies" if report["verified"] else f"does NOT verify ({report['reason']})"
        print(f"against the local keys, issuer and audience: {verdict}")
    return 0 if report["verified"] else 1


def _dpop_binding(claims: object) -> str | None:
    """The DPoP key thumbprint a token is bound to (RFC 9449 §6.1 ``cnf.jkt``), or None."""
    from gatepass.core import rfc9449

    try:
        return rfc9449.binding(claims) if isinstance(claims, dict) else None
    except ValueError:
        return None


_HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    ("db", "upgrade"): _db_upgrade,
    ("user", "create"): _user_create,
    ("client", "create"): _client_create,
    ("client", "list"): _client_list,
    ("client", "delete"): _client_delete,
    ("client", "rotate-secret"): _client_rotate_secret,
    ("keys", "list"): _keys_list,
    ("keys", "rotate"): _keys_rotate,
    ("token", "inspect"): _token_inspect,
    ("sign-url", ""): cli_urls.sign_url,
    ("sessions", "list"): cli_sessions.sessions_list,
    ("sessions", "revoke"): cli_sessions.sessions_revoke,
    ("db", "purge"): cli_sessions.db_purge,
}

if __name__ == "__main__":
    sys.exit(main())
