"""User accounts under /admin/users (as the rest of ``/admin``): search, one user, disable and
enable, roles, a forced password reset, a new password (``oauth/admin_users.py``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.oauth import admin_users
from gatepass.oauth.services import Services
from gatepass.server.deps import admin, admin_action
from gatepass.server.errors import NO_STORE
from gatepass.server.forms import (
    bool_field,
    only_fields,
    read_json_object,
    str_list_field,
    text_field,
)
from gatepass.server.query import QueryParams
from gatepass.server.routing import route

MAX_PAGE = 200


async def search_users(svc: Services, request: Request) -> Response:
    await admin(svc, request)
    query = QueryParams(request)
    prefix = query.text("q", max_len=320)
    limit = query.integer("limit", 50, low=1, high=MAX_PAGE)
    after = query.text("cursor", max_len=512)
    items, next_cursor = await admin_users.search(svc, prefix, limit=limit, after=after)
    return JSONResponse({"users": items, "next": next_cursor}, headers=NO_STORE)


async def get_user(svc: Services, request: Request) -> Response:
    await admin(svc, request)
    user = await admin_users.find(svc, request.path_params["user_id"])
    return JSONResponse(await admin_users.describe(svc, user), headers=NO_STORE)


async def patch_user(svc: Services, request: Request) -> Response:
    """``{"disabled": bool, "roles": [...]}`` (either or both)."""
    who = await admin_action(svc, request)
    data = await read_json_object(request)
    only_fields(data, ("disabled", "roles"), at_least_one=True)
    user = await admin_users.update(
        svc,
        who,
        request.path_params["user_id"],
        disabled=bool_field(data, "disabled"),
        roles=str_list_field(data, "roles", max_items=admin_users.MAX_ROLES),
    )
    return JSONResponse(await admin_users.describe(svc, user), headers=NO_STORE)


async def force_password_reset(svc: Services, request: Request) -> Response:
    who = await admin_action(svc, request)
    ended = await admin_users.force_password_reset(svc, who, request.path_params["user_id"])
    return JSONResponse({"revoked_sessions": ended, "password_reset_required": True})


async def set_password(svc: Services, request: Request) -> Response:
    """``{"password": "..."}``: set by the administrator; clears a forced reset."""
    who = await admin_action(svc, request)
    data = await read_json_object(request)
    only_fields(data, ("password",), at_least_one=True)
    password = text_field(data, "password", max_len=1024) or ""
    await admin_users.set_password(svc, who, request.path_params["user_id"], password)
    return Response(status_code=204, headers=NO_STORE)


ROUTES = [
    route("/admin/users", search_users, ["GET"]),
    route("/admin/users/{user_id}", get_user, ["GET"]),
    route("/admin/users/{user_id}", patch_user, ["PATCH"]),
    route("/admin/users/{user_id}/force-password-reset", force_password_reset, ["POST"]),
    route("/admin/users/{user_id}/password", set_password, ["POST"]),
]
