"""Keys under /admin (as the rest of ``/admin``): every token-signing and URL-signing key
listed (never private material), and URL-signing keys rotated (token-signing keys rotate
through ``POST /admin/keys/rotate``, ``server/routes/admin.py``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.oauth import admin_keys
from gatepass.oauth.key_listing import all_keys
from gatepass.oauth.services import Services
from gatepass.server.deps import admin, admin_action
from gatepass.server.errors import NO_STORE
from gatepass.server.forms import only_fields, read_json_object
from gatepass.server.routing import route


async def list_keys(svc: Services, request: Request) -> Response:
    await admin(svc, request)
    return JSONResponse(await all_keys(svc), headers=NO_STORE)


async def rotate_url_keys(svc: Services, request: Request) -> Response:
    """The next URL key signs, the active one is still accepted until every URL it signed has
    expired (``UrlKeyManager.rotate``); other instances pick it up on their next reload."""
    who = await admin_action(svc, request)
    if await request.body():  # none, or an empty JSON object
        only_fields(await read_json_object(request), (), at_least_one=False)
    active = await admin_keys.rotate_url_keys(svc, who)
    listed = (await all_keys(svc))["url_keys"]
    return JSONResponse({"active": active, "keys": listed}, headers=NO_STORE)


ROUTES = [
    route("/admin/keys", list_keys, ["GET"]),
    route("/admin/url-keys/rotate", rotate_url_keys, ["POST"]),
]
