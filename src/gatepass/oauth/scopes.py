"""Scope parsing and narrowing (RFC 6749 §3.3), and who may hold the administration scope.

``gatepass:admin`` (DESIGN "Administration") is granted only when asked for, only to users with
the ``admin`` role, and only through clients registered for it: the built-in first-party client
``gatepass`` and clients created with ``--scope gatepass:admin``. The admin endpoints require it
beside the role, so a token an admin obtained through any other client does not reach them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gatepass.errors import InvalidRequest, InvalidScope

# scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

# The longest scope parameter a request may carry, and so the longest set of scopes a client
# may be registered with (all of them must fit in one request), in characters.
MAX_SCOPE_CHARS = 2000

ADMIN_SCOPE = "gatepass:admin"
# OpenID Connect Core §3.1.2.1, §5.4, §11: a client with the authorization_code grant may ask
# for these whatever else it was registered with
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
ADMIN_ROLE = "admin"
# The SDK's Starlette adapter shows roles as auth scopes under this prefix (sdk/starlette.py);
# no client may be registered with a scope that looks like one.
ROLE_PREFIX = "role:"


def parse(raw: str | None) -> frozenset[str] | None:
    """The requested scopes, or None when the request named none."""
    if raw is None or raw == "":
        return None
    parts = raw.split(" ")
    if len(raw) > MAX_SCOPE_CHARS or any(_SCOPE_TOKEN.fullmatch(p) is None for p in parts):
        raise InvalidScope("The scope parameter is malformed.")
    return frozenset(parts)


def check_registrable(scope_set: Iterable[str]) -> None:
    """Refuse, at registration, scopes that a client could never use safely: any that looks like
    a role, and a set longer than one request may ask for (``MAX_SCOPE_CHARS``)."""
    scope_list = sorted(scope_set)
    if any(s.lower().startswith(ROLE_PREFIX) for s in scope_list):
        raise InvalidRequest(f"A scope may not start with {ROLE_PREFIX!r}: that names a role.")
    total = len(" ".join(scope_list))
    if total > MAX_SCOPE_CHARS:
        raise InvalidRequest(
            f"The scopes add up to {total} characters (with one space between each); "
            f"at most {MAX_SCOPE_CHARS} are allowed."
        )


def first_party(default_scopes: Iterable[str]) -> frozenset[str]:
    """What the built-in client ``gatepass`` may ask for: the default scopes and the
    administration scope."""
    return frozenset(default_scopes) | {ADMIN_SCOPE}


def grant(requested: frozenset[str] | None, allowed: Iterable[str]) -> frozenset[str]:
    """What the token gets: everything allowed when nothing was asked (except the
    administration scope, granted only when asked for), else exactly what was asked, provided
    every part of it is allowed."""
    allowed_set = frozenset(allowed)
    if requested is None:
        return allowed_set - {ADMIN_SCOPE}
    extra = requested - allowed_set
    if extra:
        raise InvalidScope("The requested scope exceeds what this client may have.")
    return requested


def for_subject(granted: frozenset[str], roles: Iterable[str]) -> frozenset[str]:
    """``granted`` without the administration scope unless the subject has the ``admin`` role
    (a client acting for itself has no roles). RFC 6749 §3.3 lets the server issue less than
    was asked; the answer's ``scope`` says what was issued."""
    if ADMIN_SCOPE in granted and ADMIN_ROLE not in roles:
        return granted - {ADMIN_SCOPE}
    return granted

