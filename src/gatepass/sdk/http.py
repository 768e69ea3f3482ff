"""RFC 6750 in one place: reading the bearer token, verifying it, and turning SDK errors into
HTTP answers.

Every adapter (FastAPI, Starlette, Flask) and the gatepass server itself call these functions,
so they all answer alike; ``verify_bearer`` is the framework-neutral core.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable

from gatepass.core.access_token import AccessClaims
from gatepass.core.opaque import OPAQUE_ACCESS_PREFIX
from gatepass.sdk import errors
from gatepass.sdk.verifier import Verifier, require

# how to resolve opaque (``gpa_...``) tokens, e.g. an ``Introspector``'s ``aresolve``; it raises
# an ``InvalidTokenError`` for a token that is not active
OpaqueResolver = Callable[[str], Awaitable[AccessClaims]]

_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header (RFC 6750 §2.1)."""
    if not authorization:
        raise errors.MissingCredentials("no bearer token")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise errors.MissingCredentials("no bearer token")
    value = value.strip(" ")
    if not value or _TOKEN68.fullmatch(value) is None:
        raise errors.MalformedToken("malformed bearer token")
    return value


async def verify_bearer(
    verifier: Verifier,
    authorization: str | None,
    *,
    opaque: OpaqueResolver | None = None,
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
) -> AccessClaims:
    """The verified claims of an ``Authorization`` header's bearer token, which must carry every
    one of ``roles`` and ``scopes``; a ``VerifierError`` otherwise (``error_response`` makes it
    an answer). Opaque tokens go to ``opaque``; without it, only JWT access tokens pass."""
    token = bearer_token(authorization)
    if opaque is not None and token.startswith(OPAQUE_ACCESS_PREFIX):
        claims = await opaque(token)
    else:
        claims = await verifier.averify(token)
    if roles or scopes:
        require(claims, roles=roles, scopes=scopes)
    return claims


def _q(text: str) -> str:
    return "".join(c for c in text if c not in '"\\' and 0x20 <= ord(c) < 0x7F)


def error_response(
    exc: errors.VerifierError, realm: str = "gatepass"
) -> tuple[int, dict[str, str], dict[str, str]]:
    """``(status, json_body, headers)`` for an SDK error. Descriptions never echo the token."""
    if isinstance(exc, errors.MissingCredentials):
        return (
            401,
            {"error": "invalid_request", "error_description": "An access token is required."},
            {"WWW-Authenticate": f'Bearer realm="{realm}"'},
        )
    if isinstance(exc, errors.InvalidTokenError):
        desc = _describe(exc)
        return (
            401,
            {"error": "invalid_token", "error_description": desc},
            {
                "WWW-Authenticate": f'Bearer realm="{realm}", error="invalid_token", '
                f'error_description="{_q(desc)}"'
            },
        )
    if isinstance(exc, errors.InsufficientScopeError):
        scope = f', scope="{_q(exc.required)}"' if exc.required else ""
        return (
            403,
            {"error": "insufficient_scope", "error_description": _q(str(exc))},
            {"WWW-Authenticate": f'Bearer realm="{realm}", error="insufficient_scope"{scope}'},
        )
    return (
        503,
        {
            "error": "temporarily_unavailable",
            "error_description": "Token verification is unavailable; try again shortly.",
        },
        {"Retry-After": "1"},
    )


_DESCRIPTIONS = {
    "expired": "The access token expired.",
    "revoked": "The access token was revoked.",
    "not_yet_valid": "The access token is not valid yet.",
    "audience": "The access token is not meant for this service.",
    "issuer": "The access token comes from another issuer.",
    "type": "This is not an access token.",
}


def _describe(exc: errors.InvalidTokenError) -> str:
    return _DESCRIPTIONS.get(exc.reason, "The access token is invalid.")
