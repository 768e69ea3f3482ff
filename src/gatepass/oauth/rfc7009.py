"""Token revocation (RFC 7009 §2): a client revokes its own access or refresh tokens.

A refresh token ends its whole login, with every access token issued from it; an opaque access
token is deleted (and its ``jti`` denylisted, so cached introspection answers die too); a JWT
access token goes on the denylist until it would have expired. An unknown, expired or malformed
token is answered 200 like a revoked one (§2.2); another client's token is refused (§2.1).
"""

from __future__ import annotations

from gatepass.core import opaque
from gatepass.errors import UnauthorizedClient
from gatepass.oauth import opaque_access
from gatepass.oauth.revocation import end_login, revoke_access_token
from gatepass.oauth.services import Services
from gatepass.sdk.errors import InvalidTokenError
from gatepass.storage.models import Client

NOT_YOURS = "The token was not issued to this client."


async def revoke(svc: Services, client: Client, token: str, hint: str | None) -> None:
    if len(token) > 8192:
        return
    if opaque.looks_like(token, opaque.REFRESH_PREFIX):
        await _refresh(svc, client, token)
    elif opaque_access.is_opaque(token):
        await _opaque_access(svc, client, token)
    elif token.count(".") == 2:
        await _jwt(svc, client, token)
    # hint is advisory (§2.1): the token's own shape decides where to look


async def _refresh(svc: Services, client: Client, token: str) -> None:
    found = await svc.logins.lookup(opaque.digest(token))
    if found is None:
        return
    family, _ = found
    if family.client_id != client.id:
        raise UnauthorizedClient(NOT_YOURS)
    await end_login(svc, family, reason="revoked by client")
    await svc.opaque_tokens.delete_for(sid=family.id)


async def _opaque_access(svc: Services, client: Client, token: str) -> None:
    store = svc.opaque_tokens
    row = await store.get(opaque.digest(token))
    if row is None:
        return
    if row.client_id != client.id:
        raise UnauthorizedClient(NOT_YOURS)
    await store.delete(row.digest)
    await revoke_access_token(svc, row.jti, row.expires_at)


async def _jwt(svc: Services, client: Client, token: str) -> None:
    try:  # a client's tokens carry its own audience when it has one
        claims = svc.verifier.verify_issued(
            token, audience=client.audience or svc.settings.audience
        )
    except InvalidTokenError:
        return  # expired, forged or not for this client's audience: nothing to revoke
    if claims.client_id != client.id:
        raise UnauthorizedClient(NOT_YOURS)
    await revoke_access_token(svc, claims.jti, claims.exp)
