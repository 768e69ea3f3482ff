"""``gatepass user create``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from gatepass.errors import GatepassError


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    user = sub.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    uc = user.add_parser("create", help="create a user", parents=[common])
    uc.add_argument("name")
    uc.add_argument("--role", action="append", default=[], help="a role (repeatable)")
    uc.add_argument(
        "--email", help="the user's mail address (security alerts and OpenID Connect email)"
    )
    uc.add_argument(
        "--email-verified",
        action="store_true",
        help="the address is known to be the user's (OpenID Connect email_verified)",
    )
    uc.add_argument("--name", dest="full_name", help="the user's full name")
    uc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    uc.add_argument("--json", action="store_true")


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
    user = await create_user(
        svc,
        args.name,
        password,
        args.role,
        email=args.email,
        name=args.full_name,
        email_verified=args.email_verified,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "id": user.id,
                    "username": user.username,
                    "roles": user.roles,
                    "email": user.email,
                    "email_verified": bool(user.email_verified),
                    "name": user.name,
                }
            )
        )
    else:
        roles = ", ".join(user.roles) or "no roles"
        print(f"created user {user.username} ({user.id}), {roles}")
    return 0


HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    ("user", "create"): _user_create,
}
