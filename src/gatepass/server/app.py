"""The app factory: ``create_app(settings)`` builds the Starlette app, its one middleware stack
and its routes; its lifespan opens the database, applies migrations and loads the signing keys.

Why Starlette and not FastAPI: ``docs/http-stack.md`` (the measurements)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp

from gatepass import tailtrace
from gatepass.clock import Clock
from gatepass.oauth import opaque_access
from gatepass.oauth.services import Services, open_services
from gatepass.server import errors
from gatepass.server.cors import Cors
from gatepass.server.edge import EdgeVerify, edge_verifier
from gatepass.server.maintenance import maintain
from gatepass.server.middleware import BodyLimit, RejectNul, RequestMetrics, SecurityHeaders
from gatepass.server.routes import (
    account,
    account_devices,
    account_pages,
    admin,
    admin_clients,
    admin_events,
    admin_keys,
    admin_users,
    api,
    authorize,
    consents,
    console_clients,
    console_events,
    console_keys,
    console_login,
    console_users,
    discovery,
    logout,
    oauth,
    ops,
    signed_urls,
    userinfo,
)
from gatepass.server.routes import auth as session_routes
from gatepass.settings import Settings

log = logging.getLogger("gatepass.server")

GC_YOUNG_THRESHOLD = 10_000  # allocations between collections of the youngest generation


# every route, in matching order (the hot OAuth endpoints first: fewer patterns tried)
ROUTES = [
    *oauth.ROUTES,
    *userinfo.ROUTES,
    *discovery.ROUTES,
    *api.ROUTES,
    *admin.ROUTES,
    *admin_users.ROUTES,
    *admin_clients.ROUTES,
    *admin_keys.ROUTES,
    *admin_events.ROUTES,
    *ops.ROUTES,
    *session_routes.ROUTES,
    *account.ROUTES,
    *signed_urls.ROUTES,
    *authorize.ROUTES,  # and the hosted login and consent pages, and their stylesheet
    *logout.ROUTES,
    *consents.ROUTES,
    *console_login.ROUTES,  # the account pages' and admin console's sign-in
    *account_pages.ROUTES,
    *account_devices.ROUTES,
    *console_users.ROUTES,  # the admin console, /console
    *console_clients.ROUTES,
    *console_keys.ROUTES,
    *console_events.ROUTES,
]


def create_app(
    settings: Settings, *, clock: Clock | None = None, freeze_gc: bool = False
) -> Starlette:
    """``freeze_gc`` (for a server process): after start-up, move everything alive into the
    garbage collector's permanent generation, so full collections stop walking the modules,
    keys and settings on every run (measured: p99 of /api/profile on cache misses 170-191 ms
    -> 56-88 ms, bench/profile_http.py); and collect the youngest generation every
    ``GC_YOUNG_THRESHOLD`` allocations instead of CPython's 700, so that the objects of the
    requests in flight are not walked, and moved to older generations, several times per
    request (measured: 5% fewer instructions per request, docs/http-stack.md)."""
    edge = edge_verifier(settings, clock)  # GET /edge/verify: URL keys in memory

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        svc = await open_services(settings, clock)
        app.state.services = svc
        # how server/deps.bearer resolves opaque access tokens: for this server's own audience
        app.state.opaque = functools.partial(opaque_access.resolve, svc, audience=settings.audience)
        svc.url_keys.attach(edge)
        if freeze_gc:
            gc.collect()
            gc.freeze()
            _, older, oldest = gc.get_threshold()
            gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
        refresher = asyncio.create_task(_refresh_keys(svc))
        upkeep = asyncio.create_task(maintain(svc))
        try:
            async with tailtrace.running():  # only with GATEPASS_TAIL_TRACE (bench)
                yield
        finally:
            refresher.cancel()
            upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep
            await svc.close()

    # The one middleware stack, every layer, outermost first; under the last, errors.Answers
    # turns exceptions into answers (errors.HANDLERS), then the router.
    middleware = [
        *([Middleware(tailtrace.RequestTimes)] if tailtrace.DIR else []),
        # GET /edge/verify answered here, nothing else; an unexpected error in it answered as
        # ServerErrorMiddleware would
        Middleware(EdgeVerify, verifier=edge, unexpected=errors.unexpected),
        # anything unexpected: a generic 500 (errors.unexpected), the traceback only in the log
        Middleware(ServerErrorMiddleware, handler=errors.unexpected),
        Middleware(Cors, origins=settings.allowed_origins),  # /auth/, OAuth, /.well-known/ only
        Middleware(RejectNul, pages=frozenset({"/oauth/authorize", "/oauth/logout"})),
        Middleware(BodyLimit, limit=settings.max_body_bytes, timeout=settings.body_timeout),
        Middleware(RequestMetrics),
        Middleware(SecurityHeaders),
    ]
    return App(
        routes=ROUTES,
        middleware=middleware,
        exception_handlers=errors.HANDLERS,
        lifespan=lifespan,
    )


class App(Starlette):
    """Starlette, with its middleware stack exactly as listed in ``create_app`` (Starlette puts
    its own ``ServerErrorMiddleware`` first and ``ExceptionMiddleware`` last): the list names
    every layer, so ``/edge/verify`` is answered before any other, and ``errors.Answers``
    replaces ``ExceptionMiddleware`` (the same answers, less work per request)."""

    def build_middleware_stack(self) -> ASGIApp:
        handlers = {k: v for k, v in self.exception_handlers.items() if k not in (500, Exception)}
        app: ASGIApp = errors.Answers(self.router, handlers)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app


async def _refresh_keys(svc: Services) -> None:
    """Pick up rotations made by another instance or the CLI."""
    while True:
        await asyncio.sleep(svc.settings.key_refresh_interval)
        try:
            with tailtrace.span("keys.reload"):
                await svc.keys.reload()
                await svc.id_keys.reload()
        except Exception:  # noqa: BLE001 - keep serving with the keys we have
            log.warning("could not reload signing keys", exc_info=True)
        try:
            with tailtrace.span("url_keys.reload"):
                await svc.url_keys.reload()
        except Exception:  # noqa: BLE001 - keep serving with the keys we have
            log.warning("could not reload URL-signing keys", exc_info=True)


def app_from_env() -> Starlette:
    """For ``uvicorn --factory`` (``gatepass serve --workers N``): settings from the environment."""
    from gatepass import logs
    from gatepass.settings import load_settings

    settings = load_settings()
    logs.configure(settings.log_level)
    return create_app(settings, freeze_gc=True)
