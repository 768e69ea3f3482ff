"""The GatepassError tree: each error carries its RFC code, HTTP status and a safe description.

What an error may reveal is decided here: ``description`` goes to the client, ``debug`` only to
the log. The server turns these into HTTP in one place (``server/errors.py``).
"""

from __future__ import annotations

from typing import ClassVar


class GatepassError(Exception):
    error: ClassVar[str] = "server_error"
    status: ClassVar[int] = 500
    default_description: ClassVar[str] = "The server could not complete the request."

    def __init__(
        self,
        description: str | None = None,
        *,
        debug: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.description = description or self.default_description
        self.debug = debug
        self.headers = dict(headers or {})
        super().__init__(self.description)

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


# RFC 6749 §5.2 token endpoint errors
class InvalidRequest(GatepassError):
    error, status, default_description = "invalid_request", 400, "The request is malformed."


class InvalidClient(GatepassError):
    error, status, default_description = "invalid_client", 401, "Client authentication failed."

    def __init__(self, description: str | None = None, **kw: object) -> None:
        super().__init__(description, **kw)  # type: ignore[arg-type]
        self.headers.setdefault("WWW-Authenticate", 'Basic realm="gatepass", charset="UTF-8"')


class InvalidGrant(GatepassError):
    error, status = "invalid_grant", 400
    default_description = "The grant is invalid, expired or revoked."


class UnauthorizedClient(GatepassError):
    error, status = "unauthorized_client", 400
    default_description = "The client may not use this grant type."


class UnsupportedGrantType(GatepassError):
    error, status = "unsupported_grant_type", 400
    default_description = "The grant type is not supported."


class InvalidScope(GatepassError):
    error, status = "invalid_scope", 400
    default_description = "The requested scope is invalid or exceeds what is allowed."


# RFC 9449 §5, §8: DPoP at the token endpoint
class InvalidDpopProof(GatepassError):
    error, status = "invalid_dpop_proof", 400
    default_description = "The DPoP proof is invalid."


class UseDpopNonce(GatepassError):
    """The proof must carry the server's nonce, given in the ``DPoP-Nonce`` header."""

    error, status = "use_dpop_nonce", 400
    default_description = "Send the DPoP proof again with the nonce in the DPoP-Nonce header."

    def __init__(self, description: str | None = None, *, nonce: str, **kw: object) -> None:
        super().__init__(description, **kw)  # type: ignore[arg-type]
        self.headers["DPoP-Nonce"] = nonce


# RFC 6750 bearer errors
class InvalidToken(GatepassError):
    error, status = "invalid_token", 401
    default_description = "The access token is invalid, expired or revoked."

    def __init__(self, description: str | None = None, **kw: object) -> None:
        super().__init__(description, **kw)  # type: ignore[arg-type]
        self.headers.setdefault(
            "WWW-Authenticate",
            f'Bearer realm="gatepass", error="invalid_token", '
            f'error_description="{_quote(self.description)}"',
        )


class MissingToken(GatepassError):
    """No credentials at all: RFC 6750 §3.1 says no error code in the challenge."""

    error, status = "invalid_request", 401
    default_description = "An access token is required."

    def __init__(self, description: str | None = None, **kw: object) -> None:
        super().__init__(description, **kw)  # type: ignore[arg-type]
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="gatepass"')


class InsufficientScope(GatepassError):
    error, status = "insufficient_scope", 403
    default_description = "The access token lacks the required role or scope."

    def __init__(self, description: str | None = None, *, scope: str = "", **kw: object):
        super().__init__(description, **kw)  # type: ignore[arg-type]
        extra = f', scope="{_quote(scope)}"' if scope else ""
        self.headers.setdefault(
            "WWW-Authenticate", f'Bearer realm="gatepass", error="insufficient_scope"{extra}'
        )


# Everything else
class NotFound(GatepassError):
    error, status, default_description = "not_found", 404, "Not found."


class Conflict(GatepassError):
    error, status, default_description = "conflict", 409, "The resource already exists."


class PayloadTooLarge(GatepassError):
    error, status, default_description = "invalid_request", 413, "The request body is too large."


class UnsupportedMediaType(GatepassError):
    error, status = "invalid_request", 415
    default_description = "The content type is not supported here."


class TooManyRequests(GatepassError):
    error, status = "too_many_requests", 429
    default_description = "Too many failed attempts; try again later."

    def __init__(self, retry_after: int, description: str | None = None) -> None:
        super().__init__(description, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(GatepassError):
    error, status = "temporarily_unavailable", 503
    default_description = "A backing service is unavailable; try again shortly."


def _quote(text: str) -> str:
    """Keep a header parameter inside its quotes (RFC 6750 §3: no `"` or `\\`)."""
    return "".join(c for c in text if c not in '"\\' and 0x20 <= ord(c) < 0x7F)
