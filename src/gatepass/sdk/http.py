"""RFC 6750 and RFC 9449 §7 in one place: reading the access token (``Bearer`` or ``DPoP``)
and turning SDK errors into HTTP answers.

Every adapter (FastAPI, Starlette, Flask) and the gatepass server itself call these functions
(and ``Verifier.averify_request`` / ``verify_request``, the framework-neutral check of a
request), so they all answer alike.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from gatepass.core import rfc9449
from gatepass.core.access_token import AccessClaims
from gatepass.sdk import errors

# how to resolve opaque (``gpa_...``) tokens, e.g. an ``Introspector``'s ``aresolve``; it raises
# an ``InvalidTokenError`` for a token that is not active
OpaqueResolver = Callable[[str], Awaitable[AccessClaims]]

_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def credentials(authorization: str | None) -> tuple[str, str]:
    """``(scheme, token)`` of an ``Authorization: Bearer`` (RFC 6750 §2.1) or ``DPoP`` (RFC
    9449 §7.1) header; ``scheme`` is ``"bearer"`` or ``"dpop"``."""
    if not authorization:
        raise errors.MissingCredentials("no access token")
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop"):
        raise errors.MissingCredentials("no access token")
    value = value.strip(" ")
    if not value or _TOKEN68.fullmatch(value) is None:
        exc = errors.MalformedToken("malformed access token")
        if scheme == "dpop":
            exc.scheme = "DPoP"
        raise exc
    return scheme, value


def request_url(public_url: str | None, scheme: str, netloc: str, path: str) -> str:
    """The URL a request was sent to, as a DPoP proof's ``htu`` must name it (RFC 9449 §4.3):
    ``public_url`` (the service's public base, when it sits behind a proxy) + the path, or else
    what the request itself says. Never the query or fragment."""
    try:
        if public_url is not None:
            return rfc9449.request_url(public_url, path)
        return rfc9449.join_url(f"{scheme}://{netloc}", path)
    except rfc9449.ProofError:
        raise errors.InvalidDpopProof("the request URL cannot be checked") from None


def _q(text: str) -> str:
    return "".join(c for c in text if c not in '"\\' and 0x20 <= ord(c) < 0x7F)


DPOP_ALGS = " ".join(rfc9449.ALGORITHMS)


def error_response(
    exc: errors.VerifierError, realm: str = "gatepass", algs: str = DPOP_ALGS
) -> tuple[int, dict[str, str], dict[str, str]]:
    """``(status, json_body, headers)`` for an SDK error. Descriptions never echo the token.

    Errors about a DPoP request or a DPoP-bound token are challenged with ``DPoP`` and the
    accepted ``algs`` (RFC 9449 §7.1); a nonce request carries the nonce (§9)."""
    if isinstance(exc, errors.InvalidDpopProof):
        desc = _q(str(exc)) or "The DPoP proof is invalid."
        headers = {
            "WWW-Authenticate": f'DPoP realm="{realm}", error="{exc.error}", '
            f'error_description="{desc}", algs="{algs}"'
        }
        if isinstance(exc, errors.UseDpopNonce):
            headers["DPoP-Nonce"] = exc.nonce
        return 401, {"error": exc.error, "error_description": desc}, headers
    if isinstance(exc, errors.MissingCredentials):
        return (
            401,
            {"error": "invalid_request", "error_description": "An access token is required."},
            {"WWW-Authenticate": f'Bearer realm="{realm}"'},
        )
    if isinstance(exc, errors.InvalidTokenError):
        desc = _describe(exc)
        dpop = exc.scheme == "DPoP"
        return (
            401,
            {"error": "invalid_token", "error_description": desc},
            {
                "WWW-Authenticate": f'{exc.scheme} realm="{realm}", error="invalid_token", '
                f'error_description="{_q(desc)}"' + (f', algs="{algs}"' if dpop else "")
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
    "dpop_bound": "The access token is bound to a DPoP key: send it as DPoP, with a proof.",
    "not_dpop_bound": "The access token is not bound to a DPoP key: send it as Bearer.",
}


def _describe(exc: errors.InvalidTokenError) -> str:
    return _DESCRIPTIONS.get(exc.reason, "The access token is invalid.")
