"""The one place that turns exceptions into HTTP answers.

GatepassError -> its own status and body; a refused access token (the SDK's ``VerifierError``)
-> its RFC 6750 / RFC 9449 answer; Starlette's HTTP errors (404, 405) -> the same JSON shape; a
database that cannot answer -> 503 ``temporarily_unavailable``; anything unexpected -> a generic
500 ``server_error``, details only in the log. No answer ever carries a stack trace, a token, a
password or a hash. ``HANDLERS`` is what the app registers (``server/app.py``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatepass.errors import GatepassError
from gatepass.sdk.errors import VerifierError
from gatepass.sdk.http import error_response
from gatepass.storage.db import UNAVAILABLE

log = logging.getLogger("gatepass.server")

_STATUS_ERRORS = {
    400: "invalid_request",
    401: "invalid_token",
    403: "insufficient_scope",
    404: "not_found",
    405: "method_not_allowed",
    413: "invalid_request",
    415: "invalid_request",
    429: "too_many_requests",
    503: "temporarily_unavailable",
}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_NO_STORE_RAW = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in NO_STORE.items()]
_JSON_TYPE = (b"content-type", b"application/json")
_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


class NoStoreJSON(Response):
    """``JSONResponse(content, status_code, headers=NO_STORE)``, byte for byte (body, and headers
    in the same order), built without Starlette's per-response header parsing: the answer of
    every OAuth request (``routes/oauth.py``)."""

    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body = _dumps(content).encode("utf-8")
        self.raw_headers = [
            *_NO_STORE_RAW,
            (b"content-length", str(len(body)).encode("latin-1")),
            _JSON_TYPE,
        ]


def error_json(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={**NO_STORE, **(headers or {})},
    )


def render(exc: GatepassError) -> JSONResponse:
    """The answer to a refused request: the error's status, RFC code, safe description and
    headers (``WWW-Authenticate`` where it has one); its ``debug`` text goes only to the log."""
    if exc.debug:
        log.info("request refused: %s (%s)", exc.error, exc.debug)
    return error_json(exc.status, exc.error, exc.description, exc.headers)


async def _gatepass_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, GatepassError):  # pragma: no cover - registered for the class
        raise exc
    return render(exc)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        raise exc
    detail: Any = exc.detail
    error = _STATUS_ERRORS.get(exc.status_code, "invalid_request")
    desc = detail if isinstance(detail, str) else "The request was refused."
    return error_json(exc.status_code, error, desc, dict(exc.headers or {}))


async def _bearer_refused(request: Request, exc: Exception) -> JSONResponse:
    """A missing, invalid or insufficient access token (RFC 6750 §3) or DPoP proof (RFC 9449
    §7.1, challenged with the algorithms the server's verifier accepts), or verification that
    is unavailable (503): the SDK's own answer (``sdk/http.error_response``)."""
    if not isinstance(exc, VerifierError):  # pragma: no cover - registered for the class
        raise exc
    status, body, headers = error_response(exc, algs=request.app.state.services.verifier.dpop.algs)
    return error_json(status, body["error"], body.get("error_description", ""), headers)


def database_unavailable(exc: Exception) -> JSONResponse:
    """503 ``temporarily_unavailable`` when the database cannot answer (``db.UNAVAILABLE``):
    the request may succeed in a moment, and nothing about the database is shown."""
    log.warning("database unavailable: %s", type(exc).__name__)
    return error_json(
        503,
        "temporarily_unavailable",
        "The service is temporarily unavailable; try again shortly.",
        {"Retry-After": "1"},
    )


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    return database_unavailable(exc)


def log_unexpected(exc: BaseException, what: str = "unhandled error") -> None:
    """An unexpected exception, with its traceback, to the log only."""
    if isinstance(exc, asyncpg.PostgresError):
        # its message and detail can quote a row's values (a digest): the state code only
        log.error("%s: database error %s (SQLSTATE %s)", what, type(exc).__name__, exc.sqlstate)
    else:
        log.error(what, exc_info=exc)


async def unexpected(_: Request, exc: Exception) -> JSONResponse:
    """The handler of last resort (Starlette's ``ServerErrorMiddleware`` calls it): a generic 500
    ``server_error``; the exception and its traceback go only to the log."""
    log_unexpected(exc)
    return error_json(500, "server_error", "The server could not complete the request.")


HANDLERS: dict[Any, Any] = {
    GatepassError: _gatepass_error,
    VerifierError: _bearer_refused,
    StarletteHTTPException: _http_error,
    **{unavailable: _database_unavailable for unavailable in UNAVAILABLE},
    Exception: unexpected,  # Starlette's ServerErrorMiddleware, outside every middleware
}


class Answers:
    """The innermost layer (in place of Starlette's ``ExceptionMiddleware``): an exception from
    the router or an endpoint answered by its handler in ``handlers`` (looked up along the
    exception's class hierarchy, as Starlette does); one with no handler goes up to
    ``ServerErrorMiddleware``. The same answers as Starlette's, for less work on every request:
    no ``Request`` and no wrapped app built before it is known that an exception needs one
    (``docs/http-stack.md``). Other scope types (lifespan) go through Starlette's own."""

    def __init__(self, app: ASGIApp, handlers: dict[Any, Any]) -> None:
        self.app = app
        self.handlers = dict(handlers)
        self.other = ExceptionMiddleware(app, handlers=self.handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.other(scope, receive, send)
            return
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sender)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            if started:
                raise RuntimeError("Caught handled exception, but response already started.") from (
                    exc
                )
            response = await handler(Request(scope, receive, send), exc)
            await response(scope, receive, sender)
            exc.__traceback__ = None  # a reused exception instance must not keep every traceback

    def _handler(self, exc: Exception) -> Any:
        for cls in type(exc).__mro__:
            if cls in self.handlers:
                return self.handlers[cls]
        return None
