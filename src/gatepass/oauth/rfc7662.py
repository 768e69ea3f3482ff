"""Token introspection (RFC 7662 §2): what a token means, for an authenticated client.

Policy: any authenticated confidential client (a resource server) may introspect access tokens;
a refresh token is described only to the client it was issued to. Revoked, expired, unknown,
malformed or not-yours tokens all get ``{"active": false}`` and nothing else (§2.2).
"""

from __future__ import annotations

from typing import Any

from gatepass.core import opaque
from gatepass.core.access_token import AccessClaims
from gatepass.core.refresh import live
from gatepass.errors import ServiceUnavailable
from gatepass.oauth import opaque_access
from gatepass.oauth.refresh import family_state
from gatepass.oauth.services import Services
from gatepass.sdk.errors import DenylistUnavailable, InvalidTokenError
from gatepass.storage.models import Client

INACTIVE: dict[str, Any] = {"active": False}
_ACCESS_MEMBERS = (
    *("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti", "sid"),
    "cnf",  # RFC 9449 §6.2
)


async def introspect(svc: Services, client: Client, token: str, hint: str | None) -> dict[str, Any]:
    if len(token) > 8192:
        return INACTIVE
    # token_type_hint only orders the look-ups (§2.1); every kind is still tried
    if hint == "refresh_token" or token.startswith(opaque.REFRESH_PREFIX):
        kinds = (_refresh, _opaque_access, _jwt)
    else:
        kinds = (_opaque_access, _jwt, _refresh)
    for kind in kinds:
        answer = await kind(svc, client, token)
        if answer is not None:
            return answer
    return INACTIVE


async def _jwt(svc: Services, client: Client, token: str) -> dict[str, Any] | None:
    if token.count(".") != 2:
        return None
    try:  # tokens for any client's API (its audience), then the denylist as for any token
        claims = svc.verifier.verify_issued(token, audience=None)
        _check_denylist(svc, claims)
    except InvalidTokenError:
        return INACTIVE
    return await _access_answer(svc, claims.raw)


async def _opaque_access(svc: Services, client: Client, token: str) -> dict[str, Any] | None:
    if not opaque_access.is_opaque(token):
        return None
    try:
        claims = await opaque_access.resolve(svc, token, audience=None)
    except DenylistUnavailable:
        raise ServiceUnavailable("Revocations cannot be read; try again shortly.") from None
    except InvalidTokenError:
        return INACTIVE
    return await _access_answer(svc, claims.raw)


def _check_denylist(svc: Services, claims: AccessClaims) -> None:
    """RevokedToken for a revoked token; 503 (not "inactive") when revocations cannot be read."""
    if svc.verifier.denylist is None:
        return
    try:
        svc.verifier.denylist.check(claims)
    except DenylistUnavailable:
        raise ServiceUnavailable("Revocations cannot be read; try again shortly.") from None


async def _access_answer(svc: Services, raw: Any) -> dict[str, Any]:
    bound = "cnf" in raw  # RFC 9449 §6.2: a DPoP-bound token, and the key it is bound to
    answer: dict[str, Any] = {"active": True, "token_type": "DPoP" if bound else "Bearer"}
    for name in _ACCESS_MEMBERS:
        if raw.get(name) is not None:
            answer[name] = raw[name]
    if raw.get("roles") is not None:
        answer["roles"] = raw["roles"]
    user = await svc.users.by_id(str(raw.get("sub"))) if raw.get("sid") else None
    if user is not None:
        answer["username"] = user.username
    return answer


async def _refresh(svc: Services, client: Client, token: str) -> dict[str, Any] | None:
    if not opaque.looks_like(token, opaque.REFRESH_PREFIX):
        return None
    found = await svc.logins.lookup(opaque.digest(token))
    if found is None:
        return INACTIVE
    family, row = found
    now = svc.clock.now()
    if (
        family.client_id != client.id
        or row.used_at is not None
        or now >= row.expires_at
        or live(family_state(family), now) is not None
    ):
        return INACTIVE
    user = await svc.users.by_id(family.user_id)
    if user is None or user.disabled:  # as the refresh grant: it would be refused
        return INACTIVE
    answer: dict[str, Any] = {
        "active": True,
        "token_type": "refresh_token",
        "scope": family.scope,
        "client_id": family.client_id,
        "sub": family.user_id,
        "iss": svc.settings.issuer,
        "exp": int(min(row.expires_at, family.expires_at, family.idle_expires_at)),
        "iat": int(row.issued_at),
        "sid": family.id,
        "username": user.username,
    }
    if family.jkt is not None:  # RFC 9449 §5: bound to a public client's DPoP key
        answer["cnf"] = {"jkt": family.jkt}
    return answer
