"""The token endpoint (RFC 6749 §3.2): grant dispatch and client checks; errors per §5.2."""

from __future__ import annotations

from collections.abc import Mapping

from gatepass.errors import (
    InvalidClient,
    InvalidRequest,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from gatepass.metrics import labelled
from gatepass.oauth import client_auth, scopes
from gatepass.oauth.authorization_code import code_grant
from gatepass.oauth.dpop import DpopRequest, refreshes_bound, token_binding
from gatepass.oauth.first_party import FIRST_PARTY_CLIENT_ID
from gatepass.oauth.issuance import TokenResponse, issue_access_token, start_login
from gatepass.oauth.password_login import authenticate_user, record_sign_in
from gatepass.oauth.refresh import refresh_grant
from gatepass.oauth.services import Services
from gatepass.storage.models import Client

SUPPORTED_GRANTS = ("authorization_code", "password", "refresh_token", "client_credentials")
DEFAULT_GRANTS = ("password", "refresh_token")
# the parameters each grant requires (RFC 6749 §4.1.3, §4.3.2, §6; RFC 7636 §4.5): one missing
# is ``invalid_request`` (§5.2), whatever else the request holds, never ``invalid_grant``
REQUIRED: dict[str, tuple[str, ...]] = {
    "authorization_code": ("code", "redirect_uri", "code_verifier"),
    "password": ("username", "password"),
    "refresh_token": ("refresh_token",),
    "client_credentials": (),
}


def allowed_grants(client: Client | None) -> tuple[str, ...]:
    if client is None:
        return DEFAULT_GRANTS
    return tuple(client.grants) or DEFAULT_GRANTS


def allowed_scopes(svc: Services, client: Client | None) -> frozenset[str]:
    """What ``client`` may ask for; no client is the built-in first-party ``gatepass``."""
    if client is None or client.id == FIRST_PARTY_CLIENT_ID:
        return scopes.first_party(svc.settings.default_scopes)
    registered = frozenset(client.scopes or svc.settings.default_scopes)
    if "authorization_code" in (client.grants or ()):
        return registered | scopes.OIDC_SCOPES  # a relying party may always ask for these
    return registered


async def token(
    svc: Services,
    form: Mapping[str, str],
    *,
    authorization: str | None,
    ip: str | None,
    user_agent: str | None,
    dpop: DpopRequest | None = None,
) -> TokenResponse:
    """``dpop``: the request's DPoP proofs (RFC 9449 §5); the tokens are bound to its key."""
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is required.")
    if grant_type not in SUPPORTED_GRANTS:
        raise UnsupportedGrantType(f"Supported grant types: {', '.join(SUPPORTED_GRANTS)}.")
    presented = client_auth.presented_credentials(authorization, form)
    client = await client_auth.authenticate(svc.clients, presented)
    if grant_type == "client_credentials":
        response = await client_credentials(svc, client, presented, form.get("scope"), dpop)
        labelled(svc.metrics.tokens_issued, grant_type).inc()
        return response
    if grant_type == "authorization_code" and client is None:
        raise InvalidRequest("The authorization_code grant requires client_id (RFC 6749 §4.1.3).")
    if grant_type not in allowed_grants(client):
        raise UnauthorizedClient(f"This client may not use the {grant_type} grant.")
    missing = [name for name in REQUIRED[grant_type] if form.get(name) is None]
    if missing:
        raise InvalidRequest(f"The {grant_type} grant requires {' and '.join(missing)}.")
    jkt = await token_binding(svc, client, dpop)
    if grant_type == "authorization_code" and client is not None:
        response = await code_grant(
            svc,
            client,
            form,
            allowed=allowed_scopes(svc, client),
            ip=ip,
            user_agent=user_agent,
            jkt=jkt,
        )
        labelled(svc.metrics.tokens_issued, grant_type).inc()
        return response
    if grant_type == "refresh_token":
        response = await refresh_grant(
            svc,
            form.get("refresh_token"),
            client_id=client.id if client else FIRST_PARTY_CLIENT_ID,
            scope=form.get("scope"),
            ip=ip,
            user_agent=user_agent,
            token_format=client.token_format if client else "jwt",
            audience=client.audience if client else None,
            ttl=client.access_token_ttl if client else None,
            jkt=jkt,
        )
        labelled(svc.metrics.tokens_issued, grant_type).inc()
        return response
    requested = scopes.parse(form.get("scope"))
    granted = scopes.grant(requested, allowed_scopes(svc, client))
    user = await authenticate_user(
        svc, form.get("username"), form.get("password"), ip=ip, user_agent=user_agent
    )
    response = await start_login(
        svc,
        user_id=user.id,
        roles=user.roles,
        client_id=client.id if client else FIRST_PARTY_CLIENT_ID,
        scope=scopes.for_subject(granted, user.roles),
        ip=ip,
        user_agent=user_agent,
        audience=client.audience if client else None,
        ttl=client.access_token_ttl if client else None,
        token_format=client.token_format if client else "jwt",
        username=user.username,
        jkt=jkt,
        bind_refresh=refreshes_bound(client),
    )
    await record_sign_in(
        svc,
        user,
        client_id=client.id if client else FIRST_PARTY_CLIENT_ID,
        sid=response.sid,
        ip=ip,
        user_agent=user_agent,
    )
    labelled(svc.metrics.tokens_issued, grant_type).inc()
    return response


async def client_credentials(
    svc: Services,
    client: Client | None,
    presented: client_auth.Presented,
    scope: str | None,
    dpop: DpopRequest | None = None,
) -> TokenResponse:
    """RFC 6749 §4.4: a confidential client acting for itself; ``sub`` is the client, there is
    no login (no ``sid``) and no refresh token (§4.4.3)."""
    if client is None or client.public or presented.secret is None:
        raise InvalidClient("client_credentials needs an authenticated confidential client.")
    if "client_credentials" not in allowed_grants(client):
        raise UnauthorizedClient("This client may not use the client_credentials grant.")
    requested = scopes.grant(scopes.parse(scope), allowed_scopes(svc, client))
    granted = scopes.for_subject(requested, ())  # no user, no role: never gatepass:admin
    jkt = await token_binding(svc, client, dpop)
    token, ttl = await issue_access_token(
        svc,
        token_format=client.token_format,
        subject=client.id,
        client_id=client.id,
        scope=granted,
        roles=(),
        sid=None,
        audience=client.audience,
        ttl=client.access_token_ttl,
        jkt=jkt,
    )
    return TokenResponse(token, ttl, " ".join(sorted(granted)), jkt=jkt)
