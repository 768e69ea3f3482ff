"""What every signed-in page (the account pages and the admin console) shares: who is looking,
the way to the sign-in page, CSRF for their forms, the layout, confirmation of destructive
actions (one page, or :class:`ConfirmedActions` for a page's confirm-then-act routes), and
pagination links.

- The viewer is the single sign-on session of the hosted pages (``oauth/sso.py``): its cookie,
  a live session, a user not disabled. A page without one redirects (303) to
  ``/account/login?next=<this page>``; ``next`` is only ever a path of this site.
- A form's CSRF token is an HMAC-SHA256 over the SSO session id and the form's purpose
  (``core/csrf.py``, the server's CSRF key), compared in constant time: a token taken from
  another session, or made for another form, is refused. Every POST also passes
  :func:`pages.same_origin`.
- The pages call the same use-cases as their JSON twins under ``/auth``: :func:`claims_of`
  stands the session in for the access token those take, with the built-in client
  ``gatepass`` and the session's id as ``sid``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from gatepass.core import csrf
from gatepass.core.access_token import AccessClaims
from gatepass.core.cursor import MAX_CURSOR
from gatepass.oauth import scopes, sso
from gatepass.oauth.authorization_request import collect
from gatepass.oauth.first_party import FIRST_PARTY_CLIENT_ID
from gatepass.oauth.services import Services
from gatepass.server import pages
from gatepass.server.routing import Endpoint, route

LOGIN_PATH = "/account/login"
LOGOUT_PATH = "/account/logout"
HOME = "/account"
ADMIN_HOME = "/console"  # the admin console's first page (server/admin_pages.py)
SIGN_OUT_PURPOSE = "sign-out"
MAX_NEXT = 2000
MAX_TRAIL = 20  # earlier pages a "Previous" link can go back through
_SAFE_PATH = re.compile(r"/(?![/\\])[\x21-\x7e]*")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# the navigation of the account pages: (path, label)
ACCOUNT_NAV = (
    (HOME, "Profile"),
    ("/account/sessions", "Sessions"),
    ("/account/password", "Password"),
    ("/account/apps", "Connected apps"),
    ("/account/activity", "Activity"),
)


async def viewer(svc: Services, request: Request) -> sso.Signed | None:
    """The live SSO session of the request's cookie and its user; None without one, or when
    the user is disabled."""
    signed = await sso.current(svc, request.cookies.get(sso.COOKIE))
    if signed is None or signed.user.disabled:
        return None
    await sso.touch(svc, signed.session)
    return signed


SignedEndpoint = Callable[[Services, Request, sso.Signed], Awaitable[Response]]


def signed_in(endpoint: SignedEndpoint) -> Endpoint:
    """A page for the viewer only: without one, the sign-in page (which comes back here); a
    form that :func:`posted` refuses answers with its refusal; a database that cannot answer,
    a page saying so (``pages.guard``)."""

    async def signed_page(svc: Services, request: Request) -> Response:
        signed = await viewer(svc, request)
        if signed is None:
            return to_sign_in(request)
        try:
            return await endpoint(svc, request, signed)
        except Refused as exc:
            return exc.response

    signed_page.__name__ = endpoint.__name__
    return pages.guard(signed_page)


def when(ts: float) -> dict[str, str]:
    """A time for a ``<time>`` element: machine-readable and as people read it (UTC)."""
    return {
        "iso": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)),
        "text": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts)),
    }


def is_admin(signed: sso.Signed) -> bool:
    return scopes.ADMIN_ROLE in (signed.user.roles or [])


def safe_next(value: str | None, default: str = HOME) -> str:
    """``value`` when it is a path of this site (``/x``, never ``//host``, ``/\\host``, a
    scheme, or a control character) other than the sign-in page, else ``default``."""
    if not value or len(value) > MAX_NEXT or not _SAFE_PATH.fullmatch(value):
        return default
    if value.split("?", 1)[0].rstrip("/") == LOGIN_PATH:  # never back to itself: no loop
        return default
    return value


def redirect(location: str, headers: Mapping[str, str] | None = None) -> Response:
    """303: a form's answer is a GET of the next page (POST/redirect/GET)."""
    return RedirectResponse(location, status_code=303, headers={**NO_STORE, **(headers or {})})


