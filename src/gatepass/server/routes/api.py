"""The protected example API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.oauth.services import Services
from gatepass.server.deps import bearer
from gatepass.server.routing import route


async def profile(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    return JSONResponse(
        {
            "message": f"Welcome user {claims.sub}",
            "sub": claims.sub,
            "roles": sorted(claims.roles),
            "scope": claims.scope_str,
        }
    )


ROUTES = [route("/api/profile", profile, ["GET"])]
