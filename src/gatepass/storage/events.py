"""Security events: refresh reuse, lockouts, forced logouts, password changes, sign-ins.

Each event's alerts (emails, webhooks; ``storage/outbox.py``) are written in the event's own
transaction: an event is never recorded without its alerts, nor an alert sent for an event that
was rolled back.

On SQLite, :meth:`Events.record` writes on the token rows' own connection, on the event loop
(``storage/token_rows/sqlite.py``): the event and its alerts are two statements of a few tens of
µs in one transaction, where each statement through a session is a hop to aiosqlite's thread and
back (the alerts' alone were 4-20% of a refresh that detects reuse: ``bench/alerts.py``).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gatepass.storage.models import KnownDevice, SecurityEvent
from gatepass.storage.outbox import Outbox
from gatepass.storage.token_rows import TokenRows
from gatepass.storage.token_rows.sqlite import SqliteTokenRows

FIELDS = ("user_id", "username", "client_id", "sid", "ip", "user_agent")
_SQLITE_INSERT_EVENT = (  # the columns in the order of FIELDS
    "INSERT INTO security_events"
    " (type, created_at, user_id, username, client_id, sid, ip, user_agent, details)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class Events:
    def __init__(
        self, sessions: async_sessionmaker[Any], outbox: Outbox, rows: TokenRows | None = None
    ) -> None:
        self._s = sessions
        self.outbox = outbox
        self._loop_db = rows if isinstance(rows, SqliteTokenRows) else None

    async def record(self, type_: str, *, now: float, **fields: Any) -> None:
        if unknown := set(fields) - {*FIELDS, "details"}:
            raise TypeError(f"not an event field: {sorted(unknown)}")
        if self._loop_db is not None:
            queued = await self._loop_db.write(
                functools.partial(self._add_sqlite, type_, now, fields)
            )
        else:
            async with self._s.begin() as s:
                queued = await self._add(s, type_, now, fields)
        if queued:
            self.outbox.wake()

    def _add_sqlite(
        self, type_: str, now: float, fields: dict[str, Any], db: sqlite3.Connection
    ) -> int:
        details = fields.get("details") or {}
        values = (type_, now, *(fields.get(k) for k in FIELDS), json.dumps(details))
        event_id = db.execute(_SQLITE_INSERT_EVENT, values).lastrowid
        if not self.outbox.routes.channels:
            return 0
        return self.outbox.enqueue_sqlite(db, _event(event_id, type_, now, details, fields), now)

    async def sign_in(
        self, *, device: str, now: float, details: dict[str, Any], **fields: Any
    ) -> bool:
        """Record a ``sign_in`` event; True when it came from a new device (``core/devices.py``):
        the user has signed in before, never from ``device``. One transaction for both."""
        user_id = fields["user_id"]
        known = select(KnownDevice.device).where(KnownDevice.user_id == user_id).limit(1)
        async with self._s.begin() as s:
            seen = (await s.execute(known.where(KnownDevice.device == device))).first()
            flagged = first = False
            if seen is None:  # the common case (a known device) stops at one indexed read
                first = (await s.execute(known)).first() is None
                flagged = not first
                ins = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert
                row = {"user_id": user_id, "device": device, "first_seen": now}
                await s.execute(ins(KnownDevice).values(row).on_conflict_do_nothing())
            extra = {"new_device": flagged, **({"first_sign_in": True} if first else {})}
            queued = await self._add(s, "sign_in", now, {**fields, "details": {**details, **extra}})
        if queued:
            self.outbox.wake()
        return flagged

    async def _add(self, s: AsyncSession, type_: str, now: float, fields: dict[str, Any]) -> int:
        details = fields.pop("details", None) or {}
        row = SecurityEvent(type=type_, created_at=now, details=details, **fields)
        s.add(row)
        if not self.outbox.routes.channels:
            return 0
        await s.flush()  # the event's id, for its alerts
        return await self.outbox.enqueue(s, _event(row.id, type_, now, details, fields), now)

    async def page(
        self, *, after_id: int = 0, limit: int = 50, type_: str | None = None
    ) -> list[SecurityEvent]:
        q = select(SecurityEvent).where(SecurityEvent.id > after_id)
        if type_:
            q = q.where(SecurityEvent.type == type_)
        async with self._s() as s:
            return list((await s.execute(q.order_by(SecurityEvent.id).limit(limit))).scalars())

    async def newest(
        self,
        *,
        limit: int,
        before_id: int | None = None,
        type_: str | None = None,
        user_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[SecurityEvent]:
        """Events newest first (by id, which grows with time), from just before ``before_id``
        (a keyset page), filtered by type, user (the account the event is about) and time
        (``since`` <= created_at < ``until``)."""
        q = select(SecurityEvent)
        if before_id is not None:
            q = q.where(SecurityEvent.id < before_id)
        if type_:
            q = q.where(SecurityEvent.type == type_)
        if user_id is not None:
            q = q.where(SecurityEvent.user_id == user_id)
        if since is not None:
            q = q.where(SecurityEvent.created_at >= since)
        if until is not None:
            q = q.where(SecurityEvent.created_at < until)
        async with self._s() as s:
            rows = await s.execute(q.order_by(SecurityEvent.id.desc()).limit(limit))
            return list(rows.scalars())


def _event(
    event_id: Any, type_: str, now: float, details: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    """The event as its alerts carry it (``storage/outbox.py``)."""
    event = {"id": event_id, "type": type_, "created_at": now, "details": details}
    event.update({k: fields.get(k) for k in FIELDS})
    if not event["user_id"]:  # a name typed for no account may be a mistyped password
        event["username"] = None
    return event
