"""JWT attacks against ``GET /api/profile`` and the SDK Verifier (RFC 8725 §2, §3; RFC 6750 §3.1).

Every forged, replayed or malformed token must be answered 401 with ``error="invalid_token"`` in
``WWW-Authenticate`` (never a 500), and a Verifier built from the published JWKS must refuse it
too. One regression test per attack. Tokens are built by hand (base64, json, cryptography) so
that nothing a JOSE library would refuse to produce is out of reach. The ``control`` tests show
that the helpers make tokens the app accepts, so each refusal below is due to the attack alone.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from joserfc import jwk as jose_jwk

from conftest import Harness
from gatepass.clock import FrozenClock
from gatepass.sdk import InvalidTokenError, Verifier
from gatepass.sdk import errors as sdk_errors
from gatepass.sdk.jwks import JWKSClient, keys_from_jwks

ISSUER = "http://testserver"
AUDIENCE = "gatepass"
LEEWAY = 30  # the default GATEPASS_LEEWAY
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ALG_NONE_SPELLINGS = ["none", "None", "NONE", "nOnE"]


# -- token building -------------------------------------------------------------------------------
def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64json(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def es256_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def forge(header: Any, payload: Any, sign: Callable[[bytes], bytes] | None = None) -> str:
    """``b64(header).b64(payload).b64(sign(signing input))``; no signature when ``sign`` is None."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    signature = sign(signing_input.encode()) if sign is not None else b""
    return f"{signing_input}.{b64(signature)}"


def _changed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``changes``; a change to ``None`` removes the member."""
    out = dict(base)
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


class Attacker:
    """A P-256 key the attacker controls, with its public JWK and RFC 7638 thumbprint."""

    def __init__(self) -> None:
        self.key = jose_jwk.ECKey.generate_key("P-256", private=True)
        self.kid = self.key.thumbprint()
        self.public_jwk = dict(self.key.as_dict(private=False), kid=self.kid, alg="ES256")

    def sign(self, data: bytes) -> bytes:
        return es256_sign(self.key.private_key, data)


class Target:
    """The running app (frozen clock), its signing key, and a genuine access token for bob."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.key = h.svc.keys.ring.active()
        self.token = h.access_token("bob")
        h64, p64, s64 = self.token.split(".")
        self.header: dict[str, Any] = json.loads(unb64(h64))
        self.claims: dict[str, Any] = json.loads(unb64(p64))
        self.signature = unb64(s64)

    @property
    def kid(self) -> str:
        return self.key.kid

    @property
    def now(self) -> int:
        return int(self.h.clock.now())  # type: ignore[union-attr]

    def sign(self, data: bytes) -> bytes:
        """An ES256 signature by the server's own (currently active) private key."""
        return es256_sign(self.key.private.private_key, data)

    def good_header(self, **changes: Any) -> dict[str, Any]:
        return _changed({"alg": "ES256", "typ": "at+jwt", "kid": self.kid}, changes)

    def good_claims(self, **changes: Any) -> dict[str, Any]:
        """bob's claims, issued now, with a fresh jti, then ``changes``."""
        now = self.now
        fresh = {"iat": now, "nbf": now, "exp": now + 900, "jti": secrets.token_urlsafe(16)}
        return _changed({**self.claims, **fresh}, changes)

    def signed(self, header: dict[str, Any] | None = None, claims: Any = None) -> str:
        """A token signed by the server's key: valid unless ``header``/``claims`` make it not."""
        return forge(
            header if header is not None else self.good_header(),
            claims if claims is not None else self.good_claims(),
            self.sign,
        )

    def profile(self, token: str | bytes) -> httpx.Response:
        value = b"Bearer " + token if isinstance(token, bytes) else f"Bearer {token}"
        return self.h.client.get("/api/profile", headers={"Authorization": value})

    def jwks(self) -> dict[str, Any]:
        doc: dict[str, Any] = self.h.client.get("/.well-known/jwks.json").json()
        return doc

    def sdk(self) -> Verifier:
        """A service's Verifier, built from the JWKS the app publishes now."""
        return Verifier.from_jwks(
            ISSUER,
            self.jwks(),
            audience=AUDIENCE,
            leeway=LEEWAY,
            clock=self.h.clock.now,  # type: ignore[union-attr]
        )


