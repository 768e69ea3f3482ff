"""Starlette adapter: an ``AuthenticationBackend`` for ``AuthenticationMiddleware``.

    app.add_middleware(AuthenticationMiddleware, backend=GatepassBackend(verifier),
                       on_error=on_auth_error)

Requests without a token pass through unauthenticated (use ``@requires``); a bad token is
answered 401 by ``on_auth_error``. Roles appear as ``role:<name>`` auth scopes next to scopes,
and that namespace belongs to roles alone: a token scope starting with ``role:`` is not shown as
an auth scope (it stays in ``request.user.claims.scope``), so a client registered with scope
``role:admin`` never satisfies ``@requires("role:admin")``. (gatepass also refuses such scopes
at registration; this adapter does not rely on the issuer for it.)
``Authorization: DPoP`` with its proof is accepted too (RFC 9449 §7); ``public_url``: the base
URL the proofs' ``htu`` name, when the service sits behind a proxy.
"""

from __future__ import annotations

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from gatepass.core.access_token import AccessClaims
from gatepass.sdk import errors
from gatepass.sdk.http import DPOP_ALGS, error_response, request_url
from gatepass.sdk.verifier import Verifier


class TokenUser(BaseUser):
    def __init__(self, claims: AccessClaims) -> None:
        self.claims = claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.claims.sub

    @property
    def identity(self) -> str:
        return self.claims.sub


class GatepassAuthError(AuthenticationError):
    def __init__(self, cause: errors.VerifierError, algs: str = DPOP_ALGS) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.algs = algs


class GatepassBackend(AuthenticationBackend):
    def __init__(self, verifier: Verifier, *, public_url: str | None = None) -> None:
        self.verifier = verifier
        self.public_url = public_url

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        url = conn.url
        try:
            claims = await self.verifier.averify_request(
                header,
                method=conn.scope.get("method", "GET"),
                url=lambda: request_url(self.public_url, url.scheme, url.netloc, url.path),
                proofs=conn.headers.getlist("dpop"),
            )
        except errors.VerifierError as exc:
            raise GatepassAuthError(exc, self.verifier.dpop.algs) from None
        return AuthCredentials(auth_scopes(claims)), TokenUser(claims)


ROLE_PREFIX = "role:"


def auth_scopes(claims: AccessClaims) -> list[str]:
    """Starlette's auth scopes for ``claims``: its scopes, except any in the role namespace,
    then ``role:<name>`` for each role, then ``authenticated``."""
    scopes = [s for s in claims.scope if not s.startswith(ROLE_PREFIX)]
    return [*scopes, *(ROLE_PREFIX + r for r in claims.roles), "authenticated"]


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    if isinstance(exc, GatepassAuthError):
        status, body, headers = error_response(exc.cause, algs=exc.algs)
    else:
        status, body, headers = error_response(errors.InvalidTokenError())
    return JSONResponse(body, status_code=status, headers=headers)
