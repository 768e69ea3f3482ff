"""The admin console's user pages (``/console/users``): search, create, one user with their
live sessions, disable and enable, roles, a forced password reset, a new password, and ending
every session; the JSON twins are ``/admin/users`` (``server/routes/admin_users.py``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gatepass.core.user_agent import parse as parse_user_agent
from gatepass.errors import InvalidRequest
from gatepass.oauth import admin_users, paging, sso
from gatepass.oauth.services import Services
from gatepass.server import admin_pages, console
from gatepass.server.admin_pages import HOME, acting, admin_only, render, utc, words
from gatepass.server.query import QueryParams
from gatepass.server.routing import route

SECTION = f"{HOME}/users"
NOTICES = {
    "created": "The user was created.",
    "disabled": "The account is disabled and every session of it ended.",
    "enabled": "The account is enabled.",
    "roles": "The roles were saved.",
    "reset": "A password reset is forced: every session ended, and the user cannot sign in "
    "until a new password is set.",
    "password": "The new password is set, and every session of the user ended.",
    "ended": "Every session of the user ended.",
}
CREATE = "admin users create"


def _user_path(user_id: str, done: str | None = None) -> str:
    return f"{SECTION}/{user_id}" + (f"?done={done}" if done else "")


async def list_users(svc: Services, request: Request, signed: sso.Signed) -> Response:
    return await _list(svc, request, signed)


async def _list(
    svc: Services,
    request: Request,
    signed: sso.Signed,
    *,
    error: str | None = None,
    username: str = "",
    roles: str = "",
    status: int = 200,
) -> Response:
    query = QueryParams(request)
    q = query.text("q", max_len=320)
    items, next_cursor = await admin_users.search(
        svc, q or None, limit=admin_pages.PAGE_SIZE, after=query.text("cursor", max_len=512)
    )
    return render(
        svc,
        request,
        signed,
        "admin_users.html",
        {
            "title": "Users",
            "users": items,
            "q": q or "",
            "pager": console.pager(request, next_cursor),
            "create_action": SECTION,
            "create_token": console.form_token(svc, signed, CREATE),
            "new_username": username,
            "new_roles": roles,
            "error": error,
            "notice": NOTICES.get(request.query_params.get("done", "")),
        },
        section=SECTION,
        status=status,
    )


async def create_user(svc: Services, request: Request, signed: sso.Signed) -> Response:
    fields = await console.posted(svc, request, signed, CREATE)
    username, roles = fields.get("username", "")[:150], fields.get("roles", "")[:1000]
    try:
        user = await admin_users.create(
            svc, acting(signed, request), username, fields.get("password", ""), words(roles)
        )
    except InvalidRequest as exc:
        return await _list(
            svc, request, signed, error=exc.description, username=username, roles=roles, status=400
        )
    return console.redirect(_user_path(user.id, "created"))


async def show_user(svc: Services, request: Request, signed: sso.Signed) -> Response:
    return await _show(svc, request, signed)


async def _show(
    svc: Services,
    request: Request,
    signed: sso.Signed,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    user = await admin_users.find(svc, request.path_params["user_id"])
    rows = await svc.logins.page_of_user(
        user.id,
        active_at=svc.clock.now(),
        limit=admin_pages.PAGE_SIZE + 1,
        after=admin_pages.position_of(request),
    )
    shown, next_cursor = paging.split(rows, admin_pages.PAGE_SIZE, lambda r: (r.created_at, r.id))
    sessions = []
    for r in shown:
        agent = parse_user_agent(r.user_agent)
        sessions.append(
            {
                "row": r,
                "browser": agent.browser,
                "os": agent.os,
                "started": utc(r.created_at),
                "last_used": utc(r.last_used_at),
            }
        )
    base = _user_path(user.id)
    return render(
        svc,
        request,
        signed,
        "admin_user.html",
        {
            "title": f"User {user.username}",
            "user": await admin_users.describe(svc, user),
            "sessions": sessions,
            "pager": console.pager(request, next_cursor),
            "is_self": user.id == signed.user.id,
            "base": base,
            "roles_token": console.form_token(svc, signed, _purpose("roles", user.id)),
            "enable_token": console.form_token(svc, signed, _purpose("enable", user.id)),
            "password_token": console.form_token(svc, signed, _purpose("password", user.id)),
            "error": error,
            "notice": NOTICES.get(request.query_params.get("done", "")),
        },
        section=SECTION,
        status=status,
    )


def _purpose(action: str, user_id: str) -> str:
    return f"admin users {action} {user_id}"


async def set_roles(svc: Services, request: Request, signed: sso.Signed) -> Response:
    user_id = request.path_params["user_id"]
    fields = await console.posted(svc, request, signed, _purpose("roles", user_id))
    try:
        await admin_users.update(
            svc, acting(signed, request), user_id, roles=words(fields.get("roles", "")[:2000])
        )
    except InvalidRequest as exc:
        return await _show(svc, request, signed, error=exc.description, status=400)
    return console.redirect(_user_path(user_id, "roles"))


async def enable(svc: Services, request: Request, signed: sso.Signed) -> Response:
    user_id = request.path_params["user_id"]
    await console.posted(svc, request, signed, _purpose("enable", user_id))
    await admin_users.update(svc, acting(signed, request), user_id, disabled=False)
    return console.redirect(_user_path(user_id, "enabled"))


async def set_password(svc: Services, request: Request, signed: sso.Signed) -> Response:
    user_id = request.path_params["user_id"]
    fields = await console.posted(svc, request, signed, _purpose("password", user_id))
    try:
        await admin_users.set_password(
            svc, acting(signed, request), user_id, fields.get("password", "")[:1024]
        )
    except InvalidRequest as exc:
        return await _show(svc, request, signed, error=exc.description, status=400)
    return console.redirect(_user_path(user_id, "password"))


async def _disable(svc: Services, request: Request, signed: sso.Signed, user_id: str) -> Response:
    await admin_users.update(svc, acting(signed, request), user_id, disabled=True)
    return console.redirect(_user_path(user_id, "disabled"))


async def _force_reset(
    svc: Services, request: Request, signed: sso.Signed, user_id: str
) -> Response:
    await admin_users.force_password_reset(svc, acting(signed, request), user_id)
    return console.redirect(_user_path(user_id, "reset"))


async def _end_sessions(
    svc: Services, request: Request, signed: sso.Signed, user_id: str
) -> Response:
    await admin_users.end_sessions(svc, acting(signed, request), user_id)
    return console.redirect(_user_path(user_id, "ended"))


async def _username(svc: Services, user_id: str) -> str:
    return (await admin_users.find(svc, user_id)).username


# the destructive actions: a GET shows the confirmation, its form's POST acts
CONFIRMED = console.ConfirmedActions(
    param="user_id",
    name_of=_username,
    page_of=_user_path,
    purpose=_purpose,
    actions={
        "disable": console.Action(
            "Disable this account?",
            "{name} will be signed out everywhere at once and cannot sign in until enabled again.",
            "Disable the account",
            _disable,
        ),
        "force-password-reset": console.Action(
            "Force a password reset?",
            "Every session of {name} ends at once, and their password stops working until you "
            "set a new one.",
            "Force the reset",
            _force_reset,
        ),
        "end-sessions": console.Action(
            "End every session?",
            "Every session of {name}, in every app and browser, ends at once, with its tokens.",
            "End every session",
            _end_sessions,
        ),
    },
)


ROUTES = [
    route(SECTION, admin_only(list_users), ["GET"]),
    route(SECTION, admin_only(create_user), ["POST"]),
    route(SECTION + "/{user_id}", admin_only(show_user), ["GET"]),
    route(SECTION + "/{user_id}/roles", admin_only(set_roles), ["POST"]),
    route(SECTION + "/{user_id}/enable", admin_only(enable), ["POST"]),
    route(SECTION + "/{user_id}/password", admin_only(set_password), ["POST"]),
    *CONFIRMED.routes(SECTION + "/{user_id}", admin_only),
]
