"""Fetching the issuer's metadata (RFC 8414) and key set (RFC 7517), with a refetch rate limit
and the freshness the issuer gives its key set (RFC 9111 §5.2.2.1 ``max-age``, less ``Age``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gatepass.core.jose import JoseError, VerificationKey, verification_key_from_jwk
from gatepass.sdk.errors import JWKSError

METADATA_PATH = "/.well-known/oauth-authorization-server"
DEFAULT_MAX_AGE = 300.0  # a key set served without Cache-Control max-age is refreshed this often
LONGEST_MAX_AGE = 86400.0  # and never trusted longer than a day, whatever it says


@dataclass(frozen=True, slots=True)
class FetchedKeys:
    keys: dict[str, VerificationKey]
    max_age: float  # seconds from the fetch during which this key set may be used


def freshness(headers: Mapping[str, str]) -> float:
    """How long a response may be used (RFC 9111 §4.2.1): ``max-age`` less ``Age``; 0 with
    ``no-store`` or ``no-cache``; :data:`DEFAULT_MAX_AGE` without either."""
    max_age = DEFAULT_MAX_AGE
    for directive in headers.get("cache-control", "").lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return 0.0
        if name == "max-age":
            value = value.strip().strip('"')
            max_age = float(value) if _digits(value) else 0.0  # unparsable: stale (§4.2.1)
    age = headers.get("age", "").strip()
    if _digits(age):
        max_age -= float(age)
    return min(max(max_age, 0.0), LONGEST_MAX_AGE)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def keys_from_jwks(doc: Any) -> dict[str, VerificationKey]:
    """The usable signing keys of a JWKS document; keys of unknown type or use are skipped."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise JWKSError("JWKS document has no 'keys' list")
    out: dict[str, VerificationKey] = {}
    for jwk in doc["keys"]:
        if not isinstance(jwk, Mapping):
            continue
        try:
            vk = verification_key_from_jwk(jwk)
        except JoseError:
            continue
        out[vk.kid] = vk
    return out


def jwks_uri_from_metadata(issuer: str, doc: Any) -> str:
    if not isinstance(doc, Mapping) or doc.get("issuer") != issuer:
        raise JWKSError("metadata 'issuer' does not match the issuer URL (RFC 8414 §3.3)")
    uri = doc.get("jwks_uri")
    if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
        raise JWKSError("metadata has no usable jwks_uri")
    return uri


class JWKSClient:
    """Fetches a JWKS; ``due()`` says whether a refetch is allowed yet (at most one per
    ``min_interval`` seconds, so a flood of unknown ``kid`` values cannot become a flood of
    requests to the issuer)."""

    def __init__(self, jwks_uri: str, *, min_interval: float = 30.0, timeout: float = 5.0):
        self.jwks_uri = jwks_uri
        self.min_interval = min_interval
        self.timeout = timeout
        self._last_attempt = float("-inf")

    def due(self) -> bool:
        return time.monotonic() - self._last_attempt >= self.min_interval

    def fetch(self, *, rate_limited: bool = True) -> FetchedKeys:
        """Fetch now. The first fetch (``rate_limited=False``) does not delay the first refetch."""
        if rate_limited:
            self._last_attempt = time.monotonic()
        try:
            r = httpx.get(self.jwks_uri, timeout=self.timeout, follow_redirects=False)
            r.raise_for_status()
            return FetchedKeys(keys_from_jwks(r.json()), freshness(r.headers))
        except (httpx.HTTPError, ValueError) as exc:
            raise JWKSError(f"cannot fetch JWKS: {type(exc).__name__}") from None

    async def afetch(self) -> FetchedKeys:
        self._last_attempt = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.get(self.jwks_uri)
            r.raise_for_status()
            return FetchedKeys(keys_from_jwks(r.json()), freshness(r.headers))
        except (httpx.HTTPError, ValueError) as exc:
            raise JWKSError(f"cannot fetch JWKS: {type(exc).__name__}") from None


def fetch_metadata(issuer: str, *, timeout: float = 5.0) -> dict[str, Any]:
    try:
        r = httpx.get(issuer.rstrip("/") + METADATA_PATH, timeout=timeout)
        r.raise_for_status()
        doc = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise JWKSError(f"cannot fetch issuer metadata: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise JWKSError("issuer metadata is not a JSON object")
    return doc
