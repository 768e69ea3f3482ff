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
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

import orjson
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


_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
# The same, with every byte outside the base64url alphabet ("+", "/", "=", ".", controls, ...)
# mapped to "!", which a strict a2b_base64 refuses: a segment it decodes was base64url.
_TO_STANDARD_OR_BAD = bytes(
    b"+"[0] if b == b"-"[0] else b"/"[0] if b == b"_"[0] else b if b in _B64URL_ALPHABET
    else b"!"[0]
    for b in range(256)
)  # fmt: skip
_a2b = binascii.a2b_base64
_PADDING = (b"", b"", b"==", b"=")  # by length % 4
# by length % 4: the last characters whose spare bits are not all zero
_NONCANONICAL_LAST = tuple(
    "".join(c for i, c in enumerate(_B64URL_CHARS) if i & _SPARE_BITS.get(rem, 0))
    for rem in range(4)
)
_NONCANONICAL_LAST_BYTES = tuple(chars.encode() for chars in _NONCANONICAL_LAST)


def b64url_encode(data: bytes) -> str:
    return (
        binascii.b2a_base64(data, newline=False)
        .decode()
        .replace("+", "-")
        .replace("/", "_")
        .rstrip("=")
    )


# ES256 signatures arrive as r || s (RFC 7518 §3.4); cryptography takes DER. When neither r nor
# s starts with a zero byte (all but 1 in 128 signatures) the DER is the two halves with fixed
# headers: each INTEGER is 32 bytes, or 33 with a 0x00 before a first byte >= 0x80. Indexed by
# (r's top bit) | (s's top bit) << 1: the SEQUENCE and r's INTEGER header; by s's top bit: s's.
_DER_HEADS = tuple(
    bytes((0x30, 68 + (k & 1) + (k >> 1), 0x02, 32 + (k & 1))) + b"\x00" * (k & 1) for k in range(4)
)
_DER_MIDS = (b"\x02\x20", b"\x02\x21\x00")


def es256_der(signature: bytes) -> bytes:
    """The DER form of a 64-byte r || s: ``encode_dss_signature`` of the two integers."""
    a, b = signature[0], signature[32]
    if a and b:
        head = _DER_HEADS[(a >> 7) | ((b >> 7) << 1)]
        return head + signature[:32] + _DER_MIDS[b >> 7] + signature[32:]
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    return encode_dss_signature(r, s)


Check = Callable[[bytes, bytes], object]  # (signature, signing input); raises if it does not verify


def _no_check(signature: bytes, signing_input: bytes) -> None:
    raise ValueError("algorithm not supported")


