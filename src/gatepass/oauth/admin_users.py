"""Administering user accounts (the admin console and its JSON API, ``/admin/users``): search,
create, disable and enable, roles, a forced password reset, setting a password, ending every
login. Every change is an
``admin.*`` event (``oauth/admin_audit.py``); ending logins goes through the one revocation path
(``oauth/revocation.py``), so the denylist learns at once.

A forced reset sets ``password_reset_required``: every login ends, and the right password no
longer signs in (``oauth/password_login.py``) until an administrator sets a new one here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gatepass.core import cursor
from gatepass.core.passwords import WeakPassword
from gatepass.errors import InvalidRequest, NotFound
from gatepass.oauth import admin_audit, scopes, sessions
from gatepass.oauth.admin_audit import Admin
from gatepass.oauth.revocation import end_user_logins
from gatepass.oauth.services import Services
from gatepass.oauth.users import check_roles, create_user
from gatepass.storage.models import User

MAX_ID = 64
MAX_ROLES = 50


def view(user: User, live_sessions: int) -> dict[str, Any]:
    """What the admin API shows of a user: never the password hash."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "name": user.name,
        "roles": list(user.roles or []),
        "disabled": bool(user.disabled),
        "password_reset_required": bool(user.password_reset_required),
        "created_at": user.created_at,
        "live_sessions": live_sessions,
    }


async def find(svc: Services, user_id: str) -> User:
    user = await svc.users.by_id(user_id) if 0 < len(user_id) <= MAX_ID else None
    if user is None:
        raise NotFound("No such user.")
    return user


async def search(
    svc: Services, prefix: str | None, *, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of users by username or email prefix, and the cursor of the next page (None on
    the last)."""
    position: tuple[str, str] | None = None
    if after is not None:
        try:
            name, uid = cursor.decode(after, (str, str))
        except ValueError:
            raise InvalidRequest("The cursor is invalid.") from None
        position = (str(name), str(uid))
    rows = await svc.users.search(prefix, limit=limit + 1, after=position)
    page, more = rows[:limit], len(rows) > limit
    counts = await svc.logins.live_counts([u.id for u in page], now=svc.clock.now())
    items = [view(u, counts.get(u.id, 0)) for u in page]
    return items, cursor.encode(page[-1].username, page[-1].id) if more else None


async def describe(svc: Services, user: User) -> dict[str, Any]:
    counts = await svc.logins.live_counts([user.id], now=svc.clock.now())
    return view(user, counts.get(user.id, 0))


async def create(
    svc: Services,
    admin: Admin,
    username: str,
    password: str,
    roles: list[str],
    *,
    email: str | None = None,
    name: str | None = None,
    email_verified: bool = False,
) -> User:
    user = await create_user(
        svc, username, password, roles, email=email, name=name, email_verified=email_verified
    )
    await admin_audit.record(svc, admin, admin_audit.USER_CREATED, user=user)
    return user


async def end_sessions(svc: Services, admin: Admin, user_id: str) -> int:
    """End every login of the user at once, with every access token issued to them; how many
    ended."""
    caller = sessions.Caller(admin.ip, admin.user_agent)
    ended = await sessions.force_logout(
        svc, user_id, by=admin.user_id, by_username=admin.username, caller=caller
    )
    user = await svc.users.by_id(user_id)
    details = {"sessions": ended}
    await admin_audit.record(svc, admin, admin_audit.SESSIONS_ENDED, user=user, details=details)
    return ended


async def update(
    svc: Services,
    admin: Admin,
    user_id: str,
    *,
    disabled: bool | None = None,
    roles: list[str] | None = None,
) -> User:
    """Change roles and/or disable (ending every login at once) or enable an account.

    An administrator cannot disable their own account nor take the admin role from it: the
    console would lock out the one person using it."""
    user = await find(svc, user_id)
    # every check before the first write: a refused request changes nothing
    if disabled and user.id == admin.user_id:
        raise InvalidRequest("You cannot disable your own account.")
    if roles is not None:
        if len(roles) > MAX_ROLES:
            raise InvalidRequest(f"roles may hold at most {MAX_ROLES} roles.")
        new_roles = sorted(set(check_roles(roles)))
        if user.id == admin.user_id and scopes.ADMIN_ROLE not in new_roles:
            raise InvalidRequest("You cannot take the admin role from your own account.")
        if new_roles != sorted(user.roles or []):
            before = sorted(user.roles or [])
            user = await _set(svc, user.id, roles=new_roles)
            await admin_audit.record(
                svc,
                admin,
                admin_audit.USER_ROLES_CHANGED,
                user=user,
                details={"roles_before": before, "roles": new_roles},
            )
    if disabled is not None and disabled != bool(user.disabled):
        user = await _set(svc, user.id, disabled=disabled)
        if disabled:
            ended = await end_user_logins(svc, user.id, reason="disabled")
            await admin_audit.record(
                svc, admin, admin_audit.USER_DISABLED, user=user, details={"sessions": len(ended)}
            )
        else:
            await admin_audit.record(svc, admin, admin_audit.USER_ENABLED, user=user)
    return user


async def force_password_reset(svc: Services, admin: Admin, user_id: str) -> int:
    """End every login of the user and refuse password logins until a new password is set;
    how many logins ended."""
    user = await _set(svc, (await find(svc, user_id)).id, password_reset_required=True)
    ended = await end_user_logins(svc, user.id, reason="password_reset_forced")
    await admin_audit.record(
        svc, admin, admin_audit.PASSWORD_RESET_FORCED, user=user, details={"sessions": len(ended)}
    )
    return len(ended)


async def set_password(svc: Services, admin: Admin, user_id: str, password: str) -> None:
    """A new password chosen by the administrator: it clears a forced reset, and every login
    of the user ends (whoever knew the old password is signed out)."""
    user = await find(svc, user_id)
    try:
        password_hash = await asyncio.to_thread(svc.passwords.hash, password)
    except WeakPassword as exc:
        raise InvalidRequest(str(exc)) from None
    user = await _set(svc, user.id, password_hash=password_hash, password_reset_required=False)
    ended = await end_user_logins(svc, user.id, reason="password_set")
    await admin_audit.record(
        svc, admin, admin_audit.PASSWORD_SET, user=user, details={"sessions": len(ended)}
    )


async def _set(svc: Services, user_id: str, **values: Any) -> User:
    user = await svc.users.update(user_id, **values)
    if user is None:  # deleted meanwhile
        raise NotFound("No such user.")
    return user
