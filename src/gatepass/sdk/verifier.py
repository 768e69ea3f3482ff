"""The access-token Verifier: signature with the key's own algorithm, typ, iss, aud, exp, nbf,
iat (with leeway), then the denylist; repeated tokens are answered from a bounded cache, which
also keeps a DPoP-bound token's ``ath`` (RFC 9449 §4.2, the SHA-256 of that exact token string).

:meth:`Verifier.verify_request` (and ``averify_request``) judge a whole request: a ``Bearer``
token, or a ``DPoP`` token with its proof (RFC 9449 §7.1: signature, ``htm``, ``htu``, ``iat``,
``ath``, the key's thumbprint against ``cnf.jkt``, and the replay of ``jti``). A DPoP-bound
token sent as Bearer is refused (§7.2). The adapters and the gatepass server itself call these.

A verifier that fetches its keys (:meth:`Verifier.from_issuer`) refreshes them when the key set's
``max-age`` runs out, in a background thread: a verification only compares the time with the
refresh deadline, and never waits on the network for it. A refreshed key set replaces the old
one whole, so a key the issuer stopped publishing (an emergency rotation) stops verifying
within one ``max-age``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice
from typing import Any, Protocol

from gatepass.core import access_token as at
from gatepass.core import jose
from gatepass.core.access_token import AccessClaims
from gatepass.core.denylist import MAX_LEEWAY
from gatepass.core.jose import VerificationKey
from gatepass.core.opaque import OPAQUE_ACCESS_PREFIX
from gatepass.core.rfc9449 import access_token_hash
from gatepass.sdk import errors
from gatepass.sdk.dpop import Dpop
from gatepass.sdk.http import OpaqueResolver, credentials
from gatepass.sdk.jwks import (
    DEFAULT_MAX_AGE,
    FetchedKeys,
    JWKSClient,
    fetch_metadata,
    jwks_uri_from_metadata,
    keys_from_jwks,
)

log = logging.getLogger("gatepass.sdk.verifier")

_Verified = tuple[AccessClaims, str | None]  # claims, and ath if the token is DPoP-bound

MIN_REFRESH = 1.0  # a key set is refreshed at most this often, whatever its max-age
RETRY_AFTER = 10.0  # after a failed refresh, the keys in hand are kept and the fetch retried

_JOSE_TO_SDK: dict[type[Exception], type[errors.InvalidTokenError]] = {
    jose.MalformedToken: errors.MalformedToken,
    jose.UnknownKey: errors.UnknownKeyError,
    jose.AlgorithmNotAllowed: errors.InvalidAlgorithm,
    jose.BadSignature: errors.InvalidSignature,
    jose.UnsupportedHeader: errors.MalformedToken,
    at.WrongType: errors.InvalidTokenType,
    at.WrongIssuer: errors.InvalidIssuer,
    at.WrongAudience: errors.InvalidAudience,
    at.ExpiredClaim: errors.ExpiredToken,
    at.NotYetValidClaim: errors.NotYetValid,
    at.ClaimError: errors.InvalidClaims,
}


class Denylist(Protocol):
    """Revocation check run on every verification (cached or not).

    ``check`` returns normally when the token is not revoked, raises
    :class:`~gatepass.sdk.errors.RevokedToken` when it is, and
    :class:`~gatepass.sdk.errors.DenylistUnavailable` when it cannot tell.
    """

    def check(self, claims: AccessClaims) -> None: ...


class Verifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str | Iterable[str],
        keys: Mapping[str, VerificationKey] | None = None,
        jwks: JWKSClient | None = None,
        leeway: int = 30,
        denylist: Denylist | None = None,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.time,
        dpop: Dpop | None = None,
    ) -> None:
        """``dpop``: how DPoP proofs are judged (the replay cache above all: in process by
        default; a ``RedisReplayCache`` when several processes serve one address)."""
        if keys is None and jwks is None:
            raise ValueError("give keys, or a JWKSClient to fetch them")
        if not 0 <= leeway <= MAX_LEEWAY:  # the denylist keeps entries no longer than that
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")
        self.issuer = issuer
        self.audience: str | frozenset[str] = (
            audience if isinstance(audience, str) else frozenset(audience)
        )
        self.leeway = leeway
        self.denylist = denylist
        self._jwks = jwks
        self._keys: dict[str, VerificationKey] = dict(keys or {})
        self._keyset = jose.KeySet(self._keys)
        # token -> its claims and, for a DPoP-bound token, its ath; oldest first
        self._cache: dict[str, _Verified] = {}
        self._cache_size = cache_size
        self._clock = clock
        self.dpop = dpop if dpop is not None else Dpop(clock=clock)
        # when the key set must be refetched (never without a JWKSClient); read on every call
        self._refresh_at = clock() + DEFAULT_MAX_AGE if jwks is not None else float("inf")
        self._refreshing = threading.Lock()

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_issuer(cls, issuer: str, *, audience: str | Iterable[str], **kw: Any) -> Verifier:
        """Read the issuer's RFC 8414 metadata, then its JWKS (both over HTTP, now)."""
        issuer = issuer.rstrip("/")
        jwks = JWKSClient(jwks_uri_from_metadata(issuer, fetch_metadata(issuer)))
        fetched = jwks.fetch(rate_limited=False)
        verifier = cls(issuer=issuer, audience=audience, keys=fetched.keys, jwks=jwks, **kw)
        verifier._install(fetched)
        return verifier

    @classmethod
    def from_jwks(
        cls, issuer: str, jwks: Mapping[str, object], *, audience: str | Iterable[str], **kw: Any
    ) -> Verifier:
        return cls(issuer=issuer, audience=audience, keys=keys_from_jwks(jwks), **kw)

    def set_keys(self, keys: Mapping[str, VerificationKey]) -> None:
        """Replace the key set (after a rotation); cached answers are dropped.

        The key set is replaced before the cache: a verification running meanwhile that read
        the old cache puts its answer in that one, which is dropped with it (see :meth:`_verified`).
        """
        self._keys = dict(keys)
        self._keyset = jose.KeySet(self._keys)
        self._cache = {}

    def _install(self, fetched: FetchedKeys) -> None:
        self.set_keys(fetched.keys)
        self._refresh_at = self._clock() + max(fetched.max_age, MIN_REFRESH)

    def _refresh_in_background(self) -> None:
        if self._jwks is None or not self._refreshing.acquire(blocking=False):
            return  # one refresh at a time
        self._refresh_at = float("inf")  # until this one is done
        threading.Thread(target=self._refresh, name="gatepass-jwks", daemon=True).start()

    def _refresh(self) -> None:
        try:
            if self._jwks is not None:
                self._install(self._jwks.fetch())
        except Exception as exc:  # noqa: BLE001 - keep the keys in hand, try again soon
            log.warning("could not refresh the JWKS: %s", type(exc).__name__)
            self._refresh_at = self._clock() + RETRY_AFTER
        finally:
            self._refreshing.release()

    # -- verification -------------------------------------------------------------------
    def verify(self, token: str) -> AccessClaims:
        """Verify ``token``; may fetch the JWKS (blocking) once when its ``kid`` is unknown.

        The token alone: a DPoP-bound token (``claims.jkt`` set) is only good with its proof,
        which :meth:`verify_request` checks. Services judge requests with that (or an adapter)."""
        try:
            return self._verified(token)[0]
        except errors.UnknownKeyError as exc:
            return self._refetched(token, exc)[0]

    async def averify(self, token: str) -> AccessClaims:
        """As :meth:`verify`, but a JWKS refetch does not block the event loop."""
        return (await self._averified_or_refetch(token))[0]

    def _verified_or_refetch(self, token: str) -> _Verified:
        try:
            return self._verified(token)
        except errors.UnknownKeyError as exc:
            return self._refetched(token, exc)

    def _refetched(self, token: str, unknown: errors.UnknownKeyError) -> _Verified:
        """After ``unknown`` (the token's kid is not in the key set): fetch the JWKS if it is
        due, and verify again; raise ``unknown`` if it is not."""
        if self._jwks is None or not self._jwks.due():
            raise unknown
        self._install(self._jwks.fetch())
        return self._verified(token)

    async def _averified_or_refetch(self, token: str) -> _Verified:
        try:
            return self._verified(token)
        except errors.UnknownKeyError:
            if self._jwks is None or not self._jwks.due():
                raise
            self._install(await self._jwks.afetch())
            return self._verified(token)

    def verify_request(
        self,
        authorization: str | None,
        *,
        method: str,
        url: str | Callable[[], str],
        proofs: Sequence[str] = (),
    ) -> AccessClaims:
        """A request's ``Authorization`` (Bearer or DPoP) and its ``DPoP`` header values
        (``proofs``); ``url``: where it was sent (``http.request_url``), or how to find out.
        Blocking (JWKS refetch, replay cache): for sync code such as Flask."""
        scheme, token = credentials(authorization)
        try:
            claims, ath = self._verified_or_refetch(token)
            jkt = _bound_key(scheme, claims)
            if jkt is not None:
                self.dpop.check(
                    proofs,
                    method=method,
                    url=url if isinstance(url, str) else url(),
                    access_token=token,
                    jkt=jkt,
                    ath=ath,
                )
        except errors.InvalidTokenError as exc:
            raise _challenged(exc, scheme) from None
        return claims

    async def averify_request(
        self,
        authorization: str | None,
        *,
        method: str,
        url: str | Callable[[], str],
        proofs: Sequence[str] = (),
        opaque: OpaqueResolver | None = None,
    ) -> AccessClaims:
        """As :meth:`verify_request`, without blocking the event loop. ``opaque``: how to
        resolve an opaque (``gpa_…``) token (introspection, or the server's own lookup)."""
        scheme, token = credentials(authorization)
        try:
            ath: str | None = None
            if opaque is not None and token.startswith(OPAQUE_ACCESS_PREFIX):
                claims = await opaque(token)
            else:
                claims, ath = await self._averified_or_refetch(token)
            jkt = _bound_key(scheme, claims)
            if jkt is not None:
                await self.dpop.acheck(
                    proofs,
                    method=method,
                    url=url if isinstance(url, str) else url(),
                    access_token=token,
                    jkt=jkt,
                    ath=ath,
                )
        except errors.InvalidTokenError as exc:
            raise _challenged(exc, scheme) from None
        return claims

    def verify_issued(self, token: str, *, audience: str | None) -> AccessClaims:
        """For the issuer itself: signature, ``typ``, ``iss`` and times as :meth:`verify`, for
        ``audience`` instead of this verifier's own (None: any audience, as introspection of
        tokens issued for every client's API needs). Neither cached nor checked against the
        denylist: the caller decides what a revocation means there."""
        try:
            header, payload = self._keyset.decode(token)
            return at.validate(
                header,
                payload,
                issuer=self.issuer,
                audience=audience,
                now=self._clock(),
                leeway=self.leeway,
            )
        except (jose.JoseError, at.ClaimError) as exc:
            raise _JOSE_TO_SDK.get(type(exc), errors.InvalidTokenError)(str(exc)) from None

    def _verified(self, token: str) -> _Verified:
        """``token``'s claims and, if it is DPoP-bound, its ``ath``: from the cache, where an
        entry is only ever found under the exact token string it was computed from."""
        now = self._clock()
        if now >= self._refresh_at:
            self._refresh_in_background()
        cache = self._cache  # read once, before the key set: see set_keys
        verified = cache.get(token)
        if verified is not None:
            claims = verified[0]
            if now >= claims.exp + self.leeway:
                cache.pop(token, None)
                raise errors.ExpiredToken("token expired")
        else:
            try:
                header, payload = self._keyset.decode_shared(token)
                claims = at.checked(header, payload, self.issuer, self.audience, now, self.leeway)
            except (jose.JoseError, at.ClaimError) as exc:
                raise _JOSE_TO_SDK.get(type(exc), errors.InvalidTokenError)(str(exc)) from None
            verified = (claims, None if claims.jkt is None else access_token_hash(token))
            size = self._cache_size
            if size > 0:
                if len(cache) >= size:
                    _evict(cache)
                cache[token] = verified
        if self.denylist is not None:
            self.denylist.check(claims)
        return verified


