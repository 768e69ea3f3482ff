"""``GET /edge/verify``: the target of an nginx ``auth_request``, answered before routing.

The app itself (``EdgeFirstFastAPI.__call__``), for the one path ``/edge/verify``, reads
``X-Original-URI`` (nginx ``$request_uri``: the path and query as the client sent them) and
``X-Real-IP``, checks the signed URL or playback JWT with the keys in memory
(``SignedUrlVerifier``; no database, no network) and answers 204 (let it through) or 403
(refuse), with no body. Every other request goes on to the app (or to the OAuth lane, below).
Skipping FastAPI's per-request telemetry check, routing, dependencies and every middleware is
what keeps this path within a small factor of nginx itself.

The same ``__call__`` hands a POST to ``/oauth/token``, ``/oauth/introspect`` or
``/oauth/revoke`` to the OAuth lane (``server/oauth_lane.py``): those endpoints with the app's
own middleware but without FastAPI's per-request work, once start-up has opened the services.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from gatepass.clock import Clock
from gatepass.sdk.signed_url import SignedUrlVerifier
from gatepass.server.oauth_lane import OAuthLane
from gatepass.settings import Settings

PATH = "/edge/verify"
_ALLOW: Message = {"type": "http.response.start", "status": 204, "headers": []}
_DENY: Message = {
    "type": "http.response.start",
    "status": 403,
    "headers": [(b"content-length", b"0"), (b"cache-control", b"no-store")],
}
_EMPTY: Message = {"type": "http.response.body", "body": b""}


def edge_verifier(settings: Settings, clock: Clock | None = None) -> SignedUrlVerifier:
    """An edge verifier with no keys yet; the URL-key manager fills (and refreshes) it."""
    return SignedUrlVerifier(
        issuer=settings.issuer,
        playback_audience=settings.playback_audience,
        clock=clock.now if clock is not None else time.time,
    )


async def answer(verifier: SignedUrlVerifier, scope: Scope, send: Send) -> None:
    """204 or 403 for one ``/edge/verify`` request; a repeated header is refused."""
    uri: str | None = None
    ip: str | None = None
    repeated = False
    for name, value in scope["headers"]:
        if name == b"x-original-uri":
            repeated = repeated or uri is not None
            uri = value.decode("latin-1")
        elif name == b"x-real-ip":
            repeated = repeated or ip is not None
            ip = value.decode("latin-1")
    ok = not repeated and verifier.check(uri, ip)
    await send(_ALLOW if ok else _DENY)
    await send(_EMPTY)


class EdgeFirstFastAPI(FastAPI):
    """The gatepass app: a FastAPI that answers ``/edge/verify`` itself, before FastAPI's
    per-request work (its telemetry check, middleware, routing) and before any middleware, and
    hands the OAuth POST endpoints to the OAuth lane, also before FastAPI's per-request work."""

    def __init__(self, *, edge: SignedUrlVerifier, lane: OAuthLane, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.edge = edge
        self.lane_paths = lane.paths
        self.lane = lane.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == PATH:
                await answer(self.edge, scope, send)
                return
            if (
                path in self.lane_paths
                and scope["method"] == "POST"
                and getattr(self.state, "services", None) is not None  # None before start-up
            ):
                scope["app"] = self  # as Starlette sets it: the lane reads the services from it
                await self.lane(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
