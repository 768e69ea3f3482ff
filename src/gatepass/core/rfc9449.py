"""DPoP proofs (RFC 9449 §4.2-§4.3): parse and check one proof; key thumbprints (RFC 7638,
§6.1 ``cnf.jkt``), access-token hashes (§4.2 ``ath``) and stateless server nonces (§8).

Pure: the time, the method and the URL the request was sent to come from the caller, and so
does the replay check of ``jti`` (a cache is I/O: ``sdk/dpop.py``). The server's token endpoint
(``oauth/dpop.py``) and the SDK's resource checks (``sdk/dpop.py``) both call
:meth:`ProofChecker.check`, so the two judge a proof alike.

The signature is checked on the fast path of ``core/jose.py`` (``cryptography``, the algorithm
bound to the key); the thumbprint is joserfc's (RFC 7638). A proof header that has verified once
is kept with its key and thumbprint (bounded), so a client's later proofs, which repeat the
same header, cost one signature check and the claim checks.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import re
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError as _JoserfcError
from joserfc.jwk import JWKRegistry

from gatepass.core import jose

PROOF_TYP = "dpop+jwt"
# asymmetric only (§4.2: "MUST NOT be none or an identifier for a symmetric algorithm")
ALGORITHMS: tuple[str, ...] = ("ES256", "EdDSA", "RS256")
MAX_PROOF_BYTES = 4096  # an RS256 proof with a 4096-bit key is about 2.5 kB
MAX_JTI_CHARS = 256
DEFAULT_MAX_AGE = 60  # seconds a proof is accepted after its iat
DEFAULT_LEEWAY = 5  # seconds of clock skew, either way
NONCE_PERIOD = 300  # a server nonce is good in its period and the next
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_CACHED_HEADERS = 1024
_B64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class ProofError(Exception):
    """The proof is not acceptable; the message is safe to show. RFC 9449 §7.1 code as data."""

    error = "invalid_dpop_proof"


class NonceRequired(ProofError):
    """§8: the server wants a fresh nonce of its own in the proof."""

    error = "use_dpop_nonce"


@dataclass(frozen=True, slots=True)
class Proof:
    """A proof that passed every check but the replay check, which is the caller's."""

    jkt: str  # RFC 7638 thumbprint of the proof's key
    jti: str
    iat: int

    @property
    def replay_key(self) -> str:
        """The key of this proof in a replay cache: jti is unique per key (§11.1)."""
        return hashlib.sha256(f"{self.jkt}.{self.jti}".encode()).hexdigest()


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK, base64url (the ``jkt`` of §6.1)."""
    try:
        return JWKRegistry.import_key(dict(jwk)).thumbprint()
    except (_JoserfcError, ValueError, TypeError, KeyError) as exc:
        raise ProofError("the proof's jwk is not a usable key") from exc


def access_token_hash(token: str) -> str:
    """§4.2 ``ath``: base64url SHA-256 of the ASCII access token."""
    return jose.b64url_encode(hashlib.sha256(token.encode("ascii", "replace")).digest())


def normalize_htu(url: str) -> str:
    """Scheme, host, port and path as RFC 9449 §4.3 compares them (RFC 3986 §6.2.2-§6.2.3:
    lower-case scheme and host, no default port, an empty path is ``/``). A query or fragment
    is refused, not dropped: §4.2 says ``htu`` has neither."""
    if "?" in url or "#" in url:
        raise ProofError("htu must not have a query or fragment")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ProofError("htu is not a URL") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        raise ProofError("htu is not an http(s) URL")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def request_url(base: str, path: str) -> str:
    """The URL a request was sent to, as a proof's ``htu`` names it: ``base`` (the public
    ``scheme://host[:port][/prefix]`` this service is reached at, e.g. the issuer) + ``path``."""
    return join_url(base.rstrip("/"), path if path.startswith("/") else "/" + path)


# a path that urlsplit keeps as it is: no query, no fragment, none of the characters it deletes
_PLAIN_PATH = re.compile(r"/[^?#\t\r\n]*")
_MAX_CACHED_BASE = 300  # scheme, a 253-character host name, a port and a short prefix


