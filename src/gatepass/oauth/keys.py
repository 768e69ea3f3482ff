"""The key manager: the KeyRing in force, reloaded from storage, rotated on demand, and pushed
into the server's own Verifier."""

from __future__ import annotations

import asyncio

from gatepass.clock import Clock
from gatepass.core.keys import KeyRing
from gatepass.sdk.verifier import Verifier
from gatepass.settings import Settings
from gatepass.storage.keystore import KeyStore
from gatepass.storage.models import SigningKeyRow


class KeyManager:
    def __init__(self, store: KeyStore, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self.ring = KeyRing(())
        self._accepted: set[str] = set()  # the kids the verifiers were last given
        self._verifiers: list[Verifier] = []
        self._lock = asyncio.Lock()

    @property
    def retire_after(self) -> float:
        """How long a retired key stays published: the longest access token, plus leeway."""
        return self._settings.access_token_ttl + self._settings.leeway + 60

    def attach(self, verifier: Verifier) -> None:
        self._verifiers.append(verifier)
        verifier.set_keys(self.ring.verification_keys(self._clock.now()))

    async def start(self) -> None:
        ring = await self._store.ensure(
            self._settings.signing_alg, now=self._clock.now(), retire_after=self.retire_after
        )
        self._install(ring)

    async def reload(self) -> None:
        """Install the stored keys when they changed, or when a retiring key's time is up (its
        ``retire_at`` passed since the last install: it must stop verifying)."""
        ring = await self._store.load()
        if {(k.kid, k.state, k.retire_at) for k in ring.keys} != {
            (k.kid, k.state, k.retire_at) for k in self.ring.keys
        } or self._accepted != set(ring.verification_keys(self._clock.now())):
            self._install(ring)

    async def rotate(self, *, revoke_old: bool = False) -> KeyRing:
        """One rotation; ``revoke_old`` retires every older key at once (see
        :func:`~gatepass.core.keys.rotation_plan`)."""
        async with self._lock:
            ring = await self._store.rotate(
                self._settings.signing_alg,
                now=self._clock.now(),
                retire_after=self.retire_after,
                revoke_old=revoke_old,
            )
            self._install(ring)
            return ring

    async def rows(self) -> list[SigningKeyRow]:
        return await self._store.all_rows()

    def _install(self, ring: KeyRing) -> None:
        self.ring = ring
        vkeys = ring.verification_keys(self._clock.now())
        self._accepted = set(vkeys)
        for v in self._verifiers:
            v.set_keys(vkeys)
