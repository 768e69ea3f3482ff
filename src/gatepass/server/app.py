"""The app factory: ``create_app(settings)`` builds a FastAPI app whose lifespan opens the
database, applies migrations and loads the signing keys."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from gatepass.clock import Clock
from gatepass.oauth import opaque_access
from gatepass.oauth.services import Services, open_services
from gatepass.sdk.fastapi import BearerAuth
from gatepass.server import errors
from gatepass.server.cors import SessionCors
from gatepass.server.edge import EdgeFirstFastAPI, edge_verifier
from gatepass.server.maintenance import maintain
from gatepass.server.middleware import BodyLimit, RejectNul, RequestMetrics, SecurityHeaders
from gatepass.server.oauth_lane import oauth_lane
from gatepass.server.routes import admin, api, discovery, oauth, ops, signed_urls
from gatepass.server.routes import auth as session_routes
from gatepass.settings import Settings

log = logging.getLogger("gatepass.server")


def create_app(
    settings: Settings, *, clock: Clock | None = None, freeze_gc: bool = False
) -> FastAPI:
    """``freeze_gc`` (for a server process): after start-up, move everything alive into the
    garbage collector's permanent generation, so full collections stop walking the modules,
    keys and settings on every run (measured: p99 of /api/profile on cache misses 170-191 ms
    -> 56-88 ms, bench/profile_http.py)."""
    edge = edge_verifier(settings, clock)  # GET /edge/verify: URL keys in memory

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = await open_services(settings, clock)
        app.state.services = svc
        app.state.bearer = BearerAuth(
            svc.verifier,
            opaque=functools.partial(opaque_access.resolve, svc, audience=settings.audience),
            public_url=settings.issuer,  # DPoP proofs name the issuer's URLs (RFC 9449 §4.3)
        )
        svc.url_keys.attach(edge)
        if freeze_gc:
            gc.collect()
            gc.freeze()
        refresher = asyncio.create_task(_refresh_keys(svc))
        upkeep = asyncio.create_task(maintain(svc))
        try:
            yield
        finally:
            refresher.cancel()
            upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep
            await svc.close()

    app = EdgeFirstFastAPI(  # a FastAPI answering GET /edge/verify before anything else,
        edge=edge,
        lane=oauth_lane(settings),  # and the OAuth POST endpoints before FastAPI's own work
        title="gatepass",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    errors.install(app)
    for module in (discovery, oauth, api, admin, ops):
        app.include_router(module.router)
    app.include_router(session_routes.router)
    app.include_router(signed_urls.router)
    # innermost first (the last added is the outermost); the OAuth lane repeats this stack
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RejectNul)
    app.add_middleware(SessionCors, origins=settings.allowed_origins)
    return app


async def _refresh_keys(svc: Services) -> None:
    """Pick up rotations made by another instance or the CLI."""
    while True:
        await asyncio.sleep(svc.settings.key_refresh_interval)
        try:
            await svc.keys.reload()
        except Exception:  # noqa: BLE001 - keep serving with the keys we have
            log.warning("could not reload signing keys", exc_info=True)
        try:
            await svc.url_keys.reload()
        except Exception:  # noqa: BLE001 - keep serving with the keys we have
            log.warning("could not reload URL-signing keys", exc_info=True)


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory`` (``gatepass serve --workers N``): settings from the environment."""
    from gatepass import logs
    from gatepass.settings import load_settings

    settings = load_settings()
    logs.configure(settings.log_level)
    return create_app(settings, freeze_gc=True)