def join_url(base: str, path: str) -> str:
    """``normalize_htu(base + path)``, with ``base`` normalized once (bounded cache).

    For a ``path`` that starts with ``/`` and has no ``?``, ``#``, tab or line break, ``base +
    path`` splits into the scheme and netloc of ``base + "/"`` and the path of ``base`` followed
    by ``path`` (the netloc ends at a ``/`` at the latest; urlsplit only edits the start of the
    text and those three characters), so its normalization is that of ``base + "/"`` without
    the last ``/``, then ``path``. Any other input, or a base that does not normalize, takes the
    whole way, and so does a base longer than a host name can be (the cache holds short keys)."""
    if len(base) <= _MAX_CACHED_BASE and _PLAIN_PATH.fullmatch(path) is not None:
        try:
            return _normalized_base(base) + path
        except ProofError:
            pass
    return normalize_htu(base + path)


@functools.lru_cache(maxsize=256)
def _normalized_base(base: str) -> str:
    return normalize_htu(base + "/")[:-1]


class ProofChecker:
    """Checks DPoP proofs (§4.3); ``algorithms`` is the allow-list, ``max_age`` how old a proof
    may be, ``leeway`` the clock skew allowed both ways."""

    __slots__ = ("algorithms", "max_age", "leeway", "_headers", "_evicting")

    def __init__(
        self,
        *,
        algorithms: tuple[str, ...] = ALGORITHMS,
        max_age: int = DEFAULT_MAX_AGE,
        leeway: int = DEFAULT_LEEWAY,
    ) -> None:
        unknown = [a for a in algorithms if a not in ALGORITHMS]
        if unknown or not algorithms:
            raise ValueError(f"DPoP algorithms must be among {', '.join(ALGORITHMS)}")
        self.algorithms = tuple(algorithms)
        self.max_age = max_age
        self.leeway = leeway
        self._headers: dict[str, tuple[jose.VerificationKey, str]] = {}
        # the SDK's checker is shared by a WSGI server's threads: two evicting at once would
        # both take the same oldest header (KeyError) or see the dict change mid-iteration
        self._evicting = threading.Lock()

    @property
    def replay_ttl(self) -> int:
        """How long a ``jti`` must be remembered: as long as its proof could still pass."""
        return self.max_age + 2 * self.leeway + 1

    def check(
        self,
        proof: str,
        *,
        method: str,
        url: str,
        now: float,
        access_token: str | None = None,
        jkt: str | None = None,
        nonce: Nonces | None = None,
        ath: str | None = None,
    ) -> Proof:
        """Every check of §4.3 but the replay of ``jti``. ``url``: the request's URL from
        :func:`request_url`; ``access_token``: the token sent with the proof (then ``ath`` is
        required, §7); ``jkt``: the thumbprint that token is bound to; ``nonce``: require a
        nonce of this server's (§8). ``ath``: ``access_token_hash(access_token)``, when the
        caller keeps it with the token (the SDK's token cache); it stands for ``access_token``."""
        if type(proof) is not str or not proof or len(proof) > MAX_PROOF_BYTES:
            raise ProofError("the DPoP proof is missing or too large")
        if not proof.isascii():
            raise ProofError("the DPoP proof is not a JWT")
        raw = proof.encode()
        if raw.translate(None, _B64URL) != b"..":
            raise ProofError("the DPoP proof is not a JWT")
        h64, p64, s64 = proof.split(".")
        if not h64 or not p64:  # an empty signature is judged with its header (alg none)
            raise ProofError("the DPoP proof is not a JWT")
        try:
            cached = self._headers.get(h64)
            key, thumb = self._header(h64) if cached is None else cached
            signature = jose.b64url_decode(s64)
            if not key.verify(raw[: len(h64) + 1 + len(p64)], signature):
                raise ProofError("the DPoP proof's signature does not verify with its jwk")
            claims = jose.json_object(jose.b64url_decode(p64), "DPoP proof payload")
        except jose.JoseError:
            raise ProofError("the DPoP proof is not a JWT") from None
        if cached is None:
            with self._evicting:  # only a header seen for the first time comes here
                if len(self._headers) >= _MAX_CACHED_HEADERS:
                    del self._headers[next(iter(self._headers))]
                self._headers[h64] = (key, thumb)
        if ath is None and access_token is not None:
            ath = access_token_hash(access_token)
        return self._claims(claims, thumb, method, url, now, ath, jkt, nonce)

    def _header(self, h64: str) -> tuple[jose.VerificationKey, str]:
        header = jose.json_object(jose.b64url_decode(h64), "DPoP proof header")
        typ = header.get("typ")
        if type(typ) is not str or typ.lower() != PROOF_TYP:
            raise ProofError("the DPoP proof's typ is not dpop+jwt")
        if "crit" in header or "b64" in header:
            raise ProofError("the DPoP proof has header parameters that are not supported")
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise ProofError("the DPoP proof's alg is not allowed")
        jwk = header.get("jwk")
        if type(jwk) is not dict:
            raise ProofError("the DPoP proof has no jwk")
        if _PRIVATE_MEMBERS.intersection(jwk):
            raise ProofError("the DPoP proof's jwk must be a public key")
        thumb = thumbprint(jwk)
        try:
            key = jose.verification_key_from_jwk({**jwk, "kid": thumb}, alg)
        except jose.JoseError:
            raise ProofError("the DPoP proof's jwk does not fit its alg") from None
        return key, thumb

    def _claims(
        self,
        claims: dict[str, Any],
        thumb: str,
        method: str,
        url: str,
        now: float,
        expected_ath: str | None,
        jkt: str | None,
        nonce: Nonces | None,
    ) -> Proof:
        jti, htm, htu = claims.get("jti"), claims.get("htm"), claims.get("htu")
        iat = claims.get("iat")
        if type(jti) is not str or not jti or len(jti) > MAX_JTI_CHARS:
            raise ProofError("the DPoP proof's jti is missing or invalid")
        if htm != method:
            raise ProofError("the DPoP proof is for another HTTP method")
        if type(htu) is not str:
            raise ProofError("the DPoP proof's htu is missing")
        if htu != url and normalize_htu(htu) != url:
            raise ProofError("the DPoP proof is for another URL")
        if type(iat) is float and math.isfinite(iat):
            iat = int(iat)
        if type(iat) is not int:
            raise ProofError("the DPoP proof's iat is missing or not a number")
        if iat > now + self.leeway:
            raise ProofError("the DPoP proof is issued in the future")
        if iat < now - self.max_age - self.leeway:
            raise ProofError("the DPoP proof is too old")
        if expected_ath is not None:
            ath = claims.get("ath")
            if type(ath) is not str:
                raise ProofError("the DPoP proof has no ath for the access token")
            if not hmac.compare_digest(ath.encode(), expected_ath.encode()):
                raise ProofError("the DPoP proof's ath does not match the access token")
        if jkt is not None and not hmac.compare_digest(thumb, jkt):
            raise ProofError("the DPoP proof's key is not the key the token is bound to")
        if nonce is not None:
            given = claims.get("nonce")
            if type(given) is not str or not nonce.valid(given, now):
                raise NonceRequired("a fresh DPoP nonce is required")
        return Proof(jkt=thumb, jti=jti, iat=iat)


