"""Ending logins and revoking access tokens: the family in the database, then the denylist.

Shared by refresh reuse, logout, logout-all, password change and administration.
"""

from __future__ import annotations

from typing import Any

from gatepass.oauth.services import Services
from gatepass.storage.models import LoginSession


async def end_login(
    svc: Services,
    row: LoginSession,
    *,
    reason: str,
    event: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """Revoke one family (its refresh tokens at once, its access tokens through the denylist).

    Returns True when this call ended it; records ``event`` then.
    """
    now = svc.clock.now()
    done = await svc.logins.revoke(row.id, now=now, reason=reason)
    if done is None:
        return False
    if event is not None:
        await svc.events.record(
            event,
            now=now,
            user_id=row.user_id,
            client_id=row.client_id,
            sid=row.id,
            ip=ip,
            user_agent=(user_agent or "")[:512] or None,
            details=details or {},
        )
    return True
