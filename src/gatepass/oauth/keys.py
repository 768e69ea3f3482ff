"""The key manager: the KeyRing in force, reloaded from storage, rotated on demand, and pushed
into the server's own Verifier.

There are two: ``Services.keys`` signs access tokens (``GATEPASS_SIGNING_ALG``) and feeds the
server's Verifier; ``Services.id_keys`` signs OpenID Connect ID tokens
(``GATEPASS_ID_TOKEN_ALG``) and feeds no access-token verifier, so a token signed by an ID-token
key is never accepted as an access token (and ``oauth/id_tokens.verify_hint`` knows only the
ID-token keys). Both rings are published in the one JWKS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from gatepass.clock import Clock
from gatepass.core.keys import KeyRing
from gatepass.sdk.verifier import Verifier
from gatepass.settings import Settings
from gatepass.storage.keystore import ACCESS, ID_TOKEN, KeyStore
from gatepass.storage.models import SigningKeyRow


class KeyManager:
    def __init__(self, store: KeyStore, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self.purpose = store.purpose
        id_tokens = store.purpose == ID_TOKEN
        self.alg: str = settings.id_token_alg if id_tokens else settings.signing_alg
        # the longest lifetime of a token this ring signs
        self._token_ttl = settings.id_token_ttl if id_tokens else settings.access_token_ttl
        self.ring = KeyRing(())
        self._accepted: set[str] = set()  # the kids the verifiers were last given
        self._verifiers: list[Verifier] = []
        self._lock = asyncio.Lock()

    @property
    def retire_after(self) -> float:
        """How long a retired key stays published: the longest token it signed, plus leeway."""
        return self._token_ttl + self._settings.leeway + 60

    def attach(self, verifier: Verifier) -> None:
        self._verifiers.append(verifier)
        verifier.set_keys(self.ring.verification_keys(self._clock.now()))

    async def start(self) -> None:
        ring = await self._store.ensure(
            self.alg, now=self._clock.now(), retire_after=self.retire_after
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
                self.alg,
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


# ``gatepass keys rotate --purpose`` and ``POST /admin/keys/rotate {"purpose"}``: both rings by
# default (after a compromise, an operator means every key), or one of them
PURPOSE_CHOICES = ("all", ACCESS, ID_TOKEN)


def managers_for(managers: Iterable[KeyManager], purpose: str) -> list[KeyManager]:
    """The managers ``purpose`` names ("all": every one)."""
    if purpose not in PURPOSE_CHOICES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSE_CHOICES)}")
    return [m for m in managers if purpose in ("all", m.purpose)]
