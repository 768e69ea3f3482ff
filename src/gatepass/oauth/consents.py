"""Consent: what a user allowed a client that is not first-party. Asked once per user, client
and scopes (a request for more scopes than were allowed asks again), and withdrawn by the user
(``/auth/consents``)."""

from __future__ import annotations

from collections.abc import Iterable

from gatepass.core.access_token import AccessClaims
from gatepass.errors import NotFound
from gatepass.oauth.services import Services
from gatepass.storage.models import Client


async def needed(svc: Services, user_id: str, client: Client, scope: Iterable[str]) -> bool:
    """Whether to ask: never for a first-party client; else when the user has never allowed
    the client anything (even a request with no scope), or not every one of ``scope``."""
    if client.first_party:
        return False
    allowed = await svc.consents.scopes(user_id, client.id)
    return allowed is None or not frozenset(scope) <= allowed


async def allow(svc: Services, user_id: str, client: Client, scope: Iterable[str]) -> None:
    await svc.consents.allow(user_id, client.id, frozenset(scope), svc.clock.now())


async def of_caller(svc: Services, claims: AccessClaims) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for row in await svc.consents.of_user(claims.sub):
        client = await svc.clients.get(row.client_id)
        out.append(
            {
                "client_id": row.client_id,
                "client_name": client.name if client else None,
                "scope": row.scope,
                "granted_at": row.granted_at,
            }
        )
    return out


async def withdraw(svc: Services, claims: AccessClaims, client_id: str) -> None:
    if len(client_id) > 64 or not await svc.consents.withdraw(claims.sub, client_id):
        raise NotFound("No consent for this client.")
