"""``POST /signed-urls`` (Bearer, with the signing role or scope): signed URLs and playback URLs.

``GET /edge/verify`` is not here: it is the app's first middleware (``server/edge.py``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.errors import InvalidRequest
from gatepass.oauth import signed_urls
from gatepass.oauth.services import Services
from gatepass.server.deps import bearer
from gatepass.server.errors import NO_STORE
from gatepass.server.forms import read_json_object, text_field
from gatepass.server.routing import route

_FIELDS = frozenset({"path", "prefix", "video_id", "format", "expires_in", "bind_ip"})


def _expires_in(data: dict[str, Any]) -> int | None:
    value = data.get("expires_in")
    if value is None:
        return None
    if type(value) is not int:
        raise InvalidRequest("expires_in must be a whole number of seconds.")
    return value


async def create_signed_url(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    signed_urls.may_sign(svc.settings, claims)
    data = await read_json_object(request)
    unknown = set(data) - _FIELDS
    if unknown:
        raise InvalidRequest(f"Unknown field: {sorted(unknown)[0][:40]}.")
    fmt = text_field(data, "format", required=False, max_len=16) or "hmac"
    bind_ip = text_field(data, "bind_ip", required=False, max_len=64)
    expires_in = _expires_in(data)
    now = svc.clock.now()
    given = [name for name in ("path", "prefix", "video_id") if data.get(name) is not None]
    if fmt == "jwt":
        if given != ["video_id"]:
            raise InvalidRequest('format "jwt" takes video_id (and no path or prefix).')
        result = signed_urls.sign_playback(
            svc.settings,
            svc.url_keys,
            now,
            subject=claims.sub,
            video_id=text_field(data, "video_id", max_len=128) or "",
            expires_in=expires_in,
            bind_ip=bind_ip,
        )
    elif fmt in ("hmac", "nginx"):
        if len(given) != 1 or given[0] == "video_id":
            raise InvalidRequest("Give exactly one of path or prefix.")
        result = signed_urls.sign_url(
            svc.settings,
            svc.url_keys,
            now,
            scope=text_field(data, given[0], max_len=2048) or "",
            prefix=given[0] == "prefix",
            expires_in=expires_in,
            bind_ip=bind_ip,
            fmt="nginx" if fmt == "nginx" else "hmac",
        )
    else:
        raise InvalidRequest('format must be "hmac", "jwt" or "nginx".')
    return JSONResponse(result.body(), headers=NO_STORE)


ROUTES = [route("/signed-urls", create_signed_url, ["POST"])]
