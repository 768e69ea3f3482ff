"""Browser sessions (DESIGN "Browser sessions"): login, refresh and logout for single-page
apps, the user's own list of logins, logout everywhere, and password change.

Framework-free: the HTTP side (cookie, origin checks) is ``server/routes/auth.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from gatepass.core import opaque
from gatepass.core.access_token import AccessClaims
from gatepass.core.passwords import WeakPassword
from gatepass.core.user_agent import parse as parse_user_agent
from gatepass.errors import InvalidClient, InvalidRequest, NotFound, UnauthorizedClient
from gatepass.oauth import paging, scopes
from gatepass.oauth.authorization_code import code_grant
from gatepass.oauth.dpop import token_binding
from gatepass.oauth.first_party import FIRST_PARTY_CLIENT_ID
from gatepass.oauth.issuance import TokenResponse, start_login
from gatepass.oauth.password_login import authenticate_user, record_sign_in
from gatepass.oauth.refresh import refresh_grant
from gatepass.oauth.revocation import end_login, end_user_logins
from gatepass.oauth.services import Services
from gatepass.oauth.token_endpoint import allowed_scopes
from gatepass.storage.models import Client, LoginSession


@dataclass(frozen=True, slots=True)
class Caller:
    ip: str | None
    user_agent: str | None


async def login(
    svc: Services, username: str, password: str, caller: Caller, scope: str | None = None
) -> TokenResponse:
    """A login through the built-in client ``gatepass``: the default scopes, or ``scope``
    (which may name ``gatepass:admin``: see ``oauth/scopes.py``)."""
    requested = scopes.parse(scope)
    granted = scopes.grant(requested, scopes.first_party(svc.settings.default_scopes))
    user = await authenticate_user(
        svc, username, password, ip=caller.ip, user_agent=caller.user_agent
    )
    response = await start_login(
        svc,
        user_id=user.id,
        roles=user.roles,
        client_id=FIRST_PARTY_CLIENT_ID,
        scope=scopes.for_subject(granted, user.roles),
        ip=caller.ip,
        user_agent=caller.user_agent,
    )
    await record_sign_in(
        svc,
        user,
        client_id=FIRST_PARTY_CLIENT_ID,
        sid=response.sid,
        ip=caller.ip,
        user_agent=caller.user_agent,
    )
    svc.metrics.tokens_issued.labels("session").inc()
    return response


async def code_login(svc: Services, form: Mapping[str, str], caller: Caller) -> TokenResponse:
    """A login from an authorization code of a public client (the hosted login page, then the
    app's own page): the code grant of ``/oauth/token`` with every check it makes (PKCE S256,
    redirect URI, one use, a replay revokes), answered like :func:`login`. A confidential client
    is refused: it redeems its codes at ``/oauth/token``, with its secret."""
    client_id = form.get("client_id") or ""
    client = await svc.clients.cached(client_id) if len(client_id) <= 64 else None
    if client is None:
        raise InvalidClient("Unknown client.")
    if not client.public:
        raise UnauthorizedClient(
            "A confidential client redeems its codes at /oauth/token, with its secret."
        )
    if "authorization_code" not in (client.grants or ()):
        raise UnauthorizedClient("This client may not use the authorization_code grant.")
    jkt = await token_binding(svc, client, None)  # a client that requires DPoP is refused
    response = await code_grant(
        svc,
        client,
        form,
        allowed=allowed_scopes(svc, client),
        ip=caller.ip,
        user_agent=caller.user_agent,
        jkt=jkt,
    )
    svc.metrics.tokens_issued.labels("session").inc()
    return response


async def _cookie_client(svc: Services, client_id: str) -> Client | None:
    """The client of a login whose refresh token came in the cookie, when it may refresh there:
    a public client with the code and refresh grants (``/auth/login`` with a code is the only
    way such a login gets a cookie)."""
    client = await svc.clients.cached(client_id) if len(client_id) <= 64 else None
    if client is None or not client.public:
        return None
    if not {"authorization_code", "refresh_token"} <= set(client.grants or ()):
        return None
    return client


async def refresh(svc: Services, token: str | None, caller: Caller) -> TokenResponse:
    """The cookie names no client: the built-in one, or the login's own public client."""
    response = await refresh_grant(
        svc,
        token,
        client_id=FIRST_PARTY_CLIENT_ID,
        scope=None,
        ip=caller.ip,
        user_agent=caller.user_agent,
        cookie_client=lambda cid: _cookie_client(svc, cid),
    )
    svc.metrics.tokens_issued.labels("session_refresh").inc()
    return response


async def logout(svc: Services, token: str | None, caller: Caller) -> bool:
    """End the login the refresh cookie belongs to (any generation of it)."""
    if not token or not opaque.looks_like(token, opaque.REFRESH_PREFIX):
        return False
    found = await svc.logins.lookup(opaque.digest(token))
    if found is None:
        return False
    return await end_login(svc, found[0], reason="logout", ip=caller.ip)