def assert_refused(
    t: Target,
    token: str | bytes,
    sdk_error: type[InvalidTokenError] = InvalidTokenError,
) -> None:
    """401 ``invalid_token`` from the app (not 500, no echo of the token), and ``sdk_error``
    from a Verifier built from the published JWKS."""
    r = t.profile(token)
    assert r.status_code == 401, r.text
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert r.json()["error"] == "invalid_token"
    assert "Traceback" not in r.text
    text = token if isinstance(token, str) else token.decode("latin-1")
    for part in text.split("."):
        if len(part) >= 16:
            assert part not in r.text and part not in challenge
    if isinstance(token, str):
        with pytest.raises(sdk_error):
            t.sdk().verify(token)


def assert_accepted(t: Target, token: str) -> None:
    r = t.profile(token)
    assert r.status_code == 200, r.text
    assert r.json()["sub"] == t.claims["sub"]
    assert t.sdk().verify(token).sub == t.claims["sub"]


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def t(make_harness: Callable[..., Harness]) -> Target:
    h = make_harness(clock=FrozenClock())
    h.create_user("alice", roles=("admin",))
    h.create_user("bob")
    return Target(h)


class _Recorder(BaseHTTPRequestHandler):
    """Records every request path; answers with the page registered for it, or ``{}``."""

    server: _Listener

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self.server.hits.append(self.path)
        body = self.server.pages.get(self.path, b"{}")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Listener(ThreadingHTTPServer):
    hits: list[str]
    pages: dict[str, bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def listener() -> Iterator[_Listener]:
    """An HTTP server on a free loopback port that records what reaches it."""
    server = _Listener(("127.0.0.1", 0), _Recorder)
    server.hits, server.pages = [], {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- controls -------------------------------------------------------------------------------------
def test_control_genuine_and_resigned_tokens_are_accepted(t: Target) -> None:
    assert_accepted(t, t.token)
    assert_accepted(t, t.signed())  # the forging helpers make tokens the app accepts


def test_control_clock_skew_within_leeway_is_accepted(t: Target) -> None:
    now = t.now
    assert_accepted(t, t.signed(claims=t.good_claims(exp=now - LEEWAY + 1)))
    assert_accepted(t, t.signed(claims=t.good_claims(nbf=now + LEEWAY, iat=now + LEEWAY)))


# -- the algorithm --------------------------------------------------------------------------------
@pytest.mark.parametrize("with_signature", [False, True], ids=["no-signature", "old-signature"])
@pytest.mark.parametrize("alg", ALG_NONE_SPELLINGS)
def test_attack_alg_none(t: Target, alg: str, with_signature: bool) -> None:
    unsigned = forge(t.good_header(alg=alg), t.good_claims(roles=["admin"]))
    token = unsigned + (b64(t.signature) if with_signature else "")
    assert_refused(t, token, sdk_errors.InvalidAlgorithm)
    assert_refused(t, unsigned.rstrip("."), sdk_errors.MalformedToken)  # and without the last dot


@pytest.mark.parametrize("with_kid", [True, False], ids=["real-kid", "no-kid"])
@pytest.mark.parametrize("form", ["pem", "der", "jwk-json", "jwk-json-compact"])
def test_attack_hs256_signed_with_the_public_key(t: Target, form: str, with_kid: bool) -> None:
    public = t.key.private.public_key
    jwk = t.jwks()["keys"]
    published = next(k for k in jwk if k["kid"] == t.kid)
    secret = {
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk-json": json.dumps(published).encode(),
        "jwk-json-compact": json.dumps(published, separators=(",", ":")).encode(),
    }[form]
    header = t.good_header(alg="HS256", kid=t.kid if with_kid else None)
    assert_refused(t, forge(header, t.good_claims(roles=["admin"]), hs256(secret)))


# -- the signature --------------------------------------------------------------------------------
def test_attack_stripped_signature(t: Target) -> None:
    h64, p64, _ = t.token.split(".")
    assert_refused(t, f"{h64}.{p64}.", sdk_errors.InvalidSignature)


def test_attack_empty_signature_on_forged_claims(t: Target) -> None:
    assert_refused(t, forge(t.good_header(), t.good_claims(roles=["admin"])))


def test_attack_tampered_payload_keeps_old_signature(t: Target) -> None:
    h64, _, s64 = t.token.split(".")
    for change in (
        {"roles": ["admin"]},
        {"sub": "someone-else"},
        {"exp": t.claims["exp"] + 86400},
        {"scope": "profile admin"},
    ):
        tampered = {**t.claims, **change}
        assert_refused(t, f"{h64}.{b64json(tampered)}.{s64}", sdk_errors.InvalidSignature)


@pytest.mark.parametrize("claims_change", [{}, {"roles": ["admin"]}], ids=["genuine", "forged"])
def test_attack_ecdsa_signature_r_s_zero(t: Target, claims_change: dict[str, Any]) -> None:
    token = forge(t.good_header(), t.good_claims(**claims_change), lambda _: bytes(64))
    assert_refused(t, token, sdk_errors.InvalidSignature)


@pytest.mark.parametrize("claims_change", [{}, {"roles": ["admin"]}], ids=["genuine", "forged"])
def test_attack_ecdsa_signature_r_s_curve_order(t: Target, claims_change: dict[str, Any]) -> None:
    n = P256_ORDER.to_bytes(32, "big")
    token = forge(t.good_header(), t.good_claims(**claims_change), lambda _: n + n)
    assert_refused(t, token, sdk_errors.InvalidSignature)


# -- keys named or carried by the token -----------------------------------------------------------
@pytest.mark.parametrize("kid_choice", ["attacker-thumbprint", "real-kid"])
def test_attack_embedded_jwk_header(t: Target, kid_choice: str) -> None:
    attacker = Attacker()
    kid = attacker.kid if kid_choice == "attacker-thumbprint" else t.kid
    header = t.good_header(kid=kid, jwk=dict(attacker.public_jwk, kid=kid))
    assert_refused(t, forge(header, t.good_claims(roles=["admin"]), attacker.sign))


def test_attack_x5c_header_with_attacker_certificate(t: Target) -> None:
    attacker = Attacker()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(attacker.key.public_key)
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=36500))
        .sign(attacker.key.private_key, hashes.SHA256())
    )
    x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
    for kid in (attacker.kid, t.kid, None):
        header = t.good_header(kid=kid, x5c=x5c)
        assert_refused(t, forge(header, t.good_claims(roles=["admin"]), attacker.sign))


