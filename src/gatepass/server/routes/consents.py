"""``GET /auth/consents`` and ``DELETE /auth/consents/{client_id}`` (Bearer): the applications
a user has allowed, and withdrawing one (its next authorization request asks again, and the
user's logins at that client end: ``oauth/consents.py``). The list comes a page at a time:
``limit`` (1-200, 50), ``cursor``; ``next`` is the cursor of the following page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.core.cursor import MAX_CURSOR
from gatepass.oauth import consents, paging
from gatepass.oauth.services import Services
from gatepass.server.deps import bearer, client_ip, user_agent
from gatepass.server.errors import NO_STORE
from gatepass.server.query import QueryParams
from gatepass.server.routing import route


async def list_consents(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    query = QueryParams(request)
    items, next_cursor = await consents.page_of_caller(
        svc,
        claims,
        limit=query.integer("limit", paging.DEFAULT_LIMIT, low=1, high=paging.MAX_LIMIT),
        after=query.text("cursor", max_len=MAX_CURSOR),
    )
    return JSONResponse({"consents": items, "next": next_cursor}, headers=NO_STORE)


async def withdraw(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    await consents.withdraw(
        svc,
        claims,
        request.path_params["client_id"],
        ip=client_ip(request),
        user_agent=user_agent(request),
    )
    return Response(status_code=204, headers=NO_STORE)


ROUTES = [
    route("/auth/consents", list_consents, ["GET"]),
    route("/auth/consents/{client_id}", withdraw, ["DELETE"]),
]