class Nonces:
    """§8 server nonces without state: a time slot and its HMAC under a server key, so every
    instance sharing the key accepts every other's. A nonce is good in its slot and the next
    (``period`` to ``2 * period`` seconds)."""

    __slots__ = ("_key", "period")

    def __init__(self, key: bytes, period: int = NONCE_PERIOD) -> None:
        if len(key) < 32:
            raise ValueError("a nonce key has at least 256 bits")
        self._key = key
        self.period = period

    def _mac(self, slot: int) -> bytes:
        return hmac.new(self._key, struct.pack(">Q", slot), hashlib.sha256).digest()[:16]

    def issue(self, now: float) -> str:
        slot = int(now) // self.period
        return jose.b64url_encode(struct.pack(">Q", slot) + self._mac(slot))

    def valid(self, nonce: str, now: float) -> bool:
        if len(nonce) != 32 or not nonce.isascii():
            return False
        try:
            raw = jose.b64url_decode(nonce)
        except jose.JoseError:
            return False
        if len(raw) != 24:
            return False
        (slot,) = struct.unpack(">Q", raw[:8])
        if slot not in (int(now) // self.period, int(now) // self.period - 1):
            return False
        return hmac.compare_digest(raw[8:], self._mac(slot))


def binding(claims: Mapping[str, Any]) -> str | None:
    """The DPoP key thumbprint a token's claims bind it to (``cnf.jkt``, §6.1), or None.

    A ``cnf`` that is present but carries no usable ``jkt`` (another confirmation method, or
    a malformed one) raises: such a token must never pass as an unbound one."""
    if "cnf" not in claims:
        return None
    cnf = claims["cnf"]
    jkt = cnf.get("jkt") if type(cnf) is dict else None
    if type(jkt) is not str or len(jkt) != 43:
        raise ValueError("cnf without a usable jkt")
    return jkt
