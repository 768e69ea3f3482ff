"""Registering OAuth clients (CLI and admin API share this): checks and a public view."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from gatepass.errors import InvalidRequest
from gatepass.oauth import redirect_uris, scopes
from gatepass.oauth.services import Services
from gatepass.storage.models import Client

GRANTS = ("password", "refresh_token", "client_credentials", "authorization_code")
DEFAULT_GRANTS = ("password", "refresh_token")
TOKEN_FORMATS = ("jwt", "opaque")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


def check(
    *,
    name: str,
    grants: Iterable[str],
    scope_list: Iterable[str],
    public: bool,
    token_format: str,
    audience: str | None,
    access_token_ttl: int | None,
    max_ttl: int,
) -> tuple[list[str], list[str]]:
    """The client's grants and scopes, checked (redirect URIs: :func:`check_redirects`)."""
    if _NAME.fullmatch(name) is None:
        raise InvalidRequest("name must be 1-200 printable characters.")
    grant_list = sorted(set(grants)) or list(DEFAULT_GRANTS)
    unknown = [g for g in grant_list if g not in GRANTS]
    if unknown:
        raise InvalidRequest(f"grants must be among: {', '.join(GRANTS)}.")
    if public and "client_credentials" in grant_list:
        raise InvalidRequest("A public client cannot use client_credentials (it has no secret).")
    scope_set: set[str] = set()
    for s in scope_list:
        scope_set |= scopes.parse(s) or set()
    scopes.check_registrable(scope_set)
    if token_format not in TOKEN_FORMATS:
        raise InvalidRequest("token_format must be jwt or opaque.")
    if audience is not None and (not audience or len(audience) > 255 or "\x00" in audience):
        raise InvalidRequest("audience must be 1-255 characters.")
    if access_token_ttl is not None and not 10 <= access_token_ttl <= max_ttl:
        raise InvalidRequest(f"access_token_ttl must be between 10 and {max_ttl} seconds.")
    return grant_list, sorted(scope_set)


def check_redirects(
    grants: Iterable[str],
    redirects: Iterable[str],
    post_logout_redirects: Iterable[str],
    *,
    public: bool,
) -> tuple[list[str], list[str]]:
    """The redirect URIs, checked: the authorization code grant needs at least one, and only
    that grant may have any."""
    uris = redirect_uris.check_registration(redirects, public=public)
    after_logout = redirect_uris.check_registration(
        post_logout_redirects, public=public, what="post-logout redirect URI"
    )
    if "authorization_code" in grants and not uris:
        raise InvalidRequest("The authorization_code grant needs at least one redirect URI.")
    if (uris or after_logout) and "authorization_code" not in grants:
        raise InvalidRequest(
            "Redirect URIs are only for clients with the authorization_code grant."
        )
    return uris, after_logout


async def create_client(
    svc: Services,
    name: str,
    *,
    grants: Iterable[str] = (),
    scope_list: Iterable[str] = (),
    public: bool = False,
    token_format: str = "jwt",
    audience: str | None = None,
    access_token_ttl: int | None = None,
    dpop_bound_access_tokens: bool = False,
    redirects: Iterable[str] = (),
    post_logout_redirects: Iterable[str] = (),
    first_party: bool = False,
) -> tuple[Client, str | None]:
    """``dpop_bound_access_tokens``: every token request must carry a DPoP proof (RFC 9449
    §5.2), so the client only ever gets sender-constrained tokens. ``first_party``: its users
    are never asked for consent."""
    grant_list, scope_sorted = check(
        name=name,
        grants=grants,
        scope_list=scope_list,
        public=public,
        token_format=token_format,
        audience=audience,
        access_token_ttl=access_token_ttl,
        max_ttl=svc.settings.access_token_ttl,
    )
    uris, after_logout = check_redirects(
        grant_list, redirects, post_logout_redirects, public=public
    )
    return await svc.clients.create(
        name,
        grants=grant_list,
        scopes=scope_sorted,
        public=public,
        token_format=token_format,
        audience=audience,
        access_token_ttl=access_token_ttl,
        dpop_bound_access_tokens=dpop_bound_access_tokens,
        redirect_uris=uris,
        post_logout_redirect_uris=after_logout,
        first_party=first_party,
        now=svc.clock.now(),
    )


def public_view(c: Client) -> dict[str, Any]:
    """What may be shown of a client: never its secret digest."""
    return {
        "client_id": c.id,
        "name": c.name,
        "public": c.public,
        "grants": c.grants,
        "scopes": c.scopes,
        "audience": c.audience,
        "token_format": c.token_format,
        "access_token_ttl": c.access_token_ttl,
        "dpop_bound_access_tokens": bool(c.dpop_bound_access_tokens),
        "redirect_uris": list(c.redirect_uris or []),
        "post_logout_redirect_uris": list(c.post_logout_redirect_uris or []),
        "first_party": bool(c.first_party),
        "created_at": c.created_at,
    }
