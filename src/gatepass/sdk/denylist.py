"""The denylist for services: a local copy kept current from Redis by publish/subscribe.

    from gatepass.sdk import Verifier
    from gatepass.sdk.denylist import RedisDenylist

    denylist = RedisDenylist("redis://127.0.0.1:6379/0")   # the GATEPASS_REDIS_URL of gatepass
    verifier = Verifier.from_issuer("https://auth.example", audience="my-api", denylist=denylist)

A background thread subscribes to the revocation channel, then reads every live entry from
Redis (so nothing published before it subscribed is missed), and only then declares itself
ready. A check is a lookup in the local copy, never a network round trip. When the feed is lost
(connection closed, or no answer to a ping within ``stale_after`` seconds) every check raises
:class:`~gatepass.sdk.errors.DenylistUnavailable` until the thread has reconnected,
resubscribed and caught up again: it fails closed, never open. Anything else that goes wrong in
the thread does the same (logged, reconnected, caught up): the feed never dies silently.

Redis's copy is complete only while it holds the seed marker, which gatepass writes in the same
transaction as the entries it seeds from its database. A follower that finds no marker (Redis
restarted empty, was flushed, or lost the key to eviction) stays not ready and keeps looking
until gatepass has reseeded it; gatepass checks the marker every ``ping_interval`` and reseeds
when it is gone. Entries read from Redis or the channel that are not exactly well-formed are
logged and ignored.

Layout in Redis (``prefix`` lets several deployments share one server):

- ``{prefix}:denylist``: a sorted set of encoded entries scored by their expiry, and the member
  :data:`SEED_MARKER` scored ``+inf``. One key without a TTL, so that an eviction policy
  ``volatile-*`` never takes it, and so that losing it loses the marker with the entries;
- ``{prefix}:denylist:events``: the channel every new entry is published on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gatepass.core.access_token import AccessClaims
from gatepass.core.denylist import BadEntry, LocalDenylist, Revocation
from gatepass.sdk.errors import DenylistUnavailable, RevokedToken

log = logging.getLogger("gatepass.sdk.denylist")

_ERRORS = (redis.RedisError, OSError, TimeoutError)
SEED_MARKER = b"seeded"  # never a JSON array, so never taken for an entry


class LocalOnlyDenylist:
    """A denylist kept in process only (tests, single-process services fed by hand)."""

    def __init__(self, local: LocalDenylist | None = None) -> None:
        self.local = local if local is not None else LocalDenylist()

    def check(self, claims: AccessClaims) -> None:
        if self.local.revoked(claims):
            raise RevokedToken("token revoked")


class RedisDenylist:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gatepass",
        local: LocalDenylist | None = None,
        seed: Callable[[], Iterable[Revocation]] | None = None,
        ping_interval: float = 1.0,
        stale_after: float = 3.0,
        clock: Callable[[], float] = time.time,
        start: bool = True,
    ) -> None:
        """``seed``: the complete record (gatepass's database). A follower given one writes it
        to Redis, with the seed marker, on every connection and whenever the marker is gone;
        one without (a service) waits for the marker before it is ready."""
        self.url = url
        self.local = local if local is not None else LocalDenylist()
        self.key = f"{prefix}:denylist"
        self.channel = f"{prefix}:denylist:events"
        self._seed = seed
        self._ping_interval = ping_interval
        self._stale_after = stale_after
        self._clock = clock
        self._ready = threading.Event()
        self._live = False
        self._stop = threading.Event()
        self._writer: redis.Redis | None = None
        self._writer_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.reconnects = 0
        if start:
            self.start()

    # -- the check, on every verification -------------------------------------------------
    def check(self, claims: AccessClaims) -> None:
        if not self._live:  # a plain attribute: this runs on every verification
            raise DenylistUnavailable("the revocation feed is not current")
        if self.local.revoked(claims):
            raise RevokedToken("token revoked")

    @property
    def ready(self) -> bool:
        return self._live

    def _set_live(self, live: bool) -> bool:
        """Set the state; returns the one it replaced."""
        was, self._live = self._live, live
        if live:
            self._ready.set()
        else:
            self._ready.clear()
        return was

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    # -- writing ---------------------------------------------------------------------------
    def add(self, entry: Revocation) -> None:
        """Store ``entry`` and publish it. The local copy has it at once; raises
        :class:`DenylistUnavailable` when Redis cannot be written."""
        self.local.add(entry)
        try:
            self._write([entry])
        except _ERRORS as exc:
            raise DenylistUnavailable(f"cannot write the denylist: {type(exc).__name__}") from None

    def _client(self) -> redis.Redis:
        with self._writer_lock:
            if self._writer is None:
                self._writer = _connect(self.url)
            return self._writer

    def _write(self, entries: Iterable[Revocation], *, seeded: bool = False) -> None:
        """Store and publish ``entries`` in one transaction; ``seeded``: they are the complete
        record, so the seed marker goes with them."""
        now = self._clock()
        pipe = self._client().pipeline(transaction=True)
        count = 0
        for e in entries:
            if e.expires_at <= now:
                continue
            raw = e.encode()
            pipe.zadd(self.key, {raw: e.expires_at})
            pipe.publish(self.channel, raw)
            count += 1
        if seeded:
            pipe.zadd(self.key, {SEED_MARKER: float("inf")})
            pipe.persist(self.key)  # a TTL set by an older version would make it evictable
        elif not count:
            return
        pipe.zremrangebyscore(self.key, "-inf", now)
        pipe.execute()

    def _reseed(self) -> None:
        if self._seed is not None:
            self._write(list(self._seed()), seeded=True)  # published: followers already caught up

    # -- the feed ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gatepass-denylist", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._set_live(False)
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def _run(self) -> None:
        backoff = 0.05
        told = False  # an unexpected failure was logged with its traceback since the feed was live
        while not self._stop.is_set():
            try:
                self._follow()
                backoff = 0.05
            except Exception as exc:  # noqa: BLE001 - whatever it was: reconnect, catch up
                was_live = self._set_live(False)
                told = told and not was_live
                if was_live:
                    log.warning("denylist feed lost: %s", type(exc).__name__)
                if not isinstance(exc, _ERRORS) and not told:
                    log.error("denylist feed failed; reconnecting", exc_info=True)
                    told = True
                with self._writer_lock:  # a fresh connection for the writes too
                    if self._writer is not None:
                        self._writer.close()
                        self._writer = None
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 1.0)

    def _follow(self) -> None:
        client = _connect(self.url)
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            deadline = time.monotonic() + 2
            while True:  # wait for the subscription to be in force before catching up
                msg = pubsub.get_message(timeout=0.2)
                if msg is not None and msg.get("type") == "subscribe":
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("no subscription confirmation")
            self._reseed()
            self._catch_up(client, first=True)
            last_seen = last_tick = time.monotonic()
            while not self._stop.is_set():
                msg = pubsub.get_message(timeout=0.1)
                now = time.monotonic()
                if msg is not None:
                    last_seen = now
                    if msg.get("type") == "message":
                        self._apply(msg.get("data"))
                if now - last_tick >= self._ping_interval:
                    last_tick = now
                    pubsub.ping()
                    self._tick(client)
                if now - last_seen > self._stale_after:
                    raise TimeoutError("the revocation feed went quiet")
        finally:
            try:
                pubsub.close()
            finally:
                client.close()

    def _tick(self, client: redis.Redis) -> None:
        """Once per ``ping_interval``: drop what expired; with a seed, put back a lost marker;
        not ready yet, look for the marker again."""
        self.local.purge(self._clock())
        if self._seed is not None and client.zscore(self.key, SEED_MARKER) is None:
            log.warning(
                "the denylist in Redis lost its seed marker (flushed or evicted); reseeding"
            )
            self._reseed()
        if not self._live:
            self._catch_up(client, first=False)

    def _catch_up(self, client: redis.Redis, *, first: bool) -> None:
        """Read every live entry; ready when Redis's copy is complete (the marker is there)."""
        complete = False
        for raw in client.zrangebyscore(self.key, self._clock(), "+inf"):
            if raw == SEED_MARKER:
                complete = True
            else:
                self._apply(raw)
        self.local.purge(self._clock())
        if not complete:
            if first:
                log.warning(
                    "the denylist in Redis has no seed marker; waiting for gatepass to seed it"
                )
            return
        if self.reconnects:
            log.info("denylist feed restored")
        self.reconnects += 1
        self._set_live(True)

    def _apply(self, raw: object) -> None:
        if not isinstance(raw, str | bytes):
            return
        try:
            self.local.add(Revocation.decode(raw))
        except BadEntry:
            log.warning("ignored a malformed denylist entry")


def _connect(url: str) -> redis.Redis:
    # No silent reconnects: a lost connection must surface, so the copy is known to be stale.
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
