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


async def create_user(svc: Services, username: str, password: str, roles: Iterable[str]) -> User:
    check_username(username)
    role_list = check_roles(roles)
    try:
        password_hash = await asyncio.to_thread(svc.passwords.hash, password)
    except WeakPassword as exc:
        raise InvalidRequest(str(exc)) from None
    return await svc.users.create(username, password_hash, role_list, svc.clock.now())
