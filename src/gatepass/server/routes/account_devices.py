"""The account pages where the signed-in user ends access (``server/console.py``): the
sessions and devices of the account, and the apps it is connected to.

Ending anything takes two steps: a GET shows what will end, with a form (CSRF token of this
session); its POST does it. They call the use-cases of the JSON twins, ``DELETE
/auth/sessions/{id}``, ``POST /auth/sessions/end-others`` and ``DELETE /auth/consents/{id}``,
which act on the viewer's own rows only: another user's session id is "not found", exactly as an
unknown one. Both lists come a page at a time (``oauth/paging.py``, the pager of the activity
page); this device's session heads the first page of sessions.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from gatepass.errors import GatepassError, NotFound
from gatepass.oauth import account, consents, sessions, sso
from gatepass.oauth.first_party import FIRST_PARTY_CLIENT_ID
from gatepass.oauth.services import Services
from gatepass.server import console, pages
from gatepass.server.deps import client_ip, user_agent
from gatepass.server.routing import route
from gatepass.server.scope_words import describe

SESSIONS, APPS = "/account/sessions", "/account/apps"
PAGE = 25  # rows a page of sessions or apps shows
END_OTHERS = SESSIONS + "/end-others"
_DONE = {
    "ended": "That session was signed out.",
    "others": "Every other session was signed out.",
    "revoked": "The app was disconnected, and its sessions were signed out.",
}
_GONE = "This session is not one of yours, or it has already ended."


def _notice(request: Request) -> str | None:
    return _DONE.get(request.query_params.get("done") or "")


def _caller(request: Request) -> sessions.Caller:
    return sessions.Caller(client_ip(request), user_agent(request))


async def _client_name(svc: Services, client_id: str) -> str:
    if client_id == FIRST_PARTY_CLIENT_ID:
        return f"{svc.settings.product_name} (this site)"
    client = await svc.clients.cached(client_id)
    return client.name if client is not None else client_id


def _device(item: dict[str, Any]) -> str:
    known = [p for p in (item["browser"], item["os"]) if p and p != "unknown"]
    return " on ".join(known) if known else "Unknown device"


async def _shown(svc: Services, item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        "app": await _client_name(svc, str(item["client"])),
        "device": _device(item),
        "started": console.when(float(item["created"])),
        "used": console.when(float(item["last_used"])),
        "end_url": f"{SESSIONS}/{quote(str(item['id']), safe='')}/end",
    }


async def list_sessions(svc: Services, request: Request, signed: sso.Signed) -> Response:
    """This device's session first, then the others, newest first, a page at a time."""
    claims = console.claims_of(signed)
    after = request.query_params.get("cursor") or None
    try:
        items, next_cursor = await sessions.sessions_page(
            svc, claims, limit=PAGE, after=after, newest_first=True, current_apart=True
        )
    except GatepassError as exc:  # a cursor that is not one
        return pages.error_page(svc, exc.description, status=400)
    here = await sessions.own_session(svc, claims, signed.session.id) if after is None else None
    rows = [await _shown(svc, item) for item in ([here] if here else []) + items]
    return console.page(
        svc,
        signed,
        "account_sessions.html",
        {
            "title": "Sessions",
            "sessions": rows,
            "others": bool(items or next_cursor),
            "end_others": END_OTHERS,
            "notice": _notice(request),
            "pager": console.pager(request, next_cursor),
        },
        current=SESSIONS,
    )


async def end_session(svc: Services, request: Request, signed: sso.Signed) -> Response:
    sid = request.path_params["sid"]
    purpose = f"end-session {sid}"
    if request.method == "POST":
        await console.posted(svc, request, signed, purpose)
        try:
            await sessions.end_session(svc, console.claims_of(signed), sid, _caller(request))
        except NotFound:
            return pages.error_page(svc, _GONE, status=404, title="Session not found")
        if sid == signed.session.id:  # this device: signed out here
            return console.redirect(console.LOGIN_PATH)
        return console.redirect(SESSIONS + "?done=ended")
    found = await sessions.own_session(svc, console.claims_of(signed), sid)
    if found is None:
        return pages.error_page(svc, _GONE, status=404, title="Session not found")
    row = await _shown(svc, found)
    step = console.Confirm(
        title="Sign out this session?",
        message=(
            f"{row['device']}, {row['app']}, last used {row['used']['text']}"
            f"{' from ' + str(row['address']) if row['address'] else ''}, will be signed out. "
            "Whoever uses it will have to sign in again."
        ),
        action=str(row["end_url"]),
        purpose=purpose,
        button="Sign out this session",
        back=SESSIONS,
    )
    return console.confirm_page(svc, signed, step, current=SESSIONS)