async def logout_all(svc: Services, claims: AccessClaims, caller: Caller) -> int:
    user = await svc.users.by_id(claims.sub)  # the event names the account, as others do
    rows = await end_user_logins(
        svc,
        claims.sub,
        reason="logout_all",
        event="logout_all",
        ip=caller.ip,
        user_agent=caller.user_agent,
        username=user.username if user else None,
    )
    return len(rows)


async def sessions_page(
    svc: Services,
    claims: AccessClaims,
    *,
    limit: int,
    after: str | None,
    newest_first: bool = False,
    current_apart: bool = False,
) -> tuple[list[dict[str, object]], str | None]:
    """A page of the user's live logins by start time (oldest first, or newest), and the
    cursor of the next; ``current_apart`` leaves the caller's own login out of every page (a
    page that shows it on its own: :func:`own_session`)."""
    rows = await svc.logins.page_of_user(
        claims.sub,
        active_at=svc.clock.now(),
        limit=limit + 1,
        after=paging.position(after),
        descending=newest_first,
        leave_out=claims.sid if current_apart else None,
    )
    page, next_cursor = paging.split(rows, limit, lambda r: (r.created_at, r.id))
    return [describe(r, current=claims.sid) for r in page], next_cursor


async def own_session(svc: Services, claims: AccessClaims, sid: str) -> dict[str, object] | None:
    """One live login of the caller's, as listed; None for any other (unknown, ended, or
    another user's: the same answer)."""
    row = await svc.logins.get(sid) if sid and len(sid) <= 64 else None
    now = svc.clock.now()
    if row is None or row.user_id != claims.sub or row.revoked_at is not None:
        return None
    if row.expires_at <= now or row.idle_expires_at <= now:
        return None
    return describe(row, current=claims.sid)


def describe(row: LoginSession, *, current: str | None = None) -> dict[str, object]:
    device = parse_user_agent(row.user_agent)  # for people to recognise their devices
    return {
        "id": row.id,
        "created": row.created_at,
        "last_used": row.last_used_at,
        "expires": row.expires_at,
        "client": row.client_id,
        "user_agent": row.user_agent,
        "browser": device.browser,
        "os": device.os,
        "address": row.ip,
        "current": row.id == current,
    }


async def end_session(svc: Services, claims: AccessClaims, sid: str, caller: Caller) -> None:
    row = await svc.logins.get(sid) if len(sid) <= 64 else None
    if row is None or row.user_id != claims.sub or row.revoked_at is not None:
        raise NotFound("No such session.")
    await end_login(svc, row, reason="ended_by_user", ip=caller.ip)


async def force_logout(
    svc: Services,
    user_id: str,
    *,
    by: str,
    by_username: str | None = None,
    caller: Caller | None = None,
) -> int:
    """An administrator (or the CLI) ends every login of a user at once. The ``forced_logout``
    event names the user and who did it (``by``, ``by_username``) as the ``admin.*`` events do
    (``oauth/admin_audit.py``)."""
    user = await svc.users.by_id(user_id) if len(user_id) <= 64 else None
    if user is None:
        raise NotFound("No such user.")
    rows = await end_user_logins(
        svc,
        user_id,
        reason="forced_logout",
        event="forced_logout",
        ip=caller.ip if caller else None,
        user_agent=caller.user_agent if caller else None,
        details={"by": by, "by_username": by_username},
        username=user.username,
    )
    return len(rows)


async def force_end_session(
    svc: Services, sid: str, *, by: str, by_username: str | None = None
) -> bool:
    row = await svc.logins.get(sid) if len(sid) <= 64 else None
    if row is None:
        raise NotFound("No such session.")
    user = await svc.users.by_id(row.user_id)
    return await end_login(
        svc,
        row,
        reason="forced_logout",
        event="forced_logout",
        details={"by": by, "by_username": by_username},
        username=user.username if user else None,
    )


async def change_password(
    svc: Services, claims: AccessClaims, current: str, new: str, caller: Caller
) -> int:
    """Check the current password (throttled like a login), set the new one, and end every
    other login of the user with its access tokens; the caller's own login stays."""
    user = await svc.users.by_id(claims.sub)
    if user is None:
        raise NotFound("No such user.")
    await authenticate_user(svc, user.username, current, ip=caller.ip, user_agent=caller.user_agent)
    try:
        new_hash = await asyncio.to_thread(svc.passwords.hash, new)
    except WeakPassword as exc:
        raise InvalidRequest(str(exc)) from None
    await svc.users.set_password_hash(user.id, new_hash)
    rows = await end_user_logins(
        svc,
        user.id,
        reason="password_change",
        keep=claims.sid,
        event="password_change",
        ip=caller.ip,
        user_agent=caller.user_agent,
        username=user.username,
    )
    return len(rows)
