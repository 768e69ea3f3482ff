"""The code other Python services use to trust gatepass tokens.

from gatepass.sdk import Verifier
verifier = Verifier.from_issuer("https://auth.example", audience="my-api")
claims = verifier.verify(token)          # AccessClaims, or raises InvalidTokenError
claims = verifier.verify_request(authorization, method="GET", url=url, proofs=dpop_headers)
                                         # a whole request: Bearer, or DPoP with its proof
"""

from gatepass.core.access_token import AccessClaims
from gatepass.sdk.dpop import Dpop, MemoryReplayCache, RedisReplayCache, ReplayCache
from gatepass.sdk.errors import (
    DenylistUnavailable,
    DpopBoundAsBearer,
    ExpiredToken,
    InsufficientScopeError,
    InvalidAudience,
    InvalidDpopProof,
    InvalidIssuer,
    InvalidSignature,
    InvalidTokenError,
    InvalidTokenType,
    JWKSError,
    MalformedToken,
    NotDpopBound,
    NotYetValid,
    ReplayCacheUnavailable,
    RevokedToken,
    UnknownKeyError,
    UseDpopNonce,
    VerifierError,
)
from gatepass.sdk.verifier import Denylist, Verifier, require

__all__ = [
    "AccessClaims",
    "Denylist",
    "DenylistUnavailable",
    "Dpop",
    "DpopBoundAsBearer",
    "ExpiredToken",
    "InsufficientScopeError",
    "InvalidAudience",
    "InvalidDpopProof",
    "InvalidIssuer",
    "InvalidSignature",
    "InvalidTokenError",
    "InvalidTokenType",
    "JWKSError",
    "MalformedToken",
    "MemoryReplayCache",
    "NotDpopBound",
    "NotYetValid",
    "RedisReplayCache",
    "ReplayCache",
    "ReplayCacheUnavailable",
    "RevokedToken",
    "UnknownKeyError",
    "UseDpopNonce",
    "Verifier",
    "VerifierError",
    "require",
]
