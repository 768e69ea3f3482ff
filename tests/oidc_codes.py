"""Authorization codes for tests of the code grant, ID tokens and UserInfo, made without the
browser: an SSO session row written directly (kind "sso", as the hosted login page writes it)
and a code issued for it through ``oauth/authorization_code.issue_code``."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conftest import Harness
from gatepass.core.jose import b64url_decode
from gatepass.oauth.authorization_code import issue_code, s256
from gatepass.oauth.clients import create_client
from gatepass.storage.models import LoginSession

REDIRECT = "https://app.example/cb"


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JWT's header and claims, unverified (for assertions)."""
    h64, p64, _ = token.split(".")
    return json.loads(b64url_decode(h64)), json.loads(b64url_decode(p64))


def sso_session(h: Harness, user_id: str, *, auth_time: float | None = None) -> LoginSession:
    """A single sign-on session of ``user_id`` authenticated at ``auth_time`` (now)."""
    now = h.svc.clock.now()
    row = LoginSession(
        id="gps" + secrets.token_urlsafe(16),
        user_id=user_id,
        client_id="gatepass",
        scope="",
        created_at=now,
        last_used_at=now,
        expires_at=now + 86400,
        idle_expires_at=now + 3600,
        kind="sso",
        cookie_digest=secrets.token_hex(32),
        auth_time=now if auth_time is None else auth_time,
        amr="pwd",
    )

    async def add() -> None:
        async with h.svc.sessions.begin() as s:
            s.add(row)

    h.run(add)
    return row


def rp(
    h: Harness,
    *,
    public: bool = False,
    grants: Iterable[str] = ("authorization_code", "refresh_token"),
    **kw: Any,
) -> tuple[str, str | None]:
    """A relying party registered with :data:`REDIRECT`; its id and secret."""
    kw.setdefault("redirects", [REDIRECT])
    client, secret = h.run(create_client, h.svc, "rp", grants=list(grants), public=public, **kw)
    return client.id, secret


@dataclass
class Code:
    code: str
    verifier: str
    sso: LoginSession
    redirect_uri: str = REDIRECT

    def form(self, **changes: str) -> dict[str, str]:
        form = {
            "grant_type": "authorization_code",
            "code": self.code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
        }
        form.update(changes)
        return {k: v for k, v in form.items() if v is not None}


def new_code(
    h: Harness,
    client_id: str,
    user_id: str,
    *,
    scope: Iterable[str] = ("openid", "profile"),
    nonce: str | None = "n-0S6_WzA2Mj",
    sso: LoginSession | None = None,
    redirect_uri: str = REDIRECT,
) -> Code:
    sso = sso or sso_session(h, user_id)
    verifier = secrets.token_urlsafe(48)
    code = h.run(
        issue_code,
        h.svc,
        client_id=client_id,
        sso=sso,
        redirect_uri=redirect_uri,
        code_challenge=s256(verifier),
        nonce=nonce,
        scope=scope,
    )
    return Code(code, verifier, sso, redirect_uri)


def user_id(h: Harness, name: str) -> str:
    user = h.run(h.svc.users.by_name, name)
    return str(user.id)
