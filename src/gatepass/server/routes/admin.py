"""Administration: Bearer with role ``admin`` and scope ``gatepass:admin`` (oauth/scopes.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.core.cursor import MAX_CURSOR
from gatepass.core.user_agent import parse as parse_user_agent
from gatepass.errors import InvalidRequest, NotFound
from gatepass.oauth import admin_keys, admin_users, paging
from gatepass.oauth.keys import PURPOSE_CHOICES
from gatepass.oauth.services import Services
from gatepass.server.deps import admin, admin_action
from gatepass.server.forms import read_json_object, text_field
from gatepass.server.query import QueryParams
from gatepass.server.routes import clients
from gatepass.server.routing import route


async def add_user(svc: Services, request: Request) -> Response:
    who = await admin_action(svc, request)
    data = await read_json_object(request)
    username = text_field(data, "username", max_len=150)
    password = text_field(data, "password", max_len=1024)
    roles = data.get("roles", [])
    if not isinstance(roles, list):
        raise InvalidRequest("roles must be a list of strings.")
    email_verified = data.get("email_verified", False)
    if not isinstance(email_verified, bool):
        raise InvalidRequest("email_verified must be true or false.")
    user = await admin_users.create(
        svc,
        who,
        username or "",
        password or "",
        roles,
        email=text_field(data, "email", required=False, max_len=254),
        name=text_field(data, "name", required=False, max_len=200),
        email_verified=email_verified,
    )
    return JSONResponse(
        {
            "id": user.id,
            "username": user.username,
            "roles": user.roles,
            "email": user.email,
            "email_verified": bool(user.email_verified),
            "name": user.name,
            "created_at": user.created_at,
        },
        status_code=201,
    )


async def user_sessions(svc: Services, request: Request) -> Response:
    await admin(svc, request)
    user_id = request.path_params["user_id"]
    if len(user_id) > 64 or await svc.users.by_id(user_id) is None:
        raise NotFound("No such user.")
    query = QueryParams(request)
    limit = query.integer("limit", paging.DEFAULT_LIMIT, low=1, high=paging.MAX_LIMIT)
    rows, next_cursor = paging.split(
        await svc.logins.page_of_user(
            user_id,
            active_at=svc.clock.now(),
            limit=limit + 1,
            after=paging.position(query.text("cursor", max_len=MAX_CURSOR)),
        ),
        limit,
        lambda r: (r.created_at, r.id),
    )
    return JSONResponse(
        {
            "next": next_cursor,
            "sessions": [
                {
                    "id": r.id,
                    "created": r.created_at,
                    "last_used": r.last_used_at,
                    "expires": r.expires_at,
                    "client_id": r.client_id,
                    "user_agent": r.user_agent,
                    "browser": parse_user_agent(r.user_agent).browser,
                    "os": parse_user_agent(r.user_agent).os,
                    "ip": r.ip,
                }
                for r in rows
            ],
        }
    )


async def revoke_user(svc: Services, request: Request) -> Response:
    """End every login of the user at once, with every access token issued to them."""
    who = await admin_action(svc, request)
    revoked = await admin_users.end_sessions(svc, who, request.path_params["user_id"])
    return JSONResponse({"revoked_sessions": revoked})


async def rotate_keys(svc: Services, request: Request) -> Response:
    """Rotate the signing keys. An optional JSON body: ``{"revoke_old": true}`` makes it an
    emergency rotation (the old keys are retired at once instead of when their tokens expire);
    ``{"purpose": "access" | "id_token" | "all"}`` names the key ring (default ``all``: the
    access-token keys and the ID-token keys)."""
    who = await admin_action(svc, request)
    revoke_old, purpose = False, "all"
    if await request.body():
        data = await read_json_object(request)
        revoke_old = data.get("revoke_old", False)
        if not isinstance(revoke_old, bool):
            raise InvalidRequest("revoke_old must be true or false.")
        purpose = data.get("purpose", "all")
        if not isinstance(purpose, str) or purpose not in PURPOSE_CHOICES:
            raise InvalidRequest(f"purpose must be one of {', '.join(PURPOSE_CHOICES)}.")
    await admin_keys.rotate_token_keys(svc, who, revoke_old=revoke_old, purpose=purpose)
    now = svc.clock.now()
    return JSONResponse(
        {
            "active": svc.keys.ring.active().kid,
            "id_token_active": svc.id_keys.ring.active().kid,
            "keys": [
                {"kid": k.kid, "alg": k.alg, "state": k.state, "purpose": m.purpose}
                for m in (svc.keys, svc.id_keys)
                for k in m.ring.published(now)
            ],
        }
    )


ROUTES = [
    *clients.ROUTES,
    route("/admin/users", add_user, ["POST"]),
    route("/admin/users/{user_id}/sessions", user_sessions, ["GET"]),
    route("/admin/users/{user_id}/revoke", revoke_user, ["POST"]),
    route("/admin/keys/rotate", rotate_keys, ["POST"]),
]
