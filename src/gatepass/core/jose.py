"""Compact JWS (RFC 7515) verification with a per-key algorithm allow-list (RFC 8725 §3.1).

This is the verification hot path, written directly on ``cryptography``: the algorithm comes
from the key, never from the token; a header the code does not understand (``crit``) is refused;
``jku``, ``x5u``, ``jwk`` and ``x5c`` are never followed. Issuance uses joserfc
(``core/keys.py``). ``tests/test_jose_differential.py`` checks that this accepts and refuses
what a strictly configured PyJWT does, except where it is stricter by design (padding,
non-alphabet characters, missing ``kid`` with several keys).
"""

from __future__ import annotations

import binascii
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_TOKEN_BYTES = 8192
_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_MAX_CACHED_HEADERS = 64
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()

# kty (and curve) -> the one algorithm such a key may verify
ALGORITHMS = ("ES256", "EdDSA", "RS256", "HS256")


class JoseError(Exception):
    """Base of the structural errors; messages are safe to show."""


class MalformedToken(JoseError):
    pass


class UnknownKey(JoseError):
    pass


class AlgorithmNotAllowed(JoseError):
    pass


class BadSignature(JoseError):
    pass


class UnsupportedHeader(JoseError):
    pass


_B64URL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SPARE_BITS = {2: 0b1111, 3: 0b11}  # low bits of the last character that carry no data


def b64url_decode(segment: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2); the caller checked the alphabet. Only
    the canonical encoding is read (RFC 4648 §3.5: the spare bits of the last character are
    zero), so no two strings decode to the same bytes."""
    rem = len(segment) % 4
    if rem == 1:
        raise MalformedToken("bad base64url length")
    if rem and _B64URL_CHARS.find(segment[-1]) & _SPARE_BITS[rem]:
        raise MalformedToken("non-canonical base64url")
    try:
        return binascii.a2b_base64(
            segment.replace("-", "+").replace("_", "/") + "=" * (-len(segment) % 4),
            strict_mode=True,
        )
    except binascii.Error:
        raise MalformedToken("bad base64url") from None


def b64url_encode(data: bytes) -> str:
    return (
        binascii.b2a_base64(data, newline=False)
        .decode()
        .replace("+", "-")
        .replace("/", "_")
        .rstrip("=")
    )


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key (or HMAC secret) bound to exactly one algorithm."""

    kid: str
    alg: str
    key: Any  # cryptography public key, or bytes for HS256

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        alg = self.alg
        try:
            if alg == "ES256":
                if len(signature) != 64:
                    return False
                r = int.from_bytes(signature[:32], "big")
                s = int.from_bytes(signature[32:], "big")
                self.key.verify(encode_dss_signature(r, s), signing_input, _ECDSA_SHA256)
            elif alg == "EdDSA":
                self.key.verify(signature, signing_input)
            elif alg == "RS256":
                self.key.verify(signature, signing_input, _PKCS1, _SHA256)
            elif alg == "HS256":
                expected = hmac.new(self.key, signing_input, sha256).digest()
                return hmac.compare_digest(expected, signature)
            else:
                return False
        except (_CryptoInvalidSignature, ValueError):
            return False
        return True


def verification_key_from_jwk(jwk: Mapping[str, Any], alg: str | None = None) -> VerificationKey:
    """Build a :class:`VerificationKey` from a public JWK; the key type must fit the algorithm.

    ``alg`` (or the JWK's own ``alg``) is required: a key is never usable with an algorithm that
    was not declared for it.
    """
    alg = alg or jwk.get("alg")
    kid = jwk.get("kid")
    kty = jwk.get("kty")
    if not isinstance(kid, str) or not kid:
        raise UnknownKey("JWK without kid")
    if alg not in ALGORITHMS:
        raise AlgorithmNotAllowed(f"JWK {kid}: algorithm not allowed")
    if jwk.get("alg") not in (None, alg):
        raise AlgorithmNotAllowed(f"JWK {kid}: alg does not match")
    if jwk.get("use") not in (None, "sig"):
        raise AlgorithmNotAllowed(f"JWK {kid}: not a signing key")
    try:
        if alg == "ES256" and kty == "EC" and jwk.get("crv") == "P-256":
            x = int.from_bytes(b64url_decode(jwk["x"]), "big")
            y = int.from_bytes(b64url_decode(jwk["y"]), "big")
            key: Any = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        elif alg == "EdDSA" and kty == "OKP" and jwk.get("crv") == "Ed25519":
            key = ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
        elif alg == "RS256" and kty == "RSA":
            n = int.from_bytes(b64url_decode(jwk["n"]), "big")
            e = int.from_bytes(b64url_decode(jwk["e"]), "big")
            if n.bit_length() < 2048:
                raise AlgorithmNotAllowed(f"JWK {kid}: RSA key shorter than 2048 bits")
            key = rsa.RSAPublicNumbers(e, n).public_key()
        elif alg == "HS256" and kty == "oct":
            key = b64url_decode(jwk["k"])
            if len(key) < 32:
                raise AlgorithmNotAllowed(f"JWK {kid}: HMAC key shorter than 256 bits")
        else:
            raise AlgorithmNotAllowed(f"JWK {kid}: key type does not fit {alg}")
    except (KeyError, TypeError, ValueError, MalformedToken) as exc:
        if isinstance(exc, AlgorithmNotAllowed):
            raise
        raise UnknownKey(f"JWK {kid}: unreadable key") from None
    return VerificationKey(kid=kid, alg=alg, key=key)


