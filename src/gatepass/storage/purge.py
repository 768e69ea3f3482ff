"""Hygiene: delete what no longer covers anything, in small batches, so the tables stay the size
of what is live (each query uses an index on an expiry column).

- refresh tokens past their own expiry, and used ones rotated more than ``used_retention`` ago
  (until then a replay of one is still recognised as reuse and ends its family; after, it is
  just unknown, and refused all the same);
- logins past their absolute or idle deadline, and revoked ones after ``revoked_retention``
  (their tokens with them);
- opaque access tokens past their expiry;
- denylist entries whose tokens have all expired;
- alerts delivered (or given up) more than ``ALERT_RETENTION`` ago (``storage/outbox.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.storage.denylist import SqlDenylist
from gatepass.storage.models import LoginSession, OpaqueAccessToken, RefreshToken
from gatepass.storage.outbox import purge_outbox

USED_RETENTION = 86400.0
REVOKED_RETENTION = 86400.0
ALERT_RETENTION = 7 * 86400.0  # a receiver can still ask about a message id that long

Progress = Callable[[str, int], None]


@dataclass
class Purged:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "refresh_tokens": 0,
            "login_sessions": 0,
            "opaque_tokens": 0,
            "denylist": 0,
            "alert_outbox": 0,
        }
    )

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def purge(
    sessions: async_sessionmaker[Any],
    now: float,
    *,
    batch: int = 1000,
    used_retention: float = USED_RETENTION,
    revoked_retention: float = REVOKED_RETENTION,
    progress: Progress | None = None,
) -> Purged:
    out = Purged()

    def tell(table: str, n: int) -> None:
        out.counts[table] += n
        if progress is not None and n:
            progress(table, out.counts[table])

    tokens = select(RefreshToken.digest).where(
        or_(
            RefreshToken.expires_at <= now,
            RefreshToken.used_at <= now - used_retention,
        )
    )
    while True:
        async with sessions.begin() as s:
            keys = list((await s.execute(tokens.limit(batch))).scalars())
            if keys:
                await s.execute(delete(RefreshToken).where(RefreshToken.digest.in_(keys)))
        tell("refresh_tokens", len(keys))
        if len(keys) < batch:
            break

    families = select(LoginSession.id).where(
        or_(
            LoginSession.expires_at <= now,
            LoginSession.idle_expires_at <= now,
            LoginSession.revoked_at <= now - revoked_retention,
        )
    )
    while True:
        async with sessions.begin() as s:
            sids = list((await s.execute(families.limit(batch))).scalars())
            if sids:
                await s.execute(delete(RefreshToken).where(RefreshToken.sid.in_(sids)))
                await s.execute(delete(LoginSession).where(LoginSession.id.in_(sids)))
        tell("login_sessions", len(sids))
        if len(sids) < batch:
            break

    opaque = select(OpaqueAccessToken.digest).where(OpaqueAccessToken.expires_at <= now)
    while True:
        async with sessions.begin() as s:
            digests = list((await s.execute(opaque.limit(batch))).scalars())
            if digests:
                await s.execute(
                    delete(OpaqueAccessToken).where(OpaqueAccessToken.digest.in_(digests))
                )
        tell("opaque_tokens", len(digests))
        if len(digests) < batch:
            break

    tell("denylist", await SqlDenylist(sessions).purge(now, batch=batch))
    tell("alert_outbox", await purge_outbox(sessions, now, retention=ALERT_RETENTION, batch=batch))
    return out
