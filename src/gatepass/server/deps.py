"""What endpoints ask of a request: the caller's address and agent, and the verified access
token, Bearer or DPoP with its proof (through the SDK's framework-neutral
``Verifier.averify_request``, with the server's own Verifier)."""

from __future__ import annotations

from starlette.requests import Request

from gatepass.core.access_token import AccessClaims
from gatepass.metrics import labelled
from gatepass.oauth import scopes
from gatepass.oauth.admin_audit import Admin, admin_of
from gatepass.oauth.services import Services
from gatepass.sdk.errors import VerifierError
from gatepass.sdk.http import error_response, request_url
from gatepass.sdk.verifier import require


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def user_agent(request: Request) -> str | None:
    ua = request.headers.get("user-agent")
    return ua[:512] if ua else None


_RESULTS = {401: "invalid", 403: "forbidden", 503: "unavailable"}


async def bearer(
    svc: Services,
    request: Request,
    *,
    roles: tuple[str, ...] = (),
    scopes: tuple[str, ...] = (),
    authorization: str | None = None,
) -> AccessClaims:
    """The caller's verified access-token claims, with every one of ``roles`` and ``scopes``;
    otherwise the SDK's ``VerifierError``, which ``server/errors.py`` answers (RFC 6750, RFC
    9449 §7). A DPoP proof must name the issuer's public URL (RFC 9449 §4.3: ``GATEPASS_ISSUER``
    + the path), whatever host or proxy the request came through. ``authorization``: the
    credentials to verify instead of the request's ``Authorization`` header (a token the
    endpoint took from elsewhere, as ``/oauth/userinfo`` from a form body)."""
    counter = svc.metrics.verifications
    if authorization is None:
        authorization = request.headers.get("authorization")
    try:
        claims = await svc.verifier.averify_request(
            authorization,
            method=request.method,
            url=lambda: _proof_url(svc, request),
            proofs=request.headers.getlist("dpop"),
            opaque=request.app.state.opaque,
        )
        if roles or scopes:
            require(claims, roles=roles, scopes=scopes)
    except VerifierError as exc:
        labelled(counter, _RESULTS.get(error_response(exc)[0], "error")).inc()
        raise
    labelled(counter, "valid").inc()
    return claims


def _proof_url(svc: Services, request: Request) -> str:
    """Where a DPoP proof must say the request went; built only for a DPoP request."""
    url = request.url
    return request_url(svc.settings.issuer, url.scheme, url.netloc, url.path)


async def admin(svc: Services, request: Request) -> AccessClaims:
    """Administration: role ``admin`` and scope ``gatepass:admin`` (DESIGN.md, Administration)."""
    return await bearer(svc, request, roles=(scopes.ADMIN_ROLE,), scopes=(scopes.ADMIN_SCOPE,))


async def admin_action(svc: Services, request: Request) -> Admin:
    """As :func:`admin`, for an endpoint that changes something: the administrator and where
    the request came from, for its ``admin.*`` event (``oauth/admin_audit.py``)."""
    claims = await admin(svc, request)
    return await admin_of(svc, claims, client_ip(request), user_agent(request))
