"""The account pages of the signed-in user, in the browser (``server/console.py``): profile,
password and security activity. Sessions and connected apps are ``account_devices.py``.

Each calls the use-case of its JSON twin under ``/auth`` (``oauth/account.py``,
``oauth/sessions.py``) with the SSO session standing in for the access token
(``console.claims_of``): the same checks, the same events.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gatepass.errors import GatepassError, InvalidGrant, InvalidRequest, TooManyRequests
from gatepass.oauth import account, sessions, sso
from gatepass.oauth.services import Services
from gatepass.server import console, pages
from gatepass.server.deps import client_ip, user_agent
from gatepass.server.routing import route

ACTIVITY_PAGE = 25
PROFILE, PASSWORD, ACTIVITY = "/account", "/account/password", "/account/activity"
_DONE = {
    "profile": "Your profile was saved.",
    "password": "Your password was changed. Your other sessions were signed out.",
}


def _notice(request: Request) -> str | None:
    return _DONE.get(request.query_params.get("done") or "")


def _caller(request: Request) -> sessions.Caller:
    return sessions.Caller(client_ip(request), user_agent(request))


def _profile_page(
    svc: Services,
    request: Request,
    signed: sso.Signed,
    *,
    name: str | None,
    email: str | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    user = signed.user
    return console.page(
        svc,
        signed,
        "account_profile.html",
        {
            "title": "Profile",
            "username": user.username,
            "saved_name": user.name,
            "saved_email": user.email,
            "email_verified": bool(user.email_verified),
            "name": name or "",
            "email": email or "",
            "action": PROFILE,
            "csrf_token": console.form_token(svc, signed, "profile"),
            "notice": None if error else _notice(request),
            "error": error,
        },
        current=PROFILE,
        status=status,
    )


async def profile(svc: Services, request: Request, signed: sso.Signed) -> Response:
    if request.method == "GET":
        return _profile_page(svc, request, signed, name=signed.user.name, email=signed.user.email)
    fields = await console.posted(svc, request, signed, "profile")
    name, email = fields.get("name"), fields.get("email")  # left empty: cleared
    try:
        if (name and len(name) > 200) or (email and len(email) > account.MAX_EMAIL):
            raise InvalidRequest("The name or the email address is too long.")
        await account.update_profile(
            svc,
            console.claims_of(signed),
            name=name,
            email=email,
            ip=client_ip(request),
            user_agent=user_agent(request),
        )
    except InvalidRequest as exc:
        page = _profile_page(
            svc,
            request,
            signed,
            name=(name or "")[:200],
            email=(email or "")[:320],
            error=exc.description,
            status=400,
        )
        return page
    return console.redirect(PROFILE + "?done=profile")


def _password_page(
    svc: Services,
    request: Request,
    signed: sso.Signed,
    *,
    error: str | None = None,
    error_field: str = "",
    status: int = 200,
) -> Response:
    return console.page(
        svc,
        signed,
        "account_password.html",
        {
            "title": "Password",
            "action": PASSWORD,
            "username": signed.user.username,
            "csrf_token": console.form_token(svc, signed, "password"),
            "notice": None if error else _notice(request),
            "error": error,
            "error_field": error_field,
        },
        current=PASSWORD,
        status=status,
    )


async def password(svc: Services, request: Request, signed: sso.Signed) -> Response:
    if request.method == "GET":
        return _password_page(svc, request, signed)
    fields = await console.posted(svc, request, signed, "password")
    current, new = fields.get("current_password", ""), fields.get("new_password", "")
    if not current or not new:
        field = "current_password" if not current else "new_password"
        message = "Enter your current password and a new one."
        return _password_page(svc, request, signed, error=message, error_field=field, status=400)
    if len(current) > 1024 or len(new) > 1024:
        message = "A password may be at most 1024 characters."
        return _password_page(svc, request, signed, error=message, status=400)
    try:
        await sessions.change_password(
            svc, console.claims_of(signed), current, new, _caller(request)
        )
    except TooManyRequests as exc:
        message = f"Too many failed attempts. Wait {exc.retry_after} seconds, then try again."
        return _password_page(svc, request, signed, error=message, status=429)
    except InvalidGrant:
        message = "Your current password is not right."
        return _password_page(
            svc, request, signed, error=message, error_field="current_password", status=400
        )
    except InvalidRequest as exc:  # the new password is too weak
        return _password_page(
            svc, request, signed, error=exc.description, error_field="new_password", status=400
        )
    return console.redirect(PASSWORD + "?done=password")


async def activity(svc: Services, request: Request, signed: sso.Signed) -> Response:
    after = request.query_params.get("cursor") or None
    try:
        items, next_cursor = await account.activity(
            svc, console.claims_of(signed), limit=ACTIVITY_PAGE, after=after
        )
    except GatepassError as exc:  # a cursor that is not one
        return pages.error_page(svc, exc.description, status=400)
    events = [
        {
            **item,
            "at": console.when(item["created"]),
            "device": _device(item["browser"], item["os"]),
            "new_device": item.get("new_device", False),
            "alert": item["type"] in ("refresh_reuse", "lockout"),
        }
        for item in items
    ]
    return console.page(
        svc,
        signed,
        "account_activity.html",
        {
            "title": "Security activity",
            "events": events,
            "days": account.ACTIVITY_DAYS,
            "pager": console.pager(request, next_cursor),
        },
        current=ACTIVITY,
    )


def _device(browser: str, os: str) -> str:
    known = [p for p in (browser, os) if p and p != "unknown"]
    return " on ".join(known) if known else "Unknown device"


ROUTES = [
    route(PROFILE, console.signed_in(profile), ["GET", "POST"]),
    route(PASSWORD, console.signed_in(password), ["GET", "POST"]),
    route(ACTIVITY, console.signed_in(activity), ["GET"]),
]
