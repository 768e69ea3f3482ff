"""The security event list under /admin/events (as the rest of ``/admin``).

Newest first, filtered by ``type``, ``user_id`` (the account the event is about), ``since`` and
``until`` (seconds since the epoch), a page of ``limit`` (at most 200) at a time; ``next`` is
the ``cursor`` of the following page, null on the last.

The older form, ``?after=ID`` (oldest first, ``next`` the last id of a full page, ``limit`` up
to 500, ``type`` only), still answers as it always did.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.errors import InvalidRequest
from gatepass.oauth.event_log import newest_page, view
from gatepass.oauth.services import Services
from gatepass.server.deps import admin
from gatepass.server.errors import NO_STORE
from gatepass.server.query import QueryParams
from gatepass.server.routing import route

MAX_PAGE = 200
MAX_TIME = 2**40  # seconds since the epoch: far beyond any event


async def events(svc: Services, request: Request) -> Response:
    await admin(svc, request)
    query = QueryParams(request)
    type_ = query.text("type", max_len=64)
    if "after" in request.query_params:
        return await _oldest_first(svc, query, type_)
    limit = query.integer("limit", 50, low=1, high=MAX_PAGE)
    rows, next_cursor = await newest_page(
        svc,
        limit=limit,
        after=query.text("cursor", max_len=512),
        type_=type_,
        user_id=query.text("user_id", max_len=64),
        since=_time(query, "since"),
        until=_time(query, "until"),
    )
    return JSONResponse({"events": [view(e) for e in rows], "next": next_cursor}, headers=NO_STORE)


def _time(query: QueryParams, name: str) -> float | None:
    if name not in query.values:
        return None
    return float(query.integer(name, 0, low=0, high=MAX_TIME))


async def _oldest_first(svc: Services, query: QueryParams, type_: str | None) -> Response:
    """``?after=ID``: the form of this endpoint before the cursor (kept for its callers)."""
    if any(n in query.values for n in ("cursor", "user_id", "since", "until")):
        raise InvalidRequest("after pages oldest first by type only; use cursor for filters.")
    after = query.integer("after", 0, low=0, high=2**62)
    limit = query.integer("limit", 50, low=1, high=500)
    rows = await svc.events.page(after_id=after, limit=limit, type_=type_)
    items = [view(e) for e in rows]
    next_id = items[-1]["id"] if len(items) == limit else None
    return JSONResponse({"events": items, "next": next_id}, headers=NO_STORE)


ROUTES = [route("/admin/events", events, ["GET"])]
