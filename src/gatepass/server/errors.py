"""The one place that turns exceptions into HTTP answers.

GatepassError -> its own status and body; FastAPI/Starlette HTTP errors and validation errors ->
the same JSON shape; a database that cannot answer -> 503 ``temporarily_unavailable``; anything
unexpected -> a generic 500 ``server_error``, details only in the log. No answer ever carries a
stack trace, a token, a password or a hash.

``render`` and ``unexpected`` are public because two apps use them: the FastAPI app (through
``install``) and the OAuth lane (``server/oauth_lane.py``), which answers the three OAuth POST
endpoints without FastAPI and must render their errors exactly as the FastAPI app does.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gatepass.errors import GatepassError
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
    if isinstance(detail, dict) and "error" in detail:
        return error_json(
            exc.status_code,
            str(detail["error"]),
            str(detail.get("error_description", "")),
            dict(exc.headers or {}),
        )
    error = _STATUS_ERRORS.get(exc.status_code, "invalid_request")
    desc = detail if isinstance(detail, str) else "The request was refused."
    return error_json(exc.status_code, error, desc, dict(exc.headers or {}))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    where = ""
    if isinstance(exc, RequestValidationError) and exc.errors():
        loc = [str(p) for p in exc.errors()[0].get("loc", ()) if p != "body"]
        where = f" ({'.'.join(loc)})" if loc else ""
    return error_json(400, "invalid_request", f"The request body is invalid{where}.")


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


async def unexpected(_: Request, exc: Exception) -> JSONResponse:
    """The handler of last resort (Starlette's ``ServerErrorMiddleware`` calls it): a generic 500
    ``server_error``; the exception and its traceback go only to the log."""
    if isinstance(exc, asyncpg.PostgresError):
        # its message and detail can quote a row's values (a digest): the state code only
        log.error("database error %s (SQLSTATE %s)", type(exc).__name__, exc.sqlstate)
    else:
        log.error("unhandled error", exc_info=exc)
    return error_json(500, "server_error", "The server could not complete the request.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(GatepassError, _gatepass_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(Exception, unexpected)
