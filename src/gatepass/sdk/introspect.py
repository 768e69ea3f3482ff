"""An RFC 7662 introspection client for opaque access tokens, with a short bounded cache.

    introspector = Introspector.from_issuer(url, audience="api", client_id="api",
                                            client_secret="gps_…",
                                            denylist=RedisDenylist(redis_url))  # optional
    auth = BearerAuth(verifier, opaque=introspector.aresolve)

An answer is cached for ``cache_ttl`` seconds at most (never past the token's ``exp``); given a
denylist, every cached answer is checked against it again, so a revocation published there
takes effect on the next request even for a cached token.

As :class:`~gatepass.sdk.Verifier` does for a JWT, an answer is accepted only for an access
token (``token_type`` Bearer: the server also describes refresh tokens to their own client),
from the expected issuer, for this service's audience.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from gatepass.core import rfc9449
from gatepass.core.access_token import AccessClaims
from gatepass.sdk import errors
from gatepass.sdk.jwks import fetch_metadata
from gatepass.sdk.verifier import Denylist


class IntrospectionUnavailable(errors.VerifierError):
    """The introspection endpoint could not be reached or answered oddly (fail closed: 503)."""


def claims_from_introspection(body: Mapping[str, Any]) -> AccessClaims:
    """The claims of an ``active`` RFC 7662 answer for an access token; InvalidTokenError for
    anything else (inactive, or another kind of token such as a refresh token)."""
    if body.get("active") is not True:
        raise errors.InvalidTokenError("token is not active")
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() not in ("bearer", "dpop"):
        raise errors.InvalidTokenType("not an access token")
    try:
        aud = body.get("aud")
        auds = (aud,) if isinstance(aud, str) else tuple(aud or ())
        scope = body.get("scope") or ""
        roles = body.get("roles") or []
        return AccessClaims(
            sub=str(body["sub"]),
            iss=str(body.get("iss", "")),
            aud=auds,
            exp=int(body["exp"]),
            iat=int(body.get("iat", 0)),
            nbf=int(body["nbf"]) if body.get("nbf") is not None else None,
            jti=str(body.get("jti", "")),
            client_id=str(body.get("client_id", "")),
            scope=frozenset(str(scope).split()),
            roles=frozenset(str(r) for r in roles),
            sid=str(body["sid"]) if body.get("sid") else None,
            raw=dict(body),
            jkt=rfc9449.binding(body),  # a cnf without a usable jkt: ValueError, refused
        )
    except (KeyError, TypeError, ValueError):
        raise errors.InvalidClaims("introspection answer lacks sub or exp") from None


class Introspector:
    def __init__(
        self,
        endpoint: str,
        *,
        client_id: str,
        client_secret: str,
        audience: str,
        issuer: str | None = None,
        denylist: Denylist | None = None,
        cache_ttl: float = 30.0,
        cache_size: int = 4096,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.endpoint = endpoint
        self._auth = (client_id, client_secret)
        self.audience = audience
        self.issuer = issuer  # from_issuer sets it from the metadata
        self.denylist = denylist
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[AccessClaims, float]] = {}
        self._cache_size = cache_size
        self._timeout = timeout
        self._clock = clock

    @classmethod
    def from_issuer(cls, issuer: str, **kw: Any) -> Introspector:
        doc = fetch_metadata(issuer.rstrip("/"))
        endpoint = doc.get("introspection_endpoint")
        if not isinstance(endpoint, str):
            raise errors.JWKSError("issuer metadata has no introspection_endpoint")
        kw.setdefault("issuer", doc.get("issuer") or issuer.rstrip("/"))
        return cls(endpoint, **kw)

    def invalidate(self) -> None:
        self._cache.clear()

    def _cached(self, key: str) -> AccessClaims | None:
        hit = self._cache.get(key)
        if hit is None:
            return None
        claims, until = hit
        if self._clock() >= until:
            self._cache.pop(key, None)
            return None
        return claims

    def _accept(self, key: str, body: Any) -> AccessClaims:
        if not isinstance(body, Mapping):
            raise IntrospectionUnavailable("introspection answer is not a JSON object")
        claims = claims_from_introspection(body)
        if self.issuer is not None and claims.iss != self.issuer:
            raise errors.InvalidIssuer("token is not from the expected issuer")
        if self.audience not in claims.aud:
            raise errors.InvalidAudience("token is not meant for this service")
        until = min(self._clock() + self.cache_ttl, float(claims.exp))
        if len(self._cache) >= self._cache_size:
            try:
                del self._cache[next(iter(self._cache))]
            except (KeyError, RuntimeError, StopIteration):
                self._cache.clear()
        self._cache[key] = (claims, until)
        return claims

    def _check(self, claims: AccessClaims) -> AccessClaims:
        if self.denylist is not None:
            self.denylist.check(claims)
        return claims

    def _request(self, token: str) -> dict[str, Any]:
        return {
            "url": self.endpoint,
            "data": {"token": token, "token_type_hint": "access_token"},
            "auth": self._auth,
        }

    def _body(self, r: httpx.Response) -> Any:
        r.raise_for_status()
        return r.json()

    async def aresolve(self, token: str) -> AccessClaims:
        """The claims of an active token; ``InvalidTokenError`` otherwise (async)."""
        key = hashlib.sha256(token.encode()).hexdigest()
        claims = self._cached(key)
        if claims is None:
            try:
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    body = self._body(await client.post(**self._request(token)))
            except (httpx.HTTPError, ValueError) as exc:
                raise IntrospectionUnavailable(
                    f"introspection failed: {type(exc).__name__}"
                ) from None
            claims = self._accept(key, body)
        return self._check(claims)

    def resolve(self, token: str) -> AccessClaims:
        """The claims of an active token; ``InvalidTokenError`` otherwise (blocking)."""
        key = hashlib.sha256(token.encode()).hexdigest()
        claims = self._cached(key)
        if claims is None:
            try:
                body = self._body(httpx.post(timeout=self._timeout, **self._request(token)))
            except (httpx.HTTPError, ValueError) as exc:
                raise IntrospectionUnavailable(
                    f"introspection failed: {type(exc).__name__}"
                ) from None
            claims = self._accept(key, body)
        return self._check(claims)
