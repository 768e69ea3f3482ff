"""POST /oauth/token (RFC 6749), /oauth/introspect (RFC 7662), /oauth/revoke (RFC 7009)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from gatepass.errors import GatepassError, InvalidClient, InvalidRequest
from gatepass.oauth import client_auth, rfc7009, rfc7662, token_endpoint
from gatepass.oauth.services import Services
from gatepass.server.deps import client_ip, services, user_agent
from gatepass.server.errors import NO_STORE
from gatepass.server.forms import read_form

router = APIRouter()


@router.post("/oauth/token")
async def token(request: Request, svc: Services = Depends(services)) -> JSONResponse:
    try:
        form = await read_form(request)
        result = await token_endpoint.token(
            svc,
            form,
            authorization=request.headers.get("authorization"),
            ip=client_ip(request),
            user_agent=user_agent(request),
        )
    except GatepassError as exc:
        svc.metrics.token_errors.labels(exc.error).inc()
        raise
    return JSONResponse(result.body(), headers=NO_STORE)


@router.post("/oauth/introspect")
async def introspect(request: Request, svc: Services = Depends(services)) -> JSONResponse:
    form = await read_form(request)
    presented = client_auth.presented_credentials(request.headers.get("authorization"), form)
    client = await client_auth.authenticate_confidential(svc.clients, presented)
    token = form.get("token")
    if token is None:
        raise InvalidRequest("token is required.")
    answer = await rfc7662.introspect(svc, client, token, form.get("token_type_hint"))
    return JSONResponse(answer, headers=NO_STORE)


@router.post("/oauth/revoke")
async def revoke(request: Request, svc: Services = Depends(services)) -> Response:
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
