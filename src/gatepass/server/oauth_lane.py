"""The OAuth lane: ``POST /oauth/token``, ``/oauth/introspect`` and ``/oauth/revoke`` answered
before FastAPI, with the same answers, headers, limits and metrics as through FastAPI.

Why: these three endpoints are what gatepass is benchmarked on against node oidc-provider. In
process (the ASGI app called directly, uvloop, SQLite), one ``client_credentials`` JWT request
through the FastAPI app cost 122-125 µs, of which gatepass's own work (``token_endpoint.token``
and the ES256 signature) was about 35 µs; the rest was FastAPI's per-request machinery (its
telemetry check, exception middleware, ``AsyncExitStack`` middleware, routing over every route,
dependency solving, building the request). Through the lane: 64-65 µs (same tree with only the
lane's files reverted, runs interleaved); an opaque-token introspection 121-124 -> 60-67 µs.

What: ``EdgeFirstFastAPI.__call__`` (``server/edge.py``) hands a POST to one of these exact
paths to ``OAuthLane.app``: a dispatcher keyed on the path, calling the same endpoint functions
as the FastAPI routes (``routes/oauth.py``), wrapped in the same middleware classes as the
FastAPI app, in the same order, and outermost Starlette's ``ServerErrorMiddleware`` with the
same handler, as FastAPI builds it. A ``GatepassError`` is rendered by ``errors.render``, as the
FastAPI app's exception handler does; anything else becomes the generic 500 ``server_error`` of
``errors.unexpected`` and is re-raised for the server to log, as FastAPI does. Other methods on
these paths (FastAPI's 405), and every request before start-up has opened the services, go on to
FastAPI as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi.routing import APIRoute
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from gatepass.errors import GatepassError
from gatepass.server import errors
from gatepass.server.middleware import BodyLimit, RejectNul, RequestMetrics, SecurityHeaders
from gatepass.server.routes import oauth
from gatepass.settings import Settings
from gatepass.storage.db import UNAVAILABLE


class _Dispatch:
    """The endpoint for the exact path; a ``GatepassError`` rendered inside the middleware, where
    FastAPI's ``ExceptionMiddleware`` renders it (so it gets the security headers)."""

    def __init__(self, table: Mapping[str, tuple[oauth.Endpoint, BaseRoute]]) -> None:
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint, route = self.table[scope["path"]]
        scope["route"] = route  # what FastAPI's routing sets: RequestMetrics labels by its path
        try:
            response = await endpoint(scope["app"].state.services, Request(scope, receive))
        except GatepassError as exc:
            response = errors.render(exc)
        except UNAVAILABLE as exc:
            response = errors.database_unavailable(exc)
        await response(scope, receive, send)


@dataclass(frozen=True)
class OAuthLane:
    """What ``EdgeFirstFastAPI`` needs: the paths to hand over, and the app that answers them."""

    paths: frozenset[str]  # the exact paths answered here (POST only)
    app: ASGIApp  # needs scope["app"] set to the FastAPI app, whose state holds the services


def oauth_lane(settings: Settings) -> OAuthLane:
    # the FastAPI routes' own objects, so scope["route"] is what FastAPI's routing would set
    routes = {
        route.path: route
        for route in oauth.router.routes
        if isinstance(route, APIRoute) and "POST" in (route.methods or ())
    }
    table = {path: (endpoint, routes[path]) for path, endpoint in oauth.ENDPOINTS.items()}
    # The FastAPI app's stack for these paths, built from the inside out, in the order in which
    # ``create_app`` adds it (``add_middleware`` makes the last added the outermost). Left out:
    # ``SessionCors``, which acts only on ``/auth/``; FastAPI's ``max_body_size`` layer, which
    # gatepass leaves unset (``BodyLimit`` is its limit); FastAPI's own telemetry (off unless
    # OpenTelemetry is set up; these requests would get no span from it).
    app: ASGIApp = _Dispatch(table)
    app = SecurityHeaders(app)
    app = RequestMetrics(app)
    app = BodyLimit(app, limit=settings.max_body_bytes)
    app = RejectNul(app)
    # outermost, as FastAPI builds it: the app's handler for Exception (create_app never sets debug)
    app = ServerErrorMiddleware(app, handler=errors.unexpected, debug=False)
    return OAuthLane(paths=frozenset(table), app=app)
