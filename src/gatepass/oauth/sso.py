"""The single sign-on session of the hosted pages (DESIGN "Single sign-on session").

Signing in on the login page starts a new session every time, with a new random cookie value
(no session fixation: a cookie sent before the login is never reused). The session is a
``login_sessions`` row of kind ``sso`` of the built-in client, found by the SHA-256 digest of
its cookie, so it is listed, and ended, with the user's other logins (``/auth/sessions``,
logout-all, password change, admin revoke). Ending it through RP-initiated logout also ends
every login started from it, except those with ``offline_access``; a new sign-in of the same
user in the same browser takes those logins over (:func:`replace`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from gatepass.core import opaque
from gatepass.oauth.first_party import FIRST_PARTY_CLIENT_ID
from gatepass.oauth.revocation import end_login
from gatepass.oauth.services import Services
from gatepass.storage.models import LoginSession, User

COOKIE = "__Host-gp_session"
AMR_PASSWORD = "pwd"  # RFC 8176
OFFLINE_ACCESS = "offline_access"
LOGOUT_EVENT = "logout"  # RP-initiated logout (rp_logout)


@dataclass(frozen=True, slots=True)
class Signed:
    """A live session and its user."""

    session: LoginSession
    user: User


async def current(svc: Services, cookie: str | None) -> Signed | None:
    """The live session this cookie value stands for, or None."""
    if not cookie or not opaque.looks_like(cookie, opaque.SSO_COOKIE_PREFIX):
        return None
    found = await svc.sso.by_cookie(opaque.digest(cookie), svc.clock.now())
    return Signed(*found) if found is not None else None


async def sign_in(
    svc: Services, user: User, *, ip: str | None, user_agent: str | None
) -> tuple[str, LoginSession]:
    """A new session for ``user``, who has just given their password: its cookie value (to
    set, never stored) and its row."""
    cookie = opaque.new_token(opaque.SSO_COOKIE_PREFIX)
    now = svc.clock.now()
    expires = now + svc.settings.sso_session_ttl
    row = LoginSession(
        id="gpo" + secrets.token_urlsafe(16),
        user_id=user.id,
        client_id=FIRST_PARTY_CLIENT_ID,
        scope="",
        created_at=now,
        last_used_at=now,
        expires_at=expires,
        idle_expires_at=min(expires, now + svc.settings.sso_idle_ttl),
        user_agent=(user_agent or "")[:512] or None,
        ip=ip,
        kind="sso",
        cookie_digest=opaque.digest(cookie),
        auth_time=now,
        amr=AMR_PASSWORD,
    )
    return cookie, await svc.sso.start(row)


async def touch(svc: Services, session: LoginSession) -> None:
    """Move the idle deadline, at most once a minute (a tenth of the idle lifetime when that is
    shorter): a silent re-authorization then costs no write to the session's row."""
    now = svc.clock.now()
    if now - session.last_used_at < min(60.0, svc.settings.sso_idle_ttl / 10):
        return
    await svc.sso.touch(session.id, now, svc.settings.sso_idle_ttl)


async def replace(svc: Services, previous: LoginSession, new: LoginSession) -> bool:
    """A new sign-in in the same browser (``prompt=login``, ``max_age``, the sign-in page
    again) ends the session it replaces, and only that one. When the same user signed in
    again, the logins started from the old session now hang from the new one (the same browser
    and person): RP-initiated logout of the new session ends them, as it would have ended them
    from the old. Another user's stay with the ended session: signing out of one account never
    ends another's. True when this call ended ``previous``."""
    ended = await end_login(svc, previous, reason="replaced")
    if ended and previous.user_id == new.user_id:
        await svc.sso.adopt(previous.id, new.id)
    return ended


async def end(
    svc: Services,
    session: LoginSession,
    *,
    reason: str = "logout",
    ip: str | None = None,
) -> int:
    """End the session and every login started from it but ``offline_access`` ones (their
    access tokens through the denylist, as every revocation); how many logins ended."""
    # no security event here, as for /auth/logout: signing out on our own pages is the user's
    # everyday act; an app's request to sign out records one (rp_logout)
    ended = int(await end_login(svc, session, reason=reason, ip=ip))
    for child in await svc.sso.children(session.id):
        if OFFLINE_ACCESS in child.scope.split():
            continue
        ended += int(await end_login(svc, child, reason=reason, ip=ip))
    return ended


async def rp_logout(
    svc: Services,
    signed: Signed,
    *,
    client_id: str | None,
    hinted: bool,
    ip: str | None,
    user_agent: str | None,
) -> int:
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): :func:`end`, and a
    ``logout`` event (an app asked for it, unlike a sign-out on our own pages) naming the app
    (``client_id``, None when none was named), whether an ID-token hint named this session
    (``hinted``: no confirmation asked) and how many logins ended."""
    ended = await end(svc, signed.session, ip=ip)
    if ended:
        await svc.events.record(
            LOGOUT_EVENT,
            now=svc.clock.now(),
            user_id=signed.user.id,
            username=signed.user.username,
            client_id=client_id,
            sid=signed.session.id,
            ip=ip,
            user_agent=(user_agent or "")[:512] or None,
            details={"rp_initiated": True, "id_token_hint": hinted, "sessions": ended},
        )
    return ended
