"""The verification hot path against the code it replaced (issue 10, target 4).

``core.jose`` reads JSON with orjson behind a guard, decodes a token's segments on its ASCII bytes,
builds an ES256 signature's DER by hand and binds each key's check once; ``core.access_token``
checks claims with positional arguments and builds ``AccessClaims`` (now a tuple) in one step.
Each is compared here with what it replaced, kept below as the reference: the same value, or the
same error class and message, on valid tokens, re-signed tokens with odd claims and headers, and
random mutations.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import FrozenInstanceError
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatepass.core import access_token as at
from gatepass.core import jose, rfc9449
from gatepass.core.access_token import AccessClaims
from gatepass.sdk import InvalidTokenError, Verifier

NOW = 1_800_000_000
ISS = "https://issuer.example"
AUD = "orders-api"
LEEWAY = 30


# -- the reference: the code before this change (core/jose.py and core/access_token.py) ----------
def ref_b64url_decode(segment: str) -> bytes:
    rem = len(segment) % 4
    if rem == 1:
        raise jose.MalformedToken("bad base64url length")
    if rem and jose._B64URL_CHARS.find(segment[-1]) & {2: 0b1111, 3: 0b11}[rem]:
        raise jose.MalformedToken("non-canonical base64url")
    try:
        return binascii.a2b_base64(
            segment.replace("-", "+").replace("_", "/") + "=" * (-len(segment) % 4),
            strict_mode=True,
        )
    except binascii.Error:
        raise jose.MalformedToken("bad base64url") from None


_DECODER = json.JSONDecoder()


def ref_json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        if data[:1] == b"{" and data[1:2] != b"\x00":
            text = data.decode("utf-8", "surrogatepass")
            value, end = _DECODER.scan_once(text, 0)  # type: ignore[attr-defined]
            if end != len(text):
                value = _DECODER.decode(text)
        else:
            value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError, StopIteration):
        raise jose.MalformedToken(f"{what} is not JSON") from None
    if type(value) is not dict:
        raise jose.MalformedToken(f"{what} is not an object")
    return value


def ref_verify(vk: jose.VerificationKey, signing_input: bytes, signature: bytes) -> bool:
    try:
        if vk.alg == "ES256":
            if len(signature) != 64:
                return False
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            vk.key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
        elif vk.alg == "EdDSA":
            vk.key.verify(signature, signing_input)
        elif vk.alg == "RS256":
            vk.key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def ref_decode(token: Any, keys: Mapping[str, jose.VerificationKey]) -> tuple[dict, dict]:
    if not isinstance(token, str) or len(token) > jose.MAX_TOKEN_BYTES:
        raise jose.MalformedToken("token too large or not text")
    if not token.isascii():
        raise jose.MalformedToken("not a compact JWS")
    raw = token.encode("ascii")
    if raw.translate(None, jose._B64URL_ALPHABET) != b"..":
        raise jose.MalformedToken("not a compact JWS")
    h64, p64, s64 = token.split(".")
    if not h64 or not p64:
        raise jose.MalformedToken("not a compact JWS")
    header = ref_json_object(ref_b64url_decode(h64), "header")
    if "crit" in header:
        raise jose.UnsupportedHeader("critical header extensions are not supported")
    if "b64" in header:
        raise jose.UnsupportedHeader("unencoded payloads are not supported")
    alg, kid = header.get("alg"), header.get("kid")
    if "kid" not in header and len(keys) == 1:
        vk = next(iter(keys.values()))
    elif type(kid) is str:
        found = keys.get(kid)
        if found is None:
            raise jose.UnknownKey("unknown kid")
        vk = found
    else:
        raise jose.UnknownKey("missing or invalid kid")
    if alg != vk.alg:
        raise jose.AlgorithmNotAllowed("algorithm not allowed for this key")
    signature = ref_b64url_decode(s64)
    if not ref_verify(vk, raw[: len(h64) + 1 + len(p64)], signature):
        raise jose.BadSignature("signature does not verify")
    return dict(header), ref_json_object(ref_b64url_decode(p64), "payload")


def _ref_num(payload: Mapping[str, Any], name: str, required: bool) -> int | None:
    v = payload.get(name)
    if type(v) is int:
        return v
    if v is None and name not in payload:
        if required:
            raise at.ClaimError(f"missing claim: {name}")
        return None
    if type(v) is not float or v != v or v in (math.inf, -math.inf):
        raise at.ClaimError(f"claim {name} is not a number")
    return int(v)


def _ref_str(payload: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    v = payload.get(name)
    if v is None and not required:
        return None
    if type(v) is not str or not v:
        raise at.ClaimError(f"missing or invalid claim: {name}")
    return v


def _ref_str_list(v: Any) -> bool:
    return type(v) is list and all(type(item) is str for item in v)


def ref_validate(header: Mapping[str, Any], payload: Mapping[str, Any]) -> tuple[Any, ...]:
    """The old ``access_token.validate`` (issuer ISS, audience AUD), as the tuple of fields."""
    t = header.get("typ")
    if type(t) is not str or t.lower() not in ("at+jwt", "application/at+jwt"):
        raise at.WrongType("token type is not at+jwt")
    if payload.get("iss") != ISS:
        raise at.WrongIssuer("wrong issuer")
    aud_raw = payload.get("aud")
    if type(aud_raw) is str:
        aud: tuple[str, ...] = (aud_raw,)
    elif _ref_str_list(aud_raw) and aud_raw:
        aud = tuple(aud_raw)
    else:
        raise at.WrongAudience("missing or invalid audience")
    if AUD not in aud:
        raise at.WrongAudience("wrong audience")
    exp = _ref_num(payload, "exp", True)
    iat = _ref_num(payload, "iat", True)
    nbf = _ref_num(payload, "nbf", False)
    if exp is None or NOW >= exp + LEEWAY:
        raise at.ExpiredClaim("token expired")
    if nbf is not None and NOW + LEEWAY < nbf:
        raise at.NotYetValidClaim("token not yet valid")
    if iat is None or NOW + LEEWAY < iat:
        raise at.NotYetValidClaim("token issued in the future")
    sub, jti, client_id = (_ref_str(payload, n) for n in ("sub", "jti", "client_id"))
    scope_raw = payload.get("scope", "")
    if type(scope_raw) is not str:
        raise at.ClaimError("claim scope is not a string")
    roles_raw = payload.get("roles", [])
    if not _ref_str_list(roles_raw):
        raise at.ClaimError("claim roles is not a list of strings")
    sid = _ref_str(payload, "sid", required=False)
    try:
        jkt = rfc9449.binding(payload)
    except ValueError:
        raise at.ClaimError("claim cnf is not a DPoP key binding") from None
    scope, roles = frozenset(scope_raw.split()), frozenset(roles_raw)
    return (sub, ISS, aud, exp, iat, nbf, jti, client_id, scope, roles, sid, payload, jkt)


# -- the two outcomes ------------------------------------------------------------------------------
def canonical(value: Any) -> str:
    """A text that tells apart what ``==`` would not: 1, 1.0 and True; NaN; -0.0; key order."""
    return repr(value)


def reference_outcome(token: Any, keys: Mapping[str, jose.VerificationKey]) -> Any:
    try:
        header, payload = ref_decode(token, keys)
        return ("ok", canonical(ref_validate(header, payload)))
    except (jose.JoseError, at.ClaimError) as exc:
        return (type(exc).__name__, str(exc))


def outcomes(token: Any, keys: Mapping[str, jose.VerificationKey]) -> list[Any]:
    """The new code's outcome three ways: KeySet.decode + validate on a fresh key set and on one
    that has cached the token's header, and the Verifier's (its error class and message)."""
    out = []
    for keyset in (jose.KeySet(keys), WARM[next(iter(keys.values())).alg]):
        try:
            header, payload = keyset.decode(token)
            claims = at.validate(header, payload, issuer=ISS, audience=AUD, now=NOW, leeway=LEEWAY)
            out.append(("ok", canonical(tuple(claims))))
        except (jose.JoseError, at.ClaimError) as exc:
            out.append((type(exc).__name__, str(exc)))
    verifier = Verifier(issuer=ISS, audience=AUD, keys=keys, leeway=LEEWAY, clock=lambda: NOW)
    try:
        out.append(("ok", canonical(tuple(verifier.verify(token)))))
    except InvalidTokenError as exc:
        out.append(("sdk", str(exc)))
    return out


# -- keys and tokens ------------------------------------------------------------------------------
def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def make(alg: str) -> tuple[Callable[[bytes], bytes], jose.VerificationKey]:
    if alg == "ES256":
        priv: Any = ec.generate_private_key(ec.SECP256R1())

        def sign(data: bytes) -> bytes:
            r, s = decode_dss_signature(priv.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    elif alg == "EdDSA":
        priv = ed25519.Ed25519PrivateKey.generate()
        sign = priv.sign
    else:
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)

        def sign(data: bytes) -> bytes:
            return bytes(priv.sign(data, padding.PKCS1v15(), hashes.SHA256()))

    return sign, jose.VerificationKey(kid=f"k-{alg}", alg=alg, key=priv.public_key())


ALGS = ("ES256", "EdDSA", "RS256")
KEYS = {alg: make(alg) for alg in ALGS}
HEADER = {"alg": "", "typ": "at+jwt", "kid": ""}
CLAIMS: dict[str, Any] = {
    "iss": ISS,
    "sub": "user-1",
    "aud": AUD,
    "exp": NOW + 900,
    "iat": NOW - 10,
    "nbf": NOW - 10,
    "jti": "jti-1",
    "client_id": "client-1",
    "scope": "orders:read orders:write",
    "roles": ["clerk"],
    "sid": "sid-1",
}


def header_for(alg: str) -> dict[str, Any]:
    return dict(HEADER, alg=alg, kid=f"k-{alg}")


def token_over(alg: str, h64: str, p64: str) -> str:
    sign = KEYS[alg][0]
    return f"{h64}.{p64}.{b64(sign(f'{h64}.{p64}'.encode()))}"


def good(alg: str, payload: bytes | None = None) -> str:
    p = payload if payload is not None else json.dumps(CLAIMS).encode()
    return token_over(alg, b64(json.dumps(header_for(alg)).encode()), b64(p))


WARM: dict[str, jose.KeySet] = {}
for _alg in ALGS:
    WARM[_alg] = jose.KeySet({f"k-{_alg}": KEYS[_alg][1]})
    WARM[_alg].decode(good(_alg))  # its header is now kept


def keys_of(alg: str) -> dict[str, jose.VerificationKey]:
    return {f"k-{alg}": KEYS[alg][1]}


def assert_same(token: Any, alg: str) -> None:
    keys = keys_of(alg)
    expected = reference_outcome(token, keys)
    got = outcomes(token, keys)
    assert got[0] == expected, (token, got, expected)
    assert got[1] == expected, (token, got, expected)
    if expected[0] == "ok":
        assert got[2] == expected
    else:
        assert got[2][0] == "sdk" and got[2][1] == expected[1], (token, got, expected)


# -- JSON -----------------------------------------------------------------------------------------
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["\ud800", "\udfff", "\ud83d\ude00", "\x00", "\u2028", "\ufeff"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


def ref_or_error(fn: Callable[[bytes, str], Any], data: bytes) -> str:
    try:
        return canonical(fn(data, "payload"))
    except jose.MalformedToken as exc:
        return f"error: {exc}"


@settings(max_examples=3000, deadline=None)
@given(
    value=st.dictionaries(st.text(max_size=6), json_values, max_size=6),
    ensure_ascii=st.booleans(),
    spaces=st.sampled_from(["", " ", "\n", "\t", "\r", "\x0b", "\x0c", "\x00", "\xa0"]),
    edit=st.none()
    | st.tuples(
        st.integers(0, 400),
        st.sampled_from(["", ",", "]", "}", "1", "9" * 20, "\\", '"', "{", "["]),
    ),
)
def test_json_object_as_before(
    value: dict[str, Any], ensure_ascii: bool, spaces: str, edit: tuple[int, str] | None
) -> None:
    """Same value (types, key order, NaN, big integers, surrogates) or the same error as the
    json-only reader, on serialized objects, with blanks around, and edited into wrong JSON."""
    text = json.dumps(value, ensure_ascii=ensure_ascii) + spaces
    if edit is not None:
        at_ = min(edit[0], len(text))
        text = text[:at_] + edit[1] + text[at_:]
    data = text.encode("utf-8", "surrogatepass")
    assert ref_or_error(jose.json_object, data) == ref_or_error(ref_json_object, data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":2}',  # duplicate member names: the last one wins, in the first's place
        b'{"b":1,"a":2,"b":3}',
        b'{"exp":18446744073709551616}',  # beyond 64 bits: an int, never a float
        b'{"exp":-9223372036854775809}',
        b'{"exp":9223372036854775807}',
        b'{"exp":123456789012345678901234567890}',
        b'{"exp":1.00000000000000000000001}',
        b'{"exp":NaN}',
        b'{"exp":Infinity}',
        b'{"exp":-Infinity}',
        b'{"exp":1e400}',
        b'{"exp":-0}',
        b'{"exp":-0.0}',
        b'{"exp":1E2}',
        b'{"s":"\\ud800"}',  # a lone surrogate, escaped
        b'{"s":"\xed\xa0\x80"}',  # and in (surrogatepass) UTF-8
        b'{"s":"\xff"}',
        b'\xef\xbb\xbf{"a":1}',
        b'{"a":1}\x00',
        b'{"a":1} ',
        b'{"a":1}x',
        b'{"a":"\x1f"}',
        b"{" + b'"a":[' * 63 + b"]" * 63 + b"}",
        b"{" + b'"a":[' * 64 + b"]" * 64 + b"}",
        b"{" + b'"a":[' * 3000 + b"]" * 3000 + b"}",  # json's recursion limit
        b"[1]",
        b"{}",
        b"{",
    ],
)
def test_json_object_edge_cases(data: bytes) -> None:
    assert ref_or_error(jose.json_object, data) == ref_or_error(ref_json_object, data)


# -- base64url and DER ----------------------------------------------------------------------------
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segment=st.text(alphabet=jose._B64URL_CHARS, max_size=12), where=st.sampled_from([1, 2]))
def test_any_segment_decodes_as_b64url_decode(segment: str, where: int) -> None:
    """Every base64url string as the payload (validly signed) or as the signature: the same
    bytes, or the same error, as ``b64url_decode`` (the reference decodes with the old one)."""
    h64 = b64(json.dumps(header_for("EdDSA")).encode())
    if where == 1:
        token = token_over("EdDSA", h64, segment) if segment else f"{h64}.{segment}.AA"
    else:
        token = f"{h64}.{b64(json.dumps(CLAIMS).encode())}.{segment}"
    assert_same(token, "EdDSA")


@settings(max_examples=3000, deadline=None)
@given(
    st.binary(min_size=64, max_size=64),
    st.sampled_from([None, 0, 1, 0x7F, 0x80, 0xFF]),
    st.sampled_from([None, 0, 1, 0x7F, 0x80, 0xFF]),
)
def test_es256_der_as_encode_dss_signature(
    sig: bytes, first_r: int | None, first_s: int | None
) -> None:
    b = bytearray(sig)
    if first_r is not None:
        b[0] = first_r
    if first_s is not None:
        b[32] = first_s
    sig = bytes(b)
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    assert jose.es256_der(sig) == encode_dss_signature(r, s)


def test_es256_der_of_zero_halves() -> None:
    for sig in (
        bytes(64),
        bytes(32) + b"\x01" * 32,
        b"\x01" * 32 + bytes(32),
        bytes(31) + b"\x80" * 33,
    ):
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        assert jose.es256_der(sig) == encode_dss_signature(r, s)


@pytest.mark.parametrize("alg", ALGS)
def test_bound_check_and_verify(alg: str) -> None:
    sign, vk = KEYS[alg]
    data = b"signing input"
    sig = sign(data)
    assert vk.verify(data, sig) and ref_verify(vk, data, sig)
    bad = bytes([sig[0] ^ 1]) + sig[1:]
    assert not vk.verify(data, bad) and not ref_verify(vk, data, bad)
    assert not vk.verify(data, sig[:-1]) and not ref_verify(vk, data, sig[:-1])
    assert not vk.verify(data, b"") and not ref_verify(vk, data, b"")
    with pytest.raises((InvalidSignature, ValueError)):
        vk.check(bad, data)


def test_unknown_algorithm_never_verifies() -> None:
    vk = jose.VerificationKey(kid="k", alg="none", key=None)
    assert not vk.verify(b"x", b"")


# -- whole tokens ---------------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ALGS)
def test_valid_token_as_before(alg: str) -> None:
    assert_same(good(alg), alg)
    assert reference_outcome(good(alg), keys_of(alg))[0] == "ok"


claim_values = json_values | st.sampled_from(
    [
        NOW,
        NOW + 900,
        NOW - 10,
        float(NOW + 900),
        NOW + 0.5,
        2**64,
        -(2**64),
        "",
        AUD,
        [AUD],
        [],
        ["x", AUD],
    ]
)


@pytest.mark.parametrize("alg", ALGS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.dictionaries(
        st.sampled_from(sorted(CLAIMS) + ["cnf", "x"]), claim_values | st.just(None), max_size=3
    ),
    drop=st.lists(st.sampled_from(sorted(CLAIMS)), max_size=2),
    cnf=st.sampled_from([None, {"jkt": "A" * 43}, {"jkt": "A" * 42}, {"x5t#S256": "a"}, "jkt", []]),
)
def test_resigned_claims_as_before(
    alg: str, changes: dict[str, Any], drop: list[str], cnf: Any
) -> None:
    """Validly signed tokens whose claims are anything: the same claims or the same error."""
    payload = dict(CLAIMS, **changes)
    for name in drop:
        payload.pop(name, None)
    if cnf is not None:
        payload["cnf"] = cnf
    p = json.dumps(payload, allow_nan=True).encode("utf-8", "surrogatepass")
    assert_same(good(alg, p), alg)


headers = st.dictionaries(
    st.sampled_from(["alg", "typ", "kid", "crit", "b64", "x"]),
    st.sampled_from(
        [
            "ES256",
            "EdDSA",
            "RS256",
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "JWT",
            "k-ES256",
            "k-EdDSA",
            "k-RS256",
            None,
            1,
            ["at+jwt"],
            {},
        ]
    ),
    max_size=5,
)


@pytest.mark.parametrize("alg", ALGS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=headers)
def test_resigned_headers_as_before(alg: str, header: dict[str, Any]) -> None:
    h64 = b64(json.dumps(header).encode())
    assert_same(token_over(alg, h64, b64(json.dumps(CLAIMS).encode())), alg)


_CHARS = st.sampled_from(
    list(jose._B64URL_CHARS) + [".", "=", "+", "/", " ", "\x00", "é", "\ud800"]
)


@pytest.mark.parametrize("alg", ALGS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_tokens_as_before(alg: str, data: st.DataObject) -> None:
    token = good(alg)
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate", "last"]))
        if not token:
            break
        at_ = data.draw(st.integers(0, len(token) - 1))
        if kind == "replace":
            token = token[:at_] + data.draw(_CHARS) + token[at_ + 1 :]
        elif kind == "insert":
            token = token[:at_] + data.draw(_CHARS) + token[at_:]
        elif kind == "delete":
            token = token[:at_] + token[at_ + 1 :]
        elif kind == "truncate":
            token = token[:at_]
        else:  # the last character of a segment: spare bits, lengths
            seg = data.draw(st.integers(0, 2))
            parts = token.split(".")
            if len(parts) == 3 and parts[seg]:
                parts[seg] = parts[seg][:-1] + data.draw(_CHARS)
            token = ".".join(parts)
    assert_same(token, alg)


@pytest.mark.parametrize(
    "token", [None, 1, b"a.b.c", "a" * 9000, "", "..", "a..b", ".a.b", "a.b.", "a.b.c.d"]
)
def test_odd_inputs_as_before(token: Any) -> None:
    assert_same(token, "ES256")


# -- AccessClaims ---------------------------------------------------------------------------------
def claims_of(**changes: Any) -> AccessClaims:
    fields: dict[str, Any] = {
        "sub": "u",
        "iss": ISS,
        "aud": (AUD,),
        "exp": 2,
        "iat": 1,
        "nbf": None,
        "jti": "j",
        "client_id": "c",
        "scope": frozenset({"b", "a"}),
        "roles": frozenset(),
        "sid": None,
        "raw": {"x": 1},
    }
    fields.update(changes)
    return AccessClaims(**fields)


def test_access_claims_compare_and_hash_without_raw() -> None:
    a, b = claims_of(), claims_of(raw={"y": 2})
    assert a == b and not (a != b) and hash(a) == hash(b)
    assert a != claims_of(jkt="j" * 43) and a != claims_of(sub="v")
    assert a.jkt is None and a.scope_str == "a b"
    assert a != tuple(a) and tuple(a) != a  # not equal to a plain tuple
    assert "raw" not in repr(a) and repr(a).startswith("AccessClaims(sub='u', iss=")


def test_access_claims_are_immutable() -> None:
    a = claims_of()
    with pytest.raises(AttributeError):
        a.sub = "v"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.other = 1  # type: ignore[attr-defined]
    assert not isinstance(AttributeError("x"), FrozenInstanceError)  # documented: AttributeError


def test_access_claims_pickle_and_replace() -> None:
    a = claims_of()
    assert pickle.loads(pickle.dumps(a)) == a
    assert a._replace(sub="v").sub == "v"


def test_validate_builds_the_same_access_claims_as_the_constructor() -> None:
    payload = dict(CLAIMS)
    got = at.validate({"typ": "at+jwt"}, payload, issuer=ISS, audience=AUD, now=NOW, leeway=LEEWAY)
    assert type(got) is AccessClaims
    assert got == claims_of(
        sub="user-1",
        exp=NOW + 900,
        iat=NOW - 10,
        nbf=NOW - 10,
        jti="jti-1",
        client_id="client-1",
        scope=frozenset({"orders:read", "orders:write"}),
        roles=frozenset({"clerk"}),
        sid="sid-1",
        raw=payload,
    )
    assert got.raw is payload


def test_random_signatures_never_verify() -> None:
    for alg in ALGS:
        token = good(alg)
        h, p, _ = token.split(".")
        size = {"ES256": 64, "EdDSA": 64, "RS256": 256}[alg]
        for _ in range(20):
            assert_same(f"{h}.{p}.{b64(os.urandom(size))}", alg)
