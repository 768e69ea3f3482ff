"""Opaque bearer secrets (refresh tokens, opaque access tokens, client secrets).

A recognisable prefix plus 256 random bits; only the SHA-256 digest is ever stored. With 256
bits of entropy a plain digest cannot be reversed or guessed, so no slow hash or salt is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

REFRESH_PREFIX = "gpr_"
OPAQUE_ACCESS_PREFIX = "gpa_"
CLIENT_SECRET_PREFIX = "gps_"
AUTHORIZATION_CODE_PREFIX = "gpk_"  # RFC 6749 §4.1.2, redeemed once within 60 s
SSO_COOKIE_PREFIX = "gpo_"  # the single sign-on session cookie of the hosted pages
_RANDOM_BYTES = 32  # 256 bits
MAX_LEN = 256


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(_RANDOM_BYTES)


def digest(token: str) -> str:
    """Hex SHA-256 of the token: the only form in which it is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like(token: str, prefix: str) -> bool:
    return token.startswith(prefix) and len(token) <= MAX_LEN


def matches(token: str, stored_digest: str) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    return hmac.compare_digest(digest(token), stored_digest)
