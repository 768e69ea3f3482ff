"""KeyRing.sign signs straight through ``cryptography``: its tokens must verify with PyJWT, with
joserfc and with gatepass's own SDK, for every algorithm, and be refused once tampered with."""

from __future__ import annotations

import base64
import json
import time

import jwt as pyjwt
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet

from gatepass.core import keys as k
from gatepass.core.access_token import ACCESS_TOKEN_TYP, build_claims
from gatepass.sdk import Verifier
from gatepass.sdk.errors import InvalidTokenError

ALGS = ["ES256", "EdDSA", "RS256", "HS256"]


def _claims(now: float) -> dict[str, object]:
    return build_claims(
        issuer="https://issuer.example",
        subject="user-1",
        audience="api",
        client_id="gpc_x",
        scope=["b", "a"],
        roles=["admin"],
        now=now,
        ttl=900,
        sid="gps_sid",
    )


def _pyjwt_key(key: k.SigningKey) -> object:
    if key.alg == "HS256":
        return key.private.private_key  # the raw secret
    return pyjwt.PyJWK(key.public_jwk()).key


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.mark.parametrize("alg", ALGS)
def test_tokens_verify_with_pyjwt_joserfc_and_the_sdk(alg: str) -> None:
    now = time.time()
    key = k.SigningKey.new(alg, state="active", now=now)
    ring = k.KeyRing((key,))
    claims = _claims(now)
    token = ring.sign(claims, ACCESS_TOKEN_TYP)

    header = pyjwt.get_unverified_header(token)
    assert header == {"alg": alg, "typ": "at+jwt", "kid": key.kid}
    decoded = pyjwt.decode(
        token, _pyjwt_key(key), algorithms=[alg], audience="api", issuer="https://issuer.example"
    )
    assert decoded == claims

    jkey = key.private if alg == "HS256" else KeySet.import_key_set({"keys": [key.public_jwk()]})
    assert joserfc_jwt.decode(token, jkey, algorithms=[alg]).claims == claims

    verifier = Verifier(
        issuer="https://issuer.example", audience="api", keys=ring.verification_keys(now)
    )
    got = verifier.verify(token)
    assert got.sub == "user-1" and got.scope == frozenset({"a", "b"}) and got.sid == "gps_sid"


def test_es256_signature_is_raw_r_and_s_not_der() -> None:
    key = k.SigningKey.new("ES256", state="active", now=0)
    token = k.KeyRing((key,)).sign({"sub": "x"}, ACCESS_TOKEN_TYP)
    assert len(_b64decode(token.rsplit(".", 1)[1])) == 64  # RFC 7518 §3.4


@pytest.mark.parametrize("alg", ALGS)
def test_a_tampered_token_is_refused(alg: str) -> None:
    now = time.time()
    key = k.SigningKey.new(alg, state="active", now=now)
    ring = k.KeyRing((key,))
    token = ring.sign(_claims(now), ACCESS_TOKEN_TYP)
    head, payload, sig = token.split(".")
    forged = json.loads(_b64decode(payload))
    forged["sub"] = "someone-else"
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    verifier = Verifier(
        issuer="https://issuer.example", audience="api", keys=ring.verification_keys(now)
    )
    with pytest.raises(InvalidTokenError):
        verifier.verify(f"{head}.{body}.{sig}")
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(f"{head}.{body}.{sig}", _pyjwt_key(key), algorithms=[alg], audience="api")


def test_a_header_naming_another_algorithm_is_refused() -> None:
    key = k.SigningKey.new("ES256", state="active", now=0)
    with pytest.raises(ValueError):
        k.sign_compact(key, {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}, {"sub": "x"})
