"""OpenID Connect Core 1.0 §5.3 UserInfo at ``/oauth/userinfo`` (GET and POST).

The access token comes through ``server/deps.bearer`` (Bearer, or DPoP with its proof), errors
as RFC 6750 §3 says: no token 401, a bad one 401 ``invalid_token``, one without ``openid``
403 ``insufficient_scope``. A POST may instead carry it in a form-encoded body as
``access_token`` (RFC 6750 §2.2, which §5.3.1 allows); a token sent both ways is 400
``invalid_request`` (RFC 6750 §2). Never from a query string (§2.3 is not offered).

The claims follow the token's scope (§5.4): ``sub`` always, ``preferred_username`` and
``name`` with ``profile``, ``email`` and ``email_verified`` with ``email``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.errors import InvalidRequest, InvalidToken
from gatepass.oauth.id_tokens import OPENID_SCOPE
from gatepass.oauth.services import Services
from gatepass.server.deps import bearer
from gatepass.server.errors import NO_STORE
from gatepass.server.forms import media_type, read_form
from gatepass.server.routing import route

FORM = "application/x-www-form-urlencoded"
_TWICE = "The access token must be sent one way only: the Authorization header or the body."


async def _body_token(request: Request) -> str | None:
    """The ``Authorization`` to verify when a POST's form-encoded body carries ``access_token``
    (RFC 6750 §2.2), else None (the request's own header, if any)."""
    if request.method != "POST" or media_type(request) != FORM:
        return None
    token = (await read_form(request)).get("access_token")
    if token is None:
        return None
    if "authorization" in request.headers:
        raise InvalidRequest(
            _TWICE,
            headers={
                "WWW-Authenticate": 'Bearer realm="gatepass", error="invalid_request", '
                f'error_description="{_TWICE}"'
            },
        )
    return f"Bearer {token}"


async def userinfo(svc: Services, request: Request) -> Response:
    authorization = await _body_token(request)
    claims = await bearer(svc, request, scopes=(OPENID_SCOPE,), authorization=authorization)
    user = await svc.users.by_id(claims.sub) if len(claims.sub) <= 36 else None
    if user is None or user.disabled:  # a client's own token, or the user is gone
        raise InvalidToken("The access token does not belong to a user.")
    body: dict[str, object] = {"sub": user.id}
    if "profile" in claims.scope:
        body["preferred_username"] = user.username
        if user.name:
            body["name"] = user.name
    if "email" in claims.scope and user.email:
        body["email"] = user.email
        body["email_verified"] = bool(user.email_verified)
    return JSONResponse(body, headers=NO_STORE)


ROUTES = [route("/oauth/userinfo", userinfo, ["GET", "POST"])]
