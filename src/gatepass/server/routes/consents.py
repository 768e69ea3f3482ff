"""``GET /auth/consents`` and ``DELETE /auth/consents/{client_id}`` (Bearer): the applications
a user has allowed, and withdrawing one (its next authorization request asks again)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.oauth import consents
from gatepass.oauth.services import Services
from gatepass.server.deps import bearer
from gatepass.server.errors import NO_STORE
from gatepass.server.routing import route


async def list_consents(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    return JSONResponse({"consents": await consents.of_caller(svc, claims)}, headers=NO_STORE)


async def withdraw(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    await consents.withdraw(svc, claims, request.path_params["client_id"])
    return Response(status_code=204, headers=NO_STORE)


ROUTES = [
    route("/auth/consents", list_consents, ["GET"]),
    route("/auth/consents/{client_id}", withdraw, ["DELETE"]),
]
