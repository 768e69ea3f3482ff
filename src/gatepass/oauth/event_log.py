"""Reading security events a page at a time, newest first (the admin event list and a user's
own activity): keyset pagination on the event id, with an opaque cursor (``core/cursor.py``)."""

from __future__ import annotations

from typing import Any

from gatepass.core import cursor
from gatepass.errors import InvalidRequest
from gatepass.oauth.services import Services
from gatepass.storage.models import SecurityEvent


def view(e: SecurityEvent) -> dict[str, Any]:
    """An event as the admin API shows it (the shape ``GET /admin/events`` has always had)."""
    return {
        "id": e.id,
        "type": e.type,
        "created": e.created_at,
        "user_id": e.user_id,
        "username": e.username,
        "client_id": e.client_id,
        "sid": e.sid,
        "ip": e.ip,
        "user_agent": e.user_agent,
        "details": e.details,
    }


def before_id(after: str | None) -> int | None:
    """The event id a cursor stands for (the page starts just below it)."""
    if after is None:
        return None
    try:
        (event_id,) = cursor.decode(after, (int,))
    except ValueError:
        raise InvalidRequest("The cursor is invalid.") from None
    return int(event_id)


async def newest_page(
    svc: Services,
    *,
    limit: int,
    after: str | None,
    type_: str | None = None,
    user_id: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> tuple[list[SecurityEvent], str | None]:
    """One page of events, newest first, and the cursor of the next (None on the last)."""
    rows = await svc.events.newest(
        limit=limit + 1,
        before_id=before_id(after),
        type_=type_,
        user_id=user_id,
        since=since,
        until=until,
    )
    page = rows[:limit]
    return page, cursor.encode(page[-1].id) if len(rows) > limit else None
