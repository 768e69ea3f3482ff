"""Typed verification errors: one catch-all ``InvalidTokenError`` above precise subclasses.

Every ``InvalidTokenError`` means "answer 401 invalid_token". ``DenylistUnavailable`` and
``JWKSError`` are not about the token: the verifier could not decide, so it fails closed (503).
"""

from __future__ import annotations


class VerifierError(Exception):
    """Base of everything the SDK raises."""


class InvalidTokenError(VerifierError):
    reason = "invalid"


class MalformedToken(InvalidTokenError):
    reason = "malformed"


class InvalidSignature(InvalidTokenError):
    reason = "signature"


class UnknownKeyError(InvalidTokenError):
    reason = "unknown_key"


class InvalidAlgorithm(InvalidTokenError):
    reason = "algorithm"


class InvalidTokenType(InvalidTokenError):
    reason = "type"


class InvalidIssuer(InvalidTokenError):
    reason = "issuer"


class InvalidAudience(InvalidTokenError):
    reason = "audience"


class ExpiredToken(InvalidTokenError):
    reason = "expired"


class NotYetValid(InvalidTokenError):
    reason = "not_yet_valid"


class InvalidClaims(InvalidTokenError):
    reason = "claims"


class RevokedToken(InvalidTokenError):
    reason = "revoked"


class InsufficientScopeError(VerifierError):
    """The token is valid but lacks a required role or scope (403)."""

    def __init__(self, message: str, *, required: str = "") -> None:
        super().__init__(message)
        self.required = required


class DenylistUnavailable(VerifierError):
    """The revocation list cannot be read: refuse (503), never accept."""


class JWKSError(VerifierError):
    """The issuer's metadata or key set could not be fetched or read."""


class MissingCredentials(VerifierError):
    """No bearer token was presented (RFC 6750 §3.1: a bare challenge, no error code)."""
