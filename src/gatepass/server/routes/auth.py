"""Browser sessions for single-page apps (DESIGN "Browser sessions").

The refresh token lives only in a cookie, ``HttpOnly; Secure; SameSite=Strict``, by default
``__Secure-gp_refresh`` with ``Path=/auth`` (it reaches ``/auth/refresh`` and ``/auth/logout``,
nothing outside ``/auth``), or ``__Host-gp_refresh`` with ``Path=/`` (the trade-off is in
``server/refresh_cookie.py``), and never in a body. The cookie endpoints also refuse cross-site
requests beyond SameSite: an ``Origin`` must be the issuer's own or one of
``GATEPASS_ALLOWED_ORIGINS``, and the custom header ``X-Requested-With`` must be present (a
cross-site form or image cannot send it, and a cross-origin script cannot without a CORS
preflight that only allowed origins pass).

``POST /auth/login`` takes one of two bodies: a password (``username``, ``password``), or an
authorization code of a public client (``code``, ``code_verifier``, ``redirect_uri``,
``client_id``) that the app's page received from the hosted login page; the answer is the same.
"""

from __future__ import annotations

from typing import ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.core.cursor import MAX_CURSOR
from gatepass.errors import GatepassError, InvalidRequest
from gatepass.oauth import paging, sessions
from gatepass.oauth.issuance import TokenResponse
from gatepass.oauth.services import Services
from gatepass.server.deps import bearer, client_ip, user_agent
from gatepass.server.errors import NO_STORE, render
from gatepass.server.forms import read_json_object, text_field
from gatepass.server.query import QueryParams
from gatepass.server.refresh_cookie import refresh_cookie
from gatepass.server.routing import route

CSRF_HEADER = "x-requested-with"
PASSWORD_FIELDS = ("username", "password")
CODE_FIELDS = ("code", "code_verifier", "redirect_uri", "client_id")


class CrossSiteRequest(GatepassError):
    error, status = "invalid_request", 403
    default_description: ClassVar[str] = "Cross-site requests may not use this endpoint."


def _caller(request: Request) -> sessions.Caller:
    return sessions.Caller(client_ip(request), user_agent(request))


def _own_origin(issuer: str) -> str:
    scheme, _, rest = issuer.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def guard(request: Request, svc: Services) -> None:
    """The cross-site checks of the cookie endpoints."""
    origin = request.headers.get("origin")
    allowed = {_own_origin(svc.settings.issuer), *svc.settings.allowed_origins}
    if origin is not None and origin not in allowed:
        raise CrossSiteRequest("This origin may not use the session endpoints.")
    if origin is None and request.headers.get("sec-fetch-site") == "cross-site":
        raise CrossSiteRequest()
    if not request.headers.get(CSRF_HEADER):
        raise CrossSiteRequest("The X-Requested-With header is required.")


def _tokens(result: TokenResponse, svc: Services) -> JSONResponse:
    body = {
        "access_token": result.access_token,
        "token_type": "Bearer",
        "expires_in": result.expires_in,
    }
    response = JSONResponse(body, headers=NO_STORE)
    if result.refresh_token is not None:
        response.headers.append(
            "set-cookie",
            refresh_cookie(svc.settings).header(
                result.refresh_token, svc.settings.refresh_token_ttl
            ),
        )
    return response


def _cleared(response: Response, svc: Services) -> Response:
    response.headers.append("set-cookie", refresh_cookie(svc.settings).header("", 0))
    return response


async def login(svc: Services, request: Request) -> Response:
    guard(request, svc)
    data = await read_json_object(request)
    with_password = any(name in data for name in PASSWORD_FIELDS)
    with_code = any(name in data for name in CODE_FIELDS)
    if with_password == with_code:
        raise InvalidRequest(
            "Send either username and password, or code, code_verifier, redirect_uri and client_id."
        )
    if with_code:
        form = {name: text_field(data, name, max_len=2000) or "" for name in CODE_FIELDS}
        return _tokens(await sessions.code_login(svc, form, _caller(request)), svc)
    username = text_field(data, "username", max_len=150) or ""
    password = text_field(data, "password", max_len=1024) or ""
    scope = text_field(data, "scope", required=False, max_len=2000)
    result = await sessions.login(svc, username, password, _caller(request), scope)
    return _tokens(result, svc)


async def refresh(svc: Services, request: Request) -> Response:
    guard(request, svc)
    try:
        token = refresh_cookie(svc.settings).read(request.cookies)
        result = await sessions.refresh(svc, token, _caller(request))
    except GatepassError as exc:
        svc.metrics.token_errors.labels(exc.error).inc()
        return _cleared(render(exc), svc)  # render: as every refusal, its reason goes to the log
    return _tokens(result, svc)


async def logout(svc: Services, request: Request) -> Response:
    guard(request, svc)
    await sessions.logout(svc, refresh_cookie(svc.settings).read(request.cookies), _caller(request))
    return _cleared(Response(status_code=204, headers=NO_STORE), svc)


async def logout_all(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    await sessions.logout_all(svc, claims, _caller(request))
    return _cleared(Response(status_code=204, headers=NO_STORE), svc)


async def list_sessions(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    query = QueryParams(request)
    items, next_cursor = await sessions.sessions_page(
        svc,
        claims,
        limit=query.integer("limit", paging.DEFAULT_LIMIT, low=1, high=paging.MAX_LIMIT),
        after=query.text("cursor", max_len=MAX_CURSOR),
    )
    return JSONResponse({"sessions": items, "next": next_cursor}, headers=NO_STORE)


async def end_session(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    sid = request.path_params["sid"]
    await sessions.end_session(svc, claims, sid, _caller(request))
    return Response(status_code=204, headers=NO_STORE)


async def change_password(svc: Services, request: Request) -> Response:
    claims = await bearer(svc, request)
    data = await read_json_object(request)
    current = text_field(data, "current_password", max_len=1024) or ""
    new = text_field(data, "new_password", max_len=1024) or ""
    await sessions.change_password(svc, claims, current, new, _caller(request))
    return Response(status_code=204, headers=NO_STORE)


ROUTES = [
    route("/auth/login", login, ["POST"]),
    route("/auth/refresh", refresh, ["POST"]),
    route("/auth/logout", logout, ["POST"]),
    route("/auth/logout-all", logout_all, ["POST"]),
    route("/auth/sessions", list_sessions, ["GET"]),
    route("/auth/sessions/{sid}", end_session, ["DELETE"]),
    route("/auth/password", change_password, ["POST"]),
]
