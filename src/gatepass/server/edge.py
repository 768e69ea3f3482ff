"""``GET /edge/verify``: the target of an nginx ``auth_request``, the app's first middleware.

``EdgeVerify`` (the outermost middleware of the one stack, ``server/app.py``), for the one path
``/edge/verify``, reads ``X-Original-URI`` (nginx ``$request_uri``: the path and query as the
client sent them) and ``X-Real-IP``, checks the signed URL or playback JWT with the keys in
memory (``SignedUrlVerifier``; no database, no network) and answers 204 (let it through) or 403
(refuse), with no body, whatever the method. Every other request goes on down the stack.
Answering before routing and the other middleware is what keeps this path within a small factor
of nginx itself (``docs/http-stack.md``): nginx asks it once per media request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatepass.clock import Clock
from gatepass.sdk.signed_url import SignedUrlVerifier
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


def allowed(verifier: SignedUrlVerifier, scope: Scope) -> bool:
    """204 (True) or 403 (False) for one ``/edge/verify`` request; a repeated header is refused."""
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
    return not repeated and verifier.check(uri, ip)


class EdgeVerify:
    """Pure ASGI middleware: ``/edge/verify`` answered here; everything else passed on.

    It is the outermost layer, before ``ServerErrorMiddleware``, so an edge request costs no
    more than this class and the check; ``unexpected`` (``errors.unexpected``) answers an
    unexpected error in it as that layer would: a 500, the error logged, then raised on to the
    server."""

    def __init__(
        self,
        app: ASGIApp,
        verifier: SignedUrlVerifier,
        unexpected: Callable[[Request, Exception], Awaitable[Response]],
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.unexpected = unexpected

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "http" and scope["path"] == PATH:
            return self._answer(scope, receive, send)
        return self.app(scope, receive, send)  # no coroutine of this layer's on the way

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            ok = allowed(self.verifier, scope)
        except Exception as exc:  # nothing sent yet: the generic 500, then up to the server
            response = await self.unexpected(Request(scope), exc)
            await response(scope, receive, send)
            raise
        await send(_ALLOW if ok else _DENY)
        await send(_EMPTY)
