"""FastAPI adapter: ``BearerAuth`` is a dependency that returns the verified claims.

    auth = BearerAuth(verifier)
    @app.get("/things")
    async def things(claims: AccessClaims = Depends(auth.require_scopes("things:read"))): ...

Errors become ``HTTPException`` with the RFC 6750 status, body and ``WWW-Authenticate``.
``Authorization: DPoP`` with its ``DPoP`` proof is accepted too (RFC 9449 §7); behind a proxy,
give ``public_url`` (``https://api.example``), the base the proofs' ``htu`` name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from fastapi import HTTPException, Request

from gatepass.core.access_token import AccessClaims
from gatepass.sdk import errors
from gatepass.sdk.http import OpaqueResolver, error_response, request_url
from gatepass.sdk.verifier import Verifier, require


def http_error(exc: errors.VerifierError, algs: str | None = None) -> HTTPException:
    status, body, headers = error_response(exc) if algs is None else error_response(exc, algs=algs)
    return HTTPException(status_code=status, detail=body, headers=headers)


__all__ = ["BearerAuth", "OpaqueResolver", "http_error"]


class BearerAuth:
    """``opaque``: how to resolve opaque (``gpa_…``) tokens, e.g. an ``Introspector``'s
    ``aresolve``; it raises an ``InvalidTokenError`` for a token that is not active. Without
    it, only JWT access tokens are accepted."""

    def __init__(
        self,
        verifier: Verifier,
        *,
        opaque: OpaqueResolver | None = None,
        public_url: str | None = None,
    ) -> None:
        self.verifier = verifier
        self.opaque = opaque
        self.public_url = public_url

    async def __call__(self, request: Request) -> AccessClaims:
        url = request.url
        try:
            return await self.verifier.averify_request(
                request.headers.get("authorization"),
                method=request.method,
                url=lambda: request_url(self.public_url, url.scheme, url.netloc, url.path),
                proofs=request.headers.getlist("dpop"),
                opaque=self.opaque,
            )
        except errors.VerifierError as exc:
            raise http_error(exc, self.verifier.dpop.algs) from None

    async def check(
        self, request: Request, roles: tuple[str, ...] = (), scopes: tuple[str, ...] = ()
    ) -> AccessClaims:
        claims = await self(request)
        if roles or scopes:
            try:
                require(claims, roles=roles, scopes=scopes)
            except errors.InsufficientScopeError as exc:
                raise http_error(exc) from None
        return claims

    def require(
        self, *, roles: Iterable[str] = (), scopes: Iterable[str] = ()
    ) -> Callable[[Request], Awaitable[AccessClaims]]:
        roles_t, scopes_t = tuple(roles), tuple(scopes)

        async def dependency(request: Request) -> AccessClaims:
            return await self.check(request, roles_t, scopes_t)

        return dependency

    def require_roles(self, *roles: str) -> Callable[[Request], Awaitable[AccessClaims]]:
        return self.require(roles=roles)

    def require_scopes(self, *scopes: str) -> Callable[[Request], Awaitable[AccessClaims]]:
        return self.require(scopes=scopes)