@pytest.mark.parametrize("url_header", ["jku", "x5u"])
@pytest.mark.parametrize("kid_choice", ["attacker-thumbprint", "real-kid"])
def test_attack_jku_x5u_header_is_never_fetched(
    t: Target, listener: _Listener, url_header: str, kid_choice: str
) -> None:
    attacker = Attacker()
    listener.pages["/keys.json"] = json.dumps({"keys": [attacker.public_jwk]}).encode()
    kid = attacker.kid if kid_choice == "attacker-thumbprint" else t.kid
    header = t.good_header(kid=kid, **{url_header: f"{listener.url}/keys.json"})
    assert_refused(t, forge(header, t.good_claims(roles=["admin"]), attacker.sign))
    assert listener.hits == []
    httpx.get(f"{listener.url}/probe")  # the listener was up all along: it hears this one
    assert listener.hits == ["/probe"]


def test_attack_jku_x5u_never_fetched_by_sdk_verifier_refetching_jwks(
    t: Target, listener: _Listener
) -> None:
    """An unknown kid makes the SDK refetch the configured JWKS, never the token's URLs."""
    attacker = Attacker()
    listener.pages["/issuer/jwks.json"] = json.dumps(t.jwks()).encode()
    listener.pages["/attacker/jwks.json"] = json.dumps({"keys": [attacker.public_jwk]}).encode()
    verifier = Verifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys=keys_from_jwks(t.jwks()),
        jwks=JWKSClient(f"{listener.url}/issuer/jwks.json", min_interval=0),
        clock=t.h.clock.now,  # type: ignore[union-attr]
    )
    header = t.good_header(
        kid=attacker.kid,
        jku=f"{listener.url}/attacker/jwks.json",
        x5u=f"{listener.url}/attacker/cert.pem",
    )
    token = forge(header, t.good_claims(roles=["admin"]), attacker.sign)
    with pytest.raises(sdk_errors.UnknownKeyError):
        verifier.verify(token)
    assert listener.hits == ["/issuer/jwks.json"]
    assert verifier.verify(t.token).sub == t.claims["sub"]


@pytest.mark.parametrize(
    "kid", ["../../../../dev/null", "/dev/null", "../../../../../../etc/passwd", "..\\..\\nul"]
)
def test_attack_kid_path_traversal(t: Target, kid: str) -> None:
    attacker = Attacker()
    for header, sign in (
        (t.good_header(alg="HS256", kid=kid), hs256(b"")),  # what /dev/null holds
        (t.good_header(kid=kid), attacker.sign),
    ):
        assert_refused(t, forge(header, t.good_claims(roles=["admin"]), sign))


@pytest.mark.parametrize(
    "kid",
    [
        "' OR '1'='1",
        "x' UNION SELECT 'secret' --",
        "1; DROP TABLE signing_keys; --",
        '" OR ""="',
    ],
)
def test_attack_kid_sql_injection(t: Target, kid: str) -> None:
    attacker = Attacker()
    for header, sign in (
        (t.good_header(alg="HS256", kid=kid), hs256(b"secret")),
        (t.good_header(alg="HS256", kid=kid), hs256(b"")),
        (t.good_header(kid=kid), attacker.sign),
    ):
        assert_refused(t, forge(header, t.good_claims(roles=["admin"]), sign))
    t.h.run(t.h.svc.keys.reload)  # the key table is intact and still readable
    assert_accepted(t, t.token)


