"""Starlette adapter: an ``AuthenticationBackend`` for ``AuthenticationMiddleware``.

    app.add_middleware(AuthenticationMiddleware, backend=GatepassBackend(verifier),
                       on_error=on_auth_error)

Requests without a token pass through unauthenticated (use ``@requires``); a bad token is
answered 401 by ``on_auth_error``. Roles appear as ``role:<name>`` auth scopes next to scopes,
and that namespace belongs to roles alone: a token scope starting with ``role:`` is not shown as
an auth scope (it stays in ``request.user.claims.scope``), so a client registered with scope
``role:admin`` never satisfies ``@requires("role:admin")``. (gatepass also refuses such scopes
at registration; this adapter does not rely on the issuer for it.)
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
from gatepass.sdk.http import bearer_token, error_response
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
    def __init__(self, cause: errors.VerifierError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class GatepassBackend(AuthenticationBackend):
    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        try:
            claims = await self.verifier.averify(bearer_token(header))
        except errors.VerifierError as exc:
            raise GatepassAuthError(exc) from None
        return AuthCredentials(auth_scopes(claims)), TokenUser(claims)


ROLE_PREFIX = "role:"


def auth_scopes(claims: AccessClaims) -> list[str]:
    """Starlette's auth scopes for ``claims``: its scopes, except any in the role namespace,
    then ``role:<name>`` for each role, then ``authenticated``."""
    scopes = [s for s in claims.scope if not s.startswith(ROLE_PREFIX)]
    return [*scopes, *(ROLE_PREFIX + r for r in claims.roles), "authenticated"]


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    cause = exc.cause if isinstance(exc, GatepassAuthError) else errors.InvalidTokenError()
    status, body, headers = error_response(cause)
    return JSONResponse(body, status_code=status, headers=headers)
