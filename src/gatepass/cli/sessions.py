"""``gatepass sessions list|revoke``: users' logins.

    gatepass sessions list USER [--json]        USER is a username or a user id
    gatepass sessions revoke USER|SID [--json]  one login (by its sid), or every login of a user

A revocation made here is written to the database (and published to Redis when
``GATEPASS_REDIS_URL`` is set); running servers honour it within about a second without Redis,
within milliseconds with it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

from gatepass.cli.common import fmt_time
from gatepass.errors import GatepassError


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    sessions = sub.add_parser("sessions", help="users' logins").add_subparsers(
        dest="sessions_command", required=True, metavar="ACTION"
    )
    sl = sessions.add_parser("list", help="a user's live logins", parents=[common])
    sl.add_argument("user", metavar="USER", help="username or user id")
    sl.add_argument("--json", action="store_true")
    sr = sessions.add_parser(
        "revoke", help="end one login (SID) or every login of a user", parents=[common]
    )
    sr.add_argument("target", metavar="USER|SID")
    sr.add_argument("--json", action="store_true")


def _printable(text: object) -> str:
    """A client-sent value for a terminal: no control characters (an escape sequence in a
    User-Agent must not reach the admin's terminal)."""
    if not text:
        return "-"
    return "".join(c if c.isprintable() else "?" for c in str(text))


async def _user(svc: Any, name_or_id: str) -> Any:
    user = await svc.users.by_name(name_or_id)
    if user is None and len(name_or_id) <= 64:
        user = await svc.users.by_id(name_or_id)
    return user


async def sessions_list(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.oauth.sessions import describe

    user = await _user(svc, args.user)
    if user is None:
        raise GatepassError("no such user")
    rows = [describe(r) for r in await svc.logins.of_user(user.id, active_at=svc.clock.now())]
    for r in rows:
        r.pop("current", None)
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'SID':<26} {'CREATED':<21} {'LAST USED':<21} {'CLIENT':<20} {'ADDRESS':<16} AGENT")
    for r in rows:
        print(
            f"{r['id']!s:<26} {fmt_time(r['created']):<21} {fmt_time(r['last_used']):<21} "  # type: ignore[arg-type]
            f"{r['client']!s:<20} {r['address'] or '-'!s:<16} {_printable(r['user_agent'])}"
        )
    if not rows:
        print(f"{user.username} has no live logins")
    return 0


async def sessions_revoke(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.oauth import sessions

    target = args.target
    row = await svc.logins.get(target) if len(target) <= 64 else None
    if row is not None:
        ended = await sessions.force_end_session(svc, row.id, by="cli")
        result = {"sid": row.id, "user_id": row.user_id, "revoked_sessions": int(ended)}
        text = f"ended login {row.id}" if ended else f"login {row.id} had already ended"
    else:
        user = await _user(svc, target)
        if user is None:
            raise GatepassError("no such user or session")
        n = await sessions.force_logout(svc, user.id, by="cli")
        result = {"user_id": user.id, "revoked_sessions": n}
        text = f"ended {n} login(s) of {user.username}; every token issued to them is refused"
    print(json.dumps(result) if args.json else text)
    return 0


HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    ("sessions", "list"): sessions_list,
    ("sessions", "revoke"): sessions_revoke,
}
