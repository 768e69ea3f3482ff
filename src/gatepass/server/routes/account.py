"""The signed-in user's account API under /auth (Bearer, like ``/auth/sessions``): profile,
"sign out everywhere else", and the account's security activity (``oauth/account.py``).

Changing the profile takes a token of a first-party client (the built-in ``gatepass``, or one
registered ``--first-party``): an app the user merely signed in to must not be able to change
the address their security alerts go to.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.core.access_token import AccessClaims
from gatepass.errors import InsufficientScope
from gatepass.oauth import account
from gatepass.oauth.first_party import FIRST_PARTY_CLIENT_ID
from gatepass.oauth.services import Services
from gatepass.server.deps import bearer, client_ip, user_agent
from gatepass.server.errors import NO_STORE
from gatepass.server.forms import only_fields, read_json_object, text_field
from gatepass.server.query import QueryParams
from gatepass.server.routing import route

MAX_PAGE = 200


async def get_profile(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    return JSONResponse(await account.profile(svc, claims), headers=NO_STORE)


async def _first_party(svc: Services, claims: AccessClaims) -> None:
    if claims.client_id == FIRST_PARTY_CLIENT_ID:
        return
    client = await svc.clients.cached(claims.client_id)
    if client is None or not client.first_party:
        raise InsufficientScope("Only a first-party app may change the profile.")


async def patch_profile(svc: Services, request: Request) -> Response:
    """``{"name": ..., "email": ...}`` (either or both; null clears)."""
    claims = await bearer(svc, request)
    await _first_party(svc, claims)
    data = await read_json_object(request)
    only_fields(data, ("name", "email"), at_least_one=True)
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = text_field(data, "name", required=False, max_len=200)
    if "email" in data:
        changes["email"] = text_field(data, "email", required=False, max_len=account.MAX_EMAIL)
    body = await account.update_profile(
        svc, claims, **changes, ip=client_ip(request), user_agent=user_agent(request)
    )
    return JSONResponse(body, headers=NO_STORE)


async def end_other_sessions(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    ended = await account.end_other_sessions(
        svc, claims, ip=client_ip(request), user_agent=user_agent(request)
    )
    return JSONResponse({"revoked_sessions": ended}, headers=NO_STORE)


async def activity(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    query = QueryParams(request)
    items, next_cursor = await account.activity(
        svc,
        claims,
        limit=query.integer("limit", 50, low=1, high=MAX_PAGE),
        after=query.text("cursor", max_len=512),
    )
    return JSONResponse({"events": items, "next": next_cursor}, headers=NO_STORE)


ROUTES = [
    route("/auth/profile", get_profile, ["GET"]),
    route("/auth/profile", patch_profile, ["PATCH"]),
    route("/auth/sessions/end-others", end_other_sessions, ["POST"]),
    route("/auth/activity", activity, ["GET"]),
]