async def end_others(svc: Services, request: Request, signed: sso.Signed) -> Response:
    purpose = "end-others"
    if request.method == "POST":
        await console.posted(svc, request, signed, purpose)
        caller = _caller(request)
        await account.end_other_sessions(
            svc, console.claims_of(signed), ip=caller.ip, user_agent=caller.user_agent
        )
        return console.redirect(SESSIONS + "?done=others")
    step = console.Confirm(
        title="Sign out everywhere else?",
        message=(
            "Every other session of your account will be signed out: other browsers and "
            "devices, and the apps you signed in to. This session stays signed in."
        ),
        action=END_OTHERS,
        purpose=purpose,
        button="Sign out everywhere else",
        back=SESSIONS,
    )
    return console.confirm_page(svc, signed, step, current=SESSIONS)


async def list_apps(svc: Services, request: Request, signed: sso.Signed) -> Response:
    after = request.query_params.get("cursor") or None
    try:
        listed, next_cursor = await consents.page_of_caller(
            svc, console.claims_of(signed), limit=PAGE, after=after
        )
    except GatepassError as exc:  # a cursor that is not one
        return pages.error_page(svc, exc.description, status=400)
    rows: list[dict[str, Any]] = listed
    apps = [
        {
            "name": row["client_name"] or row["client_id"],
            "access": [words for _, words in describe(str(row["scope"] or "").split())],
            "since": console.when(float(row["granted_at"])),
            "revoke_url": f"{APPS}/{quote(str(row['client_id']), safe='')}/revoke",
        }
        for row in rows
    ]
    return console.page(
        svc,
        signed,
        "account_apps.html",
        {
            "title": "Connected apps",
            "apps": apps,
            "notice": _notice(request),
            "pager": console.pager(request, next_cursor),
        },
        current=APPS,
    )


async def revoke_app(svc: Services, request: Request, signed: sso.Signed) -> Response:
    client_id = request.path_params["client_id"]
    purpose = f"revoke-app {client_id}"
    claims = console.claims_of(signed)
    if request.method == "POST":
        await console.posted(svc, request, signed, purpose)
        try:
            await consents.withdraw(
                svc, claims, client_id, ip=client_ip(request), user_agent=user_agent(request)
            )
        except NotFound:
            return _no_such_app(svc)
        return console.redirect(APPS + "?done=revoked")
    found = await consents.one_of_caller(svc, claims, client_id)
    if found is None:
        return _no_such_app(svc)
    name = found["client_name"] or client_id
    step = console.Confirm(
        title="Disconnect this app?",
        message=(
            f"{name} will no longer reach your account: it is signed out everywhere now, and "
            "it will have to ask your permission again."
        ),
        action=f"{APPS}/{quote(client_id, safe='')}/revoke",
        purpose=purpose,
        button="Disconnect",
        back=APPS,
    )
    return console.confirm_page(svc, signed, step, current=APPS)


def _no_such_app(svc: Services) -> Response:
    message = "This app is not connected to your account."
    return pages.error_page(svc, message, status=404, title="App not found")


ROUTES = [
    route(SESSIONS, console.signed_in(list_sessions), ["GET"]),
    route(END_OTHERS, console.signed_in(end_others), ["GET", "POST"]),
    route(SESSIONS + "/{sid}/end", console.signed_in(end_session), ["GET", "POST"]),
    route(APPS, console.signed_in(list_apps), ["GET"]),
    route(APPS + "/{client_id}/revoke", console.signed_in(revoke_app), ["GET", "POST"]),
]
