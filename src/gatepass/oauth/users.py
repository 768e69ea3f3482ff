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


def check_email(email: str | None) -> str | None:
    if email is not None and (len(email) > 320 or _EMAIL.fullmatch(email) is None):
        raise InvalidRequest("email must be an address such as name@example.com")
    return email


def check_name(name: str | None) -> str | None:
    if name is not None and (not 1 <= len(name) <= 200 or not name.isprintable()):
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
) -> User:
    check_username(username)
    role_list = check_roles(roles)
    check_email(email)
    check_name(name)
    try:
        password_hash = await asyncio.to_thread(svc.passwords.hash, password)
    except WeakPassword as exc:
        raise InvalidRequest(str(exc)) from None
    return await svc.users.create(
        username, password_hash, role_list, svc.clock.now(), email=email, name=name
    )
