"""The authorization code grant (RFC 6749 §4.1, PKCE RFC 7636 with S256 only).

``issue_code`` is called by ``/oauth/authorize`` once the user is signed in (an SSO session)
and has consented: the code is 256 random bits, stored only as a digest, valid for
``GATEPASS_AUTHORIZATION_CODE_TTL`` (at most 60 s), and bound to its client, redirect URI, PKCE
challenge, nonce and scope.
"""

from __future__ import annotations

from collections.abc import Iterable

from gatepass.core import opaque
from gatepass.oauth.services import Services
from gatepass.storage.models import AuthorizationCode, LoginSession


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
        AuthorizationCode(
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
            used_at=None,
            login_sid=None,
        )
    )
    return code
