"""``GET|POST /oauth/logout``: OpenID Connect RP-Initiated Logout 1.0 (§2, §3), and its
confirmation page.

With an ``id_token_hint`` that the ID-token key ring vouches for (``oauth/id_tokens.py``) and
that names this browser's session, the session ends at once. Otherwise the user is asked (a
form with a CSRF token, posted to ``/oauth/logout/confirm``): a link alone must not sign anyone
out. ``post_logout_redirect_uri`` must be registered for the client named by ``client_id`` or
by the hint's audience; if not, the browser gets an error page and no redirect. Either way the
session's end is a ``logout`` event (``sso.rp_logout``) naming the app.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gatepass.oauth import redirect_uris, sso
from gatepass.oauth.authorization_request import collect, with_query
from gatepass.oauth.services import Services
from gatepass.server import login_form, pages
from gatepass.server.deps import client_ip, user_agent
from gatepass.server.routing import route
from gatepass.storage.models import Client

CONFIRM_ACTION = "/oauth/logout/confirm"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LIMITS = {"id_token_hint": 8000, "state": 2000, "client_id": 64}
MAX_VALUE = 2000
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _verify_hint(svc: Services, token: str) -> dict[str, Any] | None:
    """The hint's claims when the ID-token key ring vouches for it (signature, issuer; an
    expired hint is still a hint), else None."""
    try:
        module = importlib.import_module("gatepass.oauth.id_tokens")
    except ModuleNotFoundError:
        return None
    claims = module.verify_hint(svc, token)
    if inspect.isawaitable(claims):
        claims = await claims
    return claims if isinstance(claims, dict) else None


def _values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    values, repeated = collect(pairs)
    if repeated:
        raise _Refused("The request has a parameter more than once.")
    for name, value in values.items():
        if len(value) > _LIMITS.get(name, MAX_VALUE) or _CONTROL.search(value):
            raise _Refused("The request has a parameter that is too long or not text.")
    return values


async def _target(
    svc: Services, values: dict[str, str], claims: dict[str, Any] | None
) -> tuple[Client | None, str | None, str | None]:
    """The client, and where to send the browser afterwards (with ``state``), checked."""
    client_id = values.get("client_id")
    audience = claims.get("aud") if claims else None
    auds = [audience] if isinstance(audience, str) else list(audience or [])
    if client_id is not None and auds and client_id not in auds:
        raise _Refused("The ID token was not issued to the client named by client_id.")
    if client_id is None and auds:
        client_id = auds[0] if len(auds) == 1 else claims.get("azp") if claims else None
    client = await svc.clients.cached(client_id) if isinstance(client_id, str) else None
    if client_id is not None and client is None:
        raise _Refused("The application that sent you here is not known to this server.")
    uri = values.get("post_logout_redirect_uri")
    if uri is not None:
        registered = client.post_logout_redirect_uris if client is not None else None
        if not registered or not redirect_uris.matches(registered, uri):
            raise _Refused("The address to go back to is not one this application registered.")
    return client, uri, values.get("state") if uri is not None else None


async def _names_session(svc: Services, claims: dict[str, Any], signed: sso.Signed) -> bool:
    """Whether the hint was issued for this browser's session (or a login started from it)."""
    if claims.get("sub") != signed.user.id:
        return False
    sid = claims.get("sid")
    if not isinstance(sid, str) or len(sid) > 64:
        return False
    if sid == signed.session.id:
        return True
    row = await svc.logins.get(sid)
    return row is not None and row.parent_sid == signed.session.id


def _done(svc: Services, uri: str | None, state: str | None) -> Response:
    response: Response
    if uri is not None:
        response = RedirectResponse(with_query(uri, {"state": state}), 302, headers=NO_STORE)
    else:
        response = pages.render(svc, "signed_out.html", {"title": "Signed out"})
    response.headers.append("set-cookie", login_form.cleared_session_cookie())
    return response


async def logout(svc: Services, request: Request) -> Response:
    try:
        if request.method == "POST":
            pairs = await pages.form_pairs(request)
        else:
            pairs = pages.query_pairs(request)
        values = _values(pairs)
        hint = values.get("id_token_hint")
        claims = await _verify_hint(svc, hint) if hint else None
        client, uri, state = await _target(svc, values, claims)
    except pages.BadForm:
        return pages.error_page(svc, "The request could not be read.")
    except _Refused as exc:
        return pages.error_page(svc, exc.message)
    signed = await sso.current(svc, request.cookies.get(sso.COOKIE))
    if signed is None:
        return _done(svc, uri, state)
    if claims is not None and await _names_session(svc, claims, signed):
        await _end(svc, request, signed, client, hinted=True)
        return _done(svc, uri, state)
    browser = pages.Browser(svc, request)
    params = {"client_id": client.id if client else None, "post_logout_redirect_uri": uri}
    params["state"] = state
    page = pages.render(
        svc,
        "logout.html",
        {
            "username": signed.user.username,
            "client_name": client.name if client else None,
            "action": CONFIRM_ACTION,
            "params": {k: v for k, v in params.items() if v is not None},
            "csrf_token": browser.token(f"logout {signed.session.id}"),
        },
        form_targets=[uri] if uri else [],
    )
    return browser.keep(page)


async def confirm(svc: Services, request: Request) -> Response:
    if not pages.same_origin(svc, request):
        return pages.error_page(svc, "This form was sent from another site.", status=403)
    try:
        pairs = await pages.form_pairs(request)
        values = _values(pairs)
        token = values.pop("csrf_token", None)
        values.pop("id_token_hint", None)
        client, uri, state = await _target(svc, values, None)
    except pages.BadForm:
        return pages.error_page(svc, "The form could not be read.")
    except _Refused as exc:
        return pages.error_page(svc, exc.message)
    signed = await sso.current(svc, request.cookies.get(sso.COOKIE))
    if signed is None:
        return _done(svc, uri, state)  # already signed out
    if not pages.Browser(svc, request).check(f"logout {signed.session.id}", token):
        return pages.error_page(
            svc, "This page has expired or was opened in another browser.", status=403
        )
    await _end(svc, request, signed, client, hinted=False)
    return _done(svc, uri, state)


async def _end(
    svc: Services, request: Request, signed: sso.Signed, client: Client | None, *, hinted: bool
) -> None:
    await sso.rp_logout(
        svc,
        signed,
        client_id=client.id if client is not None else None,
        hinted=hinted,
        ip=client_ip(request),
        user_agent=user_agent(request),
    )


ROUTES = [
    route("/oauth/logout", pages.guard(logout), ["GET", "POST"]),
    route(CONFIRM_ACTION, pages.guard(confirm), ["POST"]),
]
