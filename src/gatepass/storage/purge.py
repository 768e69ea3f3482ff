"""Hygiene: delete what no longer covers anything, in small batches, so the tables stay the size
of what is live (each query uses an index on an expiry or time column).

- refresh tokens past their own expiry, and used ones rotated more than ``used_retention`` ago
  (until then a replay of one is still recognised as reuse and ends its family; after, it is
  just unknown, and refused all the same). ``used_at`` has no index (the rotation's update stays
  HOT, ``models.RefreshToken``): a token used that long ago was issued before then too, so they
  are found by ``issued_at``, and ``used_at`` is checked on those rows;
- logins past their absolute or idle deadline, and revoked ones after ``revoked_retention``
  (their tokens with them);
- opaque access tokens past their expiry;
- denylist entries whose tokens have all expired;
- alerts delivered (or given up) more than ``ALERT_RETENTION`` ago (``storage/outbox.py``);
- DPoP proofs remembered for several workers (``storage/dpop_replay.py``) once they expired;
- failed-login counters whose window, lock and memory of lockouts are over (``expires_at``), so
  that guesses at names that do not exist leave nothing behind for long;
- security events older than ``event_retention`` (``GATEPASS_EVENT_RETENTION_DAYS``, 90 days);
- authorization codes past their expiry (at most 60 s after issue), used or not: until then a
  used one presented again is still recognised as a replay and revokes its login; after, it is
  just unknown, and refused all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from gatepass.storage.denylist import SqlDenylist
from gatepass.storage.dpop_replay import purge_seen
from gatepass.storage.models import (
    AuthorizationCode,
    LoginSession,
    LoginThrottle,
    OpaqueAccessToken,
    RefreshToken,
    SecurityEvent,
)
from gatepass.storage.outbox import purge_outbox

USED_RETENTION = 86400.0
REVOKED_RETENTION = 86400.0
EVENT_RETENTION = 90 * 86400.0
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
            "dpop_proofs_seen": 0,
            "login_throttle": 0,
            "security_events": 0,
            "authorization_codes": 0,
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
    event_retention: float = EVENT_RETENTION,
    progress: Progress | None = None,
) -> Purged:
    out = Purged()

    def tell(table: str, n: int) -> None:
        out.counts[table] += n
        if progress is not None and n:
            progress(table, out.counts[table])

    async def rows(table: str, key: InstrumentedAttribute[Any], dead: ColumnElement[bool]) -> None:
        """Delete the rows where ``dead`` holds, ``batch`` primary keys at a time. On PostgreSQL
        the rows are locked first, skipping any that a request holds (a login's throttle
        counters: left for the next round, so the purge never waits on a request, nor the two
        on each other); ``dead`` is checked again as they go, since a counter may have come back
        to life meanwhile."""
        q = select(key).where(dead).limit(batch).with_for_update(skip_locked=True)
        while True:
            async with sessions.begin() as s:
                keys = list((await s.execute(q)).scalars())
                if keys:
                    done = await s.execute(delete(key.class_).where(key.in_(keys), dead))
                    tell(table, done.rowcount)
            if len(keys) < batch:
                return

    await rows(
        "refresh_tokens",
        RefreshToken.digest,
        or_(
            RefreshToken.expires_at <= now,
            and_(
                RefreshToken.issued_at <= now - used_retention,
                RefreshToken.used_at <= now - used_retention,
            ),
        ),
    )

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

    await rows("opaque_tokens", OpaqueAccessToken.digest, OpaqueAccessToken.expires_at <= now)
    tell("denylist", await SqlDenylist(sessions).purge(now, batch=batch))
    tell("alert_outbox", await purge_outbox(sessions, now, retention=ALERT_RETENTION, batch=batch))
    tell("dpop_proofs_seen", await purge_seen(sessions, now))
    await rows("login_throttle", LoginThrottle.key, LoginThrottle.expires_at <= now)
    await rows(
        "security_events", SecurityEvent.id, SecurityEvent.created_at < now - event_retention
    )
    await rows("authorization_codes", AuthorizationCode.digest, AuthorizationCode.expires_at <= now)
    return out
