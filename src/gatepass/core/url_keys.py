"""URL-signing keys: HMAC secrets with their own ids, separate from the token-signing keys.

A key moves ``next`` (known to every verifier, not signing yet) -> ``active`` (signs) ->
``retiring`` (still accepted until ``retire_at``, when the last URL it signed has expired) ->
``retired``. Because the key that will sign next is known to verifiers one whole rotation ahead,
an edge that has not reloaded since a rotation still accepts the new key's URLs. Rotation is a
pure plan over the current keys; storage applies it in one transaction.

Playback JWTs are signed with a key derived from the URL key (HMAC-SHA256 of a fixed label), so
they rotate with it and are never verifiable with an access-token key, nor the other way round.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from gatepass.core.jose import VerificationKey
from gatepass.core.signed_url import UrlVerifyKey

UrlKeyState = Literal["next", "active", "retiring", "retired"]
SECRET_BYTES = 32
_PLAYBACK_LABEL = b"gatepass playback-jwt v1"


def new_kid() -> str:
    return secrets.token_hex(6)


def playback_secret(url_secret: bytes) -> bytes:
    """The HS256 key of playback JWTs, derived from (and rotating with) a URL-signing key."""
    return hmac.digest(url_secret, _PLAYBACK_LABEL, "sha256")


@dataclass(frozen=True, slots=True)
class UrlKey:
    kid: str
    secret: bytes
    state: UrlKeyState
    created_at: float
    activated_at: float | None = None
    retire_at: float | None = None

    @classmethod
    def new(cls, *, state: UrlKeyState, now: float) -> UrlKey:
        return cls(
            kid=new_kid(),
            secret=secrets.token_bytes(SECRET_BYTES),
            state=state,
            created_at=now,
            activated_at=now if state == "active" else None,
        )

    def accepted(self, now: float) -> bool:
        if self.state in ("next", "active"):
            return True
        return self.state == "retiring" and self.retire_at is not None and now < self.retire_at


@dataclass(frozen=True, slots=True)
class UrlKeyRing:
    keys: tuple[UrlKey, ...]

    def active(self) -> UrlKey:
        for k in self.keys:
            if k.state == "active":
                return k
        raise LookupError("no active URL-signing key")

    def accepted(self, now: float) -> list[UrlKey]:
        return [k for k in self.keys if k.accepted(now)]

    def verify_keys(self, now: float) -> dict[str, UrlVerifyKey]:
        """What a verifier needs: each accepted key with the time it stops being accepted."""
        return {
            k.kid: UrlVerifyKey(k.kid, k.secret, k.retire_at if k.state == "retiring" else None)
            for k in self.accepted(now)
        }

    def playback_keys(self, now: float) -> dict[str, tuple[VerificationKey, float | None]]:
        return {
            k.kid: (
                VerificationKey(k.kid, "HS256", playback_secret(k.secret)),
                k.retire_at if k.state == "retiring" else None,
            )
            for k in self.accepted(now)
        }

    def fingerprint(self) -> frozenset[tuple[str, str, float | None]]:
        return frozenset((k.kid, k.state, k.retire_at) for k in self.keys)


def rotation_plan(keys: Sequence[UrlKey], *, now: float, retire_after: float) -> list[UrlKey]:
    """The keys after one rotation: ``next`` signs, ``active`` retires (accepted for
    ``retire_after`` more seconds: the longest URL lifetime plus propagation), a fresh ``next``
    waits. Retiring keys past their time become ``retired``. With no key at all, the plan makes
    an active and a next key."""
    out: list[UrlKey] = []
    nxt: UrlKey | None = None
    for k in keys:
        if k.state == "active":
            out.append(replace(k, state="retiring", retire_at=now + retire_after))
        elif k.state == "next":
            nxt = k
        elif k.state == "retiring" and k.retire_at is not None and k.retire_at <= now:
            out.append(replace(k, state="retired"))
        else:
            out.append(k)
    if nxt is None:
        nxt = UrlKey.new(state="next", now=now)
    out.append(replace(nxt, state="active", activated_at=now))
    out.append(UrlKey.new(state="next", now=now))
    return out
