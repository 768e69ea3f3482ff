"""The login parts of the ``gatepass`` command: ``sessions list|revoke`` and ``db purge``.

    gatepass sessions list USER [--json]        USER is a username or a user id
    gatepass sessions revoke USER|SID [--json]  one login (by its sid), or every login of a user
    gatepass db purge [--json]                  delete expired logins, tokens, denylist entries,
                                                failed-login counters, old security events

A revocation made here is written to the database (and published to Redis when
``GATEPASS_REDIS_URL`` is set); running servers honour it within about a second without Redis,
within milliseconds with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gatepass.cli_common import fmt_time
from gatepass.errors import GatepassError


def add_parsers(sub: Any, common: argparse.ArgumentParser, db: Any) -> None:
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
    purge = db.add_parser(
        "purge",
        help="delete expired logins, tokens, denylist entries, failed-login counters and "
        "security events older than GATEPASS_EVENT_RETENTION_DAYS",
        parents=[common],
    )
    purge.add_argument("--json", action="store_true")


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


async def db_purge(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.storage.purge import purge

    def progress(table: str, done: int) -> None:
        if not args.json:
            print(f"  {table}: {done} deleted", file=sys.stderr, flush=True)

    if not args.json:
        print(
            "purging expired logins, tokens, denylist entries, failed-login counters and old "
            "security events",
            file=sys.stderr,
        )
    result = await purge(
        svc.sessions,
        svc.clock.now(),
        event_retention=svc.settings.event_retention_days * 86400.0,
        progress=progress,
    )
    if args.json:
        print(json.dumps(result.counts))
    else:
        parts = ", ".join(f"{n} {table}" for table, n in result.counts.items())
        print(f"purged {result.total} rows ({parts})")
    return 0
