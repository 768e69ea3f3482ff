"""The delivery worker: claim due outbox rows, send each, and record the outcome.

A failed attempt is retried after an exponential delay with jitter (``core/backoff.py``): 5 s,
10 s, 20 s … doubling to at most an hour, for three days; then the row is given up (``failed``)
and a warning is logged. A row whose worker died mid-send (killed, lease run out) is claimed
again when its lease ends. Every server process runs one worker (``server/maintenance.py``);
the claims keep them, and other instances on the same database, from sending a row twice at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Protocol

from gatepass.alerts.errors import DeliveryFailed, Undeliverable
from gatepass.clock import Clock
from gatepass.core.backoff import delay
from gatepass.settings import Settings
from gatepass.storage.outbox import EMAIL, WEBHOOK, Claimed, Outbox

log = logging.getLogger("gatepass.alerts")

POLL = 1.0  # seconds between looks for due rows (an event in this process wakes it at once)
BATCH = 20  # rows per claim, sent concurrently
LEASE = 120.0  # seconds a claim holds its rows: longer than an attempt's timeouts
BASE_DELAY, MAX_DELAY = 5.0, 3600.0
GIVE_UP_AFTER = 3 * 86400.0


class Sender(Protocol):
    async def send(self, row: Claimed) -> None: ...
    async def close(self) -> None: ...


def senders_from(settings: Settings) -> dict[str, Sender]:
    from gatepass.alerts.smtp import SmtpSender
    from gatepass.alerts.webhook import WebhookSender

    out: dict[str, Sender] = {}
    if settings.smtp_host:
        out[EMAIL] = SmtpSender(settings)
    if settings.webhook_urls:
        out[WEBHOOK] = WebhookSender(settings)
    return out


class Worker:
    def __init__(
        self,
        outbox: Outbox,
        senders: dict[str, Sender],
        clock: Clock,
        *,
        lease: float = LEASE,
        batch: int = BATCH,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.outbox = outbox
        self.senders = senders
        self.clock = clock
        self.lease = lease
        self.batch = batch
        self._rand = rand

    async def round(self) -> int:
        """Claim what is due and attempt each; how many rows were claimed."""
        rows = await self.outbox.claim(
            now=self.clock.now(), lease=self.lease, limit=self.batch, channels=tuple(self.senders)
        )
        results = await asyncio.gather(*(self._one(r) for r in rows), return_exceptions=True)
        sent = [row for row, ok in zip(rows, results, strict=True) if ok is True]
        lost = [row for row, ok in zip(rows, results, strict=True) if isinstance(ok, BaseException)]
        try:
            await self.outbox.delivered(sent, self.clock.now())  # one statement for all
        except Exception:  # noqa: BLE001 - logged below; the lease will end, and they go again
            lost += sent
        for row in lost:
            log.warning(
                "alert outcome not recorded; it will be sent again", extra={"outbox_id": row.id}
            )
        return len(rows)

    async def _one(self, row: Claimed) -> bool:
        """True when delivered (recorded by the caller, with the others)."""
        try:
            await self.senders[row.channel].send(row)
        except Undeliverable as exc:
            await self.outbox.give_up(row, self.clock.now(), str(exc))
            log.warning(
                "alert undeliverable", extra={"outbox_id": row.id, "channel": row.channel}
            )
            return False
        except Exception as exc:  # noqa: BLE001 - any failure is retried
            reason = str(exc) if isinstance(exc, DeliveryFailed) else type(exc).__name__
            now = self.clock.now()
            if now - row.created_at >= GIVE_UP_AFTER:
                await self.outbox.give_up(row, now, reason)
                log.warning(
                    "alert given up after retrying",
                    extra={"outbox_id": row.id, "channel": row.channel, "error": reason},
                )
                return False
            wait = delay(row.attempts + 1, base=BASE_DELAY, cap=MAX_DELAY, rand=self._rand())
            await self.outbox.retry(row, due_at=now + wait, error=reason)
            log.info(
                "alert delivery failed; will retry",
                extra={"outbox_id": row.id, "channel": row.channel, "error": reason},
            )
            return False
        return True


async def deliver_alerts(outbox: Outbox, settings: Settings, clock: Clock) -> None:
    """Run until cancelled; returns at once when no delivery is configured."""
    senders = senders_from(settings)
    if not senders:
        return
    worker = Worker(outbox, senders, clock)
    try:
        while True:
            try:
                claimed = await worker.round()
            except Exception:  # noqa: BLE001 - the database may be back at the next round
                log.warning("alert delivery round failed", exc_info=True)
                claimed = 0
            if claimed < worker.batch:
                await outbox.wait(POLL)
    finally:
        for sender in senders.values():
            await sender.close()