def to_sign_in(request: Request) -> Response:
    """303 to the sign-in page, which comes back here (path and query) afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = safe_next(here, default="")
    return redirect(LOGIN_PATH + (f"?{urlencode({'next': target})}" if target else ""))


def form_token(svc: Services, signed: sso.Signed, purpose: str) -> str:
    """The CSRF token of a form for ``purpose``, good only in this SSO session."""
    return csrf.token(svc.csrf_key, signed.session.id, purpose)


def check_form(svc: Services, signed: sso.Signed, purpose: str, presented: str | None) -> bool:
    return csrf.valid(svc.csrf_key, signed.session.id, purpose, presented)


def claims_of(signed: sso.Signed) -> AccessClaims:
    """The session as the use-cases under ``/auth`` see a caller: the user, through the
    built-in client, in this login (``sid``)."""
    session, user = signed.session, signed.user
    return AccessClaims(
        sub=user.id,
        iss="",
        aud=(),
        exp=int(session.expires_at),
        iat=int(session.created_at),
        nbf=None,
        jti="",
        client_id=FIRST_PARTY_CLIENT_ID,
        scope=frozenset(),
        roles=frozenset(user.roles or []),
        sid=session.id,
        raw={},
    )


def page(
    svc: Services,
    signed: sso.Signed,
    name: str,
    context: Mapping[str, Any],
    *,
    current: str,
    status: int = 200,
) -> HTMLResponse:
    """A signed-in page: ``name`` extends ``console_base.html``; ``current`` is the path of the
    navigation entry to mark."""
    return pages.render(
        svc,
        name,
        {
            "nav": ACCOUNT_NAV,
            "current": current,
            "viewer_name": signed.user.username,
            "is_admin": is_admin(signed),
            "admin_home": ADMIN_HOME,
            "logout_action": LOGOUT_PATH,
            "logout_token": form_token(svc, signed, SIGN_OUT_PURPOSE),
            "notice": None,
            "error": None,
            **context,
        },
        status=status,
    )


class Refused(Exception):
    """A signed-in form that must not be acted on; :attr:`response` says why."""

    def __init__(self, response: Response) -> None:
        super().__init__("form refused")
        self.response = response


_EXPIRED = (
    "This page has expired or was opened in another session. Go back, reload it, and try again."
)


async def posted(
    svc: Services, request: Request, signed: sso.Signed, purpose: str
) -> dict[str, str]:
    """A signed-in form's fields once it has passed every check (same origin, form encoding,
    no field repeated, this session's CSRF token for ``purpose``); else :class:`Refused`."""
    if not pages.same_origin(svc, request):
        raise Refused(pages.error_page(svc, "This form was sent from another site.", status=403))
    try:
        pairs = await pages.form_pairs(request)
    except pages.BadForm:
        raise Refused(pages.error_page(svc, "The form could not be read.")) from None
    fields, repeated = collect(pairs)
    if repeated:
        raise Refused(pages.error_page(svc, "The form was sent with a field repeated."))
    if not check_form(svc, signed, purpose, fields.pop("csrf_token", None)):
        raise Refused(pages.error_page(svc, _EXPIRED, status=403, title="Please try again"))
    return fields


@dataclass(frozen=True, slots=True)
class Confirm:
    """The confirmation step of a destructive action: a page that says what will happen, with
    one form (CSRF token for ``purpose``, and ``fields``) that posts to ``action``."""

    title: str
    message: str
    action: str
    purpose: str
    button: str
    back: str
    fields: Mapping[str, str] = field(default_factory=dict)


def confirm_page(svc: Services, signed: sso.Signed, step: Confirm, *, current: str) -> Response:
    return page(
        svc,
        signed,
        "confirm.html",
        {
            "title": step.title,
            "message": step.message,
            "action": step.action,
            "button": step.button,
            "back": step.back,
            "fields": dict(step.fields),
            "csrf_token": form_token(svc, signed, step.purpose),
        },
        current=current,
    )


