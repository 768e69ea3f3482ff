"""Scope parsing and narrowing (RFC 6749 §3.3)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gatepass.errors import InvalidScope

# scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def parse(raw: str | None) -> frozenset[str] | None:
    """The requested scopes, or None when the request named none."""
    if raw is None or raw == "":
        return None
    parts = raw.split(" ")
    if len(raw) > 2000 or any(_SCOPE_TOKEN.fullmatch(p) is None for p in parts):
        raise InvalidScope("The scope parameter is malformed.")
    return frozenset(parts)


def grant(requested: frozenset[str] | None, allowed: Iterable[str]) -> frozenset[str]:
    """What the token gets: everything allowed when nothing was asked, else exactly what was
    asked, provided every part of it is allowed."""
    allowed_set = frozenset(allowed)
    if requested is None:
        return allowed_set
    extra = requested - allowed_set
    if extra:
        raise InvalidScope("The requested scope exceeds what this client may have.")
    return requested
