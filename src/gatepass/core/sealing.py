"""Private keys at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the master secret.

The key id is bound as associated data, so a sealed blob cannot be moved to another row.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"


class SealError(Exception):
    pass


def derive_key(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        master
    )


def seal(master: bytes, aad: str, plaintext: bytes) -> bytes:
    nonce = os.urandom(12)
    ct = AESGCM(derive_key(master, "gatepass key sealing v1")).encrypt(
        nonce, plaintext, aad.encode()
    )
    return _VERSION + nonce + ct


def unseal(master: bytes, aad: str, blob: bytes) -> bytes:
    if len(blob) < 1 + 12 + 16 or blob[:1] != _VERSION:
        raise SealError("sealed key has an unknown format")
    try:
        return AESGCM(derive_key(master, "gatepass key sealing v1")).decrypt(
            blob[1:13], blob[13:], aad.encode()
        )
    except InvalidTag:
        raise SealError(
            "a signing key cannot be decrypted: GATEPASS_SECRET_KEY (or the data directory's "
            "secret file) is not the one the keys were sealed with"
        ) from None
