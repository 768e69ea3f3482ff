"""Signing keys in the database, private parts sealed with the master secret.

One store per key ring: ``purpose`` "access" (access tokens) or "id_token" (OpenID Connect ID
tokens); a store reads, rotates and writes only the rows of its own purpose, so a key signs for
one purpose only and each verifier is given only its own ring's keys (RFC 8725 §3.1, §3.11).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.core import keys as corekeys
from gatepass.core.keys import KeyRing, SigningKey
from gatepass.core.sealing import seal, unseal
from gatepass.storage.key_rows import serialise, write_plan
from gatepass.storage.models import SigningKeyRow

ACCESS = "access"
ID_TOKEN = "id_token"
PURPOSES = (ACCESS, ID_TOKEN)


class KeyStore:
    def __init__(
        self, sessions: async_sessionmaker[Any], master: bytes, purpose: str = ACCESS
    ) -> None:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown key purpose: {purpose}")
        self._s = sessions
        self._master = master
        self.purpose = purpose
        self._mine = select(SigningKeyRow).where(SigningKeyRow.purpose == purpose)
        # private keys already unsealed and parsed, by (kid, sealed bytes): the server reloads
        # its rings every few seconds (GATEPASS_KEY_REFRESH_INTERVAL), and parsing an RSA
        # private key again each time cost more CPU than the requests of a quiet second
        self._parsed: dict[tuple[str, bytes], Any] = {}

    async def load(self) -> KeyRing:
        async with self._s() as s:
            rows = (await s.execute(self._mine)).scalars().all()
        live = [r for r in rows if r.state != "retired"]
        keys = tuple(self._from_row(r) for r in live)
        self._parsed = {
            (r.kid, r.sealed_private): k.private for r, k in zip(live, keys, strict=True)
        }
        return KeyRing(keys)

    async def ensure(self, alg: str, *, now: float, retire_after: float) -> KeyRing:
        """Make sure a key of ``alg`` signs (first start, or the algorithm was changed)."""
        ring = await self.load()
        if corekeys.needs_initial_rotation(ring.keys, alg):
            return await self.rotate(alg, now=now, retire_after=retire_after, only_if_needed=True)
        return ring

    async def rotate(
        self,
        alg: str,
        *,
        now: float,
        retire_after: float,
        only_if_needed: bool = False,
        revoke_old: bool = False,
    ) -> KeyRing:
        """Apply one rotation atomically; concurrent rotations are serialised. ``revoke_old``:
        see :func:`~gatepass.core.keys.rotation_plan`."""
        async with self._s.begin() as s:
            await serialise(s, "signing_keys", 7364502)
            rows = {r.kid: r for r in (await s.execute(self._mine)).scalars()}
            current = [self._from_row(r) for r in rows.values() if r.state != "retired"]
            if only_if_needed and not corekeys.needs_initial_rotation(current, alg):
                return KeyRing(tuple(current))
            planned = corekeys.rotation_plan(
                current, alg=alg, now=now, retire_after=retire_after, revoke_old=revoke_old
            )
            write_plan(s, rows, planned, self._to_row)
        return KeyRing(tuple(k for k in planned if k.state != "retired"))

    async def all_rows(self) -> list[SigningKeyRow]:
        async with self._s() as s:
            q = self._mine.order_by(SigningKeyRow.created_at)
            return list((await s.execute(q)).scalars())

    def _from_row(self, row: SigningKeyRow) -> SigningKey:
        private = self._parsed.get((row.kid, row.sealed_private))
        if private is None:
            private = corekeys.load_private(unseal(self._master, row.kid, row.sealed_private))
        return SigningKey(
            kid=row.kid,
            alg=row.alg,
            state=row.state,  # type: ignore[arg-type]
            created_at=row.created_at,
            activated_at=row.activated_at,
            retire_at=row.retire_at,
            private=private,
        )

    def _to_row(self, k: SigningKey) -> SigningKeyRow:
        return SigningKeyRow(
            kid=k.kid,
            alg=k.alg,
            state=k.state,
            sealed_private=seal(self._master, k.kid, corekeys.private_bytes(k.private)),
            created_at=k.created_at,
            activated_at=k.activated_at,
            retire_at=k.retire_at,
            purpose=self.purpose,
        )
