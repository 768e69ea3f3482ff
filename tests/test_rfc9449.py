"""core/rfc9449.py: the proof checks of RFC 9449 §4.3 that the token endpoint and the SDK share.
Each attack of issue 14 has its own test; none of them may pass as a valid proof."""

from __future__ import annotations

import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dpop_keys import ProofKey, hs256, unsigned
from gatepass.core import rfc9449
from gatepass.core.rfc9449 import Nonces, ProofChecker, ProofError

URL = "https://as.example/oauth/token"
NOW = time.time()


@pytest.fixture(scope="module")
def key() -> ProofKey:
    return ProofKey()


@pytest.fixture(scope="module")
def other() -> ProofKey:
    return ProofKey()


def check(proof: str, **kw: object) -> rfc9449.Proof:
    args: dict[str, object] = {"method": "POST", "url": URL, "now": NOW, **kw}
    return ProofChecker().check(proof, **args)  # type: ignore[arg-type]


def refused(proof: str, match: str, **kw: object) -> None:
    with pytest.raises(ProofError, match=match):
        check(proof, **kw)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256"])
def test_a_valid_proof_gives_the_keys_rfc7638_thumbprint(alg: str) -> None:
    k = ProofKey(alg)
    proof = check(k.proof("POST", URL, iat=NOW))
    assert proof.jkt == k.jkt == k.key.thumbprint()
    assert proof.iat == int(NOW)


def test_the_same_header_twice_is_checked_the_same(key: ProofKey) -> None:
    checker = ProofChecker()
    for _ in range(2):  # the second time from the verified-header cache
        checker.check(key.proof("POST", URL, iat=NOW), method="POST", url=URL, now=NOW)
        with pytest.raises(ProofError, match="method"):
            checker.check(key.proof("GET", URL, iat=NOW), method="POST", url=URL, now=NOW)


def test_proof_for_another_method_is_refused(key: ProofKey) -> None:
    refused(key.proof("GET", URL, iat=NOW), "another HTTP method")


def test_proof_for_another_url_is_refused(key: ProofKey) -> None:
    refused(key.proof("POST", "https://as.example/oauth/revoke", iat=NOW), "another URL")
    refused(key.proof("POST", "https://evil.example/oauth/token", iat=NOW), "another URL")
    refused(key.proof("POST", "http://as.example/oauth/token", iat=NOW), "another URL")


def test_proof_with_a_query_in_htu_is_refused(key: ProofKey) -> None:
    refused(key.proof("POST", URL + "?a=1", iat=NOW), "query or fragment")


def test_proof_with_a_fragment_in_htu_is_refused(key: ProofKey) -> None:
    refused(key.proof("POST", URL + "#x", iat=NOW), "query or fragment")


def test_htu_is_compared_after_syntax_normalization(key: ProofKey) -> None:
    check(key.proof("POST", "HTTPS://AS.example:443/oauth/token", iat=NOW))
    check(key.proof("GET", "https://as.example", iat=NOW), method="GET", url="https://as.example/")


def test_proof_issued_too_long_ago_is_refused(key: ProofKey) -> None:
    refused(key.proof("POST", URL, iat=NOW - 3600), "too old")


def test_proof_issued_in_the_future_is_refused(key: ProofKey) -> None:
    refused(key.proof("POST", URL, iat=NOW + 3600), "future")


def test_proof_signed_by_another_key_than_its_jwk_is_refused(
    key: ProofKey, other: ProofKey
) -> None:
    forged = other.sign(key.header(), key.claims("POST", URL, iat=NOW))  # claims key's jwk
    refused(forged, "signature does not verify")


def test_alg_none_is_refused(key: ProofKey) -> None:
    refused(unsigned(key.header(alg="none"), key.claims("POST", URL, iat=NOW)), "alg")


