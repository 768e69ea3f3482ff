"""``gatepass db upgrade|purge``: migrations, and deleting what has expired.

gatepass db upgrade                         apply migrations
gatepass db purge [--json]                  delete expired logins, tokens, authorization codes,
                                            denylist entries, failed-login counters, old
                                            security events
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    dbp = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    dbp.add_parser("upgrade", help="apply migrations", parents=[common])
    purge = dbp.add_parser(
        "purge",
        help="delete expired logins, tokens, authorization codes, denylist entries, failed-login "
        "counters and security events older than GATEPASS_EVENT_RETENTION_DAYS",
        parents=[common],
    )
    purge.add_argument("--json", action="store_true")


async def _db_upgrade(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.storage.db import current_revision

    print(f"database at revision {await current_revision(svc.engine)}")
    return 0


async def db_purge(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.storage.purge import purge

    def progress(table: str, done: int) -> None:
        if not args.json:
            print(f"  {table}: {done} deleted", file=sys.stderr, flush=True)

    if not args.json:
        print(
            "purging expired logins, tokens, authorization codes, denylist entries, failed-login "
            "counters and old security events",
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


HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    ("db", "upgrade"): _db_upgrade,
    ("db", "purge"): db_purge,
}
