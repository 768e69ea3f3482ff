"""Standard Webhooks 1.0 ("Signature scheme", "Webhook headers"): the ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` headers of a signed webhook.

The signature is ``v1,`` and the base64 of HMAC-SHA256 over ``id.timestamp.body`` under the
secret, which is given as ``whsec_`` and the base64 of 24 to 64 random bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
MIN_SECRET, MAX_SECRET = 24, 64  # bytes (the specification's bounds)


def parse_secret(text: str) -> bytes:
    """The key bytes of a ``whsec_…`` secret; ValueError when it is not one."""
    if not text.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is base64 after whsec_") from None
    if not MIN_SECRET <= len(key) <= MAX_SECRET:
        raise ValueError("a webhook secret holds 24 to 64 bytes")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one delivery attempt: the same id on every retry, a fresh timestamp (a
    receiver refuses one more than five minutes away from its own clock)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, msg_id, timestamp, body),
        "content-type": "application/json",
    }
