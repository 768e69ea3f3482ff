"""POST /oauth/token (RFC 6749), /oauth/introspect (RFC 7662), /oauth/revoke (RFC 7009)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gatepass.errors import GatepassError, InvalidClient, InvalidRequest
from gatepass.metrics import labelled
from gatepass.oauth import client_auth, rfc7009, rfc7662, token_endpoint
from gatepass.oauth.dpop import DpopRequest
from gatepass.oauth.services import Services
from gatepass.server.deps import client_ip, user_agent
from gatepass.server.errors import NO_STORE, NoStoreJSON
from gatepass.server.forms import read_form
from gatepass.server.routing import route


async def token(svc: Services, request: Request) -> Response:
    try:
        form = await read_form(request)
        proofs = request.headers.getlist("dpop")
        result = await token_endpoint.token(
            svc,
            form,
            authorization=request.headers.get("authorization"),
            ip=client_ip(request),
            user_agent=user_agent(request),
            # the request's URL only when there is a proof to check it against
            dpop=DpopRequest.of(proofs, "POST", svc.settings.issuer, request.url.path)
            if proofs
            else None,
        )
    except GatepassError as exc:
        labelled(svc.metrics.token_errors, exc.error).inc()
        raise
    return NoStoreJSON(result.body())


async def introspect(svc: Services, request: Request) -> Response:
    form = await read_form(request)
    presented = client_auth.presented_credentials(request.headers.get("authorization"), form)
    client = await client_auth.authenticate_confidential(svc.clients, presented)
    token = form.get("token")
    if token is None:
        raise InvalidRequest("token is required.")
    answer = await rfc7662.introspect(svc, client, token, form.get("token_type_hint"))
    return NoStoreJSON(answer)


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


ROUTES = [
    route("/oauth/token", token, ["POST"]),
    route("/oauth/introspect", introspect, ["POST"]),
    route("/oauth/revoke", revoke, ["POST"]),
]
