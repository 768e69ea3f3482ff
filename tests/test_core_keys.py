"""core/keys.py and core/sealing.py: generation, kid, rotation plan, JWKS, sealing."""

from __future__ import annotations

import json

import pytest
from joserfc.jwk import ECKey

from gatepass.core import keys as k
from gatepass.core.jose import decode_verified
from gatepass.core.sealing import SealError, seal, unseal


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "HS256"])
def test_new_key_kid_is_rfc7638_thumbprint_and_signs_verifiably(alg: str) -> None:
    key = k.SigningKey.new(alg, state="active", now=100.0)
    assert key.kid == key.private.thumbprint()
    ring = k.KeyRing((key,))
    token = ring.sign({"sub": "x"}, "at+jwt")
    header, payload = decode_verified(token, ring.verification_keys(100.0))
    assert header == {"alg": alg, "typ": "at+jwt", "kid": key.kid}
    assert payload == {"sub": "x"}


def test_rfc7638_thumbprint_matches_the_rfc_example() -> None:
    # RFC 7638 §3.1 example key and its thumbprint
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
            "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
            "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI"
            "4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    from joserfc.jwk import RSAKey

    assert RSAKey.import_key(jwk).thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_public_jwk_has_no_private_parts_and_hs256_is_never_published() -> None:
    es = k.SigningKey.new("ES256", state="active", now=0)
    jwk = es.public_jwk()
    assert jwk is not None
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    hs = k.SigningKey.new("HS256", state="active", now=0)
    assert hs.public_jwk() is None
    assert k.KeyRing((hs,)).jwks(0) == {"keys": []}


def test_rotation_plan_first_start_makes_active_and_next() -> None:
    plan = k.rotation_plan([], alg="ES256", now=10, retire_after=100)
    assert sorted(x.state for x in plan) == ["active", "next"]


def test_rotation_promotes_prepublished_next_and_retires_active() -> None:
    ring = k.rotation_plan([], alg="ES256", now=10, retire_after=100)
    old_active = next(x for x in ring if x.state == "active")
    old_next = next(x for x in ring if x.state == "next")
    plan = k.rotation_plan(ring, alg="ES256", now=50, retire_after=100)
    by_kid = {x.kid: x for x in plan}
    assert by_kid[old_next.kid].state == "active"  # the key verifiers already had now signs
    assert by_kid[old_active.kid].state == "retiring"
    assert by_kid[old_active.kid].retire_at == 150
    new_next = [x for x in plan if x.state == "next"]
    assert len(new_next) == 1 and new_next[0].kid not in (old_active.kid, old_next.kid)


def test_retiring_key_published_until_retire_at_then_gone() -> None:
    ring = k.rotation_plan([], alg="ES256", now=0, retire_after=100)
    ring = k.rotation_plan(ring, alg="ES256", now=10, retire_after=100)
    kr = k.KeyRing(tuple(ring))
    retiring = next(x for x in ring if x.state == "retiring")
    assert retiring.kid in {j["kid"] for j in kr.jwks(109)["keys"]}
    assert retiring.kid in kr.verification_keys(109)
    assert retiring.kid not in {j["kid"] for j in kr.jwks(110)["keys"]}
    assert retiring.kid not in kr.verification_keys(110)


def test_next_key_is_published_but_not_accepted_for_verification() -> None:
    ring = k.KeyRing(tuple(k.rotation_plan([], alg="ES256", now=0, retire_after=100)))
    nxt = next(x for x in ring.keys if x.state == "next")
    assert nxt.kid in {j["kid"] for j in ring.jwks(0)["keys"]}
    assert nxt.kid not in ring.verification_keys(0)


def test_algorithm_change_replaces_next_and_activates_new_alg() -> None:
    ring = k.rotation_plan([], alg="ES256", now=0, retire_after=100)
    assert k.needs_initial_rotation(ring, "EdDSA")
    plan = k.rotation_plan(ring, alg="EdDSA", now=1, retire_after=100)
    active = [x for x in plan if x.state == "active"]
    assert len(active) == 1 and active[0].alg == "EdDSA"
    assert all(x.alg == "EdDSA" for x in plan if x.state == "next")


def test_private_key_roundtrip() -> None:
    key = ECKey.generate_key("P-256", private=True)
    again = k.load_private(k.private_bytes(key))
    assert again.thumbprint() == key.thumbprint()
    assert "d" in json.loads(k.private_bytes(key))


def test_sealing_roundtrip_and_binding() -> None:
    master = b"m" * 40
    blob = seal(master, "kid-1", b"secret key bytes")
    assert b"secret key bytes" not in blob
    assert unseal(master, "kid-1", blob) == b"secret key bytes"
    with pytest.raises(SealError):
        unseal(master, "kid-2", blob)  # moved to another row
    with pytest.raises(SealError):
        unseal(b"x" * 40, "kid-1", blob)  # another master secret
    with pytest.raises(SealError):
        unseal(master, "kid-1", blob[:-1] + bytes([blob[-1] ^ 1]))
