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
    id_token: str | None = None  # OpenID Connect Core §3.1.3.3, when the scope has openid

    def body(self) -> dict[str, object]:
        out: dict[str, object] = {
            "access_token": self.access_token,
            "token_type": "DPoP" if self.jkt else "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token is not None:
            out["refresh_token"] = self.refresh_token
        if self.id_token is not None:
            out["id_token"] = self.id_token
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


def plan_login(
    svc: Services,
    *,
    user_id: str,
    client_id: str,
    scope: frozenset[str],
    ip: str | None,
    user_agent: str | None,
    ttl: int | None = None,
    jkt: str | None = None,
    bind_refresh: bool = False,
    with_refresh: bool = True,
    parent_sid: str | None = None,
    auth_time: float | None = None,
    amr: str | None = None,
) -> tuple[NewLogin, str | None]:
    """A new login, not yet stored: its row and its first refresh token (None without
    ``with_refresh``). See :func:`start_login` for the parameters."""
    refresh = opaque.new_token(opaque.REFRESH_PREFIX) if with_refresh else None
    settings = svc.settings
    access_ttl = min(ttl or settings.access_token_ttl, settings.access_token_ttl)
    login = NewLogin(
        sid="gps" + secrets.token_urlsafe(16),
        user_id=user_id,
        client_id=client_id,
        scope=" ".join(sorted(scope)),
        refresh_digest=opaque.digest(refresh) if refresh else None,
        now=svc.clock.now(),
        absolute_ttl=settings.refresh_token_ttl if refresh else access_ttl,
        idle_ttl=settings.refresh_idle_ttl if refresh else access_ttl,
        user_agent=user_agent,
        ip=ip,
        jkt=jkt if bind_refresh else None,
        parent_sid=parent_sid,
        auth_time=auth_time,
        amr=amr,
    )
    return login, refresh


async def login_tokens(
    svc: Services,
    login: NewLogin,
    refresh: str | None,
    *,
    scope: frozenset[str],
    roles: Iterable[str],
    audience: str | None = None,
    ttl: int | None = None,
    token_format: str = "jwt",
    username: str | None = None,
    jkt: str | None = None,
) -> TokenResponse:
    """The answer for a login just stored: its refresh token and a new access token."""
    token, expires_in = await issue_access_token(
        svc,
        token_format=token_format,
        username=username,
        subject=login.user_id,
        client_id=login.client_id,
        scope=scope,
        roles=roles,
        sid=login.sid,
        audience=audience,
        ttl=ttl,
        jkt=jkt,
    )
    return TokenResponse(token, expires_in, login.scope, refresh, login.sid, jkt)


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
    with_refresh: bool = True,
    parent_sid: str | None = None,
    auth_time: float | None = None,
    amr: str | None = None,
) -> TokenResponse:
    """A new login: a family id (sid), its first refresh token, and an access token.
    ``jkt``: the DPoP key the access token is bound to; with ``bind_refresh`` (a public client,
    RFC 9449 §5) the login's refresh tokens are bound to it too. Without ``with_refresh`` the
    login has no refresh token and lasts as long as its access token (it still has a ``sid``,
    so it can be revoked). ``parent_sid``, ``auth_time``, ``amr``: a login started from an
    authorization code (``oauth/authorization_code.py``, which stores the login itself, in the
    transaction that consumes the code)."""
    login, refresh = plan_login(
        svc,
        user_id=user_id,
        client_id=client_id,
        scope=scope,
        ip=ip,
        user_agent=user_agent,
        ttl=ttl,
        jkt=jkt,
        bind_refresh=bind_refresh,
        with_refresh=with_refresh,
        parent_sid=parent_sid,
        auth_time=auth_time,
        amr=amr,
    )
    await svc.logins.start(login)
    return await login_tokens(
        svc,
        login,
        refresh,
        scope=scope,
        roles=roles,
        audience=audience,
        ttl=ttl,
        token_format=token_format,
        username=username,
        jkt=jkt,
    )
