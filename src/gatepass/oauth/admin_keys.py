"""Rotating keys by hand (the admin console and ``/admin/keys/rotate``,
``/admin/url-keys/rotate``): token-signing keys (``KeyManager.rotate``) and URL-signing keys
(``UrlKeyManager.rotate``), each rotation an ``admin.keys_rotated`` event naming the ring."""

from __future__ import annotations

from gatepass.oauth import admin_audit
from gatepass.oauth.admin_audit import Admin
from gatepass.oauth.keys import managers_for
from gatepass.oauth.services import Services

TOKEN = "token"
URL = "url"


async def rotate_token_keys(
    svc: Services, admin: Admin, *, revoke_old: bool = False, purpose: str = "all"
) -> dict[str, str]:
    """Rotate the ring of ``purpose`` (``access``: access tokens, ``id_token``: ID tokens,
    ``all``: both); ``revoke_old``: an emergency rotation, the old keys retired at once instead
    of when their tokens expire. The new active kid of each ring rotated."""
    active: dict[str, str] = {}
    for manager in managers_for((svc.keys, svc.id_keys), purpose):
        active[manager.purpose] = (await manager.rotate(revoke_old=revoke_old)).active().kid
    # flat values, as every event detail is shown (the console prints each detail as text)
    shown = ", ".join(f"{ring} {kid}" for ring, kid in active.items())
    details = {"keys": TOKEN, "purpose": purpose, "revoke_old": revoke_old, "active": shown}
    await admin_audit.record(svc, admin, admin_audit.KEYS_ROTATED, details=details)
    return active


async def rotate_url_keys(svc: Services, admin: Admin) -> str:
    """The next URL key signs; the active one is still accepted until every URL it signed has
    expired. The new active kid."""
    ring = await svc.url_keys.rotate()
    active = ring.active().kid
    details = {"keys": URL, "active": active}
    await admin_audit.record(svc, admin, admin_audit.KEYS_ROTATED, details=details)
    return active
