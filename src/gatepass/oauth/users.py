"""Creating users (CLI and admin API share this)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable

from gatepass.core.passwords import WeakPassword
from gatepass.errors import InvalidRequest
from gatepass.oauth.services import Services
from gatepass.storage.models import User

_USERNAME = re.compile(r"[A-Za-z0-9._@+-]{1,150}")
_ROLE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# a mail address as a person types it (RFC 5321 limits), nothing that could fold a header
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def check_username(name: str) -> str:
    if _USERNAME.fullmatch(name) is None:
        raise InvalidRequest("username must be 1-150 characters of letters, digits and . _ @ + -")
    return name


def check_roles(roles: Iterable[str]) -> list[str]:
    out = list(roles)
    for r in out:
        if not isinstance(r, str) or _ROLE.fullmatch(r) is None:
            raise InvalidRequest("roles must be 1-64 characters of letters, digits and . _ : -")
    return out


MAX_EMAIL = 254  # RFC 5321 §4.5.3.1.3: a path is at most 256 octets, with its two brackets


def check_email(email: str | None) -> str | None:
    if email is not None and (
        not isinstance(email, str) or len(email) > MAX_EMAIL or _EMAIL.fullmatch(email) is None
    ):
        raise InvalidRequest(
            f"email must be an address such as name@example.com, at most {MAX_EMAIL} characters"
        )
    return email


def check_name(name: str | None) -> str | None:
    if name is not None and (
        not isinstance(name, str) or not 1 <= len(name) <= 200 or not name.isprintable()
    ):
        raise InvalidRequest("name must be 1-200 printable characters")
    return name


async def create_user(
    svc: Services,
    username: str,
    password: str,
    roles: Iterable[str],
    *,
    email: str | None = None,
    name: str | None = None,
    email_verified: bool = False,
) -> User:
    """``email_verified``: someone vouched for the address (OpenID Connect ``email_verified``);
    only with an ``email``."""
    check_username(username)
    role_list = check_roles(roles)
    check_email(email)
    check_name(name)
    if email_verified and email is None:
        raise InvalidRequest("email_verified needs an email")
    try:
        password_hash = await asyncio.to_thread(svc.passwords.hash, password)
    except WeakPassword as exc:
        raise InvalidRequest(str(exc)) from None
    return await svc.users.create(
        username,
        password_hash,
        role_list,
        svc.clock.now(),
        email=email,
        name=name,
        email_verified=email_verified,
    )
