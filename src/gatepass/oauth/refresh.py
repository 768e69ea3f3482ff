"""The refresh-token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14).

The decisions come from :mod:`gatepass.core.refresh`; the atomic step from
:meth:`gatepass.storage.logins.Logins.rotate`. A login started from an authorization code with
``openid`` in its scope gets a new ID token with every refresh (OpenID Connect Core §12.2).
Every refusal is ``invalid_grant`` with the same description, so an answer never tells a thief
which case it hit; the reason goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from gatepass.core import opaque
from gatepass.core import refresh as machine
from gatepass.errors import InvalidGrant, InvalidScope
from gatepass.oauth import scopes
from gatepass.oauth.id_tokens import OPENID_SCOPE, amr_list, mint
from gatepass.oauth.issuance import TokenResponse, issue_access_token
from gatepass.oauth.revocation import end_login
from gatepass.oauth.services import Services
from gatepass.storage.models import Client, LoginSession, RefreshToken
from gatepass.storage.token_rows import LoginRow, RefreshRow, Rotation, RotationStep

log = logging.getLogger("gatepass.refresh")

REFUSED = "The refresh token is invalid, expired or revoked."


def family_state(row: LoginSession | LoginRow) -> machine.Family:
    """The state machine's view of a login row."""
    return machine.Family(
        sid=row.id,
        client_id=row.client_id,
        expires_at=row.expires_at,
        idle_expires_at=row.idle_expires_at,
        revoked=row.revoked_at is not None,
    )


def _presented(row: RefreshToken | RefreshRow) -> machine.Presented:
    return machine.Presented(
        generation=row.generation, used_at=row.used_at, expires_at=row.expires_at
    )


def narrow(requested: frozenset[str] | None, family_scope: str) -> frozenset[str]:
    """RFC 6749 §6: a refresh may ask for less than the login has, never more."""
    have = frozenset(family_scope.split())
    if requested is None:
        return have
    if not requested <= have:
        raise InvalidScope("The requested scope exceeds the scope of the login.")
    return requested


async def _end_parent_sso(svc: Services, parent_sid: str | None, *, ip: str | None) -> None:
    """End the single sign-on session a reused family was started from (the reuse event,
    already recorded, names it)."""
    parent = await svc.logins.get(parent_sid) if parent_sid else None
    if parent is not None and parent.kind == "sso":
        await end_login(svc, parent, reason="refresh_reuse", ip=ip)


