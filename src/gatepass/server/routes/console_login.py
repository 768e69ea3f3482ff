"""``GET|POST /account/login`` and ``POST /account/logout``: signing in to the account pages
and the admin console, and out again.

The sign-in page is the hosted login page (``login.html``, the same password check, throttle,
words and session as the authorization flow's, ``server/login_form.py``); afterwards the browser
goes to ``next``, a path of this site only (``console.safe_next``). Signing out ends the SSO
session and every login started from it but ``offline_access`` ones, as RP-initiated logout
does (``oauth/sso.end``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gatepass.oauth import sso
from gatepass.oauth.authorization_request import collect
from gatepass.oauth.first_party import FIRST_PARTY_CLIENT_ID
from gatepass.oauth.services import Services
from gatepass.server import console, login_form, pages
from gatepass.server.deps import client_ip
from gatepass.server.routing import route

_FIELDS = ("username", "password", "csrf_token", "next")
_EXPIRED = "This page has expired or was opened in another browser. Go back and try again."


def _login_page(
    svc: Services,
    browser: pages.Browser,
    target: str,
    *,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    page = pages.render(
        svc,
        "login.html",
        {
            "client_name": f"your {svc.settings.product_name} account",
            "username": username,
            "error": error,
            "error_field": "password" if username else "username",
            "action": console.LOGIN_PATH,
            "params": {"next": target},
            "csrf_token": browser.token(login_form.ACCOUNT_PURPOSE),
        },
        status=status,
    )
    return browser.keep(page)


async def login(svc: Services, request: Request) -> Response:
    browser = pages.Browser(svc, request)
    if request.method == "GET":
        target = console.safe_next(request.query_params.get("next"))
        if await console.viewer(svc, request) is not None:
            return console.redirect(target)
        return _login_page(svc, browser, target)
    if not pages.same_origin(svc, request):
        return pages.error_page(svc, "This form was sent from another site.", status=403)
    try:
        pairs = await pages.form_pairs(request)
    except pages.BadForm:
        return pages.error_page(svc, "The form could not be read.")
    fields, repeated = collect(p for p in pairs if p[0] in _FIELDS)
    if repeated:
        return pages.error_page(svc, "The form was sent with a field repeated.")
    target = console.safe_next(fields.get("next"))
    if not browser.check(login_form.ACCOUNT_PURPOSE, fields.get("csrf_token")):
        return pages.error_page(svc, _EXPIRED, status=403)
    username = fields.get("username", "")
    user = await login_form.check_password(svc, request, username, fields.get("password"))
    if isinstance(user, login_form.Refusal):
        if user.page is not None:
            return user.page
        return _login_page(
            svc, browser, target, username=username[:150], error=user.message, status=user.status
        )
    _, cookie = await login_form.start_session(svc, request, user, client_id=FIRST_PARTY_CLIENT_ID)
    return console.redirect(target, headers={"set-cookie": cookie})


async def logout(svc: Services, request: Request) -> Response:
    signed = await console.viewer(svc, request)
    if signed is None:  # already signed out
        return console.redirect(console.LOGIN_PATH)
    try:
        await console.posted(svc, request, signed, console.SIGN_OUT_PURPOSE)
    except console.Refused as exc:
        return exc.response
    await sso.end(svc, signed.session, ip=client_ip(request))
    response = pages.render(svc, "signed_out.html", {"title": "Signed out"})
    response.headers.append("set-cookie", login_form.cleared_session_cookie())
    return response


ROUTES = [
    route(console.LOGIN_PATH, pages.guard(login), ["GET", "POST"]),
    route(console.LOGOUT_PATH, pages.guard(logout), ["POST"]),
]
