"""Differential test: gatepass's token verification against a strictly configured PyJWT.

The oracle is ``jwt.decode`` with ``algorithms=[the key's alg]``, issuer, audience, leeway and
``require=[exp, iat, iss, aud, sub]``, the key chosen by ``kid`` (every key is tried when the
token names none), plus the ``typ`` check of RFC 9068 §4 (``at+jwt`` or ``application/at+jwt``,
compared case-insensitively as RFC 7515 §4.1.9 says), done here since PyJWT does not do it.
gatepass (``sdk.Verifier`` and ``core.jose.decode_verified`` + ``core.access_token.validate``,
with keys given directly) must accept exactly what the oracle accepts, on a corpus of good and
forged tokens for ES256, EdDSA, RS256 and HS256 keys and on Hypothesis-made mutations of good
ones. Where gatepass is stricter by design, a ``test_stricter_*`` test shows the oracle accepting
and gatepass refusing, so each difference is written down.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
import jwt.api_jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwk as jose_jwk

from gatepass.core import access_token as at
from gatepass.core import jose
from gatepass.sdk import InvalidTokenError, Verifier

NOW = 1_800_000_000
LEEWAY = 30
ISS = "https://issuer.example"
AUD = "orders-api"
ALGS = ("ES256", "EdDSA", "RS256", "HS256")
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
DROP = object()  # a claim or header member to leave out
GOOD_CLAIMS: dict[str, Any] = {
    "iss": ISS,
    "sub": "user-1",
    "aud": AUD,
    "exp": NOW + 900,
    "iat": NOW - 10,
    "nbf": NOW - 10,
    "jti": "jti-1",
    "client_id": "client-1",
    "scope": "orders:read",
    "roles": ["clerk"],
}


# -- keys and tokens ------------------------------------------------------------------------------
def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64json(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


@dataclass(frozen=True)
class Key:
    alg: str
    kid: str
    jwk: dict[str, Any]  # what gatepass is given: the public JWK (the oct JWK for HS256)
    pyjwt_key: Any  # what PyJWT is given: a cryptography public key, or the HMAC secret
    private: Any  # cryptography private key, or the HMAC secret
    signature_size: int

    def sign(self, data: bytes) -> bytes:
        if self.alg == "ES256":
            der = self.private.sign(data, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if self.alg == "EdDSA":
            return bytes(self.private.sign(data))
        if self.alg == "RS256":
            return bytes(self.private.sign(data, padding.PKCS1v15(), hashes.SHA256()))
        return hs256(self.private)(data)

    def public_bytes(self, encoding: serialization.Encoding) -> bytes:
        return bytes(
            self.pyjwt_key.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)
        )


def make_key(alg: str) -> Key:
    made: Any = {
        "ES256": lambda: jose_jwk.ECKey.generate_key("P-256", private=True),
        "EdDSA": lambda: jose_jwk.OKPKey.generate_key("Ed25519", private=True),
        "RS256": lambda: jose_jwk.RSAKey.generate_key(2048, private=True),
        "HS256": lambda: jose_jwk.OctKey.generate_key(256, private=True),
    }[alg]()
    kid = made.thumbprint()
    if alg == "HS256":
        secret = made.raw_value
        jwk = dict(made.as_dict(private=True), kid=kid, alg=alg)
        return Key(alg, kid, jwk, secret, secret, 32)
    jwk = dict(made.as_dict(private=False), kid=kid, alg=alg, use="sig")
    size = {"ES256": 64, "EdDSA": 64, "RS256": 256}[alg]
    return Key(alg, kid, jwk, made.public_key, made.private_key, size)


KEYS = {alg: make_key(alg) for alg in ALGS}
ATTACKER = make_key("ES256")


def _changed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in changes.items():
        if value is DROP:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def header_of(k: Key, **changes: Any) -> dict[str, Any]:
    return _changed({"alg": k.alg, "typ": "at+jwt", "kid": k.kid}, changes)


def claims(**changes: Any) -> dict[str, Any]:
    return _changed(GOOD_CLAIMS, changes)


def forge(header: Any, payload: Any, sign: Callable[[bytes], bytes] | None) -> str:
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    signature = sign(signing_input.encode()) if sign is not None else b""
    return f"{signing_input}.{b64(signature)}"


def signed(k: Key, header: dict[str, Any] | None = None, payload: Any = None) -> str:
    return forge(header or header_of(k), claims() if payload is None else payload, k.sign)


def resign(k: Key, h64: str, p64: str) -> str:
    """A token over the given (possibly odd) segments, validly signed by ``k``."""
    return f"{h64}.{p64}.{b64(k.sign(f'{h64}.{p64}'.encode()))}"


# -- the two verdicts -----------------------------------------------------------------------------
def gatepass_accepts(token: str, keys: Sequence[Key]) -> bool:
    """The SDK Verifier's verdict; the core functions must give the same one."""
    vkeys = {k.kid: jose.verification_key_from_jwk(k.jwk) for k in keys}
    verifier = Verifier(issuer=ISS, audience=AUD, keys=vkeys, leeway=LEEWAY, clock=lambda: NOW)
    try:
        verifier.verify(token)
        sdk = True
    except InvalidTokenError:
        sdk = False
    try:
        header, payload = jose.decode_verified(token, vkeys)
        at.validate(header, payload, issuer=ISS, audience=AUD, now=NOW, leeway=LEEWAY)
        core = True
    except (jose.JoseError, at.ClaimError):
        core = False
    assert sdk == core, f"Verifier says {sdk}, core says {core}"
    return sdk