async def refresh_grant(
    svc: Services,
    refresh_token: str | None,
    *,
    client_id: str,
    scope: str | None,
    ip: str | None,
    user_agent: str | None,
    token_format: str = "jwt",
    audience: str | None = None,
    ttl: int | None = None,
    jkt: str | None = None,
    cookie_client: Callable[[str], Awaitable[Client | None]] | None = None,
) -> TokenResponse:
    """``jkt``: the key of the request's DPoP proof, if any. A login bound to a key (a public
    client's, RFC 9449 §5) is refreshed only with a proof by that key, and the refusal comes
    before the rotation, so a thief without the key consumes nothing.

    ``cookie_client``: for ``/auth/refresh``, whose cookie names no client: given the login's
    client id (when it is not ``client_id``), that client if it may refresh there, or None; its
    token format, audience and lifetime then apply. Only asked for such logins, so a login of
    ``client_id`` costs no lookup.

    Reuse ends the family and, when the family was started from a single sign-on session (an
    authorization code), that session too: the thief may hold the browser that has it, and it
    would otherwise get new codes without a password. Its sibling logins stay."""
    if not refresh_token or not opaque.looks_like(refresh_token, opaque.REFRESH_PREFIX):
        raise InvalidGrant(REFUSED, debug="not a refresh token")
    now = svc.clock.now()
    digest = opaque.digest(refresh_token)
    found = await svc.logins.lookup_with_user(digest)  # one round trip for all three rows
    family_row, token_row, user = found if found is not None else (None, None, None)
    if (
        cookie_client is not None
        and family_row is not None
        and family_row.client_id != client_id
        and (own := await cookie_client(family_row.client_id)) is not None
    ):
        client_id, token_format = own.id, own.token_format
        audience, ttl = own.audience, own.access_token_ttl
    first = machine.judge(
        family_state(family_row) if family_row else None,
        _presented(token_row) if token_row else None,
        client_id=client_id,
        now=now,
    )
    if first.verdict is machine.Verdict.INVALID or family_row is None or token_row is None:
        raise InvalidGrant(REFUSED, debug=first.reason)
    if user is None or user.disabled:
        raise InvalidGrant(REFUSED, debug="user gone or disabled")
    if family_row.jkt is not None and family_row.jkt != jkt:
        raise InvalidGrant(REFUSED, debug="refresh token bound to another DPoP key")
    presented: RefreshToken | RefreshRow = token_row  # re-read below if the rotation lost
    granted = scopes.for_subject(narrow(scopes.parse(scope), family_row.scope), user.roles)
    family = family_state(family_row)
    child = machine.child_token(svc.refresh_key, digest)
    child_digest = opaque.digest(child)

    verdict = first.verdict
    if verdict is machine.Verdict.ROTATE:
        idle_deadline = machine.next_idle_deadline(family, now, svc.settings.refresh_idle_ttl)
        idle_step = machine.idle_step(svc.settings.refresh_idle_ttl)
        outcome = await svc.logins.rotate(
            RotationStep(
                sid=family.sid,
                parent_digest=digest,
                child_digest=child_digest,
                generation=presented.generation,
                now=now,
                idle_deadline=idle_deadline,
                idle_step=idle_step,
                move_login=machine.moves_login(family, idle_deadline, idle_step),
            )
        )
        if outcome is Rotation.DEAD:
            raise InvalidGrant(REFUSED, debug="family ended during the rotation")
        if outcome is Rotation.LOST:
            reread = await svc.logins.refresh_token(digest)
            if reread is None:
                raise InvalidGrant(REFUSED, debug="token vanished during the rotation")
            presented, verdict = reread, machine.Verdict.REUSE
    if verdict is not machine.Verdict.ROTATE:
        second = machine.judge_used(
            _presented(presented),
            child_used=await svc.logins.child_used(child_digest),
            now=now,
            grace=svc.settings.refresh_reuse_grace,
        )
        if second.verdict is machine.Verdict.REUSE:
            svc.metrics.reuse_detections.inc()
            await end_login(
                svc,
                family_row,
                reason="refresh_reuse",
                event="refresh_reuse",
                ip=ip,
                user_agent=user_agent,
                username=user.username,
                details={
                    "generation": presented.generation,
                    "why": second.reason,
                    **({"sso_sid": family_row.parent_sid} if family_row.parent_sid else {}),
                },
            )
            await _end_parent_sso(svc, family_row.parent_sid, ip=ip)
            log.warning("refresh token reuse: family revoked", extra={"sid": family.sid})
            raise InvalidGrant(REFUSED, debug=second.reason)
    svc.metrics.refreshes.inc()
    token, expires_in = await issue_access_token(
        svc,
        token_format=token_format,
        subject=user.id,
        client_id=family.client_id,
        scope=granted,
        roles=user.roles,
        sid=family.sid,
        audience=audience,
        ttl=ttl,
        username=user.username,
        jkt=jkt,
    )
    id_token = None
    if OPENID_SCOPE in granted and family_row.auth_time is not None:
        # OpenID Connect Core §12.2: same iss, sub, aud, auth_time as the first; no nonce
        id_token = mint(
            svc,
            user_id=user.id,
            client_id=family.client_id,
            auth_time=family_row.auth_time,
            amr=amr_list(family_row.amr),
            sid=family_row.parent_sid,
        )
    return TokenResponse(
        token, expires_in, " ".join(sorted(granted)), child, family.sid, jkt, id_token=id_token
    )
