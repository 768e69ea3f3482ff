"""Every administrative action is a security event (``admin.*``): who did it (the
administrator's id and username), what, to whom (the account in ``user_id``/``username``, a
client in ``client_id``, anything else in ``details``), when, and from where (address, agent).

One helper for every admin endpoint, so the shape never differs. Nothing secret goes in: the
callers pass ids, names and counts, never a password, secret, token or key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatepass.core.access_token import AccessClaims
from gatepass.oauth.services import Services
from gatepass.storage.models import User

# the event types, in one place (the account's activity words: core/alert_texts.py)
USER_CREATED = "admin.user_created"
USER_DISABLED = "admin.user_disabled"
USER_ENABLED = "admin.user_enabled"
USER_ROLES_CHANGED = "admin.user_roles_changed"
PASSWORD_RESET_FORCED = "admin.password_reset_forced"
PASSWORD_SET = "admin.password_set"
SESSIONS_ENDED = "admin.sessions_ended"
CLIENT_CREATED = "admin.client_created"
CLIENT_UPDATED = "admin.client_updated"
CLIENT_SECRET_ROTATED = "admin.client_secret_rotated"
CLIENT_DELETED = "admin.client_deleted"
KEYS_ROTATED = "admin.keys_rotated"


@dataclass(frozen=True, slots=True)
class Admin:
    """The administrator behind a request, and where it came from."""

    user_id: str
    username: str | None
    ip: str | None
    user_agent: str | None


async def admin_of(
    svc: Services, claims: AccessClaims, ip: str | None, user_agent: str | None
) -> Admin:
    user = await svc.users.by_id(claims.sub)
    return Admin(claims.sub, user.username if user else None, ip, (user_agent or "")[:512] or None)


async def record(
    svc: Services,
    admin: Admin,
    type_: str,
    *,
    user: User | None = None,
    client_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record the action ``type_`` (one of the constants above) by ``admin``."""
    await svc.events.record(
        type_,
        now=svc.clock.now(),
        user_id=user.id if user else None,
        username=user.username if user else None,
        client_id=client_id,
        ip=admin.ip,
        user_agent=admin.user_agent,
        details={"by": admin.user_id, "by_username": admin.username, **(details or {})},
    )