class _FrozenDatetime(datetime.datetime):
    """What ``jwt.api_jwt`` reads the time from, pinned to ``NOW``."""

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> _FrozenDatetime:  # type: ignore[override]
        return cls.fromtimestamp(NOW, tz)


@pytest.fixture(autouse=True, scope="module")
def pyjwt_at_now() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)
        yield


def pyjwt_accepts(token: str, keys: Sequence[Key]) -> bool:
    try:
        header = jwt.get_unverified_header(token)
    except Exception:  # noqa: BLE001 - any refusal is a refusal
        return False
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt"):
        return False
    candidates = [k for k in keys if k.kid == header["kid"]] if "kid" in header else keys
    for k in candidates:
        try:
            jwt.decode(
                token,
                k.pyjwt_key,
                algorithms=[k.alg],
                issuer=ISS,
                audience=AUD,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except Exception:  # noqa: BLE001
            continue
        return True
    return False


def verdicts(token: str, keys: Sequence[Key]) -> tuple[bool, bool]:
    return gatepass_accepts(token, keys), pyjwt_accepts(token, keys)


# -- the corpus -----------------------------------------------------------------------------------
Builder = Callable[[Key], "str | None"]  # None: the case does not apply to this key type


def _alg_none(spelling: str, with_signature: bool) -> Builder:
    def build(k: Key) -> str:
        token = forge(header_of(k, alg=spelling), claims(roles=["admin"]), None)
        return token + (b64(k.sign(b"x")) if with_signature else "")

    return build


def _hs256_with_public(form: str) -> Builder:
    def build(k: Key) -> str | None:
        if k.alg == "HS256":
            return None
        secret = {
            "pem": lambda: k.public_bytes(serialization.Encoding.PEM),
            "der": lambda: k.public_bytes(serialization.Encoding.DER),
            "jwk": lambda: json.dumps(k.jwk).encode(),
        }[form]()
        return forge(header_of(k, alg="HS256"), claims(roles=["admin"]), hs256(secret))

    return build


def _tampered(k: Key) -> str:
    h64, _, s64 = signed(k).split(".")
    return f"{h64}.{b64json(claims(roles=['admin']))}.{s64}"


def _constant_signature(value: bytes) -> Builder:
    def build(k: Key) -> str:
        sig = (value * k.signature_size)[: k.signature_size]
        return forge(header_of(k), claims(), lambda _: sig)

    return build


def _ecdsa_r_s_order(k: Key) -> str | None:
    if k.alg != "ES256":
        return None
    n = P256_ORDER.to_bytes(32, "big")
    return forge(header_of(k), claims(), lambda _: n + n)


def _attacker_signed(**header_changes: Any) -> Builder:
    def build(k: Key) -> str:
        changes = {
            name: (ATTACKER.kid if v == "ATTACKER" else k.kid if v == "REAL" else v)
            for name, v in header_changes.items()
        }
        changes.setdefault("kid", ATTACKER.kid)
        header = header_of(ATTACKER, **changes)
        return forge(header, claims(roles=["admin"]), ATTACKER.sign)

    return build


def _sig_segment(transform: Callable[[str], str]) -> Builder:
    def build(k: Key) -> str:
        h64, p64, s64 = signed(k).split(".")
        return f"{h64}.{p64}.{transform(s64)}"

    return build


def _non_canonical_last_char(s64: str) -> str:
    """The same signature bytes, with the unused low bits of the last character set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spare = {2: 0b1111, 3: 0b11}[len(s64) % 4]
    return s64[:-1] + alphabet[alphabet.index(s64[-1]) | spare]


def _segments(shape: str) -> Builder:
    def build(k: Key) -> str:
        h64, p64, s64 = signed(k).split(".")
        return shape.format(h=h64, p=p64, s=s64)

    return build


def _json_serialization(k: Key) -> str:
    h64, p64, s64 = signed(k).split(".")
    return json.dumps({"protected": h64, "payload": p64, "signature": s64})


def _raw_header(raw: bytes) -> Builder:
    return lambda k: resign(k, b64(raw), b64json(claims()))


def _payload(payload: Any) -> Builder:
    return lambda k: signed(k, payload=payload)


def _claims(**changes: Any) -> Builder:
    return lambda k: signed(k, payload=claims(**changes))


def _header(**changes: Any) -> Builder:
    return lambda k: signed(k, header=header_of(k, **changes))


ACCEPTED: dict[str, Builder] = {
    "good": _claims(),
    "good-no-kid": _header(kid=DROP),
    "typ-application-at+jwt": _header(typ="application/at+jwt"),
    "typ-upper-case": _header(typ="AT+JWT"),
    "aud-list-containing-ours": _claims(aud=["billing", AUD]),
    "no-nbf": _claims(nbf=DROP),
    "float-dates": _claims(exp=NOW + 900.5, iat=NOW - 10.5, nbf=NOW - 10.5),
    "exp-just-inside-leeway": _claims(exp=NOW - LEEWAY + 1),
    "nbf-at-leeway": _claims(nbf=NOW + LEEWAY),
    "iat-at-leeway": _claims(iat=NOW + LEEWAY),
    "extra-claims-and-headers": lambda k: signed(
        k, header_of(k, cty="JWT", x="y"), claims(extra={"a": [1]})
    ),
}

REFUSED: dict[str, Builder] = {
    **{
        f"alg-{spelling}-{'sig' if sig else 'nosig'}": _alg_none(spelling, sig)
        for spelling in ("none", "None", "NONE", "nOnE")
        for sig in (False, True)
    },
    "hs256-with-public-key-pem": _hs256_with_public("pem"),
    "hs256-with-public-key-der": _hs256_with_public("der"),
    "hs256-with-public-key-jwk": _hs256_with_public("jwk"),
    "hs256-with-wrong-secret": lambda k: forge(header_of(k, alg="HS256"), claims(), hs256(b"k")),
    "alg-of-another-family": lambda k: signed(k, header_of(k, alg="ES384")),
    "stripped-signature": _sig_segment(lambda s: ""),
    "empty-signature-forged-claims": lambda k: forge(header_of(k), claims(roles=["x"]), None),
    "tampered-payload": _tampered,
    "zero-signature": _constant_signature(b"\x00"),
    "ff-signature": _constant_signature(b"\xff"),
    "ecdsa-r-s-curve-order": _ecdsa_r_s_order,
    "embedded-jwk-attacker-kid": _attacker_signed(jwk=ATTACKER.jwk),
    "embedded-jwk-real-kid": _attacker_signed(kid="REAL", jwk=ATTACKER.jwk),
    "jku-attacker": _attacker_signed(jku="http://127.0.0.1:9/jwks.json"),
    "jku-real-kid": _attacker_signed(kid="REAL", jku="http://127.0.0.1:9/jwks.json"),
    "x5u-attacker": _attacker_signed(x5u="http://127.0.0.1:9/cert.pem"),
    "kid-path-traversal": _attacker_signed(kid="../../../../dev/null"),
    "kid-path-traversal-hs256-empty": lambda k: forge(
        header_of(k, alg="HS256", kid="../../../../dev/null"), claims(), hs256(b"")
    ),
    "kid-sql-injection": _attacker_signed(kid="' OR '1'='1"),
    "kid-null": _header(kid=None),
    "kid-number": _header(kid=7),
    "unknown-crit": _header(crit=["urn:x"], **{"urn:x": 1}),
    "empty-crit": _header(crit=[]),
    "typ-JWT": _header(typ="JWT"),
    "typ-missing": _header(typ=DROP),
    "typ-not-a-string": _header(typ=["at+jwt"]),
    "wrong-issuer": _claims(iss="https://evil.example"),
    "issuer-trailing-slash": _claims(iss=ISS + "/"),
    "issuer-not-a-string": _claims(iss=[ISS]),
    "missing-issuer": _claims(iss=DROP),
    "wrong-audience": _claims(aud="billing"),
    "audience-empty-list": _claims(aud=[]),
    "audience-not-strings": _claims(aud=[AUD, 1]),
    "missing-audience": _claims(aud=DROP),
    "expired-at-leeway": _claims(exp=NOW - LEEWAY),
    "expired-long-ago": _claims(exp=NOW - 86400),
    "missing-exp": _claims(exp=DROP),
    "exp-null": _claims(exp=None),
    "exp-not-a-number": _claims(exp="soon"),
    "nbf-beyond-leeway": _claims(nbf=NOW + LEEWAY + 1),
    "nbf-null": _claims(nbf=None),
    "nbf-not-a-number": _claims(nbf="later"),
    "iat-in-future": _claims(iat=NOW + LEEWAY + 1),
    "missing-iat": _claims(iat=DROP),
    "missing-sub": _claims(sub=DROP),
    "sub-not-a-string": _claims(sub=42),
    "jti-not-a-string": _claims(jti=42),
    "two-segments": _segments("{h}.{p}"),
    "four-segments": _segments("{h}.{p}.{s}.{s}"),
    "empty-first-segment": _segments(".{p}.{s}"),
    "json-serialization": _json_serialization,
    "plus-slash-in-signature": _sig_segment(lambda s: "+/" + s[2:]),
    "bang-in-signature": _sig_segment(lambda s: s[:4] + "!" + s[4:]),
    "space-in-signature": _sig_segment(lambda s: s[:4] + " " + s[4:]),
    "non-canonical-base64-signature": _sig_segment(_non_canonical_last_char),
    "deeply-nested-header": _raw_header(b"[" * 5000),
    "deeply-nested-object-header": _raw_header(b'{"a":' * 2000),
    "header-not-an-object": _raw_header(b'["ES256"]'),
    "header-not-json": _raw_header(b"alg=ES256"),
    "payload-not-an-object": _payload([GOOD_CLAIMS]),
    "payload-a-string": _payload("sub"),
}


def _corpus(cases: dict[str, Builder]) -> list[Any]:
    """Every (algorithm, case) pair whose case applies to that key type (builds a token)."""
    return [
        pytest.param(alg, name, id=f"{alg}-{name}")
        for alg in ALGS
        for name, build in cases.items()
        if build(KEYS[alg]) is not None
    ]


@pytest.mark.parametrize(("alg", "case"), _corpus(ACCEPTED))
def test_both_accept(alg: str, case: str) -> None:
    token = ACCEPTED[case](KEYS[alg])
    assert token is not None
    assert verdicts(token, [KEYS[alg]]) == (True, True)


@pytest.mark.parametrize(("alg", "case"), _corpus(REFUSED))
def test_both_refuse(alg: str, case: str) -> None:
    token = REFUSED[case](KEYS[alg])
    assert token is not None
    assert verdicts(token, [KEYS[alg]]) == (False, False)


@pytest.mark.parametrize("alg", ALGS)
def test_with_several_keys_each_token_verifies_under_its_own_kid(alg: str) -> None:
    keys = list(KEYS.values())
    assert verdicts(signed(KEYS[alg]), keys) == (True, True)
    other = next(k for k in keys if k.alg != alg)
    wrong_kid = signed(KEYS[alg], header_of(KEYS[alg], kid=other.kid))
    assert verdicts(wrong_kid, keys) == (False, False)


def test_control_the_oracle_reads_the_frozen_time() -> None:
    """Without the pinned clock PyJWT would judge these by the wall clock."""
    k = KEYS["ES256"]
    assert pyjwt_accepts(signed(k, payload=claims(exp=NOW + 60)), [k])
    assert not pyjwt_accepts(signed(k, payload=claims(exp=NOW - LEEWAY)), [k])
    assert not pyjwt_accepts(signed(k, payload=claims(iat=NOW + LEEWAY + 1)), [k])


# -- where gatepass is stricter by design ---------------------------------------------------------
def assert_only_pyjwt_accepts(token: str, keys: Sequence[Key]) -> None:
    assert verdicts(token, keys) == (False, True)


def _padded(obj: Any) -> str:
    text = json.dumps(obj, separators=(",", ":"))
    while len(text.encode()) % 3 == 0:
        text += " "
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize("alg", ALGS)
def test_stricter_base64_padding_in_segments(alg: str) -> None:
    """RFC 7515 §2: base64url *without* padding; PyJWT tolerates ``=`` (AWS ALB emits it)."""
    k = KEYS[alg]
    h64, p64, s64 = signed(k).split(".")
    if len(s64) % 4:
        assert_only_pyjwt_accepts(f"{h64}.{p64}.{s64}{'=' * (-len(s64) % 4)}", [k])
    assert_only_pyjwt_accepts(resign(k, _padded(header_of(k)), p64), [k])
    assert_only_pyjwt_accepts(resign(k, h64, _padded(claims())), [k])


def test_stricter_missing_kid_with_several_keys() -> None:
    """Without a kid, gatepass picks a key only when there is one; it never tries them all."""
    keys = list(KEYS.values())
    for k in keys:
        assert_only_pyjwt_accepts(signed(k, header_of(k, kid=DROP)), keys)
        assert verdicts(signed(k, header_of(k, kid=DROP)), [k]) == (True, True)


@pytest.mark.parametrize(
    "changes",
    [{"crit": ["b64"], "b64": True}, {"b64": True}],
    ids=["crit-b64", "b64-without-crit"],
)
def test_stricter_crit_and_b64_headers(changes: dict[str, Any]) -> None:
    """gatepass supports no JWS extension, so any ``crit`` (even one PyJWT knows) or ``b64``
    is refused (RFC 7515 §4.1.11, RFC 7797); unknown ``crit`` values both refuse (corpus)."""
    for k in KEYS.values():
        assert_only_pyjwt_accepts(signed(k, header_of(k, **changes)), [k])


@pytest.mark.parametrize(
    "changes",
    [
        {"jti": DROP},
        {"client_id": DROP},
        {"jti": ""},
        {"client_id": 7},
        {"sub": ""},
        {"scope": ["orders:read"]},
        {"roles": "clerk"},
        {"sid": 5},
    ],
    ids=repr,
)
def test_stricter_required_rfc9068_claims(changes: dict[str, Any]) -> None:
    """RFC 9068 §2.2: jti and client_id are required, sub a non-empty string; scope a string;
    gatepass's roles a list of strings and sid a string. PyJWT checks none of that."""
    for k in KEYS.values():
        assert_only_pyjwt_accepts(signed(k, payload=claims(**changes)), [k])


@pytest.mark.parametrize(
    "changes",
    [{"exp": str(NOW + 900)}, {"iat": str(NOW)}, {"nbf": str(NOW)}, {"iat": True}, {"nbf": False}],
    ids=repr,
)
def test_stricter_numeric_dates_are_json_numbers(changes: dict[str, Any]) -> None:
    """RFC 7519 §2: a NumericDate is a JSON number; PyJWT reads ``int(value)`` of anything."""
    k = KEYS["ES256"]
    assert_only_pyjwt_accepts(signed(k, payload=claims(**changes)), [k])


def test_stricter_token_size_limit() -> None:
    """Tokens longer than ``jose.MAX_TOKEN_BYTES`` are refused before any parsing."""
    for k in KEYS.values():
        token = signed(k, payload=claims(pad="A" * jose.MAX_TOKEN_BYTES))
        assert_only_pyjwt_accepts(token, [k])


def test_iat_in_the_future_is_refused_by_both() -> None:
    """Once a gatepass-only check; PyJWT (>= 2.10) now refuses it too, beyond the leeway."""
    for k in KEYS.values():
        assert verdicts(signed(k, payload=claims(iat=NOW + LEEWAY + 1)), [k]) == (False, False)
        assert verdicts(signed(k, payload=claims(iat=NOW + LEEWAY)), [k]) == (True, True)


def test_non_alphabet_characters_are_refused_by_both() -> None:
    """Once a gatepass-only check; PyJWT (GHSA-hxm8-2xgr-2p9m) now refuses them too."""
    for k in KEYS.values():
        h64, p64, s64 = signed(k).split(".")
        for bad in ("+", "/", "!", " ", "\n", "é", "\x00"):
            assert verdicts(f"{h64}.{p64}.{s64[:5]}{bad}{s64[5:]}", [k]) == (False, False)


# -- Hypothesis: mutations of a valid token -------------------------------------------------------
_REPLACEMENTS = st.one_of(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
    st.sampled_from(list("=+/.!~ \t\n\x00é\u2024")),
    st.characters(),
)


@st.composite
def mutations(draw: st.DrawFn, token: str) -> str:
    segments = token.split(".")
    kinds = ["replace", "bitflip", "insert", "delete", "truncate", "bytes", "last-bits"]
    kind = draw(st.sampled_from(kinds))
    if kind == "truncate":
        return token[: draw(st.integers(0, len(token) - 1))]
    index = draw(st.integers(0, 2))
    seg = segments[index]
    if kind == "last-bits":  # the last character: where spare bits and padding live
        seg = seg[:-1] + chr(ord(seg[-1]) ^ (1 << draw(st.integers(0, 7))))
    elif kind == "bytes":  # change one decoded byte, re-encode canonically
        raw = bytearray(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
        at_ = draw(st.integers(0, len(raw) - 1))
        raw[at_] ^= draw(st.integers(1, 255))
        seg = b64(bytes(raw))
    elif kind == "insert":
        at_ = draw(st.integers(0, len(seg)))
        seg = seg[:at_] + draw(_REPLACEMENTS) + seg[at_:]
    else:
        at_ = draw(st.integers(0, len(seg) - 1))
        if kind == "replace":
            new = draw(_REPLACEMENTS)
        elif kind == "bitflip":
            new = chr(ord(seg[at_]) ^ (1 << draw(st.integers(0, 7))))
        else:
            new = ""
        seg = seg[:at_] + new + seg[at_ + 1 :]
    segments[index] = seg
    return ".".join(segments)


GOOD = {alg: signed(KEYS[alg]) for alg in ALGS}


@pytest.mark.parametrize("alg", ALGS)
@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutations_of_a_valid_token(alg: str, data: st.DataObject) -> None:
    good = GOOD[alg]
    token = data.draw(mutations(good), label="mutated")
    keys = [KEYS[alg]]
    ours, theirs = verdicts(token, keys)
    if ours != theirs:  # only the documented difference a mutation can make: padding
        assert theirs and not ours and "=" in token, (token, ours, theirs)
    if ours:  # no other string than the genuine token verifies: no malleability
        assert token == good


JSON_PIECES = [
    "{", "}", "[", "]", ",", ":", " ", "\n", '"a"', '"\\u00e9"', '"\\ud800"', "\u00e9", "1", "-0",
    "1e400", "NaN", "true", "null", '"', "\\", "\x00", "{}", '{"a":1}', "\ufeff", "\x80",
]  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(
    text=st.lists(st.sampled_from(JSON_PIECES), max_size=10).map("".join),
    encoding=st.sampled_from(["utf-8", "utf-16-le", "latin-1"]),
)
def test_json_object_reads_what_json_loads_reads(text: str, encoding: str) -> None:
    """``jose.json_object`` (a header or payload segment, decoded) gives json.loads's object,
    and refuses what json.loads refuses or reads as something other than an object."""
    try:
        data = ("{" + text).encode(encoding, "surrogatepass")
    except UnicodeEncodeError:
        return
    try:
        expected = json.loads(data)
    except (ValueError, RecursionError):
        expected = None
    try:
        got = jose.json_object(data, "x")
    except jose.MalformedToken:
        got = None
    if type(expected) is not dict:
        expected = None
    assert repr(got) == repr(expected)  # repr: NaN is not equal to itself
