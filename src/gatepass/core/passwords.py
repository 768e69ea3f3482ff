"""Argon2id password hashing (argon2-cffi) with verify-and-rehash in one call.

An unknown user is checked against a dummy hash made with the same parameters, so it costs the
same time and gives the same answer as a wrong password.

Memory: every hash allocates one block of ``memory_kib`` (19 MiB by default) and frees it. glibc
serves a block that large by ``mmap`` and gives it back at once, but only at first: freeing it
raises glibc's mmap threshold past its size (up to 32 MiB), so from then on the block comes from
the malloc arena of the thread that hashes and stays there. Logins hash in the event loop's
executor threads, each with an arena of its own: a server kept ~19 MiB more per thread that had
ever hashed, up to 114 MiB in a worker of two busy cores (bench/soak.py: +20 MiB steps, RSS
+46% in 30 minutes). :func:`return_large_blocks` fixes the threshold, so that these blocks go
back to the system when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_PASSWORD_BYTES = 1024


LARGE_BLOCK = 1 << 20  # bytes from which glibc allocates by mmap, and unmaps at free
_M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)


@functools.cache
def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at :data:`LARGE_BLOCK` for this process (setting it also
    stops glibc from raising it after each free); whether it was set (False off glibc)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK))
    except (OSError, AttributeError):  # another C library: nothing to set
        return False


class WeakPassword(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    new_hash: str | None = None  # set when the stored hash should be replaced


class Passwords:
    def __init__(self, *, memory_kib: int = 19456, time_cost: int = 2, parallelism: int = 1):
        return_large_blocks()
        self._ph = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._dummy = self._ph.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        check_password_policy(password)
        return self._ph.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> VerifyResult:
        """Check ``password``; ``stored_hash=None`` (no such user) does the same work and fails."""
        try:
            secret = password.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: can never match, still costs the same
            secret, stored_hash = b"\x00", None
        if len(secret) > MAX_PASSWORD_BYTES:
            secret, stored_hash = secret[:MAX_PASSWORD_BYTES], None
        target = stored_hash if stored_hash is not None else self._dummy
        try:
            self._ph.verify(target, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return VerifyResult(False)
        if stored_hash is None:
            return VerifyResult(False)
        if self._ph.check_needs_rehash(stored_hash):
            return VerifyResult(True, self._ph.hash(secret))
        return VerifyResult(True)


def check_password_policy(password: str) -> None:
    if not isinstance(password, str) or len(password) < 8:
        raise WeakPassword("password must be at least 8 characters")
    try:
        size = len(password.encode("utf-8"))
    except UnicodeEncodeError:
        raise WeakPassword("password must be valid Unicode text") from None
    if size > MAX_PASSWORD_BYTES:
        raise WeakPassword(f"password must be at most {MAX_PASSWORD_BYTES} bytes")
    if "\x00" in password:
        raise WeakPassword("password must not contain NUL")
