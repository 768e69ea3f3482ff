"""DPoP (RFC 9449) for services: a proof checked against the request, then its ``jti`` against
a replay cache (§11.1) that is in process, or in Redis so that every instance shares it.

    from gatepass.sdk import Verifier
    from gatepass.sdk.dpop import Dpop, RedisReplayCache

    verifier = Verifier.from_issuer(
        "https://auth.example", audience="my-api",
        dpop=Dpop(replay=RedisReplayCache("redis://127.0.0.1:6379/0")),
    )

The checks themselves are ``core/rfc9449.py``'s, the same the token endpoint runs. A replay
cache that cannot answer raises :class:`ReplayCacheUnavailable`: the request is refused (503),
never let through.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gatepass.core import rfc9449
from gatepass.core.rfc9449 import Nonces, Proof, ProofChecker
from gatepass.sdk.errors import InvalidDpopProof, ReplayCacheUnavailable, UseDpopNonce

_REDIS_ERRORS = (redis.RedisError, OSError, TimeoutError)


class ReplayCache(Protocol):
    """Remembers proof keys for ``ttl`` seconds. ``first_use`` is True the first time a key is
    seen (and records it), False for a replay; it raises :class:`ReplayCacheUnavailable` when
    it cannot tell."""

    def first_use(self, key: str, ttl: int) -> bool: ...

    async def afirst_use(self, key: str, ttl: int) -> bool: ...


class MemoryReplayCache:
    """In process: right for one process (the embedded default, a single-worker service);
    several processes behind one address need :class:`RedisReplayCache`."""

    def __init__(self, *, max_entries: int = 1_000_000, clock: Callable[[], float] = time.time):
        self._seen: dict[str, float] = {}  # key -> forget after
        self._lock = threading.Lock()
        self._max = max_entries
        self._purge_at = 1024  # purge expired keys when this many are held (amortized O(1))
        self._clock = clock

    def first_use(self, key: str, ttl: int) -> bool:
        now = self._clock()
        with self._lock:
            until = self._seen.get(key)
            if until is not None and until > now:
                return False
            if len(self._seen) >= self._purge_at:
                self._purge(now)
            self._seen[key] = now + ttl
            return True

    async def afirst_use(self, key: str, ttl: int) -> bool:
        return self.first_use(key, ttl)

    def _purge(self, now: float) -> None:
        """Drop what has expired; if nothing has, refuse to grow (fail closed, not open)."""
        for key in [k for k, until in self._seen.items() if until <= now]:
            del self._seen[key]
        if len(self._seen) >= self._max:
            raise ReplayCacheUnavailable("the DPoP replay cache is full")
        self._purge_at = min(self._max, max(1024, 2 * len(self._seen)))


class RedisReplayCache:
    """``SET key 1 NX EX ttl`` in Redis: one round trip, atomic across every instance. Short
    timeouts and no retries, so an unreachable Redis is an error at once, not a hang."""

    def __init__(self, url: str, *, prefix: str = "gatepass", timeout: float = 1.0) -> None:
        self.url = url
        self.prefix = f"{prefix}:dpop:"
        self._timeout = timeout
        self._sync: redis.Redis | None = None
        self._async: dict[int, aioredis.Redis] = {}  # per event loop: a client is bound to one
        self._lock = threading.Lock()

    def _options(self) -> dict[str, Any]:
        return {
            "socket_connect_timeout": self._timeout,
            "socket_timeout": self._timeout,
            "retry": Retry(NoBackoff(), 0),
        }

    def first_use(self, key: str, ttl: int) -> bool:
        with self._lock:
            if self._sync is None:
                self._sync = redis.Redis.from_url(self.url, **self._options())
            client = self._sync
        try:
            return bool(client.set(self.prefix + key, b"1", nx=True, ex=ttl))
        except _REDIS_ERRORS as exc:
            raise ReplayCacheUnavailable(f"DPoP replay cache: {type(exc).__name__}") from None

    async def afirst_use(self, key: str, ttl: int) -> bool:
        loop = id(asyncio.get_running_loop())
        client = self._async.get(loop)
        if client is None:
            client = self._async[loop] = aioredis.Redis.from_url(self.url, **self._options())
        try:
            return bool(await client.set(self.prefix + key, b"1", nx=True, ex=ttl))
        except _REDIS_ERRORS as exc:
            raise ReplayCacheUnavailable(f"DPoP replay cache: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        loop = id(asyncio.get_running_loop())
        client = self._async.pop(loop, None)
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()


class Dpop:
    """What a service accepts as a DPoP proof: algorithms, age, clock skew, the replay cache,
    and optionally nonces of its own (§9). One per service; thread-safe."""

    def __init__(
        self,
        *,
        replay: ReplayCache | None = None,
        algorithms: Sequence[str] = rfc9449.ALGORITHMS,
        max_age: int = rfc9449.DEFAULT_MAX_AGE,
        leeway: int = rfc9449.DEFAULT_LEEWAY,
        nonces: Nonces | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.checker = ProofChecker(algorithms=tuple(algorithms), max_age=max_age, leeway=leeway)
        self.replay: ReplayCache = replay if replay is not None else MemoryReplayCache(clock=clock)
        self.nonces = nonces
        self._clock = clock

    @property
    def algs(self) -> str:
        """For ``WWW-Authenticate: DPoP algs="…"`` (§7.1)."""
        return " ".join(self.checker.algorithms)

    def proof(
        self,
        proofs: Sequence[str],
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        jkt: str | None = None,
        ath: str | None = None,
    ) -> Proof:
        """The request's one proof, checked (not yet for replay). ``proofs``: every ``DPoP``
        header field value of the request (§4.3: exactly one); ``ath``: the access token's
        hash, when the caller keeps it with the token (else computed from ``access_token``)."""
        if not proofs:
            raise InvalidDpopProof("a DPoP proof is required")
        if len(proofs) != 1:
            raise InvalidDpopProof("send exactly one DPoP header")
        now = self._clock()
        try:
            return self.checker.check(
                proofs[0],
                method=method,
                url=url,
                now=now,
                access_token=access_token,
                jkt=jkt,
                nonce=self.nonces,
                ath=ath,
            )
        except rfc9449.NonceRequired as exc:
            if self.nonces is None:  # pragma: no cover - only raised when nonces are set
                raise InvalidDpopProof(str(exc)) from None
            raise UseDpopNonce(str(exc), nonce=self.nonces.issue(now)) from None
        except rfc9449.ProofError as exc:
            raise InvalidDpopProof(str(exc)) from None

    def check(
        self,
        proofs: Sequence[str],
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        jkt: str | None = None,
        ath: str | None = None,
    ) -> Proof:
        """:meth:`proof`, then the replay check (blocking, for Flask and other sync code)."""
        proof = self.proof(
            proofs, method=method, url=url, access_token=access_token, jkt=jkt, ath=ath
        )
        if not self.replay.first_use(proof.replay_key, self.checker.replay_ttl):
            raise InvalidDpopProof("the DPoP proof was already used")
        return proof

    async def acheck(
        self,
        proofs: Sequence[str],
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        jkt: str | None = None,
        ath: str | None = None,
    ) -> Proof:
        """:meth:`proof`, then the replay check without blocking the event loop."""
        proof = self.proof(
            proofs, method=method, url=url, access_token=access_token, jkt=jkt, ath=ath
        )
        if not await self.replay.afirst_use(proof.replay_key, self.checker.replay_ttl):
            raise InvalidDpopProof("the DPoP proof was already used")
        return proof
