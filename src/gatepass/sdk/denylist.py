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
resubscribed and caught up again: it fails closed, never open.

Layout in Redis (``prefix`` lets several deployments share one server):

- ``{prefix}:denylist``: a sorted set of encoded entries scored by their expiry;
- ``{prefix}:denylist:{kind}:{value}``: one key per entry with a TTL ending with its coverage;
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

    def _set_live(self, live: bool) -> None:
        self._live = live
        if live:
            self._ready.set()
        else:
            self._ready.clear()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    # -- writing ---------------------------------------------------------------------------
    def add(self, entry: Revocation) -> None:
        """Store ``entry`` with its TTL and publish it. The local copy has it at once; raises
        :class:`DenylistUnavailable` when Redis cannot be written."""
        self.local.add(entry)
        try:
            self._write([entry], publish=True)
        except _ERRORS as exc:
            raise DenylistUnavailable(f"cannot write the denylist: {type(exc).__name__}") from None

    def _client(self) -> redis.Redis:
        with self._writer_lock:
            if self._writer is None:
                self._writer = _connect(self.url)
            return self._writer

    def _write(self, entries: Iterable[Revocation], *, publish: bool) -> None:
        now = self._clock()
        pipe = self._client().pipeline(transaction=True)
        latest = 0.0
        count = 0
        for e in entries:
            if e.expires_at <= now:
                continue
            raw = e.encode()
            pipe.set(f"{self.key}:{e.kind}:{e.value}", raw, pxat=int(e.expires_at * 1000) + 1)
            pipe.zadd(self.key, {raw: e.expires_at})
            if publish:
                pipe.publish(self.channel, raw)
            latest = max(latest, e.expires_at)
            count += 1
        if not count:
            return
        pipe.zremrangebyscore(self.key, "-inf", now)
        pipe.expireat(self.key, int(latest) + 1, gt=True)
        pipe.expireat(self.key, int(latest) + 1, nx=True)
        pipe.execute()

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
        while not self._stop.is_set():
            try:
                self._follow()
                backoff = 0.05
            except _ERRORS as exc:
                if self._live:
                    log.warning("denylist feed lost: %s", type(exc).__name__)
                self._set_live(False)
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
            if self._seed is not None:
                self._write(list(self._seed()), publish=True)  # to followers already caught up
            self._catch_up(client)
            if self.reconnects:
                log.info("denylist feed restored")
            self.reconnects += 1
            self._set_live(True)
            last_seen = last_ping = time.monotonic()
            while not self._stop.is_set():
                msg = pubsub.get_message(timeout=0.1)
                now = time.monotonic()
                if msg is not None:
                    last_seen = now
                    if msg.get("type") == "message":
                        self._apply(msg.get("data"))
                if now - last_ping >= self._ping_interval:
                    pubsub.ping()
                    last_ping = now
                if now - last_seen > self._stale_after:
                    raise TimeoutError("the revocation feed went quiet")
        finally:
            self._set_live(False)
            try:
                pubsub.close()
            finally:
                client.close()

    def _catch_up(self, client: redis.Redis) -> None:
        for raw in client.zrangebyscore(self.key, self._clock(), "+inf"):
            self._apply(raw)
        self.local.purge(self._clock())

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
