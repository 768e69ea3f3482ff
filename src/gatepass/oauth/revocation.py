"""Ending logins and revoking access tokens: the family in the database, then the denylist.

Shared by refresh reuse, logout, logout-all, password change, administration and the CLI. A
``sid`` entry covers every access token a login issued; it lasts as long as the longest of them
could be accepted by any verifier (access-token TTL + :data:`MAX_LEEWAY`, the largest leeway a
verifier may use, + a margin for one issued during the revocation itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gatepass.core.denylist import MAX_LEEWAY, Revocation, user_not_before
from gatepass.oauth.services import Services
from gatepass.storage.models import LoginSession
from gatepass.storage.token_rows import LoginRow

MARGIN = 60.0


def coverage(svc: Services, now: float) -> float:
    """When every access token that could exist now has expired for every verifier."""
    return now + svc.settings.access_token_ttl + MAX_LEEWAY + MARGIN


async def _record(
    svc: Services,
    event: str | None,
    rows: Iterable[LoginSession | LoginRow],
    *,
    user_id: str | None,
    username: str | None,
    ip: str | None,
    user_agent: str | None,
    details: dict[str, Any] | None,
    now: float,
) -> None:
    if event is None:
        return
    rows = list(rows)
    one = rows[0] if len(rows) == 1 else None
    await svc.events.record(
        event,
        now=now,
        user_id=user_id,
        username=username,
        client_id=one.client_id if one else None,
        sid=one.id if one else None,
        ip=ip,
        user_agent=(user_agent or "")[:512] or None,
        details={**(details or {}), **({} if one else {"sids": [r.id for r in rows]})},
    )


async def end_login(
    svc: Services,
    row: LoginSession | LoginRow,
    *,
    reason: str,
    event: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
    username: str | None = None,
) -> bool:
    """Revoke one family (its refresh tokens at once, its access tokens through the denylist).

    Returns True when this call ended it; records ``event`` then (``username``: the user's,
    for the event's "to whom" when the caller knows it).
    """
    now = svc.clock.now()
    done = await svc.logins.revoke(row.id, now=now, reason=reason)
    if done is None:
        return False
    await svc.denylist.add(Revocation("sid", row.id, coverage(svc, now)))
    await _record(
        svc,
        event,
        [row],
        user_id=row.user_id,
        username=username,
        ip=ip,
        user_agent=user_agent,
        details=details,
        now=now,
    )
    return True


async def end_user_logins(
    svc: Services,
    user_id: str,
    *,
    reason: str,
    keep: str | None = None,
    event: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
    username: str | None = None,
) -> list[LoginSession]:
    """End every login of a user but ``keep``. Without ``keep``, every token of the user issued
    until now is also refused (a ``sub`` not-before entry), whatever login it came from."""
    now = svc.clock.now()
    rows = await svc.logins.revoke_user(user_id, now=now, reason=reason, keep=keep)
    until = coverage(svc, now)
    for r in rows:
        await svc.denylist.add(Revocation("sid", r.id, until))
    if keep is None:
        await svc.denylist.add(Revocation("sub", user_id, until, user_not_before(now)))
    await _record(
        svc,
        event,
        rows,
        user_id=user_id,
        username=username,
        ip=ip,
        user_agent=user_agent,
        details={**(details or {}), "sessions": len(rows)},
        now=now,
    )
    return rows


async def revoke_access_token(svc: Services, jti: str, exp: float) -> None:
    """One access token, until no verifier would accept it anyway (``exp`` + the largest
    leeway a verifier may use, not only the server's own)."""
    await svc.denylist.add(Revocation("jti", jti, exp + MAX_LEEWAY))