def test_hs256_is_refused(key: ProofKey) -> None:
    secret = b"k" * 32
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "a2trays"}}
    refused(hs256(header, key.claims("POST", URL, iat=NOW), secret), "alg")
    # HS256 with the client's own public jwk as the header's key: still not allowed
    refused(hs256(key.header(alg="HS256"), key.claims("POST", URL, iat=NOW), secret), "alg")


def test_jwk_with_private_members_is_refused(key: ProofKey) -> None:
    private = dict(key.key.as_dict(private=True))
    forged = key.sign(key.header(jwk=private), key.claims("POST", URL, iat=NOW))
    refused(forged, "public key")


def test_jwk_that_does_not_fit_the_alg_is_refused(key: ProofKey) -> None:
    ed = ProofKey("EdDSA")
    forged = key.sign(key.header(jwk=ed.public_jwk), key.claims("POST", URL, iat=NOW))
    refused(forged, "does not fit its alg")


def test_wrong_typ_is_refused(key: ProofKey) -> None:
    refused(key.sign(key.header(typ="JWT"), key.claims("POST", URL, iat=NOW)), "typ")


def test_missing_jti_is_refused(key: ProofKey) -> None:
    claims = key.claims("POST", URL, iat=NOW)
    del claims["jti"]
    refused(key.sign(key.header(), claims), "jti")


def test_ath_missing_is_refused_when_a_token_is_sent(key: ProofKey) -> None:
    refused(key.proof("POST", URL, iat=NOW), "no ath", access_token="tok")


def test_ath_wrong_is_refused(key: ProofKey) -> None:
    refused(
        key.proof("POST", URL, iat=NOW, token="another"), "ath does not match", access_token="tok"
    )


def test_ath_right_is_accepted(key: ProofKey) -> None:
    check(key.proof("POST", URL, iat=NOW, token="tok"), access_token="tok", jkt=key.jkt)


def test_token_bound_to_key_a_with_proof_by_key_b_is_refused(
    key: ProofKey, other: ProofKey
) -> None:
    refused(
        other.proof("POST", URL, iat=NOW, token="tok"),
        "not the key the token is bound to",
        access_token="tok",
        jkt=key.jkt,
    )


@pytest.mark.parametrize(
    "proof",
    [
        "",
        "not a jwt",
        "a.b",
        "a.b.c.d",
        "e30.e30.",
        "!!!.e30.e30",
        "x" * 5000,
        "é.e30.e30",
        "eyJ0eXAiOiJkcG9wK2p3dCJ9.bm90IGpzb24.AAAA",
    ],
)
def test_malformed_proofs_are_proof_errors(proof: str) -> None:
    with pytest.raises(ProofError):
        check(proof)


def test_nonce_required_when_the_server_asks(key: ProofKey) -> None:
    nonces = Nonces(b"n" * 32)
    with pytest.raises(rfc9449.NonceRequired):
        check(key.proof("POST", URL, iat=NOW), nonce=nonces)
    with pytest.raises(rfc9449.NonceRequired):
        check(key.proof("POST", URL, iat=NOW, nonce="made-up"), nonce=nonces)
    stale = nonces.issue(NOW - 3 * nonces.period)
    with pytest.raises(rfc9449.NonceRequired):
        check(key.proof("POST", URL, iat=NOW, nonce=stale), nonce=nonces)
    check(key.proof("POST", URL, iat=NOW, nonce=nonces.issue(NOW)), nonce=nonces)
    other_server = Nonces(b"m" * 32).issue(NOW)
    with pytest.raises(rfc9449.NonceRequired):
        check(key.proof("POST", URL, iat=NOW, nonce=other_server), nonce=nonces)


def test_binding_refuses_a_cnf_without_a_usable_jkt() -> None:
    assert rfc9449.binding({}) is None
    assert rfc9449.binding({"cnf": {"jkt": "a" * 43}}) == "a" * 43
    for bad in ({"cnf": {"x5t#S256": "a" * 43}}, {"cnf": "x"}, {"cnf": {"jkt": 1}}):
        with pytest.raises(ValueError):
            rfc9449.binding(bad)


