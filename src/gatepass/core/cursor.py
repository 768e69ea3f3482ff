"""Opaque page cursors for keyset pagination: a position (a few strings and integers) in
URL-safe base64 of compact JSON. A cursor is not a secret and not signed: it only says where
the next page starts, and a forged one can only start a page somewhere else the caller could
list anyway. Decoding is strict, so a bad cursor is a clean ``ValueError``."""

from __future__ import annotations

import base64
import binascii
import json
import math

MAX_CURSOR = 512  # characters: the longest position (a username of 150 and an id) fits well


def encode(*position: str | int) -> str:
    raw = json.dumps(list(position), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(cursor: str, shape: tuple[type, ...]) -> tuple[str | int, ...]:
    """The position in ``cursor``, whose items must have the types of ``shape`` (``str`` or
    ``int``); ``ValueError`` for anything else."""
    if not cursor or len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise ValueError("bad cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        items = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("bad cursor") from None
    if not isinstance(items, list) or len(items) != len(shape):
        raise ValueError("bad cursor")
    for item, kind in zip(items, shape, strict=True):
        # bool is an int to Python, never to a cursor; text holds no NUL or control character
        if type(item) is not kind or (isinstance(item, str) and not item.isprintable()):
            raise ValueError("bad cursor")
    return tuple(items)


def encode_at(moment: float, key: str) -> str:
    """The cursor of a row ordered by a moment (a float, kept exact) then a unique key."""
    return encode(repr(float(moment)), key)


def decode_at(cursor: str) -> tuple[float, str]:
    """The (moment, key) position in a cursor of :func:`encode_at`; ``ValueError`` otherwise."""
    moment, key = decode(cursor, (str, str))
    try:
        at = float(str(moment))
    except ValueError:
        raise ValueError("bad cursor") from None
    if not math.isfinite(at):
        raise ValueError("bad cursor")
    return at, str(key)
