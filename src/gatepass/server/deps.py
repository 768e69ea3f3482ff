"""Request-scoped access to the app's Services and the caller's address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from gatepass.core.access_token import AccessClaims
from gatepass.oauth.services import Services
from gatepass.sdk.fastapi import BearerAuth
from gatepass.server.middleware import labelled


async def services(request: Request) -> Services:
    # async, so that FastAPI calls it inline rather than in its thread pool (a sync dependency
    # costs a thread hand-off on every request)
    svc: Services = request.app.state.services
    return svc


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def user_agent(request: Request) -> str | None:
    ua = request.headers.get("user-agent")
    return ua[:512] if ua else None


_RESULTS = {401: "invalid", 403: "forbidden", 503: "unavailable"}


def bearer(
    *, roles: tuple[str, ...] = (), scopes: tuple[str, ...] = ()
) -> Callable[[Request], Awaitable[AccessClaims]]:
    """A dependency: the caller's verified access-token claims (through the SDK's FastAPI
    adapter, with the server's own Verifier), requiring ``roles`` and ``scopes``."""

    async def dependency(request: Request) -> AccessClaims:
        state = request.app.state
        auth: BearerAuth = state.bearer
        counter = state.services.metrics.verifications
        try:
            claims = await auth.check(request, roles, scopes)
        except HTTPException as exc:
            labelled(counter, _RESULTS.get(exc.status_code, "error")).inc()
            raise
        labelled(counter, "valid").inc()
        return claims

    return dependency
