"""Signing keys: generation, kid (RFC 7638 thumbprint), lifecycle and the public JWKS.

A key moves ``next`` (published, not signing) -> ``active`` (signing) -> ``retiring``
(published and accepted until every token it signed has expired) -> ``retired``. Rotation is a
pure plan over the current keys; storage applies it in one transaction.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwk as _jwk

from gatepass.core.jose import VerificationKey, verification_key_from_jwk

KeyState = Literal["next", "active", "retiring", "retired"]

# RFC 9864 deprecates the polymorphic "EdDSA" name in favour of "Ed25519"; the contract (and
# RFC 8037, which verifiers in the wild implement) still names it EdDSA, so keep signing with it.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", module="joserfc")


def generate(alg: str) -> Any:
    """A new private key for ``alg`` (a joserfc key)."""
    if alg == "ES256":
        return _jwk.ECKey.generate_key("P-256", private=True)
    if alg == "EdDSA":
        return _jwk.OKPKey.generate_key("Ed25519", private=True)
    if alg == "RS256":
        return _jwk.RSAKey.generate_key(2048, private=True)
    if alg == "HS256":
        return _jwk.OctKey.generate_key(256, private=True)
    raise ValueError(f"unsupported signing algorithm: {alg}")


def private_bytes(key: Any) -> bytes:
    return json.dumps(key.as_dict(private=True), separators=(",", ":")).encode()


def load_private(data: bytes) -> Any:
    return _jwk.import_key(json.loads(data))


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    state: KeyState
    created_at: float
    activated_at: float | None
    retire_at: float | None  # for a retiring key: when the last token it signed expires
    private: Any = None  # joserfc key; None when only the public part is loaded

    @classmethod
    def new(cls, alg: str, *, state: KeyState, now: float) -> SigningKey:
        key = generate(alg)
        return cls(
            kid=key.thumbprint(),
            alg=alg,
            state=state,
            created_at=now,
            activated_at=now if state == "active" else None,
            retire_at=None,
            private=key,
        )

    def is_published(self, now: float) -> bool:
        if self.state in ("next", "active"):
            return True
        return self.state == "retiring" and self.retire_at is not None and now < self.retire_at

    def public_jwk(self) -> dict[str, Any] | None:
        """The public JWK, or None for a symmetric key (never published)."""
        if self.alg == "HS256" or self.private is None:
            return None
        d = {k: v for k, v in self.private.as_dict(private=False).items()}
        d.update(kid=self.kid, alg=self.alg, use="sig")
        return d

    def verification_key(self) -> VerificationKey:
        if self.alg == "HS256":
            d = dict(self.private.as_dict(private=True), kid=self.kid, alg="HS256")
            return verification_key_from_jwk(d)
        jwk = self.public_jwk()
        if jwk is None:
            raise ValueError("key has no public part loaded")
        return verification_key_from_jwk(jwk)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The keys in force at one moment, as the server and the SDK use them."""

    keys: tuple[SigningKey, ...]

    def active(self) -> SigningKey:
        for k in self.keys:
            if k.state == "active":
                return k
        raise LookupError("no active signing key")

    def published(self, now: float) -> list[SigningKey]:
        order = {"next": 0, "active": 1, "retiring": 2}
        live = [k for k in self.keys if k.is_published(now)]
        return sorted(live, key=lambda k: (order.get(k.state, 3), -k.created_at))

    def jwks(self, now: float) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [j for k in self.published(now) if (j := k.public_jwk()) is not None]}

    def verification_keys(self, now: float) -> dict[str, VerificationKey]:
        return {k.kid: k.verification_key() for k in self.published(now) if k.state != "next"}

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        key = self.active()
        return _sign(key, _protected(key.alg, typ, key.kid), claims)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


@functools.lru_cache(maxsize=64)  # a few keys x two token types
def _protected(alg: str, typ: str, kid: str) -> bytes:
    """The encoded protected header ``KeyRing.sign`` puts on every token: the same bytes for
    every token one key signs, so made once, not on each request."""
    return _b64(_json({"alg": alg, "typ": typ, "kid": kid}))


def sign_compact(key: SigningKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWS compact serialization (RFC 7515 §7.1) of ``claims``, signed by ``key`` with its own
    algorithm (RFC 7518 §3.2-3.4, RFC 8037 §3.1), straight through ``cryptography``: the same
    output joserfc makes, without its per-call overhead on the token endpoint's hot path."""
    if header.get("alg") != key.alg:
        raise ValueError("the header's alg is not the key's")
    return _sign(key, _b64(_json(header)), claims)


_ES256 = ec.ECDSA(hashes.SHA256())


def _sign(key: SigningKey, protected: bytes, claims: dict[str, Any]) -> str:
    """``sign_compact`` with the protected header already encoded (for ``key.alg``)."""
    if key.private is None:
        raise ValueError("key has no private part loaded")
    signing_input = protected + b"." + _b64(_json(claims))
    raw = key.private.private_key
    if key.alg == "ES256":
        r, s = decode_dss_signature(raw.sign(signing_input, _ES256))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # RFC 7518 §3.4
    elif key.alg == "EdDSA":
        signature = raw.sign(signing_input)
    elif key.alg == "RS256":
        signature = raw.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif key.alg == "HS256":
        signature = hmac.new(raw, signing_input, hashlib.sha256).digest()
    else:
        raise ValueError(f"unsupported signing algorithm: {key.alg}")
    return (signing_input + b"." + _b64(signature)).decode("ascii")


def rotation_plan(
    keys: Sequence[SigningKey],
    *,
    alg: str,
    now: float,
    retire_after: float,
    revoke_old: bool = False,
) -> list[SigningKey]:
    """The keys after one rotation: ``next`` signs, ``active`` retires, a fresh ``next`` waits.

    ``retire_after`` is the longest lifetime of a token the old key may have signed (plus
    leeway); the old key stays published and accepted that long. With ``revoke_old`` (an
    emergency rotation, after a key was compromised) every older key, the active one and any
    still retiring, is retired at once: unpublished now, refused by every verifier as soon as it
    refreshes its key set, and every token they signed with it. With no key at all, the plan
    makes an active and a next key. A ``next`` of another algorithm than ``alg`` is replaced.
    """
    out: list[SigningKey] = []
    nxt: SigningKey | None = None
    for k in keys:
        if k.state == "active" and not revoke_old:
            out.append(replace(k, state="retiring", retire_at=now + retire_after))
        elif k.state in ("active", "retiring") and revoke_old:
            out.append(replace(k, state="retired", retire_at=now))
        elif k.state == "next":
            nxt = k if k.alg == alg else None
            if nxt is None:
                out.append(replace(k, state="retired", retire_at=now))
        else:
            out.append(k)
    if nxt is None:
        nxt = SigningKey.new(alg, state="next", now=now)
    out.append(replace(nxt, state="active", activated_at=now))
    out.append(SigningKey.new(alg, state="next", now=now))
    return out


def needs_initial_rotation(keys: Iterable[SigningKey], alg: str) -> bool:
    """True when no key signs, or the signing key is not of the configured algorithm."""
    active = [k for k in keys if k.state == "active"]
    return not active or active[0].alg != alg
