"""Typed verification errors: one catch-all ``InvalidTokenError`` above precise subclasses.

Every ``InvalidTokenError`` means "answer 401 invalid_token". ``DenylistUnavailable`` and
``JWKSError`` are not about the token: the verifier could not decide, so it fails closed (503).
"""

from __future__ import annotations


class VerifierError(Exception):
    """Base of everything the SDK raises. ``scheme``: the ``WWW-Authenticate`` challenge it
    gets (``DPoP`` for an error about a DPoP request or a DPoP-bound token, RFC 9449 §7.1)."""

    scheme = "Bearer"


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


class NotDpopBound(InvalidTokenError):
    """Sent as ``Authorization: DPoP`` but not bound to a key (RFC 9449 §7.1)."""

    reason = "not_dpop_bound"
    scheme = "DPoP"


class DpopBoundAsBearer(InvalidTokenError):
    """A DPoP-bound token sent as a Bearer token (RFC 9449 §7.2): refused."""

    reason = "dpop_bound"
    scheme = "DPoP"


class InvalidDpopProof(VerifierError):
    """The DPoP proof is missing, malformed, replayed, or does not match the request or the
    token (RFC 9449 §7.1 ``invalid_dpop_proof``, 401)."""

    error = "invalid_dpop_proof"
    scheme = "DPoP"


class UseDpopNonce(InvalidDpopProof):
    """The proof lacks a fresh nonce of this service's (RFC 9449 §8-§9); ``nonce`` is one."""

    error = "use_dpop_nonce"

    def __init__(self, message: str, *, nonce: str) -> None:
        super().__init__(message)
        self.nonce = nonce


class ReplayCacheUnavailable(VerifierError):
    """The DPoP replay cache cannot be read or written: refuse (503), never accept."""


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
