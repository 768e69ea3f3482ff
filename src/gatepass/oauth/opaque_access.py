"""Opaque access tokens: ``gpa_`` + 256 random bits, stored only as a digest with their claims.

They are for clients configured with ``token_format=opaque``: a resource server learns what
one means only by asking (introspection, or the server's own lookup), so deleting the row
revokes it on the very next request.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from gatepass.core import opaque
from gatepass.core.access_token import AccessClaims
from gatepass.oauth.services import Services
from gatepass.sdk.errors import InvalidAudience, InvalidTokenError
from gatepass.storage.token_rows import OpaqueRow


async def issue(
    svc: Services,
    *,
    subject: str,
    client_id: str,
    scope: Iterable[str],
    roles: Iterable[str],
    sid: str | None,
    audience: str,
    ttl: int,
    username: str | None = None,
    jkt: str | None = None,
) -> str:
    token = opaque.new_token(opaque.OPAQUE_ACCESS_PREFIX)
    now = svc.clock.now()
    await svc.opaque_tokens.add(
        OpaqueRow(
            digest=opaque.digest(token),
            jti=secrets.token_urlsafe(16),
            client_id=client_id,
            sub=subject,
            sid=sid,
            username=username,
            scope=" ".join(sorted(set(scope))),
            roles=sorted(set(roles)),
            audience=audience,
            issued_at=int(now),
            expires_at=int(now) + ttl,
            jkt=jkt,
        )
    )
    return token


def is_opaque(token: str) -> bool:
    return opaque.looks_like(token, opaque.OPAQUE_ACCESS_PREFIX)


async def lookup(svc: Services, token: str) -> AccessClaims | None:
    """The claims of a live opaque token, or None (unknown, expired or revoked)."""
    if not is_opaque(token):
        return None
    row = await svc.opaque_tokens.get(opaque.digest(token))
    if row is None or svc.clock.now() >= row.expires_at:
        return None
    raw = {
        "iss": svc.settings.issuer,
        "sub": row.sub,
        "aud": row.audience,
        "exp": int(row.expires_at),
        "iat": int(row.issued_at),
        "nbf": int(row.issued_at),
        "jti": row.jti,
        "client_id": row.client_id,
        "scope": row.scope,
        "roles": list(row.roles),
    }
    if row.sid:
        raw["sid"] = row.sid
    if row.jkt:
        raw["cnf"] = {"jkt": row.jkt}
    return AccessClaims(
        sub=row.sub,
        iss=svc.settings.issuer,
        aud=(row.audience,),
        exp=int(row.expires_at),
        iat=int(row.issued_at),
        nbf=int(row.issued_at),
        jti=row.jti,
        client_id=row.client_id,
        scope=frozenset(row.scope.split()),
        roles=frozenset(row.roles),
        sid=row.sid,
        raw=raw,
        jkt=row.jkt,
    )


async def resolve(svc: Services, token: str, *, audience: str | None) -> AccessClaims:
    """Live claims, denylist applied. ``audience``: the server's own resolver for
    ``BearerAuth(opaque=...)`` passes its audience, as its JWT verifier checks it; introspection
    passes None (any client's API)."""
    claims = await lookup(svc, token)
    if claims is None:
        raise InvalidTokenError("unknown, expired or revoked opaque token")
    if audience is not None and audience not in claims.aud:
        raise InvalidAudience("wrong audience")
    denylist = svc.verifier.denylist
    if denylist is not None:
        denylist.check(claims)
    return claims