_json_decoder = json.JSONDecoder()  # what json.loads(str) uses without arguments
_json_decode = _json_decoder.decode
# what decode runs from the first non-blank character (not in typeshed's JSONDecoder)
_json_scan: Callable[[str, int], tuple[Any, int]] = _json_decoder.scan_once  # type: ignore[attr-defined]


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """``json.loads(data)``, which must give an object. A text that starts ``{`` followed by a
    non-NUL byte is one that ``json.loads`` reads as UTF-8 (``json.detect_encoding``), so it is
    decoded here the way ``json.loads`` would, and handed to the decoder without the detour.
    The decoder starts at its first non-blank character, here the ``{`` at 0, and accepts what
    it read if only blanks follow: an object that ends the text is taken without those steps."""
    try:
        if data[:1] == b"{" and data[1:2] != b"\x00":
            text = data.decode("utf-8", "surrogatepass")
            value, end = _json_scan(text, 0)
            if end != len(text):  # something after the object: the decoder judges it
                value = _json_decode(text)
        else:
            value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError, StopIteration):
        # RecursionError: deep nesting; StopIteration: the scanner found no value somewhere
        raise MalformedToken(f"{what} is not JSON") from None
    if type(value) is not dict:
        raise MalformedToken(f"{what} is not an object")
    return value


class KeySet:
    """The verification keys in force, and the JWS headers they have already verified.

    A header is parsed and checked once per distinct header segment: after a signature has
    verified under it, its parsed form and key are kept (at most ``_MAX_CACHED_HEADERS``, so only
    headers that came with a valid signature are ever kept). A new key set starts empty.
    """

    __slots__ = ("_keys", "_headers")

    def __init__(self, keys: Mapping[str, VerificationKey]) -> None:
        self._keys = dict(keys)
        self._headers: dict[str, tuple[dict[str, Any], VerificationKey]] = {}

    def _header(self, h64: str) -> tuple[dict[str, Any], VerificationKey]:
        header = json_object(b64url_decode(h64), "header")
        if "crit" in header:
            raise UnsupportedHeader("critical header extensions are not supported")
        if "b64" in header:
            raise UnsupportedHeader("unencoded payloads are not supported")
        keys = self._keys
        alg = header.get("alg")
        kid = header.get("kid")
        if "kid" not in header and len(keys) == 1:  # "kid": null is not a missing kid
            vk = next(iter(keys.values()))
        elif type(kid) is str:
            vk = keys.get(kid)  # type: ignore[assignment]
            if vk is None:
                raise UnknownKey("unknown kid")
        else:
            raise UnknownKey("missing or invalid kid")
        if alg != vk.alg:
            raise AlgorithmNotAllowed("algorithm not allowed for this key")
        return header, vk

    def decode(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Check structure and signature; return ``(header, payload)``. Claims are NOT checked
        here: callers go through ``access_token.validate`` (or an equivalent)."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
            raise MalformedToken("token too large or not text")
        # base64url segments, exactly two dots, the first two segments not empty
        if not token.isascii():
            raise MalformedToken("not a compact JWS")
        raw = token.encode("ascii")
        if raw.translate(None, _B64URL_ALPHABET) != b"..":
            raise MalformedToken("not a compact JWS")
        h64, p64, s64 = token.split(".")
        if not h64 or not p64:
            raise MalformedToken("not a compact JWS")
        cached = self._headers.get(h64)
        header, vk = self._header(h64) if cached is None else cached
        signature = b64url_decode(s64)
        if not vk.verify(raw[: len(h64) + 1 + len(p64)], signature):
            raise BadSignature("signature does not verify")
        if cached is None and len(self._headers) < _MAX_CACHED_HEADERS:
            self._headers[h64] = (header, vk)
        payload = json_object(b64url_decode(p64), "payload")
        return dict(header), payload


def decode_verified(
    token: str, keys: Mapping[str, VerificationKey]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check structure and signature; return ``(header, payload)``. Claims are NOT checked here:
    callers go through ``access_token.validate`` (or an equivalent), never use this alone.
    A caller verifying many tokens with the same keys keeps a :class:`KeySet` instead.
    """
    return KeySet(keys).decode(token)
