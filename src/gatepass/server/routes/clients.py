"""Client registry administration under /admin/clients (as the rest of ``/admin``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.core.cursor import MAX_CURSOR
from gatepass.errors import InvalidRequest, NotFound
from gatepass.oauth import admin_clients, paging
from gatepass.oauth.clients import public_view
from gatepass.oauth.services import Services
from gatepass.server.deps import admin, admin_action
from gatepass.server.errors import NO_STORE
from gatepass.server.forms import read_json_object, text_field
from gatepass.server.query import QueryParams
from gatepass.server.routing import route


def _str_list(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{name} must be a list of strings.")
    return value


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false.")
    return value


async def add_client(svc: Services, request: Request) -> Response:
    who = await admin_action(svc, request)
    data = await read_json_object(request)
    ttl = data.get("access_token_ttl")
    if ttl is not None and (type(ttl) is not int):
        raise InvalidRequest("access_token_ttl must be a whole number of seconds.")
    public = _flag(data, "public")
    dpop = _flag(data, "dpop_bound_access_tokens")
    client, secret = await admin_clients.register(
        svc,
        who,
        text_field(data, "name", max_len=200) or "",
        grants=_str_list(data, "grants"),
        scope_list=_str_list(data, "scopes"),
        public=public,
        token_format=text_field(data, "token_format", required=False, max_len=16) or "jwt",
        audience=text_field(data, "audience", required=False, max_len=255),
        access_token_ttl=ttl,
        dpop_bound_access_tokens=dpop,
        redirects=_str_list(data, "redirect_uris"),
        post_logout_redirects=_str_list(data, "post_logout_redirect_uris"),
        first_party=_flag(data, "first_party"),
    )
    body = {**public_view(client), "client_secret": secret}
    return JSONResponse(body, status_code=201, headers=NO_STORE)


async def list_clients(svc: Services, request: Request) -> Response:
    await admin(svc, request)
    query = QueryParams(request)
    limit = query.integer("limit", paging.DEFAULT_LIMIT, low=1, high=paging.MAX_LIMIT)
    after = paging.position(query.text("cursor", max_len=MAX_CURSOR))
    rows, next_cursor = paging.split(
        await svc.clients.page(limit=limit + 1, after=after),
        limit,
        lambda c: (c.created_at, c.id),
    )
    return JSONResponse({"clients": [public_view(c) for c in rows], "next": next_cursor})


async def get_client(svc: Services, request: Request) -> Response:
    await admin(svc, request)
    client_id = request.path_params["client_id"]
    client = await svc.clients.get(client_id) if len(client_id) <= 64 else None
    if client is None:
        raise NotFound("No such client.")
    return JSONResponse(public_view(client))


async def delete_client(svc: Services, request: Request) -> Response:
    who = await admin_action(svc, request)
    await admin_clients.delete(svc, who, request.path_params["client_id"])
    return Response(status_code=204)


async def rotate_secret(svc: Services, request: Request) -> Response:
    who = await admin_action(svc, request)
    client_id = request.path_params["client_id"]
    secret = await admin_clients.rotate_secret(svc, who, client_id)
    return JSONResponse({"client_id": client_id, "client_secret": secret}, headers=NO_STORE)


ROUTES = [
    route("/admin/clients", add_client, ["POST"]),
    route("/admin/clients", list_clients, ["GET"]),
    route("/admin/clients/{client_id}", get_client, ["GET"]),
    route("/admin/clients/{client_id}", delete_client, ["DELETE"]),
    route("/admin/clients/{client_id}/rotate-secret", rotate_secret, ["POST"]),
]
