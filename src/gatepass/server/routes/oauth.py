"""POST /oauth/token (RFC 6749), /oauth/introspect (RFC 7662), /oauth/revoke (RFC 7009).

Each endpoint is a plain ``async def (svc, request) -> Response``, called by two apps: the OAuth
lane (``server/oauth_lane.py``), which answers POSTs to these paths before FastAPI, and the thin
FastAPI routes below, which answer whatever the lane leaves (other methods get FastAPI's 405; a
request before start-up, or an app without the lane, still works). A ``GatepassError`` raised
here becomes HTTP in ``server/errors.py`` either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from starlette.requests import Request

from gatepass.errors import GatepassError, InvalidClient, InvalidRequest
from gatepass.oauth import client_auth, rfc7009, rfc7662, token_endpoint
from gatepass.oauth.dpop import DpopRequest
from gatepass.oauth.services import Services
from gatepass.server.deps import client_ip, services, user_agent
from gatepass.server.errors import NO_STORE
from gatepass.server.forms import read_form

Endpoint = Callable[[Services, Request], Awaitable[Response]]


async def token(svc: Services, request: Request) -> Response:
    try:
        form = await read_form(request)
        result = await token_endpoint.token(
            svc,
            form,
            authorization=request.headers.get("authorization"),
            ip=client_ip(request),
            user_agent=user_agent(request),
            dpop=DpopRequest.of(
                request.headers.getlist("dpop"), "POST", svc.settings.issuer, request.url.path
            ),
        )
    except GatepassError as exc:
        svc.metrics.token_errors.labels(exc.error).inc()
        raise
    return JSONResponse(result.body(), headers=NO_STORE)


async def introspect(svc: Services, request: Request) -> Response:
    form = await read_form(request)
    presented = client_auth.presented_credentials(request.headers.get("authorization"), form)
    client = await client_auth.authenticate_confidential(svc.clients, presented)
    token = form.get("token")
    if token is None:
        raise InvalidRequest("token is required.")
    answer = await rfc7662.introspect(svc, client, token, form.get("token_type_hint"))
    return JSONResponse(answer, headers=NO_STORE)


async def revoke(svc: Services, request: Request) -> Response:
    form = await read_form(request)
    presented = client_auth.presented_credentials(request.headers.get("authorization"), form)
    client = await client_auth.authenticate(svc.clients, presented)
    if client is None:
        raise InvalidClient("Revocation needs client authentication (or a public client_id).")
    token = form.get("token")
    if token is None:
        raise InvalidRequest("token is required.")
    await rfc7009.revoke(svc, client, token, form.get("token_type_hint"))
    return Response(status_code=200, headers=NO_STORE)


# every POST endpoint of this module, by path: what the OAuth lane answers
ENDPOINTS: dict[str, Endpoint] = {
    "/oauth/token": token,
    "/oauth/introspect": introspect,
    "/oauth/revoke": revoke,
}

router = APIRouter()


@router.post("/oauth/token")
async def post_token(request: Request, svc: Services = Depends(services)) -> Response:
    return await token(svc, request)


@router.post("/oauth/introspect")
async def post_introspect(request: Request, svc: Services = Depends(services)) -> Response:
    return await introspect(svc, request)


@router.post("/oauth/revoke")
async def post_revoke(request: Request, svc: Services = Depends(services)) -> Response:
    return await revoke(svc, request)
