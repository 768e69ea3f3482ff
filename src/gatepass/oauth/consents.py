"""Consent: what a user allowed a client that is not first-party. Asked once per user, client
and scopes (a request for more scopes than were allowed asks again), and withdrawn by the user
(``/auth/consents``, the account page "Connected apps"): withdrawing it also ends every login
of the user at that client, so the app loses its access at once, not at its next consent."""

from __future__ import annotations

from collections.abc import Iterable

from gatepass.core.access_token import AccessClaims
from gatepass.errors import NotFound
from gatepass.oauth import paging
from gatepass.oauth.revocation import end_login
from gatepass.oauth.services import Services
from gatepass.storage.models import Client, Consent


async def needed(svc: Services, user_id: str, client: Client, scope: Iterable[str]) -> bool:
    """Whether to ask: never for a first-party client; else when the user has never allowed
    the client anything (even a request with no scope), or not every one of ``scope``."""
    if client.first_party:
        return False
    allowed = await svc.consents.scopes(user_id, client.id)
    return allowed is None or not frozenset(scope) <= allowed


async def allow(svc: Services, user_id: str, client: Client, scope: Iterable[str]) -> None:
    await svc.consents.allow(user_id, client.id, frozenset(scope), svc.clock.now())


async def page_of_caller(
    svc: Services, claims: AccessClaims, *, limit: int, after: str | None
) -> tuple[list[dict[str, object]], str | None]:
    """A page of the caller's consents by grant time, and the cursor of the next."""
    rows = await svc.consents.page_of_user(
        claims.sub, limit=limit + 1, after=paging.position(after)
    )
    page, next_cursor = paging.split(rows, limit, lambda r: (r.granted_at, r.client_id))
    return [await _view(svc, row) for row in page], next_cursor


async def one_of_caller(
    svc: Services, claims: AccessClaims, client_id: str
) -> dict[str, object] | None:
    """The caller's consent to ``client_id`` as listed; None when there is none."""
    if not client_id or len(client_id) > 64:
        return None
    row = await svc.consents.get(claims.sub, client_id)
    return await _view(svc, row) if row is not None else None


async def _view(svc: Services, row: Consent) -> dict[str, object]:
    client = await svc.clients.get(row.client_id)
    return {
        "client_id": row.client_id,
        "client_name": client.name if client else None,
        "scope": row.scope,
        "granted_at": row.granted_at,
    }


async def withdraw(
    svc: Services,
    claims: AccessClaims,
    client_id: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> int:
    """Withdraw the consent and end the user's logins at the client (their refresh tokens at
    once, their access tokens through the denylist): how many ended. A
    ``consent_withdrawn`` event names the client."""
    if len(client_id) > 64 or not await svc.consents.withdraw(claims.sub, client_id):
        raise NotFound("No consent for this client.")
    ended = 0
    for row in await svc.logins.of_user(claims.sub, active_at=svc.clock.now()):
        if row.client_id == client_id:
            ended += int(await end_login(svc, row, reason="consent_withdrawn", ip=ip))
    await svc.events.record(
        "consent_withdrawn",
        now=svc.clock.now(),
        user_id=claims.sub,
        client_id=client_id,
        sid=claims.sid,
        ip=ip,
        user_agent=(user_agent or "")[:512] or None,
        details={"sessions": ended},
    )
    return ended