ActOn = Callable[[Services, Request, sso.Signed, str], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Action:
    """One destructive action on a subject: the words of its confirmation (``message`` names
    the subject as ``{name}``), and ``act``, called with the subject's id once confirmed."""

    title: str
    message: str
    button: str
    act: ActOn


@dataclass(frozen=True, slots=True)
class ConfirmedActions:
    """The destructive actions on one kind of subject (a user, a client), each at
    ``<subject's page>/<action>``: a GET shows the confirmation (:func:`confirm_page`), whose
    form posts back to the same path with a CSRF token for ``purpose(action, id)``; the POST
    acts once :func:`posted` has checked it, and only then.

    ``param``: the path parameter holding the subject's id; ``name_of``: the subject's name for
    the confirmation (a ``NotFound`` when there is none); ``page_of``: the subject's page (the
    way back, and the base of each action's path)."""

    param: str
    name_of: Callable[[Services, str], Awaitable[str]]
    page_of: Callable[[str], str]
    purpose: Callable[[str, str], str]
    actions: Mapping[str, Action]
    current: str = ADMIN_HOME

    def endpoints(self, name: str) -> dict[str, SignedEndpoint]:
        """The confirmation (GET) and the act (POST) of the action ``name``."""
        action = self.actions[name]

        async def confirm(svc: Services, request: Request, signed: sso.Signed) -> Response:
            subject = request.path_params[self.param]
            named = await self.name_of(svc, subject)
            step = Confirm(
                title=action.title,
                message=action.message.format(name=named),
                action=f"{self.page_of(subject)}/{name}",
                purpose=self.purpose(name, subject),
                button=action.button,
                back=self.page_of(subject),
            )
            return confirm_page(svc, signed, step, current=self.current)

        async def act(svc: Services, request: Request, signed: sso.Signed) -> Response:
            subject = request.path_params[self.param]
            await posted(svc, request, signed, self.purpose(name, subject))
            return await action.act(svc, request, signed, subject)

        confirm.__name__ = f"confirm_{name.replace('-', '_')}"
        act.__name__ = name.replace("-", "_")
        return {"GET": confirm, "POST": act}

    def routes(self, page: str, gate: Callable[[SignedEndpoint], Endpoint]) -> list[Route]:
        """Every action's two routes under ``page`` (the subject's page as a route path, with
        ``{param}``), each behind ``gate`` (``admin_pages.admin_only``, :func:`signed_in`)."""
        return [
            route(f"{page}/{name}", gate(endpoint), [method])
            for name in self.actions
            for method, endpoint in self.endpoints(name).items()
        ]


def pager(request: Request, next_cursor: str | None) -> dict[str, str | None]:
    """The links of ``_pager.html``: ``next`` (this page's path with ``cursor=next_cursor``)
    and ``previous``. The cursors are the APIs' forward-only ones; the way back is the trail of
    the cursors that led here, carried in the query (``trail``), at most :data:`MAX_TRAIL`."""
    path = request.url.path
    here = request.query_params.get("cursor") or ""
    trail = [c for c in (request.query_params.get("trail") or "").split(".") if c]
    if len(here) > MAX_CURSOR or len(trail) > MAX_TRAIL or any(len(c) > MAX_CURSOR for c in trail):
        here, trail = "", []
    others = {k: v for k, v in request.query_params.items() if k not in ("cursor", "trail")}

    def link(cursor: str, back: list[str]) -> str:
        query = {**others}
        if cursor:
            query["cursor"] = cursor
        if back:
            query["trail"] = ".".join(back[-MAX_TRAIL:])
        return path + (f"?{urlencode(query)}" if query else "")

    previous = None
    if here:
        previous = link(trail[-1] if trail else "", trail[:-1] if trail else [])
    following = link(next_cursor, [*trail, here] if here else []) if next_cursor else None
    return {"next": following, "previous": previous}
