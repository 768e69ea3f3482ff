"""Background upkeep of a running server: follow the database denylist (without Redis)."""

from __future__ import annotations

import asyncio
import logging

from gatepass.oauth.services import Services

log = logging.getLogger("gatepass.maintenance")

POLL_INTERVAL = 1.0  # seconds between reads of revocations written by other instances


async def maintain(svc: Services) -> None:
    while True:
        await asyncio.sleep(POLL_INTERVAL)
        try:
            await svc.denylist.poll()
        except Exception:  # noqa: BLE001 - keep serving; the next round tries again
            log.warning("could not read the denylist", exc_info=True)