@pytest.mark.parametrize("kid", [123, None, ["kid"], {"$ne": None}, True], ids=repr)
def test_attack_kid_not_a_string(t: Target, kid: Any) -> None:
    header = {**t.good_header(), "kid": kid}
    assert_refused(t, t.signed(header=header))


# -- headers and claims, under a valid signature --------------------------------------------------
def test_attack_unknown_crit_header(t: Target) -> None:
    for header in (
        t.good_header(crit=["urn:x-attack"], **{"urn:x-attack": True}),
        t.good_header(crit=["exp"]),
        t.good_header(crit=[]),
    ):
        assert_refused(t, t.signed(header=header), sdk_errors.MalformedToken)


@pytest.mark.parametrize(
    "typ",
    ["JWT", "jwt", "application/jwt", "at+jwt ", "", "rt+jwt", "dpop+jwt", 1, ["at+jwt"], None],
    ids=repr,
)
def test_attack_wrong_typ(t: Target, typ: Any) -> None:
    """RFC 9068 §4 / RFC 8725 §3.11: only ``at+jwt`` is an access token; ``None`` = no typ."""
    header = t.good_header(typ=typ)
    if typ is None:
        assert "typ" not in header
    assert_refused(t, t.signed(header=header), sdk_errors.InvalidTokenType)


def test_attack_refresh_token_as_bearer(t: Target) -> None:
    r = t.h.login("bob")
    assert r.status_code == 200
    refresh = r.json()["refresh_token"]
    assert_refused(t, refresh, sdk_errors.MalformedToken)


@pytest.mark.parametrize(
    "aud", ["other-api", ["other-api", "billing"], [], "GATEPASS", "gatepass ", None], ids=repr
)
def test_attack_token_for_another_audience(t: Target, aud: Any) -> None:
    assert_refused(t, t.signed(claims=t.good_claims(aud=aud)), sdk_errors.InvalidAudience)


@pytest.mark.parametrize(
    "iss",
    ["http://evil.example", "http://testserver/", "HTTP://TESTSERVER", "https://testserver", None],
    ids=repr,
)
def test_attack_token_from_another_issuer(t: Target, iss: Any) -> None:
    assert_refused(t, t.signed(claims=t.good_claims(iss=iss)), sdk_errors.InvalidIssuer)


def test_attack_expired_token(t: Target) -> None:
    now = t.now
    for exp in (now - LEEWAY, now - 3600, 0):  # RFC 7519 §4.1.4: on or after exp (+ leeway)
        claims = t.good_claims(exp=exp, iat=exp - 900, nbf=exp - 900)
        assert_refused(t, t.signed(claims=claims), sdk_errors.ExpiredToken)


def test_attack_expired_genuine_token(t: Target) -> None:
    assert_accepted(t, t.token)
    t.h.clock.advance(t.claims["exp"] - t.now + LEEWAY)  # type: ignore[union-attr]
    assert_refused(t, t.token, sdk_errors.ExpiredToken)  # also from the verifier's cache


def test_attack_nbf_in_future_beyond_leeway(t: Target) -> None:
    now = t.now
    for nbf in (now + LEEWAY + 1, now + 86400):
        claims = t.good_claims(nbf=nbf, exp=nbf + 900)
        assert_refused(t, t.signed(claims=claims), sdk_errors.NotYetValid)


def test_attack_iat_in_future_beyond_leeway(t: Target) -> None:
    now = t.now
    for iat in (now + LEEWAY + 1, now + 86400):
        claims = t.good_claims(iat=iat, exp=iat + 900)
        assert_refused(t, t.signed(claims=claims), sdk_errors.NotYetValid)


# -- the shape of the token -----------------------------------------------------------------------
def test_attack_oversize_token(t: Target) -> None:
    big = "A" * 100_000
    assert_refused(t, t.signed(claims=t.good_claims(pad=big)), sdk_errors.MalformedToken)
    assert_refused(t, t.signed(header=t.good_header(pad=big)), sdk_errors.MalformedToken)
    assert_refused(t, t.token + big, sdk_errors.InvalidTokenError)


def test_attack_deeply_nested_json_header(t: Target) -> None:
    for header in (b"[" * 5000, b'{"a":' * 2000, b"[" * 5000 + b"]" * 5000):
        assert_refused(t, f"{b64(header)}.{b64json(t.good_claims())}.AAAA")


