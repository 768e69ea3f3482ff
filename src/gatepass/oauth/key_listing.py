"""Key rows as people see them (``gatepass keys list`` and ``GET /admin/keys``): ids, states and
dates, never private material. A retiring key whose last token or URL has expired shows as
retired."""

from __future__ import annotations

from typing import Any

from gatepass.oauth.services import Services

LIVE = ("next", "active", "retiring")
# URL keys sign with HMAC-SHA256 (signed URLs; playback JWTs as HS256 under a derived secret)
URL_KEY_ALG = "HS256"


def key_view(row: Any, now: float) -> dict[str, Any]:
    """A key row (token- or URL-signing): kid, state, dates."""
    state = row.state
    if state == "retiring" and row.retire_at is not None and row.retire_at <= now:
        state = "retired"
    return {
        "kid": row.kid,
        "state": state,
        "created_at": row.created_at,
        "activated_at": row.activated_at,
        "retire_at": row.retire_at,
    }


async def all_keys(svc: Services) -> dict[str, list[dict[str, Any]]]:
    """Token-signing keys (with their ``purpose``: access tokens, or ID tokens) and URL-signing
    keys."""
    now = svc.clock.now()
    tokens = [
        {**key_view(r, now), "alg": r.alg, "purpose": r.purpose or "access"}
        for r in await svc.keys.rows()
    ]
    urls = [{**key_view(r, now), "alg": URL_KEY_ALG} for r in await svc.url_keys.rows()]
    for k in tokens:
        k["published"] = k["state"] in LIVE
    for k in urls:
        k["accepted"] = k["state"] in LIVE
    return {"token_keys": tokens, "url_keys": urls}