def test_request_url_joins_the_public_base_and_path() -> None:
    assert rfc9449.request_url("https://API.example/base/", "/x") == "https://api.example/base/x"
    assert rfc9449.request_url("http://h:8080", "/p") == "http://h:8080/p"


def _whole_way(base: str, path: str) -> str | None:
    """The request URL as it was computed before the normalized base was cached."""
    try:
        return rfc9449.normalize_htu(base + path)
    except ProofError:
        return None


def _joined(base: str, path: str) -> str | None:
    try:
        return rfc9449.join_url(base, path)
    except ProofError:
        return None


URL_PARTS = [
    "https://", "http://", "HTTPS://", "ftp://", "https:", "https:/", "https:///", "/", "//",
    "api.example", "API.Example", ":443", ":80", ":8080", ":0", ":99999", ":x", "[::1]", "[::1",
    "user@", "u:p@", "@", "evil.example", "?", "#", "?q=1", "#f", "\t", "\n", "\r", " ", "\x00",
    "%2f", "%3f", "..", ".", "base", "v1", "things", "\u2100", "\uff0f", "é", "\\", ";", "*",
]  # fmt: skip

url_texts = st.lists(st.sampled_from(URL_PARTS), max_size=6).map("".join)
bases = st.builds(
    str.__add__,
    st.sampled_from(["https://api.example", "http://API.example:8080", "https://[::1]", ""]),
    url_texts,
)  # mostly a usable base, then anything
paths = st.one_of(url_texts, url_texts.map("/".__add__))


@settings(max_examples=3000, deadline=None)
@given(base=bases, path=paths)
@example(base="https://api.example", path="/things")
@example(base="https://api.example", path="/x\ty")
@example(base="https://" + "a" * 400 + ".example", path="/x")  # too long for the cache
@example(base="https://api.example", path="/x\ny\r")
@example(base="https://API.example:443/v1", path="/things\t?x")
@example(base="https:/", path="/evil.example/x")
@example(base="https://api.example", path="//evil.example/x")
@example(base="https://api.example", path="@evil.example/x")
@example(base="https://", path="/evil.example/x")
@example(base=" https://api.example", path="/x")
@example(base="https://api.example/v1?", path="/x")
@example(base="https://[::1]:8080", path="/x")
@example(base="https://api.example\u2100", path="/x")
def test_join_url_is_normalize_htu_of_the_whole_url(base: str, path: str) -> None:
    """``join_url`` caches the normalized base: the answer is always that of the whole URL,
    and the same on the second call (from the cache) as on the first."""
    expected = _whole_way(base, path)
    assert _joined(base, path) == expected
    assert _joined(base, path) == expected
    if path.startswith("/"):  # request_url's own contract: base without trailing "/", then path
        want = _whole_way(base.rstrip("/"), path)
        try:
            assert rfc9449.request_url(base, path) == want
        except ProofError:
            assert want is None


def test_threads_sharing_a_checker_evict_its_header_cache_safely(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A WSGI server's threads share the SDK's checker: with more distinct headers than the
    cache holds, evictions race; every proof must still check, and the cache stay bounded."""
    import sys
    import threading

    monkeypatch.setattr(rfc9449, "_MAX_CACHED_HEADERS", 3)
    url = "https://api.example/r"
    proofs = [k.proof("GET", url) for k in (ProofKey() for _ in range(24))]  # 24 headers
    checker = ProofChecker()
    failures: list[BaseException] = []

    def run(offset: int) -> None:
        try:
            for round_ in range(40):
                for i in range(len(proofs)):
                    proof = proofs[(i + offset + round_) % len(proofs)]
                    assert checker.check(proof, method="GET", url=url, now=time.time()).jkt
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        threads = [threading.Thread(target=run, args=(n * 5,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(previous)
    assert failures == []
    assert len(checker._headers) <= 3  # noqa: SLF001
