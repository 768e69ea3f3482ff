"""The authorization code grant (RFC 6749 §4.1, PKCE RFC 7636 with S256 only).

``issue_code`` is called by ``/oauth/authorize`` once the user is signed in (an SSO session)
and has consented: the code is 256 random bits, stored only as a digest, valid for
``GATEPASS_AUTHORIZATION_CODE_TTL`` (at most 60 s), and bound to its client, redirect URI, PKCE
challenge, nonce and scope.

``code_grant`` is the token request (§4.1.3): the code redeemed once, its bindings checked (the
PKCE verifier in constant time, RFC 7636 §4.6), a login started (a new refresh-token family,
with the SSO session as its parent), and an ID token when the scope has ``openid`` (OpenID
Connect Core §3.1.3.3). Every refusal of a code is ``invalid_grant`` with one description; the
reason goes to the log. Two statements carry it (``storage/code_rows/``): one read of the code
with its user and SSO session, and one transaction that consumes the code, starts the login
and names it in the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import NoReturn

from gatepass.core import opaque
from gatepass.errors import InvalidGrant, InvalidRequest
from gatepass.oauth import scopes
from gatepass.oauth.dpop import refreshes_bound
from gatepass.oauth.id_tokens import OPENID_SCOPE, amr_list, mint
from gatepass.oauth.issuance import TokenResponse, login_tokens, plan_login
from gatepass.oauth.revocation import end_login
from gatepass.oauth.services import Services
from gatepass.storage.code_rows import CodeRow, Redeemed, Redemption
from gatepass.storage.models import Client, LoginSession

log = logging.getLogger("gatepass.authorization_code")

REFUSED = "The authorization code is invalid, expired, used, or was issued for another request."
# RFC 7636 §4.1: code-verifier = 43*128unreserved (ALPHA / DIGIT / "-" / "." / "_" / "~")
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def issue_code(
    svc: Services,
    *,
    client_id: str,
    sso: LoginSession,
    redirect_uri: str,
    code_challenge: str,
    nonce: str | None,
    scope: Iterable[str],
) -> str:
    """A new code for ``sso``'s user; ``redirect_uri`` exactly as the request sent it (the
    token request must repeat it), ``scope`` as granted."""
    code = opaque.new_token(opaque.AUTHORIZATION_CODE_PREFIX)
    now = svc.clock.now()
    await svc.codes.add(
        CodeRow(
            digest=opaque.digest(code),
            client_id=client_id,
            user_id=sso.user_id,
            sso_sid=sso.id,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            nonce=nonce,
            scope=" ".join(sorted(set(scope))),
            auth_time=sso.auth_time if sso.auth_time is not None else sso.created_at,
            amr=sso.amr or "pwd",
            created_at=now,
            expires_at=now + svc.settings.authorization_code_ttl,
        )
    )
    return code


async def code_grant(
    svc: Services,
    client: Client,
    form: Mapping[str, str],
    *,
    allowed: frozenset[str],
    ip: str | None,
    user_agent: str | None,
    jkt: str | None,
) -> TokenResponse:
    """RFC 6749 §4.1.3: redeem a code for ``client`` (authenticated, holding the grant).

    Everything the code is bound to is checked before it is consumed, so a request that fails
    a check (another client, another redirect URI, a wrong verifier) leaves it to its owner;
    then one transaction consumes it, if its SSO session is still live, and starts the login,
    whose id it writes into the code. A code presented after it was used is a replay:
    ``invalid_grant``, and the login its first use started is revoked with its access tokens.
    ``allowed``: the scopes ``client`` may hold now (a code never gives more)."""
    verifier = form.get("code_verifier") or ""
    if not _VERIFIER.fullmatch(verifier):
        raise InvalidRequest(
            "code_verifier must be 43-128 characters of letters, digits and - . _ ~ "
            "(RFC 7636 §4.1)."
        )
    code = form.get("code") or ""
    if not opaque.looks_like(code, opaque.AUTHORIZATION_CODE_PREFIX):
        raise InvalidGrant(REFUSED, debug="not an authorization code")
    digest = opaque.digest(code)
    found = await svc.codes.lookup(digest)
    if found is None:
        raise InvalidGrant(REFUSED, debug="unknown code")
    row, user = found.code, found.user
    now = svc.clock.now()
    if row.used_at is not None:
        await _replayed(svc, row, ip=ip, user_agent=user_agent)
    if row.expires_at <= now:
        raise InvalidGrant(REFUSED, debug="code expired")
    if row.client_id != client.id:
        raise InvalidGrant(REFUSED, debug="code issued to another client")
    if form.get("redirect_uri") != row.redirect_uri:
        raise InvalidGrant(REFUSED, debug="redirect_uri differs from the authorization request")
    if not hmac.compare_digest(s256(verifier).encode(), row.code_challenge.encode()):
        raise InvalidGrant(REFUSED, debug="PKCE verifier does not match the challenge")
    if user is None or user.disabled:
        raise InvalidGrant(REFUSED, debug="user gone or disabled")
    if not found.sso_live(now):
        # signed out (or ended by an admin) since: a login started now would outlive the logout
        raise InvalidGrant(REFUSED, debug="the single sign-on session has ended")

    granted = scopes.for_subject(frozenset(row.scope.split()) & allowed, user.roles)
    login, refresh = plan_login(
        svc,
        user_id=user.id,
        client_id=client.id,
        scope=granted,
        ip=ip,
        user_agent=user_agent,
        ttl=client.access_token_ttl,
        jkt=jkt,
        bind_refresh=refreshes_bound(client),
        with_refresh="refresh_token" in client.grants,
        parent_sid=row.sso_sid,
        auth_time=row.auth_time,
        amr=row.amr,
    )
    redeemed = await svc.codes.redeem_starting(Redemption(digest, row.sso_sid, now, login))
    if redeemed is Redeemed.SSO_ENDED:
        raise InvalidGrant(REFUSED, debug="the single sign-on session ended during the redemption")
    if redeemed is not Redeemed.REDEEMED:
        reread = await svc.codes.lookup(digest)
        if reread is not None and reread.code.used_at is not None:  # another request won
            await _replayed(svc, reread.code, ip=ip, user_agent=user_agent)
        raise InvalidGrant(REFUSED, debug="code expired or gone during the redemption")
    response = await login_tokens(
        svc,
        login,
        refresh,
        scope=granted,
        roles=user.roles,
        audience=client.audience,
        ttl=client.access_token_ttl,
        token_format=client.token_format,
        username=user.username,
        jkt=jkt,
    )
    if OPENID_SCOPE not in granted:
        return response
    id_token = mint(
        svc,
        user_id=user.id,
        client_id=client.id,
        auth_time=row.auth_time,
        amr=amr_list(row.amr),
        sid=row.sso_sid,
        nonce=row.nonce,
    )
    return replace(response, id_token=id_token)


async def _replayed(
    svc: Services, row: CodeRow, *, ip: str | None, user_agent: str | None
) -> NoReturn:
    """A used code presented again: revoke the login its first use started (or leave the mark
    that makes that use revoke it), record the event, refuse."""
    sid = await svc.codes.mark_replayed(row.digest)
    login = await svc.logins.get(sid) if sid else None
    revoked = login is not None and await end_login(svc, login, reason="code_replay")
    await svc.events.record(
        "authorization_code_replay",
        now=svc.clock.now(),
        user_id=row.user_id,
        client_id=row.client_id,
        sid=sid,
        ip=ip,
        user_agent=(user_agent or "")[:512] or None,
        details={"revoked": revoked},
    )
    log.warning("authorization code replayed", extra={"sid": sid, "client_id": row.client_id})
    raise InvalidGrant(REFUSED, debug="code replayed")
