"""The server's denylist: the database as the record, a local copy for every check, and Redis
(when ``GATEPASS_REDIS_URL`` is set) to share revocations with other instances and services.

This object is the ``denylist`` of the server's own :class:`~gatepass.sdk.verifier.Verifier`.
"""

from __future__ import annotations

import asyncio
import logging

from gatepass.clock import Clock
from gatepass.core.access_token import AccessClaims
from gatepass.core.denylist import LocalDenylist, Revocation
from gatepass.sdk.denylist import RedisDenylist
from gatepass.sdk.errors import RevokedToken
from gatepass.settings import Settings
from gatepass.storage.denylist import SqlDenylist

log = logging.getLogger("gatepass.denylist")

# Entries written this long before the last poll are read again (commit order is not time order).
POLL_OVERLAP = 30.0


class ServerDenylist:
    def __init__(self, store: SqlDenylist, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.local = LocalDenylist()
        self._clock = clock
        self._settings = settings
        self._polled_at: float | None = None
        self.redis: RedisDenylist | None = None

    async def start(self, *, follow: bool = True) -> None:
        """Load the database's entries; with Redis, start following the feed (reseeding Redis
        from the database on every reconnection, and whenever Redis has lost the seed marker)
        and wait a little for it."""
        now = self._clock.now()
        for e in await self.store.active(now):
            self.local.add(e)
        self._polled_at = now
        url = self._settings.redis_url
        if url is None:
            return
        loop = asyncio.get_running_loop()

        def seed() -> list[Revocation]:
            future = asyncio.run_coroutine_threadsafe(self.store.active(self._clock.now()), loop)
            return future.result(timeout=10)

        self.redis = RedisDenylist(
            url,
            prefix=self._settings.redis_prefix,
            local=self.local,
            seed=seed,
            clock=self._clock.now,
            start=follow,
        )
        if follow:
            await asyncio.to_thread(self.redis.wait_ready, 3.0)

    @property
    def ready(self) -> bool:
        """Whether checks can be answered: always without Redis; with it, while the feed is
        live (else every check raises ``DenylistUnavailable``: 503)."""
        return self.redis is None or self.redis.ready

    def check(self, claims: AccessClaims) -> None:
        if self.redis is not None:
            self.redis.check(claims)
        elif self.local.revoked(claims):
            raise RevokedToken("token revoked")

    async def add(self, entry: Revocation) -> None:
        """Durable first (the database), then the local copy, then Redis. A Redis failure is
        logged, not raised: the entry is in the database, and every instance reseeds Redis
        from it when it comes back, before it answers again."""
        await self.store.add(entry, now=self._clock.now())
        self.local.add(entry)
        if self.redis is not None:
            try:
                await asyncio.to_thread(self.redis.add, entry)
            except Exception:  # noqa: BLE001 - recorded in the database; reseeded later
                log.warning("revocation not published to Redis; it will be reseeded")

    async def poll(self) -> int:
        """Pick up entries other instances (or the CLI) wrote to the shared database: the feed
        without Redis, a safety net with it. An entry found here that the Redis feed never
        delivered (its publication failed) is published again, for the SDK verifiers too.
        Returns how many entries were new to this instance."""
        now = self._clock.now()
        since = (self._polled_at or now) - POLL_OVERLAP
        missed = [e for e in await self.store.active(now, since=since) if not self.local.covers(e)]
        for e in missed:
            self.local.add(e)
        self._polled_at = now
        self.local.purge(now)
        if missed and self.redis is not None and self.redis.ready:
            for e in missed:
                try:
                    await asyncio.to_thread(self.redis.add, e)
                except Exception:  # noqa: BLE001 - the next reconnection reseeds Redis
                    log.warning("could not republish a revocation to Redis")
                    break
        return len(missed)

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()
