"""Administering registered clients (the admin console and ``/admin/clients``): registering,
editing (name, grants, scopes, token lifetime, format and audience, with the checks of
registration, ``oauth/clients.check``), rotating the secret, deleting; each an ``admin.*`` event.
The client cache forgets a changed client at once (``Clients.update``), so the next token
request sees the change.
"""

from __future__ import annotations

from typing import Any

from gatepass.errors import NotFound
from gatepass.oauth import admin_audit
from gatepass.oauth.admin_audit import Admin
from gatepass.oauth.clients import check, check_redirects, create_client
from gatepass.oauth.services import Services
from gatepass.storage.models import Client

EDITABLE = ("name", "grants", "scopes", "access_token_ttl", "token_format", "audience")


async def update_client(
    svc: Services, admin: Admin, client_id: str, changes: dict[str, Any]
) -> Client:
    """Apply ``changes`` (a subset of :data:`EDITABLE`, already of the right types; None for
    ``audience`` or ``access_token_ttl`` means the server's default) and record what changed."""
    client = await svc.clients.get(client_id) if 0 < len(client_id) <= 64 else None
    if client is None:
        raise NotFound("No such client.")
    merged = {
        "name": client.name,
        "grants": list(client.grants or []),
        "scopes": list(client.scopes or []),
        "access_token_ttl": client.access_token_ttl,
        "token_format": client.token_format,
        "audience": client.audience,
        **changes,
    }
    grants, scopes = check(
        name=merged["name"],
        grants=merged["grants"],
        scope_list=merged["scopes"],
        public=bool(client.public),
        token_format=merged["token_format"],
        audience=merged["audience"],
        access_token_ttl=merged["access_token_ttl"],
        max_ttl=svc.settings.access_token_ttl,
    )
    check_redirects(
        grants,
        client.redirect_uris or [],
        client.post_logout_redirect_uris or [],
        public=bool(client.public),
    )
    merged.update(grants=grants, scopes=scopes)
    changed = sorted(k for k in EDITABLE if merged[k] != getattr(client, k))
    if not changed:
        return client
    updated = await svc.clients.update(client.id, **{k: merged[k] for k in changed})
    if updated is None:  # deleted meanwhile
        raise NotFound("No such client.")
    await admin_audit.record(
        svc, admin, admin_audit.CLIENT_UPDATED, client_id=client.id, details={"changed": changed}
    )
    return updated


async def register(
    svc: Services, admin: Admin, name: str, **options: Any
) -> tuple[Client, str | None]:
    """A new client (``options`` as :func:`~gatepass.oauth.clients.create_client` takes them)
    and its secret, shown once (None for a public client)."""
    client, secret = await create_client(svc, name, **options)
    await admin_audit.record(svc, admin, admin_audit.CLIENT_CREATED, client_id=client.id)
    return client, secret


async def rotate_secret(svc: Services, admin: Admin, client_id: str) -> str:
    """A new secret for a confidential client, shown once; the old one stops working at once."""
    secret = await svc.clients.rotate_secret(client_id) if 0 < len(client_id) <= 64 else None
    if secret is None:
        raise NotFound("No such confidential client.")
    await admin_audit.record(svc, admin, admin_audit.CLIENT_SECRET_ROTATED, client_id=client_id)
    return secret


async def delete(svc: Services, admin: Admin, client_id: str) -> None:
    if not 0 < len(client_id) <= 64 or not await svc.clients.delete(client_id):
        raise NotFound("No such client.")
    await admin_audit.record(svc, admin, admin_audit.CLIENT_DELETED, client_id=client_id)
