"""OpenID Connect ID tokens (Core 1.0 §2, §3.1.3.3, §12.2): minted with the ID-token key ring
(``Services.id_keys``, ``GATEPASS_ID_TOKEN_ALG``), and read back as an ``id_token_hint``
(RP-Initiated Logout 1.0 §2) with that ring's keys only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from gatepass.core import id_token, jose
from gatepass.oauth.services import Services

log = logging.getLogger("gatepass.id_tokens")

OPENID_SCOPE = "openid"


def amr_list(amr: str | None) -> list[str]:
    """The stored ``amr`` (space-separated RFC 8176 values) as the claim's list."""
    return (amr or "pwd").split()


def mint(
    svc: Services,
    *,
    user_id: str,
    client_id: str,
    auth_time: float,
    amr: Iterable[str],
    sid: str | None,
    nonce: str | None = None,
) -> str:
    """A signed ID token for ``client_id`` about ``user_id``, valid ``GATEPASS_ID_TOKEN_TTL``.
    ``sid``: the single sign-on session the login came from; ``nonce``: as the authorization
    request sent it (none on a refresh)."""
    claims = id_token.build_claims(
        issuer=svc.settings.issuer,
        subject=user_id,
        client_id=client_id,
        now=svc.clock.now(),
        ttl=svc.settings.id_token_ttl,
        auth_time=auth_time,
        amr=amr,
        sid=sid,
        nonce=nonce,
    )
    return svc.id_keys.ring.sign(claims, id_token.ID_TOKEN_TYP)


def verify_hint(svc: Services, token: str) -> dict[str, Any] | None:
    """The claims of ``token`` if it is an ID token signed by one of our published ID-token
    keys, with our ``iss`` (expired or not: a hint may be old); None otherwise. An access
    token is never a hint: its key is not in this ring, and its ``typ`` is ``at+jwt``."""
    if not isinstance(token, str):
        return None
    try:
        keys = svc.id_keys.ring.verification_keys(svc.clock.now())
        header, payload = jose.decode_verified(token, keys)
        return id_token.validate_hint(header, payload, issuer=svc.settings.issuer)
    except (jose.JoseError, id_token.HintError) as exc:
        log.info("id_token_hint refused: %s", exc)
        return None
