"""Rotating keys by hand (the admin console and ``/admin/keys/rotate``,
``/admin/url-keys/rotate``): token-signing keys (``KeyManager.rotate``) and URL-signing keys
(``UrlKeyManager.rotate``), each rotation an ``admin.keys_rotated`` event naming the ring."""

from __future__ import annotations

from gatepass.core.keys import KeyRing
from gatepass.oauth import admin_audit
from gatepass.oauth.admin_audit import Admin
from gatepass.oauth.services import Services

TOKEN = "token"
URL = "url"


async def rotate_token_keys(svc: Services, admin: Admin, *, revoke_old: bool = False) -> KeyRing:
    """``revoke_old``: an emergency rotation, the old keys retired at once instead of when
    their tokens expire."""
    ring = await svc.keys.rotate(revoke_old=revoke_old)
    details = {"keys": TOKEN, "revoke_old": revoke_old, "active": ring.active().kid}
    await admin_audit.record(svc, admin, admin_audit.KEYS_ROTATED, details=details)
    return ring


async def rotate_url_keys(svc: Services, admin: Admin) -> str:
    """The next URL key signs; the active one is still accepted until every URL it signed has
    expired. The new active kid."""
    ring = await svc.url_keys.rotate()
    active = ring.active().kid
    details = {"keys": URL, "active": active}
    await admin_audit.record(svc, admin, admin_audit.KEYS_ROTATED, details=details)
    return active