def _check_for(alg: str, key: Any) -> Check:
    """The signature check of ``key`` for ``alg``, with its arguments bound once: it returns
    when the signature verifies and raises ``InvalidSignature`` or ``ValueError`` otherwise."""
    if alg == "ES256":
        ecdsa_verify = key.verify

        def es256(signature: bytes, signing_input: bytes) -> None:
            if len(signature) != 64:
                raise ValueError("ES256 signature is not 64 bytes")
            ecdsa_verify(es256_der(signature), signing_input, _ECDSA_SHA256)

        return es256
    if alg == "EdDSA":
        return key.verify  # (signature, data): the order of every check here
    if alg == "RS256":
        rsa_verify = key.verify

        def rs256(signature: bytes, signing_input: bytes) -> None:
            rsa_verify(signature, signing_input, _PKCS1, _SHA256)

        return rs256
    if alg == "HS256":
        secret = key

        def hs256(signature: bytes, signing_input: bytes) -> None:
            expected = hmac.new(secret, signing_input, sha256).digest()
            if not hmac.compare_digest(expected, signature):
                raise _CryptoInvalidSignature

        return hs256
    return _no_check


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key (or HMAC secret) bound to exactly one algorithm."""

    kid: str
    alg: str
    key: Any = field(repr=False)  # cryptography public key, or bytes for HS256 (a secret)
    # the signature check of this key and algorithm, its arguments bound (see _check_for)
    check: Check = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", _check_for(self.alg, self.key))

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        try:
            self.check(signature, signing_input)
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


# orjson reads faster than json and, for the texts given to it, to the same value: it refuses
# what json refuses and more (NaN, infinities, lone surrogates, invalid UTF-8, a BOM), and those
# go to json. Two kinds of text it would read differently never reach it: an integer beyond 64
# bits (orjson makes it a float; json an int), so no run of 19 digits; and deep nesting (json's
# limit is the interpreter's recursion limit, orjson's 1024), so at most 64 '{' and '['. Digits
# map to "0" and both brackets to "[" (anything else to " "), so one translate finds both.
_ORJSON_GUARD = bytes(
    b"0"[0] if chr(i).isdigit() and i < 128 else b"["[0] if i in b"{[" else b" "[0]
    for i in range(256)
)
_LONG_NUMBER = b"0" * 19
_MAX_NESTING_FOR_ORJSON = 64


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """``json.loads(data)``, which must give an object. A text that starts ``{`` and passes the
    guard above is read by orjson; where orjson refuses it, json judges it as below. A text that
    starts ``{`` followed by a non-NUL byte is one that ``json.loads`` reads as UTF-8
    (``json.detect_encoding``), so it is decoded here the way ``json.loads`` would, and handed
    to the decoder without the detour. The decoder starts at its first non-blank character, here
    the ``{`` at 0, and accepts what it read if only blanks follow: an object that ends the text
    is taken without those steps."""
    if data[:1] == b"{":
        guard = data.translate(_ORJSON_GUARD)
        if _LONG_NUMBER not in guard and guard.count(b"[") <= _MAX_NESTING_FOR_ORJSON:
            try:
                return orjson.loads(data)  # type: ignore[no-any-return,unused-ignore]
            except orjson.JSONDecodeError:
                pass  # json decides, and says why
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
        header, payload = self.decode_shared(token)
        return dict(header), payload

    def decode_shared(self, token: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        """As :meth:`decode`, but the header is the one this key set keeps for every token that
        carries it: to be read, never changed or handed on (the Verifier reads its ``typ``).

        The common case first: a token of three segments whose header segment is one already
        verified (so base64url), whose other two segments decode as strict base64url (every
        byte outside the alphabet is made one ``a2b_base64`` refuses) in their canonical form.
        Such a token passes every structural check of :meth:`_decode_checked` (the alphabet,
        two dots, no empty segment), whose next steps are the same signature check and payload
        parse as here; the order the two segments are decoded in does not change the outcome.
        Anything else, valid or not, is decided (and its error named) by
        :meth:`_decode_checked`."""
        decoded = self._decode_known_header(token)
        return self._decode_checked(token) if decoded is None else decoded

    def _decode_known_header(self, token: str) -> tuple[Mapping[str, Any], dict[str, Any]] | None:
        """:meth:`decode_shared`'s common case, or None for every token that is not one."""
        if type(token) is not str or len(token) > MAX_TOKEN_BYTES or not token.isascii():
            return None
        i = token.find(".")
        j = token.find(".", i + 1)
        if not 0 < i < j - 1 or token.find(".", j + 1) >= 0:  # two dots, no segment empty
            return None
        cached = self._headers.get(token[:i])
        if cached is None:
            return None
        raw = token.encode("ascii")
        srem = (len(raw) - j - 1) & 3
        prem = (j - i - 1) & 3
        if (
            srem == 1
            or prem == 1
            or raw[-1] in _NONCANONICAL_LAST_BYTES[srem]
            or raw[j - 1] in _NONCANONICAL_LAST_BYTES[prem]
        ):
            return None
        try:
            signature = _a2b(
                raw[j + 1 :].translate(_TO_STANDARD_OR_BAD) + _PADDING[srem], strict_mode=True
            )
            data = _a2b(
                raw[i + 1 : j].translate(_TO_STANDARD_OR_BAD) + _PADDING[prem], strict_mode=True
            )
        except binascii.Error:
            return None  # not base64url: _decode_checked says where
        header, vk = cached
        try:
            vk.check(signature, raw[:j])
        except (_CryptoInvalidSignature, ValueError):
            raise BadSignature("signature does not verify") from None
        return header, json_object(data, "payload")

    def _decode_checked(self, token: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        """:meth:`decode_shared` for every token: each check in turn, each failure named."""
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
        p0 = len(h64) + 1
        signed = p0 + len(p64)  # the signing input: raw[:signed]
        # b64url_decode of the signature, then of the payload, written out for segments whose
        # alphabet is checked above: the same checks in the same order, the same bytes or error
        rem = len(s64) & 3
        if rem:
            if rem == 1:
                raise MalformedToken("bad base64url length")
            if s64[-1] in _NONCANONICAL_LAST[rem]:
                raise MalformedToken("non-canonical base64url")
        try:
            signature = _a2b(
                raw[signed + 1 :].translate(_TO_STANDARD) + _PADDING[rem],
                strict_mode=True,
            )
        except binascii.Error:
            raise MalformedToken("bad base64url") from None
        try:
            vk.check(signature, raw[:signed])
        except (_CryptoInvalidSignature, ValueError):
            raise BadSignature("signature does not verify") from None
        if cached is None and len(self._headers) < _MAX_CACHED_HEADERS:
            self._headers[h64] = (header, vk)
        rem = len(p64) & 3
        if rem:
            if rem == 1:
                raise MalformedToken("bad base64url length")
            if p64[-1] in _NONCANONICAL_LAST[rem]:
                raise MalformedToken("non-canonical base64url")
        try:
            data = _a2b(raw[p0:signed].translate(_TO_STANDARD) + _PADDING[rem], strict_mode=True)
        except binascii.Error:
            raise MalformedToken("bad base64url") from None
        return header, json_object(data, "payload")


def decode_verified(
    token: str, keys: Mapping[str, VerificationKey]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check structure and signature; return ``(header, payload)``. Claims are NOT checked here:
    callers go through ``access_token.validate`` (or an equivalent), never use this alone.
    A caller verifying many tokens with the same keys keeps a :class:`KeySet` instead.
    """
    return KeySet(keys).decode(token)
