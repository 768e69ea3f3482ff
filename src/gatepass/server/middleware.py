"""Pure ASGI middleware: request-body limit and deadline, NUL refusal, metrics and security
headers. Cheap on the hot path."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatepass.metrics import labelled

log = logging.getLogger("gatepass.server")


async def _send_error(send: Send, status: int, description: str, *, close: bool = False) -> None:
    body = json.dumps({"error": "invalid_request", "error_description": description}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


class BodyLimit:
    """The request body: over ``limit`` bytes is 413, whether or not Content-Length says so; not
    all received within ``timeout`` seconds of its first read is 408 (and the
    connection closed), so half-sent bodies cannot hold connections; a client that hangs up in
    the middle of its body is no error: nothing is answered, nothing logged above debug."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float = 10.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout
        self.deadlines = _BodyDeadlines(timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(send, 400, "Content-Length is not a number.")
                    return
                if declared > self.limit:
                    await _send_error(send, 413, "The request body is too large.")
                    return
        seen = 0
        started = False
        deadline = 0.0

        async def limited_receive() -> Message:
            nonlocal seen, deadline
            if not deadline:
                deadline = asyncio.get_running_loop().time() + self.timeout
            message = await self.deadlines.receive(receive, deadline)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _send_error(send, 413, "The request body is too large.")
        except _BodyTooSlow:
            if not started:
                await _send_error(send, 408, "The request body did not arrive in time.", close=True)
        except ClientDisconnect:  # gone: no one to answer
            log.debug("client disconnected before its request body was read")


class _BodyDeadlines:
    """Deadlines of the request bodies being read by one app: a read still waiting when its
    request's deadline (``timeout`` seconds after its first read) has passed is cancelled by a
    sweep once a second, which runs only while some body is being read. A read costs two dict
    operations; a timer per request (``asyncio.timeout``, ``call_later``) cost several times the
    read itself, on every OAuth request (``docs/http-stack.md``). Deadlines are kept to within
    the sweep's second."""

    SWEEP = 1.0  # seconds between sweeps

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._waiting: dict[asyncio.Task[Any], float] = {}  # task -> its request's deadline
        self._expired: set[asyncio.Task[Any]] = set()
        self._sweeping = False

    async def receive(self, receive: Receive, deadline: float) -> Message:
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - an ASGI app always runs in a task
            return await receive()
        self._waiting[task] = deadline
        if not self._sweeping:
            self._sweeping = True
            asyncio.get_running_loop().call_later(self.SWEEP, self._sweep)
        try:
            return await receive()
        except asyncio.CancelledError:
            if task in self._expired:
                self._expired.discard(task)
                task.uncancel()
                raise _BodyTooSlow from None
            raise
        finally:
            self._waiting.pop(task, None)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for task, deadline in list(self._waiting.items()):
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        if self._waiting:
            loop.call_later(self.SWEEP, self._sweep)
        else:
            self._sweeping = False


class RejectNul:
    """Answer 400 to a request whose path or query string holds a NUL (raw or ``%00``).

    No route wants one, and PostgreSQL refuses NUL in text: a path or query parameter that
    reaches the database with one would otherwise end as a 500.
    """

    def __init__(self, app: ASGIApp, pages: frozenset[str] = frozenset()) -> None:
        self.app = app
        # the hosted pages, which check their query themselves before any database sees it
        # and answer a browser with an error page (or the client at its redirect URI)
        self.pages = pages

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # a plain function that hands on the next layer's coroutine: passing through costs no
        # coroutine of its own (see docs/http-stack.md, "Pass-through layers")
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if "\x00" in scope["path"] or (
                (b"%00" in query or b"\x00" in query) and scope["path"] not in self.pages
            ):
                return _send_error(send, 400, "The request path or query holds a NUL character.")
        return self.app(scope, receive, send)


_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            return self.app(scope, receive, send)

        def send_with_headers(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                headers.extend(_SECURITY_HEADERS)
                message = {**message, "headers": headers}
            return send(message)

        return self.app(scope, receive, send_with_headers)


class RequestMetrics:
    """Latency per route template (unmatched paths share one label, so no label explosion)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            services = getattr(scope["app"].state, "services", None)
            if services is not None:
                labelled(services.metrics.request_latency, label).observe(
                    time.perf_counter() - start
                )
