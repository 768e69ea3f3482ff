"""CSRF tokens of the hosted pages' forms (OWASP CSRF Prevention Cheat Sheet, "signed double
submit cookie"): an HMAC-SHA256 over the browser's pre-session cookie and the form's purpose,
under a key derived from the master secret, compared in constant time.

A token is good only in the browser that holds the cookie it was made for, and only for the
form it was made for (``login authorize``, ``login account``, ``consent <sso sid>``,
``logout <sso sid>``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

KEY_PURPOSE = "gatepass hosted-page csrf v1"
MAX_LEN = 128


def new_browser_id() -> str:
    """The value of a new pre-session cookie: 256 random bits."""
    return secrets.token_urlsafe(32)


def token(key: bytes, browser: str, purpose: str) -> str:
    mac = hmac.new(key, f"{browser}\x00{purpose}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def valid(key: bytes, browser: str | None, purpose: str, presented: str | None) -> bool:
    if not browser or not presented or len(presented) > MAX_LEN or len(browser) > MAX_LEN:
        return False
    return hmac.compare_digest(token(key, browser, purpose).encode(), presented.encode())
