"""The alert outbox: every alert about a security event is a row, written in the same
transaction as the event, and deleted only after it was delivered (at-least-once).

Delivery workers take rows by a *claim*: one conditional ``UPDATE`` moves the due rows' ``due_at``
to the end of a lease and stamps them with the claim's id; no other worker (in this process, in
another one, on another host) can take a row while its lease runs, and every later write of a row
names its claim, so a worker whose lease ran out (a slow receiver, a process killed mid-send)
changes nothing. A row whose claimant died is due again when its lease ends: it is sent again,
which at-least-once allows, and the message id lets the receiver see the repeat. On PostgreSQL
the rows are picked ``FOR UPDATE SKIP LOCKED``; on SQLite the statement holds the write lock.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gatepass.core.alert_texts import wants_email
from gatepass.settings import Settings
from gatepass.storage.models import AlertOutbox

EMAIL, WEBHOOK = "email", "webhook"
# an alert still undelivered this long after its event is given up (``failed``): by the worker
# at its next failed attempt, or by the purge when no worker can send it (its channel is not
# configured any more, or never was on the instance that queued it)
GIVE_UP_AFTER = 3 * 86400.0


@dataclass(frozen=True, slots=True)
class Routes:
    """Where alerts go: email when an SMTP server is configured, and each webhook URL."""

    email: bool
    webhook_urls: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Routes:
        return cls(bool(settings.smtp_host), tuple(settings.webhook_urls))

    @property
    def channels(self) -> tuple[str, ...]:
        return ((EMAIL,) if self.email else ()) + ((WEBHOOK,) if self.webhook_urls else ())


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    message_id: str
    channel: str
    target: str
    payload: dict[str, Any]
    created_at: float
    attempts: int
    claim: str


_COLUMNS = [
    "message_id",
    "event_id",
    "channel",
    "target",
    "payload",
    "created_at",
    "due_at",
    "attempts",
    "state",
]


@functools.cache
def _insert_sql(dialect: str, email: bool, webhooks: int) -> str:
    """The one ``INSERT … SELECT`` of :meth:`Outbox.enqueue`, for ``dialect``'s driver
    (``?N`` for sqlite3, ``$N`` for asyncpg, with the types PostgreSQL cannot infer across a
    ``UNION ALL``). Parameters: 1 event id, 2 payload (JSON text), 3 now, then one message id
    per row, then the webhook URLs, then the user id when there is an email."""
    pg = dialect == "postgresql"

    def p(n: int, cast: str = "") -> str:
        return f"${n}{cast}" if pg else f"?{n}"

    def row(mid: int, channel: str, target: str) -> str:
        return (
            f"SELECT {p(mid, '::varchar')}, {p(1, '::integer')}, '{channel}', {target}, "
            f"{p(2, '::json')}, {p(3, '::double precision')}, {p(3, '::double precision')}, "
            "0, 'pending'"
        )

    rows = int(email) + webhooks
    picks = [
        row(4 + int(email) + i, WEBHOOK, p(4 + rows + i, "::varchar")) for i in range(webhooks)
    ]
    if email:
        user = p(4 + rows + webhooks, "::varchar")
        picks.insert(
            0, row(4, EMAIL, "email") + f" FROM users WHERE id = {user} AND email IS NOT NULL"
        )
    return f"INSERT INTO alert_outbox ({', '.join(_COLUMNS)})\n" + "\nUNION ALL\n".join(picks)


class Outbox:
    def __init__(self, sessions: async_sessionmaker[Any], routes: Routes) -> None:
        self._s = sessions
        self.routes = routes
        self._wake = asyncio.Event()

    def statement(self, event: dict[str, Any], now: float, dialect: str) -> tuple[str, list[Any]]:
        """The one ``INSERT … SELECT`` that queues every alert of ``event`` (the user's address
        read inside it), on ``dialect``'s driver, and its parameters; ``("", [])`` for none.

        Prepared once per shape (:func:`_insert_sql`): built with SQLAlchemy's constructs each
        time (fresh literals, a ``union_all``, the JSON type) and run through a session, it cost
        four times the statement itself, inside a request that detected a reuse or a lockout
        (``bench/alerts.py``)."""
        user_id = event.get("user_id")
        email = bool(self.routes.email and user_id and wants_email(event["type"], event["details"]))
        urls = self.routes.webhook_urls
        if not email and not urls:
            return "", []
        ids = ["msg_" + secrets.token_hex(16) for _ in range(int(email) + len(urls))]
        params = [event["id"], json.dumps(event), now, *ids, *urls, *([user_id] if email else [])]
        return _insert_sql(dialect, email, len(urls)), params

    def enqueue_sqlite(self, db: sqlite3.Connection, event: dict[str, Any], now: float) -> int:
        """Add the alerts for ``event`` in the write transaction open on ``db`` (the event's own,
        ``storage/events.py``, on the event loop); how many."""
        sql, params = self.statement(event, now, "sqlite")
        return db.execute(sql, params).rowcount if sql else 0

    async def enqueue(self, s: AsyncSession, event: dict[str, Any], now: float) -> int:
        """Add the alerts for ``event`` in the caller's transaction ``s``; how many.

        ``s`` must already have written in its transaction (the event's own row): the rows go
        in through that same connection, on the driver, and commit or roll back with it."""
        conn = await s.connection()
        sql, params = self.statement(event, now, conn.dialect.name)
        if not sql:
            return 0
        raw: Any = (await conn.get_raw_connection()).driver_connection
        if conn.dialect.name == "postgresql":
            if not raw.is_in_transaction():
                raise RuntimeError("enqueue outside a transaction")
            status = await raw.execute(sql, *params)
            return int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"
        if not raw.in_transaction:
            raise RuntimeError("enqueue outside a transaction")
        cursor = await raw.execute(sql, params)
        try:
            return int(cursor.rowcount)
        finally:
            await cursor.close()

    def wake(self) -> None:
        """Tell this process's worker that rows were just committed."""
        self._wake.set()

    async def wait(self, timeout: float) -> None:
        """Until :meth:`wake` or ``timeout`` seconds, whichever is first."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            pass
        self._wake.clear()

    async def claim(
        self, *, now: float, lease: float, limit: int, channels: tuple[str, ...]
    ) -> list[Claimed]:
        """Take up to ``limit`` due rows for ``lease`` seconds."""
        if not channels:
            return []
        claim = secrets.token_hex(16)
        due = (
            select(AlertOutbox.id)
            .where(AlertOutbox.due_at <= now, AlertOutbox.channel.in_(channels))
            .order_by(AlertOutbox.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(AlertOutbox)
            .where(AlertOutbox.id.in_(due.scalar_subquery()), AlertOutbox.due_at <= now)
            .values(due_at=now + lease, claim=claim)
            .returning(
                AlertOutbox.id,
                AlertOutbox.message_id,
                AlertOutbox.channel,
                AlertOutbox.target,
                AlertOutbox.payload,
                AlertOutbox.created_at,
                AlertOutbox.attempts,
            )
        )
        async with self._s.begin() as s:
            got = (await s.execute(stmt)).all()
        out = [
            Claimed(
                id=r.id,
                message_id=r.message_id,
                channel=r.channel,
                target=r.target,
                payload=r.payload,
                created_at=r.created_at,
                attempts=r.attempts,
                claim=claim,
            )
            for r in got
        ]
        return sorted(out, key=lambda c: c.id)

    async def delivered(self, rows: list[Claimed], now: float) -> int:
        """Done, in one statement for a claim's rows; how many were still this claim's (a row
        whose lease had run out may be someone else's now)."""
        return await self._finish(rows, due_at=None, state="delivered", done_at=now, error=None)

    async def retry(self, row: Claimed, *, due_at: float, error: str) -> bool:
        done = await self._finish([row], due_at=due_at, state="pending", done_at=None, error=error)
        return done == 1

    async def give_up(self, row: Claimed, now: float, error: str) -> bool:
        return await self._finish([row], due_at=None, state="failed", done_at=now, error=error) == 1

    async def _finish(
        self,
        rows: list[Claimed],
        *,
        due_at: float | None,
        state: str,
        done_at: float | None,
        error: str | None,
    ) -> int:
        if not rows:
            return 0
        claims = {r.claim for r in rows}
        if len(claims) != 1:
            raise ValueError("rows of one claim at a time")
        stmt = (
            update(AlertOutbox)
            .where(AlertOutbox.id.in_([r.id for r in rows]), AlertOutbox.claim == claims.pop())
            .values(
                due_at=due_at,
                claim=None,
                attempts=AlertOutbox.attempts + 1,
                state=state,
                done_at=done_at,
                last_error=error[:200] if error else None,
            )
        )
        async with self._s.begin() as s:
            return int((await s.execute(stmt)).rowcount)

    async def counts(self) -> dict[str, int]:
        """Rows by state (``pending``, ``delivered``, ``failed``)."""
        q = select(AlertOutbox.state, func.count()).group_by(AlertOutbox.state)
        async with self._s() as s:
            return {state: n for state, n in (await s.execute(q)).all()}


async def give_up_stale(sessions: async_sessionmaker[Any], now: float) -> int:
    """Give up the rows still pending ``GIVE_UP_AFTER`` after their event and not held by a
    live claim: rows no worker could take, because their channel is not configured. Without
    this they would stay pending (and never be purged) for ever."""
    stmt = (
        update(AlertOutbox)
        .where(
            AlertOutbox.due_at.is_not(None),
            AlertOutbox.due_at <= now,  # a claim's lease has ended, or there was none
            AlertOutbox.created_at <= now - GIVE_UP_AFTER,
        )
        .values(
            due_at=None,
            claim=None,
            state="failed",
            done_at=now,
            last_error="never delivered: no delivery configured for its channel",
        )
    )
    async with sessions.begin() as s:
        return int((await s.execute(stmt)).rowcount)


async def purge_outbox(
    sessions: async_sessionmaker[Any], now: float, *, retention: float, batch: int = 1000
) -> int:
    """Delete rows done (delivered or given up) more than ``retention`` seconds ago, after
    giving up the stale ones (:func:`give_up_stale`)."""
    await give_up_stale(sessions, now)
    old = select(AlertOutbox.id).where(AlertOutbox.done_at <= now - retention).limit(batch)
    total = 0
    while True:
        async with sessions.begin() as s:
            ids = list((await s.execute(old)).scalars())
            if ids:
                await s.execute(delete(AlertOutbox).where(AlertOutbox.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total
