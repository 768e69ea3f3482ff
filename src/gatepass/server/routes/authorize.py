"""``/oauth/authorize`` and its hosted login and consent pages (DESIGN "OpenID Connect: browser
and app login"; RFC 6749 §4.1, RFC 7636, RFC 9207, OpenID Connect Core 1.0 §3.1.2).

``GET|POST /oauth/authorize`` checks the request (``oauth/authorization_request.py``), then
either redirects at once (a code for a signed-in user who has consented, or an error), or
shows the login page, then the consent page. Their forms post to ``/oauth/authorize/login``
and ``/oauth/authorize/consent`` with the request's parameters in hidden fields, which are
checked again in full on every POST, beside the form's CSRF token and the ``Origin``.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gatepass.oauth import authorization_request, consents, scopes, sso
from gatepass.oauth.authorization_code import issue_code
from gatepass.oauth.authorization_request import AuthorizationRequest, PageError, RedirectError
from gatepass.oauth.services import Services
from gatepass.server import login_form, pages
from gatepass.server.errors import log_unexpected
from gatepass.server.routing import route
from gatepass.server.scope_words import describe
from gatepass.storage.db import UNAVAILABLE

log = logging.getLogger("gatepass.server")

LOGIN_ACTION = "/oauth/authorize/login"
CONSENT_ACTION = "/oauth/authorize/consent"
_FORM_FIELDS = ("username", "password", "csrf_token", "consent")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _redirect(location: str) -> Response:
    return RedirectResponse(location, status_code=302, headers=NO_STORE)


async def authorize(svc: Services, request: Request) -> Response:
    if request.method == "POST":
        try:
            pairs = await pages.form_pairs(request)
        except pages.BadForm:
            return pages.error_page(svc, "The request could not be read.")
    else:
        pairs = pages.query_pairs(request)
    browser = pages.Browser(svc, request)
    try:
        req = await authorization_request.parse(svc, pairs)
    except PageError as exc:
        return pages.error_page(svc, exc.description)
    except RedirectError as exc:
        return _redirect(exc.location(svc.settings.issuer))
    return await _answer(svc, req, _proceed(svc, request, browser, req), browser)


async def _answer(
    svc: Services,
    req: AuthorizationRequest,
    step: Coroutine[Any, Any, Response],
    browser: pages.Browser,
) -> Response:
    """The answer of a step of a request whose redirect URI is trusted: a refusal, or a
    failure of the server, goes back to the client there (RFC 6749 §4.1.2.1:
    ``temporarily_unavailable`` when the database cannot answer, ``server_error`` for anything
    unexpected, whose details go only to the log)."""
    try:
        return browser.keep(await step)
    except RedirectError as exc:
        failed = exc
    except UNAVAILABLE:
        log.warning("database unavailable during an authorization request")
        failed = req.fail("temporarily_unavailable", "Try again in a moment.")
    except Exception as exc:  # noqa: BLE001 - the client hears of it at its redirect URI
        log_unexpected(exc, "authorization request failed")
        failed = req.fail("server_error", "The server could not complete the request.")
    return _redirect(failed.location(svc.settings.issuer))


async def _proceed(
    svc: Services,
    request: Request,
    browser: pages.Browser,
    req: AuthorizationRequest,
    *,
    signed_in: sso.Signed | None = None,
    consented: bool = False,
) -> Response:
    """The rest of the flow once the request is known good: login, consent, then a code.
    ``signed_in``: a session that needs no new password for this request (the login form has
    just started it, or the consent form came straight from there)."""
    signed = signed_in or await sso.current(svc, request.cookies.get(sso.COOKIE))
    if signed is None or (signed_in is None and _must_log_in(svc, req, signed)):
        if "none" in req.prompt:
            raise req.fail("login_required", "The user is not signed in.")
        return _login_page(svc, browser, req, username=req.login_hint or "")
    user = signed.user
    granted = scopes.for_subject(req.scope, user.roles)
    if not req.client.first_party and not consented:
        ask = "consent" in req.prompt or await consents.needed(svc, user.id, req.client, granted)
        if ask:
            if "none" in req.prompt:
                raise req.fail("consent_required", "The user has not allowed this application.")
            return _consent_page(svc, browser, req, signed, granted, fresh=signed_in is not None)
    code = await issue_code(
        svc,
        client_id=req.client.id,
        sso=signed.session,
        redirect_uri=req.redirect_uri,
        code_challenge=req.code_challenge,
        nonce=req.nonce,
        scope=granted,
    )
    await sso.touch(svc, signed.session)
    return _redirect(req.location(svc.settings.issuer, code=code))


def _must_log_in(svc: Services, req: AuthorizationRequest, signed: sso.Signed) -> bool:
    """Whether the request wants a password although the user is signed in: ``prompt=login``,
    or a sign-in older than ``max_age``."""
    if "login" in req.prompt:
        return True
    if req.max_age is None:
        return False
    row = signed.session
    auth_time = row.auth_time if row.auth_time is not None else row.created_at
    return svc.clock.now() - auth_time > req.max_age


def _login_page(
    svc: Services,
    browser: pages.Browser,
    req: AuthorizationRequest,
    *,
    username: str,
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return pages.render(
        svc,
        "login.html",
        {
            "client_name": req.client.name,
            "username": username,
            "error": error,
            "error_field": "password" if username else "username",
            "action": LOGIN_ACTION,
            "params": req.params,
            "csrf_token": browser.token(login_form.AUTHORIZE_PURPOSE),
        },
        status=status,
        form_targets=[req.redirect_uri],
        headers=headers,
    )


def _consent_purpose(signed: sso.Signed, *, fresh: bool) -> str:
    """The consent form's CSRF purpose: bound to the session, and saying whether the page came
    straight from the login form (then ``prompt=login`` and ``max_age`` are satisfied; a token
    the user cannot forge, since only the server can make one)."""
    return f"consent {signed.session.id}" + (" after-login" if fresh else "")


def _consent_page(
    svc: Services,
    browser: pages.Browser,
    req: AuthorizationRequest,
    signed: sso.Signed,
    granted: frozenset[str],
    *,
    fresh: bool,
) -> Response:
    return pages.render(
        svc,
        "consent.html",
        {
            "client_name": req.client.name,
            "username": signed.user.username,
            "scopes": describe(granted),
            "action": CONSENT_ACTION,
            "params": req.params,
            "csrf_token": browser.token(_consent_purpose(signed, fresh=fresh)),
        },
        form_targets=[req.redirect_uri],
    )


async def _posted(
    svc: Services, request: Request
) -> tuple[pages.Browser, dict[str, str], AuthorizationRequest] | Response:
    """A page's POST: its fields, the browser, and the authorization request re-checked; or
    the answer that refuses it."""
    if not pages.same_origin(svc, request):
        return pages.error_page(svc, "This form was sent from another site.", status=403)
    try:
        pairs = await pages.form_pairs(request)
    except pages.BadForm:
        return pages.error_page(svc, "The form could not be read.")
    fields, repeated = authorization_request.collect(p for p in pairs if p[0] in _FORM_FIELDS)
    if repeated:
        return pages.error_page(svc, "The form was sent with a field repeated.")
    browser = pages.Browser(svc, request)
    try:
        req = await authorization_request.parse(svc, [p for p in pairs if p[0] not in _FORM_FIELDS])
    except PageError as exc:
        return pages.error_page(svc, exc.description)
    except RedirectError as exc:
        return _redirect(exc.location(svc.settings.issuer))
    return browser, fields, req


_EXPIRED = "This page has expired or was opened in another browser. Go back and try again."


async def login(svc: Services, request: Request) -> Response:
    posted = await _posted(svc, request)
    if isinstance(posted, Response):
        return posted
    browser, fields, req = posted
    if not browser.check(login_form.AUTHORIZE_PURPOSE, fields.get("csrf_token")):
        return pages.error_page(svc, _EXPIRED, status=403)
    username = fields.get("username", "")
    user = await login_form.check_password(svc, request, username, fields.get("password"))
    if isinstance(user, login_form.Refusal):
        if user.page is not None:
            return user.page
        return _login_page(
            svc, browser, req, username=username[:150], error=user.message, status=user.status
        )
    signed, cookie = await login_form.start_session(svc, request, user, client_id=req.client.id)
    response = await _answer(
        svc, req, _proceed(svc, request, browser, req, signed_in=signed), browser
    )
    response.headers.append("set-cookie", cookie)
    return response


async def consent(svc: Services, request: Request) -> Response:
    posted = await _posted(svc, request)
    if isinstance(posted, Response):
        return posted
    browser, fields, req = posted
    signed = await sso.current(svc, request.cookies.get(sso.COOKIE))
    if signed is None:
        return pages.error_page(svc, _EXPIRED, status=403)
    token = fields.get("csrf_token")
    fresh = browser.check(_consent_purpose(signed, fresh=True), token)
    if not fresh and not browser.check(_consent_purpose(signed, fresh=False), token):
        return pages.error_page(svc, _EXPIRED, status=403)
    if not fresh and _must_log_in(svc, req, signed):  # prompt=login, or max_age passed
        return _login_page(svc, browser, req, username=signed.user.username)
    decision = fields.get("consent")
    if decision == "deny":
        return _redirect(
            req.fail("access_denied", "The user denied the request.").location(svc.settings.issuer)
        )
    if decision != "allow":
        return pages.error_page(svc, "Choose Allow or Deny.")
    granted = scopes.for_subject(req.scope, signed.user.roles)
    await consents.allow(svc, signed.user.id, req.client, granted)
    step = _proceed(svc, request, browser, req, signed_in=signed, consented=True)
    return await _answer(svc, req, step, browser)


ROUTES = [
    route("/oauth/authorize", pages.guard(authorize), ["GET", "POST"]),
    route(LOGIN_ACTION, pages.guard(login), ["POST"]),
    route(CONSENT_ACTION, pages.guard(consent), ["POST"]),
    route(pages.STYLESHEET, pages.css, ["GET"]),
]
