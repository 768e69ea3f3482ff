"""Client registry administration under /admin/clients (Bearer with role ``admin``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from gatepass.core.access_token import AccessClaims
from gatepass.errors import InvalidRequest, NotFound
from gatepass.oauth.clients import create_client, public_view
from gatepass.oauth.services import Services
from gatepass.server.deps import bearer, services
from gatepass.server.errors import NO_STORE
from gatepass.server.forms import read_json_object, text_field

router = APIRouter(prefix="/clients")
admin = bearer(roles=("admin",))


def _str_list(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{name} must be a list of strings.")
    return value


@router.post("", status_code=201)
async def add_client(
    request: Request, _: AccessClaims = Depends(admin), svc: Services = Depends(services)
) -> JSONResponse:
    data = await read_json_object(request)
    ttl = data.get("access_token_ttl")
    if ttl is not None and (type(ttl) is not int):
        raise InvalidRequest("access_token_ttl must be a whole number of seconds.")
    public = data.get("public", False)
    if not isinstance(public, bool):
        raise InvalidRequest("public must be true or false.")
    dpop = data.get("dpop_bound_access_tokens", False)
    if not isinstance(dpop, bool):
        raise InvalidRequest("dpop_bound_access_tokens must be true or false.")
    client, secret = await create_client(
        svc,
        text_field(data, "name", max_len=200) or "",
        grants=_str_list(data, "grants"),
        scope_list=_str_list(data, "scopes"),
        public=public,
        token_format=text_field(data, "token_format", required=False, max_len=16) or "jwt",
        audience=text_field(data, "audience", required=False, max_len=255),
        access_token_ttl=ttl,
        dpop_bound_access_tokens=dpop,
    )
    body = {**public_view(client), "client_secret": secret}
    return JSONResponse(body, status_code=201, headers=NO_STORE)


@router.get("")
async def list_clients(
    _: AccessClaims = Depends(admin), svc: Services = Depends(services)
) -> dict[str, Any]:
    return {"clients": [public_view(c) for c in await svc.clients.list()]}


@router.get("/{client_id}")
async def get_client(
    client_id: str, _: AccessClaims = Depends(admin), svc: Services = Depends(services)
) -> dict[str, Any]:
    client = await svc.clients.get(client_id) if len(client_id) <= 64 else None
    if client is None:
        raise NotFound("No such client.")
    return public_view(client)


@router.delete("/{client_id}", status_code=204)
async def delete_client(
    client_id: str, _: AccessClaims = Depends(admin), svc: Services = Depends(services)
) -> Response:
    if len(client_id) > 64 or not await svc.clients.delete(client_id):
        raise NotFound("No such client.")
    return Response(status_code=204)


@router.post("/{client_id}/rotate-secret")
async def rotate_secret(
    client_id: str, _: AccessClaims = Depends(admin), svc: Services = Depends(services)
) -> JSONResponse:
    secret = await svc.clients.rotate_secret(client_id) if len(client_id) <= 64 else None
    if secret is None:
        raise NotFound("No such confidential client.")
    return JSONResponse({"client_id": client_id, "client_secret": secret}, headers=NO_STORE)
