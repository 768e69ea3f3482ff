"""RFC 8414 authorization server metadata, OpenID Connect Discovery 1.0 §3, and the JWKS
(RFC 7517)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.oauth import scopes
from gatepass.oauth.services import Services
from gatepass.oauth.token_endpoint import SUPPORTED_GRANTS
from gatepass.server.routing import route

# OpenID Connect Core §2, §5.1: what the ID token and UserInfo may carry
CLAIMS_SUPPORTED = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "sid",
    "amr",
    "azp",
    "preferred_username",
    "name",
    "email",
    "email_verified",
)


def document(svc: Services) -> dict[str, object]:
    """The server's metadata: RFC 8414 §2 and OpenID Connect Discovery 1.0 §3 in one document
    (each standard's clients ignore the other's fields, RFC 8414 §2 last paragraph)."""
    iss = svc.settings.issuer
    return {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/oauth/authorize",
        "token_endpoint": f"{iss}/oauth/token",
        "userinfo_endpoint": f"{iss}/oauth/userinfo",
        "end_session_endpoint": f"{iss}/oauth/logout",
        "jwks_uri": f"{iss}/.well-known/jwks.json",
        "introspection_endpoint": f"{iss}/oauth/introspect",
        "revocation_endpoint": f"{iss}/oauth/revoke",
        "grant_types_supported": list(SUPPORTED_GRANTS),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],  # RFC 7636; plain is refused
        "authorization_response_iss_parameter_supported": True,  # RFC 9207
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [svc.settings.id_token_alg],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",  # public clients: client_id alone, with PKCE
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(scopes.OIDC_SCOPES | set(svc.settings.default_scopes)),
        "access_token_signing_alg_values_supported": [svc.settings.signing_alg],
        "dpop_signing_alg_values_supported": list(svc.dpop.checker.algorithms),  # RFC 9449 §5.1
    }


async def metadata(svc: Services, request: Request) -> Response:
    """RFC 8414 at ``/.well-known/oauth-authorization-server``, OpenID Connect Discovery at
    ``/.well-known/openid-configuration``: the same document."""
    return JSONResponse(
        document(svc), headers={"Cache-Control": f"public, max-age={svc.settings.jwks_max_age}"}
    )


async def jwks(svc: Services, request: Request) -> Response:
    """Both key rings: access-token keys and ID-token keys (each key with its own ``alg``)."""
    now = svc.clock.now()
    keys = svc.keys.ring.jwks(now)["keys"] + svc.id_keys.ring.jwks(now)["keys"]
    return JSONResponse(
        {"keys": keys},
        headers={"Cache-Control": f"public, max-age={svc.settings.jwks_max_age}"},
    )


ROUTES = [
    route("/.well-known/oauth-authorization-server", metadata, ["GET"]),
    route("/.well-known/openid-configuration", metadata, ["GET"]),
    route("/.well-known/jwks.json", jwks, ["GET"]),
]
