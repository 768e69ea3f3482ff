"""Routes: every endpoint is a plain ``async def (svc, request) -> Response`` over the app's
``Services``; ``route`` makes one a Starlette ``Route``.

A ``GatepassError`` (or anything else) raised by an endpoint goes up to the one place that
turns exceptions into answers (``server/errors.py``, registered on the app).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gatepass.oauth.services import Services

Endpoint = Callable[[Services, Request], Awaitable[Response]]


class _Call:
    """The ASGI app of one endpoint: the services from the app's state, a Request, the answer."""

    __slots__ = ("endpoint",)

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        response = await self.endpoint(scope["app"].state.services, request)
        await response(scope, receive, send)


def route(path: str, endpoint: Endpoint, methods: Iterable[str]) -> Route:
    """``endpoint`` at ``path`` for exactly ``methods``: no implicit HEAD for a GET (any other
    method is 405 with ``Allow`` naming only these, as gatepass has always answered)."""
    r = Route(path, _Call(endpoint), methods=list(methods), name=endpoint.__name__)
    r.methods = {m.upper() for m in methods}
    return r
