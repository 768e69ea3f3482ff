"""The admin console's event list (``/console/events``): security events newest first,
filtered by type, user (a username or an id) and time, a page at a time; each shows what
happened, to whom, by whom (for ``admin.*`` events), when and from where. The JSON twin is
``GET /admin/events``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gatepass.core.user_agent import parse as parse_user_agent
from gatepass.errors import InvalidRequest
from gatepass.oauth import admin_audit, sso
from gatepass.oauth.event_log import newest_page
from gatepass.oauth.services import Services
from gatepass.server import admin_pages, console
from gatepass.server.admin_pages import HOME, admin_only, render, utc
from gatepass.server.query import QueryParams
from gatepass.server.routing import route
from gatepass.storage.models import SecurityEvent

SECTION = f"{HOME}/events"
# the types offered in the filter's list (any type may be typed)
KNOWN_TYPES = sorted(
    v for k, v in vars(admin_audit).items() if k.isupper() and isinstance(v, str)
) + [
    "forced_logout",
    "lockout",
    "logout",
    "logout_all",
    "logout_others",
    "password_change",
    "profile_changed",
    "refresh_reuse",
    "sign_in",
]
_SHOWN_APART = ("by", "by_username")


def _when(query: QueryParams, name: str) -> tuple[str, float | None]:
    """A ``datetime-local`` field (UTC), as typed and in seconds since the epoch."""
    typed = query.text(name, max_len=32) or ""
    if not typed:
        return "", None
    try:
        moment = datetime.fromisoformat(typed).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidRequest(f"The {name} time is not a date and time.") from None
    return typed, moment.timestamp()


async def _user_id(svc: Services, typed: str) -> str | None:
    if not typed:
        return None
    user = await svc.users.by_name(typed)
    return user.id if user is not None else typed[:64]


def _row(e: SecurityEvent) -> dict[str, Any]:
    details = dict(e.details or {})
    agent = parse_user_agent(e.user_agent) if e.user_agent else None
    day, _, time = utc(e.created_at).partition(" ")
    return {
        "event": e,
        "day": day,
        "time": time,
        "by": details.get("by_username") or details.get("by"),
        "device": f"{agent.browser} on {agent.os}" if agent else None,
        "details": {k: v for k, v in details.items() if k not in _SHOWN_APART},
    }


async def list_events(svc: Services, request: Request, signed: sso.Signed) -> Response:
    query = QueryParams(request)
    type_ = query.text("type", max_len=64) or ""
    user = query.text("user", max_len=150) or ""
    since_typed, since = _when(query, "since")
    until_typed, until = _when(query, "until")
    rows, next_cursor = await newest_page(
        svc,
        limit=admin_pages.PAGE_SIZE,
        after=query.text("cursor", max_len=512),
        type_=type_ or None,
        user_id=await _user_id(svc, user),
        since=since,
        until=until,
    )
    return render(
        svc,
        request,
        signed,
        "admin_events.html",
        {
            "title": "Events",
            "events": [_row(e) for e in rows],
            "filters": {"type": type_, "user": user, "since": since_typed, "until": until_typed},
            "known_types": KNOWN_TYPES,
            "pager": console.pager(request, next_cursor),
        },
        section=SECTION,
    )


async def home(svc: Services, request: Request, signed: sso.Signed) -> Response:
    return console.redirect(f"{HOME}/users")


ROUTES = [
    route(HOME, admin_only(home), ["GET"]),
    route(HOME + "/", admin_only(home), ["GET"]),
    route(SECTION, admin_only(list_events), ["GET"]),
]
