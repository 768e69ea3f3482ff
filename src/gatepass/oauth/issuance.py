"""Issuing access tokens (RFC 9068) and starting logins (refresh-token families)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from gatepass.core import opaque
from gatepass.core.access_token import ACCESS_TOKEN_TYP, build_claims
from gatepass.oauth import opaque_access
from gatepass.oauth.services import Services
from gatepass.storage.logins import NewLogin


@dataclass(frozen=True, slots=True)
class TokenResponse:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    sid: str | None = None
    jkt: str | None = None  # the DPoP key the access token is bound to (RFC 9449 §5)

    def body(self) -> dict[str, object]:
        out: dict[str, object] = {
            "access_token": self.access_token,
            "token_type": "DPoP" if self.jkt else "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token is not None:
            out["refresh_token"] = self.refresh_token
        return out


async def issue_access_token(
    svc: Services,
    *,
    token_format: str,
    subject: str,
    client_id: str,
    scope: Iterable[str],
    roles: Iterable[str],
    sid: str | None,
    audience: str | None = None,
    ttl: int | None = None,
    username: str | None = None,
    jkt: str | None = None,
) -> tuple[str, int]:
    """A JWT (RFC 9068) or, for clients configured so, an opaque token stored as a digest.
    Returns the token and its lifetime, never longer than GATEPASS_ACCESS_TOKEN_TTL.
    ``jkt``: bind it to that DPoP key (RFC 9449 §6: ``cnf.jkt`` in the JWT or the row)."""
    settings = svc.settings
    ttl = min(ttl or settings.access_token_ttl, settings.access_token_ttl)
    audience = audience or settings.audience
    if token_format == "opaque":
        token = await opaque_access.issue(
            svc,
            subject=subject,
            client_id=client_id,
            scope=scope,
            roles=roles,
            sid=sid,
            audience=audience,
            ttl=ttl,
            username=username,
            jkt=jkt,
        )
        return token, ttl
    claims = build_claims(
        issuer=settings.issuer,
        subject=subject,
        audience=audience,
        client_id=client_id,
        scope=scope,
        roles=roles,
        now=svc.clock.now(),
        ttl=ttl,
        sid=sid,
        extra={"cnf": {"jkt": jkt}} if jkt else None,
    )
    return svc.keys.ring.sign(claims, ACCESS_TOKEN_TYP), ttl


async def start_login(
    svc: Services,
    *,
    user_id: str,
    roles: Iterable[str],
    client_id: str,
    scope: frozenset[str],
    ip: str | None,
    user_agent: str | None,
    audience: str | None = None,
    ttl: int | None = None,
    token_format: str = "jwt",
    username: str | None = None,
    jkt: str | None = None,
    bind_refresh: bool = False,
) -> TokenResponse:
    """A new login: a family id (sid), its first refresh token, and an access token.
    ``jkt``: the DPoP key the access token is bound to; with ``bind_refresh`` (a public client,
    RFC 9449 §5) the login's refresh tokens are bound to it too."""
    sid = "gps" + secrets.token_urlsafe(16)
    refresh = opaque.new_token(opaque.REFRESH_PREFIX)
    scope_str = " ".join(sorted(scope))
    await svc.logins.start(
        NewLogin(
            sid=sid,
            user_id=user_id,
            client_id=client_id,
            scope=scope_str,
            refresh_digest=opaque.digest(refresh),
            now=svc.clock.now(),
            absolute_ttl=svc.settings.refresh_token_ttl,
            idle_ttl=svc.settings.refresh_idle_ttl,
            user_agent=user_agent,
            ip=ip,
            jkt=jkt if bind_refresh else None,
        )
    )
    token, expires_in = await issue_access_token(
        svc,
        token_format=token_format,
        username=username,
        subject=user_id,
        client_id=client_id,
        scope=scope,
        roles=roles,
        sid=sid,
        audience=audience,
        ttl=ttl,
        jkt=jkt,
    )
    return TokenResponse(token, expires_in, scope_str, refresh, sid, jkt)
