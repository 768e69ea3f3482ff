"""OAuth client registry. Client secrets are stored only as SHA-256 digests.

Client authentication reads clients through :meth:`Clients.cached`: a small in-process cache, so
that the token and introspection endpoints do not pay a database round trip per request. A
delete or a secret rotation through this object drops the entry at once; another instance (or
the CLI) sees the change within ``CACHE_TTL`` seconds.

"At once" holds for requests in flight too: each invalidation of an id bumps that id's
generation, and a read that began before the latest invalidation (so may have seen the row as
it was before the change committed) is answered but never cached.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.clock import Clock, SystemClock
from gatepass.core import opaque
from gatepass.errors import Conflict
from gatepass.storage import keyset
from gatepass.storage.models import Client

CACHE_TTL = 5.0  # seconds a cached client record is trusted (changes made elsewhere)
CACHE_SIZE = 1024  # at most this many clients cached; the oldest entry goes first
REFRESH_AHEAD = 0.8  # of CACHE_TTL: a record this old is read again in the background


class Clients:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        *,
        clock: Clock | None = None,
        cache_ttl: float = CACHE_TTL,
    ) -> None:
        self._s = sessions
        self._clock = clock or SystemClock()
        self._ttl = cache_ttl
        self._cache: dict[str, tuple[float, Client]] = {}
        # id -> invalidations so far; only ids changed through this object, kept while a read of
        # the id may be in flight (see _reading)
        self._generation: dict[str, int] = {}
        self._reading: dict[str, int] = {}  # id -> reads in flight
        self._inflight: dict[str, asyncio.Task[Client | None]] = {}  # id -> the read to share

    async def create(
        self,
        name: str,
        *,
        grants: Iterable[str],
        scopes: Iterable[str],
        public: bool,
        token_format: str,
        now: float,
        audience: str | None = None,
        access_token_ttl: int | None = None,
        client_id: str | None = None,
        dpop_bound_access_tokens: bool = False,
        redirect_uris: Iterable[str] = (),
        post_logout_redirect_uris: Iterable[str] = (),
        first_party: bool = False,
    ) -> tuple[Client, str | None]:
        """Register a client; returns it and its secret (shown once; None for public)."""
        secret = None if public else opaque.new_token(opaque.CLIENT_SECRET_PREFIX)
        client = Client(
            id=client_id or "gpc_" + secrets.token_urlsafe(12),
            name=name,
            secret_digest=opaque.digest(secret) if secret else None,
            public=public,
            grants=sorted(set(grants)),
            scopes=sorted(set(scopes)),
            audience=audience,
            token_format=token_format,
            access_token_ttl=access_token_ttl,
            dpop_bound_access_tokens=dpop_bound_access_tokens,
            redirect_uris=list(redirect_uris),
            post_logout_redirect_uris=list(post_logout_redirect_uris),
            first_party=first_party,
            created_at=now,
        )
        try:
            async with self._s.begin() as s:
                s.add(client)
        except IntegrityError:
            raise Conflict("a client with that id already exists") from None
        return client, secret

    async def get(self, client_id: str) -> Client | None:
        async with self._s() as s:
            return await s.get(Client, client_id)

    async def cached(self, client_id: str) -> Client | None:
        """The client, from a record at most ``CACHE_TTL`` seconds old (for authentication).

        Unknown ids are never cached, so a client created elsewhere works at once. One read per
        id at a time: requests that miss together share it, and a record past ``REFRESH_AHEAD``
        of its life is read again in the background while requests go on with it (without this,
        every request in flight missed at once when an entry expired, each read queued for the
        pool, and client_credentials had a 0.3-2 s stall every ``CACHE_TTL``: bench/README.md,
        "Tail latency").
        """
        now = self._clock.now()
        hit = self._cache.get(client_id)
        if hit is not None and 0 <= now - hit[0] < self._ttl:
            if now - hit[0] >= self._ttl * REFRESH_AHEAD and client_id not in self._inflight:
                self._read(client_id).add_done_callback(_consume)  # failure: the next one tries
            return hit[1]
        read = self._inflight.get(client_id) or self._read(client_id)
        return await asyncio.shield(read)  # a cancelled request does not cancel the shared read

    def _read(self, client_id: str) -> asyncio.Task[Client | None]:
        task = asyncio.get_running_loop().create_task(self._fetch(client_id))
        self._inflight[client_id] = task

        def done(t: asyncio.Task[Client | None]) -> None:
            if self._inflight.get(client_id) is t:
                del self._inflight[client_id]

        task.add_done_callback(done)
        return task

    async def _fetch(self, client_id: str) -> Client | None:
        now = self._clock.now()
        generation = self._generation.get(client_id, 0)
        self._reading[client_id] = self._reading.get(client_id, 0) + 1
        try:
            client = await self.get(client_id)
            stale = self._generation.get(client_id, 0) != generation
        finally:
            self._done_reading(client_id)
        if stale:
            return client  # invalidated while we read: answer its requests, cache nothing
        self._cache.pop(client_id, None)
        if client is not None:
            if len(self._cache) >= CACHE_SIZE:
                del self._cache[next(iter(self._cache))]
            self._cache[client_id] = (now, client)
        return client

    def _done_reading(self, client_id: str) -> None:
        left = self._reading.pop(client_id) - 1
        if left:
            self._reading[client_id] = left
        else:  # no read of it in flight: no generation to compare against any more
            self._generation.pop(client_id, None)

    def forget(self, client_id: str) -> None:
        """Drop the cached record, and refuse to cache any read of it already in flight (nor
        let a later request share that read)."""
        self._cache.pop(client_id, None)
        self._inflight.pop(client_id, None)
        if client_id in self._reading:
            self._generation[client_id] = self._generation.get(client_id, 0) + 1

    async def delete(self, client_id: str) -> bool:
        self.forget(client_id)
        try:
            async with self._s.begin() as s:
                result = await s.execute(delete(Client).where(Client.id == client_id))
        finally:
            self.forget(client_id)  # a request that read it meanwhile must not keep it
        return bool(result.rowcount)

    async def rotate_secret(self, client_id: str) -> str | None:
        """A new secret for a confidential client (the old one stops working at once)."""
        secret = opaque.new_token(opaque.CLIENT_SECRET_PREFIX)
        self.forget(client_id)
        try:
            async with self._s.begin() as s:
                result = await s.execute(
                    update(Client)
                    .where(Client.id == client_id, Client.public.is_(False))
                    .values(secret_digest=opaque.digest(secret))
                )
        finally:
            self.forget(client_id)  # a request that read it meanwhile must not keep it
        return secret if result.rowcount else None

    async def update(self, client_id: str, **values: Any) -> Client | None:
        """Set columns of one client; the cached record is dropped at once, as for a secret
        rotation. The client as it is now, None when there is no such client."""
        self.forget(client_id)
        try:
            async with self._s.begin() as s:
                result = await s.execute(
                    update(Client).where(Client.id == client_id).values(**values)
                )
        finally:
            self.forget(client_id)  # a request that read it meanwhile must not keep it
        return await self.get(client_id) if result.rowcount else None

    async def page(self, *, limit: int, after: tuple[float, str] | None = None) -> list[Client]:
        """Up to ``limit`` clients by registration time (then id), from just after ``after``."""
        at, cid = Client.created_at, Client.id
        q = select(Client)
        if (cond := keyset.after(at, cid, after, descending=False)) is not None:
            q = q.where(cond)
        q = q.order_by(*keyset.order(at, cid, descending=False)).limit(limit)
        async with self._s() as s:
            return list((await s.execute(q)).scalars())

    async def list(self) -> list[Client]:
        async with self._s() as s:
            return list((await s.execute(select(Client).order_by(Client.created_at))).scalars())


def _consume(task: asyncio.Task[Any]) -> None:
    """A background refresh that failed (database down): the entry expires as it would have,
    and the request that then misses reads again and meets the error itself."""
    if not task.cancelled():
        task.exception()
