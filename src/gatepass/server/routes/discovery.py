"""RFC 8414 authorization server metadata and the JWKS (RFC 7517)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.oauth.services import Services
from gatepass.oauth.token_endpoint import SUPPORTED_GRANTS
from gatepass.server.routing import route


async def metadata(svc: Services, request: Request) -> Response:
    iss = svc.settings.issuer
    body = {
        "issuer": iss,
        "token_endpoint": f"{iss}/oauth/token",
        "jwks_uri": f"{iss}/.well-known/jwks.json",
        "introspection_endpoint": f"{iss}/oauth/introspect",
        "revocation_endpoint": f"{iss}/oauth/revoke",
        "grant_types_supported": list(SUPPORTED_GRANTS),
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(set(svc.settings.default_scopes)),
        "access_token_signing_alg_values_supported": [svc.settings.signing_alg],
        "dpop_signing_alg_values_supported": list(svc.dpop.checker.algorithms),  # RFC 9449 §5.1
    }
    return JSONResponse(
        body, headers={"Cache-Control": f"public, max-age={svc.settings.jwks_max_age}"}
    )


async def jwks(svc: Services, request: Request) -> Response:
    return JSONResponse(
        svc.keys.ring.jwks(svc.clock.now()),
        headers={"Cache-Control": f"public, max-age={svc.settings.jwks_max_age}"},
    )


ROUTES = [
    route("/.well-known/oauth-authorization-server", metadata, ["GET"]),
    route("/.well-known/jwks.json", jwks, ["GET"]),
]
