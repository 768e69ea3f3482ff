"""The ``gatepass`` command: one module per command group (``serve``, ``db``, ``user``,
``client``, ``keys``, ``sign-url`` in ``urls``, ``sessions``, ``token``). Output for people is
plain text; ``--json`` output is for programs.

Errors are one line on stderr and exit status 2 (usage, configuration) or 1 (anything else).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from gatepass import __version__
from gatepass.cli import client, db, keys, serve, sessions, token, urls, user
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
    for group in _GROUPS:
        group.add_parsers(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    data_dir = getattr(args, "data_dir_sub", None) or args.data_dir
    try:
        if args.command == "serve":
            settings = load_settings(
                data_dir=data_dir, host=args.host, port=args.port, workers=args.workers
            )
            return serve.serve(settings)
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


_GROUPS = (serve, db, user, client, keys, urls, sessions, token)
_HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    **db.HANDLERS,
    **user.HANDLERS,
    **client.HANDLERS,
    **keys.HANDLERS,
    **urls.HANDLERS,
    **sessions.HANDLERS,
    **token.HANDLERS,
}
