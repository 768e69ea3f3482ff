"""Administration (Bearer with role ``admin``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from gatepass.core.access_token import AccessClaims
from gatepass.errors import InvalidRequest, NotFound
from gatepass.oauth import sessions
from gatepass.oauth.services import Services
from gatepass.oauth.users import create_user
from gatepass.server.deps import bearer, client_ip, services, user_agent
from gatepass.server.forms import read_json_object, text_field
from gatepass.server.routes import clients

router = APIRouter(prefix="/admin")
admin = bearer(roles=("admin",))
router.include_router(clients.router)


@router.post("/users", status_code=201)
async def add_user(
    request: Request, _: AccessClaims = Depends(admin), svc: Services = Depends(services)
) -> JSONResponse:
    data = await read_json_object(request)
    username = text_field(data, "username", max_len=150)
    password = text_field(data, "password", max_len=1024)
    roles = data.get("roles", [])
    if not isinstance(roles, list):
        raise InvalidRequest("roles must be a list of strings.")
    user = await create_user(svc, username or "", password or "", roles)
    return JSONResponse(
        {
            "id": user.id,
            "username": user.username,
            "roles": user.roles,
            "created_at": user.created_at,
        },
        status_code=201,
    )


@router.get("/users/{user_id}/sessions")
async def user_sessions(
    user_id: str, _: AccessClaims = Depends(admin), svc: Services = Depends(services)
) -> dict[str, Any]:
    if len(user_id) > 64 or await svc.users.by_id(user_id) is None:
        raise NotFound("No such user.")
    rows = await svc.logins.of_user(user_id, active_at=svc.clock.now())
    return {
        "sessions": [
            {
                "id": r.id,
                "created": r.created_at,
                "last_used": r.last_used_at,
                "expires": r.expires_at,
                "client_id": r.client_id,
                "user_agent": r.user_agent,
                "ip": r.ip,
            }
            for r in rows
        ]
    }


@router.post("/users/{user_id}/revoke")
async def revoke_user(
    user_id: str,
    request: Request,
    claims: AccessClaims = Depends(admin),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    """End every login of the user at once, with every access token issued to them."""
    caller = sessions.Caller(client_ip(request), user_agent(request))
    revoked = await sessions.force_logout(svc, user_id, by=claims.sub, caller=caller)
    return {"revoked_sessions": revoked}


@router.post("/keys/rotate")
async def rotate_keys(
    request: Request, _: AccessClaims = Depends(admin), svc: Services = Depends(services)
) -> dict[str, Any]:
    """Rotate the signing keys. An optional JSON body ``{"revoke_old": true}`` makes it an
    emergency rotation: the old keys are retired at once instead of when their tokens expire."""
    revoke_old = False
    if await request.body():
        revoke_old = (await read_json_object(request)).get("revoke_old", False)
        if not isinstance(revoke_old, bool):
            raise InvalidRequest("revoke_old must be true or false.")
    ring = await svc.keys.rotate(revoke_old=revoke_old)
    now = svc.clock.now()
    return {
        "active": ring.active().kid,
        "keys": [{"kid": k.kid, "alg": k.alg, "state": k.state} for k in ring.published(now)],
    }


@router.get("/events")
async def events(
    _: AccessClaims = Depends(admin),
    svc: Services = Depends(services),
    after: int = Query(0, ge=0, le=2**62),
    limit: int = Query(50, ge=1, le=500),
    type: str | None = Query(None, max_length=64),  # noqa: A002
) -> dict[str, Any]:
    rows = await svc.events.page(after_id=after, limit=limit, type_=type)
    items = [
        {
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
        for e in rows
    ]
    return {"events": items, "next": items[-1]["id"] if len(items) == limit else None}
