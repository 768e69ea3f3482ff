"""What every admin console page (``/console``) shares: the gate (a signed-in SSO session
whose user has role ``admin``, checked again on every request), the administrator an action is
recorded for, the console's navigation, and the answer to a refused action.

The pages call the same use-cases as their JSON twins under ``/admin`` (``oauth/admin_*.py``),
so an action records the same ``admin.*`` event, from the page request's address and agent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from gatepass.core import cursor
from gatepass.errors import GatepassError
from gatepass.oauth import sso
from gatepass.oauth.admin_audit import Admin
from gatepass.oauth.services import Services
from gatepass.server import console, pages
from gatepass.server.deps import client_ip, user_agent
from gatepass.server.routing import Endpoint

HOME = console.ADMIN_HOME
NAV = (
    (f"{HOME}/users", "Users"),
    (f"{HOME}/clients", "Clients"),
    (f"{HOME}/keys", "Keys"),
    (f"{HOME}/events", "Events"),
)
PAGE_SIZE = 25

AdminEndpoint = Callable[[Services, Request, sso.Signed], Awaitable[Response]]


def admin_only(endpoint: AdminEndpoint) -> Endpoint:
    """A console endpoint: no session, the sign-in page (303); a user without role ``admin``,
    a 403 page; a refused form or a refused action (``GatepassError``), its page."""

    async def gated(svc: Services, request: Request) -> Response:
        signed = await console.viewer(svc, request)
        if signed is None:
            return console.to_sign_in(request)
        if not console.is_admin(signed):
            return pages.error_page(
                svc, "This page is for administrators only.", status=403, title="Not allowed"
            )
        try:
            return await endpoint(svc, request, signed)
        except console.Refused as exc:
            return exc.response
        except GatepassError as exc:
            if exc.status >= 500:
                raise
            return _refused(svc, request, signed, exc)

    gated.__name__ = endpoint.__name__
    return pages.guard(gated)


def _refused(
    svc: Services, request: Request, signed: sso.Signed, exc: GatepassError
) -> HTMLResponse:
    """A refused action or a bad address, in the console's own layout."""
    section = next((href for href, _ in NAV if request.url.path.startswith(href)), "")
    title = "Not found" if exc.status == 404 else "That did not work"
    context = {"title": title, "message": exc.description}
    return render(
        svc, request, signed, "admin_error.html", context, section=section, status=exc.status
    )


def acting(signed: sso.Signed, request: Request) -> Admin:
    """The administrator behind a console request, for its ``admin.*`` event."""
    return Admin(signed.user.id, signed.user.username, client_ip(request), user_agent(request))


def render(
    svc: Services,
    request: Request,
    signed: sso.Signed,
    name: str,
    context: Mapping[str, Any],
    *,
    section: str,
    status: int = 200,
) -> HTMLResponse:
    """A console page: ``name`` extends ``admin_base.html``; ``section`` is the path of the
    console navigation entry to mark."""
    return console.page(
        svc,
        signed,
        name,
        {"admin_nav": NAV, "section": section, **context},
        current=console.ADMIN_HOME,
        status=status,
    )


def position_of(request: Request) -> tuple[float, str] | None:
    """Where a keyset page starts (its cursor, ``oauth/paging.py``); the first page when the
    cursor is bad or absent."""
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    try:
        return cursor.decode_at(raw)
    except ValueError:
        return None


def utc(seconds: float | None) -> str:
    """A moment as the console shows it (UTC, to the second)."""
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def words(value: str) -> list[str]:
    """Roles, scopes, grants typed in one field: separated by spaces or commas."""
    return [w for w in value.replace(",", " ").split() if w]


def lines(value: str) -> list[str]:
    """Redirect URIs typed one a line."""
    return [v.strip() for v in value.splitlines() if v.strip()]
