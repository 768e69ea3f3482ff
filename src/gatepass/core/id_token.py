"""OpenID Connect Core 1.0 §2 ID tokens: the claims gatepass puts in them, and the checks an
``id_token_hint`` (RP-Initiated Logout 1.0 §2) must pass.

Header ``typ: JWT`` (never ``at+jwt``: RFC 9068 §4 and RFC 8725 §3.11 keep an ID token from
passing for an access token, and the reverse). ``aud`` is the client id alone and ``azp`` the
same (§2, §3.1.3.7 point 4-5: relying parties compare both); ``amr`` is a list of RFC 8176
values; ``sid`` is the single sign-on session (OpenID Connect Front/Back-Channel Logout §2.1),
so a relying party can tell which session a logout is about.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

ID_TOKEN_TYP = "JWT"
_INFINITIES = (math.inf, -math.inf)


class HintError(Exception):
    """The token is not an ID token gatepass issued; the message is safe to log."""


def build_claims(
    *,
    issuer: str,
    subject: str,
    client_id: str,
    now: float,
    ttl: int,
    auth_time: float,
    amr: Iterable[str],
    sid: str | None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """The claims of one ID token. No ``nonce`` when none was sent (§3.1.2.1), nor in the ID
    token of a refresh (§12.2)."""
    iat = int(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": client_id,
        "exp": iat + int(ttl),
        "iat": iat,
        "auth_time": int(auth_time),
        "amr": list(amr),
        "azp": client_id,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if sid is not None:
        claims["sid"] = sid
    return claims


def validate_hint(
    header: Mapping[str, Any], payload: Mapping[str, Any], *, issuer: str
) -> dict[str, Any]:
    """The claims of a signature-checked ``id_token_hint``: ``typ`` JWT, our ``iss``, a ``sub``,
    an ``aud`` and the times well formed. An expired one is still a good hint (RP-Initiated
    Logout 1.0 §2: "the OP SHOULD accept ID Tokens ... when the RP session has expired")."""
    typ = header.get("typ")
    if type(typ) is not str or typ.upper() != ID_TOKEN_TYP:
        raise HintError("not an ID token (typ)")
    if payload.get("iss") != issuer:
        raise HintError("wrong issuer")
    sub = payload.get("sub")
    if type(sub) is not str or not sub:
        raise HintError("missing sub")
    aud = payload.get("aud")
    if not (
        (type(aud) is str and aud)
        or (type(aud) is list and aud and all(type(a) is str for a in aud))
    ):
        raise HintError("missing or invalid aud")
    for name in ("exp", "iat"):
        value = payload.get(name)
        if type(value) is not int and (
            type(value) is not float or value != value or value in _INFINITIES
        ):
            raise HintError(f"missing or invalid {name}")
    return dict(payload)
