"""DPoP proofs for tests and benchmarks (RFC 9449 §4.2), signed with joserfc, plus the forged
ones the attack tests need (alg none, HS256, a jwk with private members, another key's
signature). One helper for tests and ``bench/dpop.py``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

from gatepass.core.rfc9449 import access_token_hash, thumbprint


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _part(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


class ProofKey:
    """A client's DPoP key pair; ``proof()`` makes a proof for one request."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        if alg == "ES256":
            self.key: Any = ECKey.generate_key("P-256")
        elif alg == "EdDSA":
            self.key = OKPKey.generate_key("Ed25519")
        elif alg == "RS256":
            self.key = RSAKey.generate_key(2048)
        else:
            raise ValueError(alg)
        self.public_jwk: dict[str, Any] = dict(self.key.as_dict(private=False))
        self.public_jwk.pop("kid", None)
        self.jkt = thumbprint(self.public_jwk)

    def claims(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "jti": jti or secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time() if iat is None else iat),
        }
        if token is not None:
            claims["ath"] = access_token_hash(token)
        if nonce is not None:
            claims["nonce"] = nonce
        return claims

    def header(self, **extra: Any) -> dict[str, Any]:
        return {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk, **extra}

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return jws.serialize_compact(header, payload, self.key, algorithms=[header["alg"]])

    def proof(self, method: str, url: str, **kw: Any) -> str:
        return self.sign(self.header(), self.claims(method, url, **kw))


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """``alg: none``: no signature at all."""
    return f"{_part(header)}.{_part(claims)}."


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """A proof MACed with a shared secret (a symmetric algorithm, never allowed)."""
    signing_input = f"{_part(header)}.{_part(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"
