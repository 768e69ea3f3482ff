"""The code other Python services use to trust gatepass tokens.

from gatepass.sdk import Verifier
verifier = Verifier.from_issuer("https://auth.example", audience="my-api")
claims = verifier.verify(token)          # AccessClaims, or raises InvalidTokenError
"""

from gatepass.core.access_token import AccessClaims
from gatepass.sdk.errors import (
    DenylistUnavailable,
    ExpiredToken,
    InsufficientScopeError,
    InvalidAudience,
    InvalidIssuer,
    InvalidSignature,
    InvalidTokenError,
    InvalidTokenType,
    JWKSError,
    MalformedToken,
    NotYetValid,
    RevokedToken,
    UnknownKeyError,
    VerifierError,
)
from gatepass.sdk.verifier import Denylist, Verifier, require

__all__ = [
    "AccessClaims",
    "Denylist",
    "DenylistUnavailable",
    "ExpiredToken",
    "InsufficientScopeError",
    "InvalidAudience",
    "InvalidIssuer",
    "InvalidSignature",
    "InvalidTokenError",
    "InvalidTokenType",
    "JWKSError",
    "MalformedToken",
    "NotYetValid",
    "RevokedToken",
    "UnknownKeyError",
    "Verifier",
    "VerifierError",
    "require",
]
