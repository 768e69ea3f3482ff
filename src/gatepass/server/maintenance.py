"""Background upkeep of a running server: follow the database denylist (without Redis), and
purge what has expired (logins, tokens, authorization codes, denylist entries, failed-login
counters, old security events; see ``storage/purge.py``), and deliver security alerts from the
outbox (``alerts/worker.py``)."""

from __future__ import annotations

import asyncio
import logging
import time

from gatepass import tailtrace
from gatepass.alerts.worker import deliver_alerts
from gatepass.oauth.services import Services
from gatepass.storage.purge import purge

log = logging.getLogger("gatepass.maintenance")

POLL_INTERVAL = 1.0  # seconds between reads of revocations written by other instances
PURGE_INTERVAL = 600.0  # seconds between purges (the first one a minute after the start)


async def maintain(svc: Services) -> None:
    async with asyncio.TaskGroup() as tasks:  # cancelling maintain() cancels both
        tasks.create_task(deliver_alerts(svc.events.outbox, svc.settings, svc.clock))
        tasks.create_task(_upkeep(svc))


async def _upkeep(svc: Services) -> None:
    next_purge = time.monotonic() + 60
    while True:
        await asyncio.sleep(POLL_INTERVAL)
        try:
            with tailtrace.span("denylist.poll"):
                await svc.denylist.poll()
        except Exception:  # noqa: BLE001 - keep serving; the next round tries again
            log.warning("could not read the denylist", exc_info=True)
        if time.monotonic() >= next_purge:
            next_purge = time.monotonic() + PURGE_INTERVAL
            try:
                with tailtrace.span("purge"):
                    done = await purge(
                        svc.sessions,
                        svc.clock.now(),
                        event_retention=svc.settings.event_retention_days * 86400.0,
                    )
                svc.denylist.local.purge(svc.clock.now())
                if done.total:
                    log.info("purged expired rows", extra={"purged": done.counts})
            except Exception:  # noqa: BLE001
                log.warning("purge failed", exc_info=True)
