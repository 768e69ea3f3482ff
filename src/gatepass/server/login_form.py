"""The hosted login form's password check and the single sign-on session it starts, shared by
the authorization flow's login page (``routes/authorize.py``) and the console's sign-in page
(``routes/console_login.py``): the same throttle, the same words for every refusal, the same
session cookie; each form with its own CSRF purpose."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from gatepass.errors import InvalidGrant, InvalidRequest, TooManyRequests
from gatepass.oauth import sso
from gatepass.oauth.password_login import authenticate_user, record_sign_in
from gatepass.oauth.services import Services
from gatepass.server import pages
from gatepass.server.deps import client_ip, user_agent
from gatepass.storage.models import User

MISSING = "Enter your username and password."
WRONG = "The username or password is not right."
# the CSRF purposes of the two sign-in forms, whose tokens are bound to the same browser cookie
# (``pages.Browser``): distinct, so that a token of one form is refused by the other
AUTHORIZE_PURPOSE = "login authorize"  # the authorization flow's (routes/authorize.py)
ACCOUNT_PURPOSE = "login account"  # the account pages' and console's (routes/console_login.py)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the form did not sign anyone in: ``message`` for the form shown again with
    ``status``, or a whole ``page`` instead (too many attempts)."""

    message: str
    status: int
    page: Response | None = None


async def check_password(
    svc: Services, request: Request, username: str, password: str | None
) -> User | Refusal:
    """The user whose password this is (``oauth/password_login.authenticate_user``, throttled),
    or the refusal to show: the same for an unknown user as for a wrong password."""
    try:
        return await authenticate_user(
            svc, username, password, ip=client_ip(request), user_agent=user_agent(request)
        )
    except TooManyRequests as exc:
        page = pages.error_page(
            svc,
            f"Too many failed attempts. Wait {exc.retry_after} seconds, then try again.",
            status=429,
            title="Please wait",
            headers=exc.headers,
        )
        return Refusal("", 429, page)
    except InvalidRequest:
        return Refusal(MISSING, 400)
    except InvalidGrant:
        return Refusal(WRONG, 401)


async def start_session(
    svc: Services, request: Request, user: User, *, client_id: str
) -> tuple[sso.Signed, str]:
    """A new SSO session for ``user`` (its ``sign_in`` event names ``client_id``), replacing
    the one this browser had, never reusing it (``sso.replace``: the same user's logins
    started from the old one move to it): the session and its cookie header."""
    ip, agent = client_ip(request), user_agent(request)
    cookie, row = await sso.sign_in(svc, user, ip=ip, user_agent=agent)
    await record_sign_in(svc, user, client_id=client_id, sid=row.id, ip=ip, user_agent=agent)
    previous = await sso.current(svc, request.cookies.get(sso.COOKIE))
    if previous is not None:
        await sso.replace(svc, previous.session, row)
    return sso.Signed(row, user), session_cookie(cookie)


def session_cookie(value: str) -> str:
    return f"{sso.COOKIE}={value}; HttpOnly; Secure; SameSite=Lax; Path=/"


def cleared_session_cookie() -> str:
    return f"{sso.COOKIE}=; Max-Age=0; HttpOnly; Secure; SameSite=Lax; Path=/"
