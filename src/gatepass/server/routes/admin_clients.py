"""Editing a client under /admin/clients (as the rest of ``/admin``); registering, listing,
rotating a secret and deleting are in ``server/routes/clients.py``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.errors import InvalidRequest
from gatepass.oauth.admin_clients import EDITABLE, update_client
from gatepass.oauth.clients import public_view
from gatepass.oauth.services import Services
from gatepass.server.deps import admin_action
from gatepass.server.errors import NO_STORE
from gatepass.server.forms import only_fields, read_json_object, str_list_field, text_field
from gatepass.server.routing import route


def _changes(data: dict[str, Any]) -> dict[str, Any]:
    only_fields(data, EDITABLE, at_least_one=True)
    out: dict[str, Any] = {}
    if "name" in data:
        out["name"] = text_field(data, "name", max_len=200)
    if "token_format" in data:
        out["token_format"] = text_field(data, "token_format", max_len=16)
    for name in ("grants", "scopes"):
        if name in data:
            value = str_list_field(data, name)
            if value is None:
                raise InvalidRequest(f"{name} must be a list of strings.")
            out[name] = value
    if "audience" in data:  # null: the server's default audience
        out["audience"] = text_field(data, "audience", required=False, max_len=255)
    if "access_token_ttl" in data:  # null: the server's default lifetime
        ttl = data["access_token_ttl"]
        if ttl is not None and type(ttl) is not int:
            raise InvalidRequest("access_token_ttl must be a whole number of seconds.")
        out["access_token_ttl"] = ttl
    return out


async def patch_client(svc: Services, request: Request) -> Response:
    who = await admin_action(svc, request)
    changes = _changes(await read_json_object(request))
    client = await update_client(svc, who, request.path_params["client_id"], changes)
    return JSONResponse(public_view(client), headers=NO_STORE)


ROUTES = [route("/admin/clients/{client_id}", patch_client, ["PATCH"])]
