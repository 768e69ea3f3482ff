"""The signed-in user's own account (the account page and its JSON API under ``/auth``):
profile, ending every other login, and the account's security activity in plain words.

Everything here acts on the token's subject only: there is no id to change to reach someone
else's account.
"""

from __future__ import annotations

from typing import Any

from gatepass.core.access_token import AccessClaims
from gatepass.core.alert_texts import activity_text
from gatepass.core.user_agent import parse as parse_user_agent
from gatepass.errors import InvalidRequest, NotFound
from gatepass.oauth.event_log import newest_page
from gatepass.oauth.revocation import end_user_logins
from gatepass.oauth.services import Services
from gatepass.oauth.users import check_email, check_name
from gatepass.storage.models import SecurityEvent, User

MAX_EMAIL = 254  # RFC 5321 §4.5.3.1.3: the longest path, less its angle brackets
ACTIVITY_DAYS = 90
_UNSET: Any = object()


async def _user(svc: Services, claims: AccessClaims) -> User:
    user = await svc.users.by_id(claims.sub) if len(claims.sub) <= 64 else None
    if user is None:
        raise NotFound("No such user.")
    return user


def profile_view(user: User) -> dict[str, Any]:
    return {
        "sub": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "email_verified": bool(user.email_verified),
    }


async def profile(svc: Services, claims: AccessClaims) -> dict[str, Any]:
    return profile_view(await _user(svc, claims))


async def update_profile(
    svc: Services,
    claims: AccessClaims,
    *,
    name: str | None = _UNSET,
    email: str | None = _UNSET,
    ip: str | None,
    user_agent: str | None,
) -> dict[str, Any]:
    """Set (or, with None, clear) the name and the email address; a new address is not
    verified. A ``profile_changed`` event names the fields that changed, not their values."""
    user = await _user(svc, claims)
    values: dict[str, Any] = {}
    if name is not _UNSET and name != user.name:
        values["name"] = check_name(name)
    if email is not _UNSET and email != user.email:
        if email is not None and len(email) > MAX_EMAIL:
            raise InvalidRequest(f"email must be at most {MAX_EMAIL} characters.")
        values["email"] = check_email(email)
        values["email_verified"] = False
    if not values:
        return profile_view(user)
    updated = await svc.users.update(user.id, **values)
    if updated is None:
        raise NotFound("No such user.")
    await svc.events.record(
        "profile_changed",
        now=svc.clock.now(),
        user_id=user.id,
        username=user.username,
        client_id=claims.client_id,
        sid=claims.sid,
        ip=ip,
        user_agent=(user_agent or "")[:512] or None,
        details={"fields": sorted(k for k in values if k != "email_verified")},
    )
    return profile_view(updated)


async def end_other_sessions(
    svc: Services, claims: AccessClaims, *, ip: str | None, user_agent: str | None
) -> int:
    """End every login of the user but the caller's own (the token's ``sid``)."""
    if claims.sid is None:
        raise InvalidRequest("This access token belongs to no login.")
    user = await svc.users.by_id(claims.sub)  # the event names the account, as others do
    rows = await end_user_logins(
        svc,
        claims.sub,
        reason="ended_by_user",
        keep=claims.sid,
        event="logout_others",
        ip=ip,
        user_agent=user_agent,
        username=user.username if user else None,
    )
    return len(rows)


def activity_view(e: SecurityEvent) -> dict[str, Any]:
    """What the user sees of an event about their account: when, what, from where, in plain
    words; not the details meant for administrators (such as who the administrator was)."""
    details = e.details or {}
    device = parse_user_agent(e.user_agent)
    out: dict[str, Any] = {
        "id": e.id,
        "type": e.type,
        "created": e.created_at,
        "text": activity_text(e.type, details),
        "client_id": e.client_id,
        "address": e.ip,
        "user_agent": e.user_agent,
        "browser": device.browser,
        "os": device.os,
    }
    if e.type == "sign_in":
        out["new_device"] = details.get("new_device") is True
    return out


async def activity(
    svc: Services, claims: AccessClaims, *, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The user's security events of the last :data:`ACTIVITY_DAYS` days, newest first."""
    since = svc.clock.now() - ACTIVITY_DAYS * 86400
    rows, next_cursor = await newest_page(
        svc, limit=limit, after=after, user_id=claims.sub, since=since
    )
    return [activity_view(e) for e in rows], next_cursor
