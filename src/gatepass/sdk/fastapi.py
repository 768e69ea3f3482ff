"""FastAPI adapter: ``BearerAuth`` is a dependency that returns the verified claims.

    auth = BearerAuth(verifier)
    @app.get("/things")
    async def things(claims: AccessClaims = Depends(auth.require_scopes("things:read"))): ...

Errors become ``HTTPException`` with the RFC 6750 status, body and ``WWW-Authenticate``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from fastapi import HTTPException, Request

from gatepass.core.access_token import AccessClaims
from gatepass.sdk import errors
from gatepass.sdk.http import OpaqueResolver, error_response, verify_bearer
from gatepass.sdk.verifier import Verifier


def http_error(exc: errors.VerifierError) -> HTTPException:
    status, body, headers = error_response(exc)
    return HTTPException(status_code=status, detail=body, headers=headers)


__all__ = ["BearerAuth", "OpaqueResolver", "http_error"]


class BearerAuth:
    """``opaque``: how to resolve opaque (``gpa_…``) tokens, e.g. an ``Introspector``'s
    ``aresolve``; it raises an ``InvalidTokenError`` for a token that is not active. Without
    it, only JWT access tokens are accepted."""

    def __init__(self, verifier: Verifier, *, opaque: OpaqueResolver | None = None) -> None:
        self.verifier = verifier
        self.opaque = opaque

    async def __call__(self, request: Request) -> AccessClaims:
        return await self.check(request)

    async def check(
        self, request: Request, roles: tuple[str, ...] = (), scopes: tuple[str, ...] = ()
    ) -> AccessClaims:
        try:
            return await verify_bearer(
                self.verifier,
                request.headers.get("authorization"),
                opaque=self.opaque,
                roles=roles,
                scopes=scopes,
            )
        except errors.VerifierError as exc:
            raise http_error(exc) from None

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