def test_attack_nul_and_non_ascii_bytes_in_authorization_header(t: Target) -> None:
    raw = t.token.encode()
    h, p, s = raw.split(b".")
    for token in (
        raw + b"\x00",
        b"\x00" + raw,
        h + b"\x00." + p + b"." + s,
        h + b"." + p + b"." + s[:10] + b"\xe9" + s[10:],  # latin-1 é
        h + b"." + "é".encode() + p + b"." + s,  # UTF-8 é
        raw + b"\xff\xfe",
        raw + b"\r\n",
    ):
        assert_refused(t, token)


@pytest.mark.parametrize(
    "change",
    [
        {"kid": "KID\x00"},
        {"alg": "ES256\x00"},
        {"typ": "at+jwt\x00"},
        {"kid": "ключ"},
        {"typ": "аt+jwt"},  # Cyrillic а
        {"alg": "ЕS256"},  # Cyrillic Е
    ],
    ids=["nul-kid", "nul-alg", "nul-typ", "cyrillic-kid", "homoglyph-typ", "homoglyph-alg"],
)
def test_attack_nul_and_non_ascii_in_jose_header_values(t: Target, change: dict[str, str]) -> None:
    if change.get("kid") == "KID\x00":
        change = {"kid": t.kid + "\x00"}
    assert_refused(t, t.signed(header=t.good_header(**change)))


def _padded(obj: Any) -> str:
    """base64url of ``obj``'s JSON with its ``=`` padding kept (a space is added when needed)."""
    text = json.dumps(obj, separators=(",", ":"))
    while len(text.encode()) % 3 == 0:
        text += " "
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_attack_base64_padding_in_segments(t: Target) -> None:
    h64, p64, s64 = t.token.split(".")
    assert len(s64) % 4 != 0
    padded_sig = s64 + "=" * (-len(s64) % 4)
    assert_refused(t, f"{h64}.{p64}.{padded_sig}")
    # validly signed by the server's key over the padded segments
    for head, body in (
        (_padded(t.good_header()), b64json(t.good_claims())),
        (b64json(t.good_header()), _padded(t.good_claims())),
    ):
        assert "=" in head + body
        signing_input = f"{head}.{body}"
        assert_refused(t, f"{signing_input}.{b64(t.sign(signing_input.encode()))}")


def test_attack_jws_json_serialization(t: Target) -> None:
    h64, p64, s64 = t.token.split(".")
    flattened = {"protected": h64, "payload": p64, "signature": s64}
    general = {"payload": p64, "signatures": [{"protected": h64, "signature": s64}]}
    for doc in (flattened, general):
        for text in (json.dumps(doc), json.dumps(doc, separators=(",", ":"))):
            assert_refused(t, text, sdk_errors.MalformedToken)
            assert_refused(t, b64(text.encode()), sdk_errors.MalformedToken)


def test_attack_two_segments(t: Target) -> None:
    h64, p64, s64 = t.token.split(".")
    for token in (f"{h64}.{p64}", f"{h64}.{s64}", f"{p64}.{s64}", f"{h64}{p64}.{s64}"):
        assert_refused(t, token, sdk_errors.MalformedToken)


def test_attack_four_or_more_segments(t: Target) -> None:
    h64, p64, s64 = t.token.split(".")
    for token in (
        f"{h64}.{p64}.{s64}.{s64}",
        f"{h64}.{p64}.{s64}.",
        f".{h64}.{p64}.{s64}",
        f"{h64}..{p64}.{s64}",
        f"{h64}.{p64}.{s64}.{p64}.{s64}",  # the shape of a JWE
    ):
        assert_refused(t, token, sdk_errors.MalformedToken)


# -- keys over time -------------------------------------------------------------------------------
def test_attack_token_signed_by_retired_key_after_its_retirement(t: Target) -> None:
    old_kid = t.kid
    admin = t.h.bearer(t.h.admin_token())
    r = t.h.client.post("/admin/keys/rotate", headers=admin)
    assert r.status_code == 200 and r.json()["active"] != old_kid
    # while it is retiring, tokens it signed (t.sign still uses the old key) keep verifying
    assert_accepted(t, t.signed())

    t.h.clock.advance(t.h.svc.keys.retire_after + 1)  # type: ignore[union-attr]
    t.h.run(t.h.svc.keys.reload)  # what the app's periodic key refresher does
    assert old_kid not in {k["kid"] for k in t.jwks()["keys"]}
    fresh = t.signed(claims=t.good_claims())  # issued "now", long after the key retired
    assert_refused(t, fresh, sdk_errors.UnknownKeyError)