def _evict(cache: dict[str, _Verified]) -> None:
    """Drop the oldest eighth of the cache. Finding a dict's oldest key means scanning past the
    slots that earlier deletions left empty, so it is done once per many insertions."""
    for token in list(islice(cache, max(1, len(cache) // 8))):
        cache.pop(token, None)


def _bound_key(scheme: str, claims: AccessClaims) -> str | None:
    """The key thumbprint the request's DPoP proof must match (RFC 9449 §7.1), or None for a
    bearer request; a bound token as Bearer, or an unbound one as DPoP, is refused here."""
    if scheme != "dpop":
        if claims.jkt is not None:  # RFC 9449 §7.2: never as a bearer token
            raise errors.DpopBoundAsBearer("a DPoP-bound token was sent as a bearer token")
        return None
    if claims.jkt is None:
        raise errors.NotDpopBound("the access token is not DPoP-bound")
    return claims.jkt


def _challenged(exc: errors.InvalidTokenError, scheme: str) -> errors.InvalidTokenError:
    """A token error of a DPoP request is answered with a DPoP challenge (RFC 9449 §7.1)."""
    if scheme == "dpop":
        exc.scheme = "DPoP"
    return exc


def require(
    claims: AccessClaims, *, roles: Iterable[str] = (), scopes: Iterable[str] = ()
) -> AccessClaims:
    """Raise :class:`InsufficientScopeError` unless ``claims`` has every role and scope."""
    missing_roles = [r for r in roles if r not in claims.roles]
    if missing_roles:
        raise errors.InsufficientScopeError(
            "missing role: " + " ".join(missing_roles), required=" ".join(scopes)
        )
    missing_scopes = [s for s in scopes if s not in claims.scope]
    if missing_scopes:
        raise errors.InsufficientScopeError(
            "missing scope: " + " ".join(missing_scopes),
            required=" ".join(missing_scopes),
        )
    return claims
