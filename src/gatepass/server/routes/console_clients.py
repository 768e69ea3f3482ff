"""The admin console's client pages (``/console/clients``): the list, registering one with
its redirect URIs (the secret shown once), editing grants, scopes and token lifetime, rotating
the secret (shown once), deleting; the JSON twins are ``/admin/clients``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gatepass.errors import InvalidRequest, NotFound
from gatepass.oauth import admin_clients, paging, sso
from gatepass.oauth.clients import GRANTS, TOKEN_FORMATS
from gatepass.oauth.services import Services
from gatepass.server import admin_pages, console
from gatepass.server.admin_pages import HOME, acting, admin_only, lines, render, words
from gatepass.server.routing import route
from gatepass.storage.models import Client

SECTION = f"{HOME}/clients"
CREATE = "admin clients create"
NOTICES = {"saved": "The client was saved.", "deleted": "The client was deleted."}
MAX_FIELD = 4000


def _client_path(client_id: str, done: str | None = None) -> str:
    return f"{SECTION}/{client_id}" + (f"?done={done}" if done else "")


def _purpose(action: str, client_id: str) -> str:
    return f"admin clients {action} {client_id}"


async def list_clients(svc: Services, request: Request, signed: sso.Signed) -> Response:
    shown, next_cursor = paging.split(
        await svc.clients.page(
            limit=admin_pages.PAGE_SIZE + 1, after=admin_pages.position_of(request)
        ),
        admin_pages.PAGE_SIZE,
        lambda c: (c.created_at, c.id),
    )
    return render(
        svc,
        request,
        signed,
        "admin_clients.html",
        {
            "title": "Clients",
            "clients": shown,
            "pager": console.pager(request, next_cursor),
            "notice": NOTICES.get(request.query_params.get("done", "")),
        },
        section=SECTION,
    )


def _form_context(form: dict[str, Any]) -> dict[str, Any]:
    return {"grant_names": GRANTS, "token_formats": TOKEN_FORMATS, "form": form}


_BLANK = {
    "name": "",
    "public": False,
    "grants": ["authorization_code", "refresh_token"],
    "scopes": "",
    "redirect_uris": "",
    "post_logout_redirect_uris": "",
    "access_token_ttl": "",
    "token_format": "jwt",
    "audience": "",
}


async def new_client(svc: Services, request: Request, signed: sso.Signed) -> Response:
    return _new_page(svc, request, signed, dict(_BLANK))


def _new_page(
    svc: Services,
    request: Request,
    signed: sso.Signed,
    form: dict[str, Any],
    *,
    error: str | None = None,
) -> Response:
    return render(
        svc,
        request,
        signed,
        "admin_client_new.html",
        {
            "title": "New client",
            "action": SECTION,
            "csrf_token": console.form_token(svc, signed, CREATE),
            "error": error,
            **_form_context(form),
        },
        section=SECTION,
        status=400 if error else 200,
    )


def _read(fields: dict[str, str]) -> dict[str, Any]:
    """The form as typed (kept to show it again with an error); a checkbox per grant, named
    ``grant_<grant>``."""
    return {
        "name": fields.get("name", "")[:200],
        "public": fields.get("type") == "public",
        "grants": [g for g in GRANTS if fields.get(f"grant_{g}")],
        "scopes": fields.get("scopes", "")[:MAX_FIELD],
        "redirect_uris": fields.get("redirect_uris", "")[:MAX_FIELD],
        "post_logout_redirect_uris": fields.get("post_logout_redirect_uris", "")[:MAX_FIELD],
        "access_token_ttl": fields.get("access_token_ttl", "")[:12],
        "token_format": fields.get("token_format", "jwt")[:16],
        "audience": fields.get("audience", "")[:255],
    }


def _ttl(value: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidRequest("The token lifetime must be a whole number of seconds.") from None


async def create_client(svc: Services, request: Request, signed: sso.Signed) -> Response:
    form = _read(await console.posted(svc, request, signed, CREATE))
    try:
        client, secret = await admin_clients.register(
            svc,
            acting(signed, request),
            form["name"],
            grants=form["grants"],
            scope_list=words(form["scopes"]),
            public=form["public"],
            token_format=form["token_format"],
            audience=form["audience"] or None,
            access_token_ttl=_ttl(form["access_token_ttl"]),
            redirects=lines(form["redirect_uris"]),
            post_logout_redirects=lines(form["post_logout_redirect_uris"]),
        )
    except InvalidRequest as exc:
        return _new_page(svc, request, signed, form, error=exc.description)
    return _secret_page(svc, request, signed, client, secret, created=True)


def _secret_page(
    svc: Services,
    request: Request,
    signed: sso.Signed,
    client: Client,
    secret: str | None,
    *,
    created: bool,
) -> Response:
    """The one page that shows a client secret: ``Cache-Control: no-store`` (every page's),
    and never again."""
    return render(
        svc,
        request,
        signed,
        "admin_client_secret.html",
        {
            "title": "Client created" if created else "New client secret",
            "client": client,
            "secret": secret,
            "created": created,
            "back": _client_path(client.id),
        },
        section=SECTION,
        status=201 if created else 200,
    )


async def _find(svc: Services, client_id: str) -> Client:
    client = await svc.clients.get(client_id) if 0 < len(client_id) <= 64 else None
    if client is None:
        raise NotFound("No such client.")
    return client


async def show_client(svc: Services, request: Request, signed: sso.Signed) -> Response:
    client = await _find(svc, request.path_params["client_id"])
    form = {
        "name": client.name,
        "grants": list(client.grants or []),
        "scopes": " ".join(client.scopes or []),
        "access_token_ttl": "" if client.access_token_ttl is None else str(client.access_token_ttl),
        "token_format": client.token_format,
        "audience": client.audience or "",
    }
    return _edit_page(svc, request, signed, client, form)


def _edit_page(
    svc: Services,
    request: Request,
    signed: sso.Signed,
    client: Client,
    form: dict[str, Any],
    *,
    error: str | None = None,
) -> Response:
    return render(
        svc,
        request,
        signed,
        "admin_client.html",
        {
            "title": f"Client {client.name}",
            "client": client,
            "action": _client_path(client.id),
            "csrf_token": console.form_token(svc, signed, _purpose("edit", client.id)),
            "error": error,
            "notice": NOTICES.get(request.query_params.get("done", "")),
            **_form_context(form),
        },
        section=SECTION,
        status=400 if error else 200,
    )


async def edit_client(svc: Services, request: Request, signed: sso.Signed) -> Response:
    client = await _find(svc, request.path_params["client_id"])
    form = _read(await console.posted(svc, request, signed, _purpose("edit", client.id)))
    try:
        changes = {
            "name": form["name"],
            "grants": form["grants"],
            "scopes": words(form["scopes"]),
            "access_token_ttl": _ttl(form["access_token_ttl"]),
            "token_format": form["token_format"],
            "audience": form["audience"] or None,
        }
        await admin_clients.update_client(svc, acting(signed, request), client.id, changes)
    except InvalidRequest as exc:
        return _edit_page(svc, request, signed, client, form, error=exc.description)
    return console.redirect(_client_path(client.id, "saved"))


async def _rotate_secret(
    svc: Services, request: Request, signed: sso.Signed, client_id: str
) -> Response:
    secret = await admin_clients.rotate_secret(svc, acting(signed, request), client_id)
    client = await _find(svc, client_id)
    return _secret_page(svc, request, signed, client, secret, created=False)


async def _delete(svc: Services, request: Request, signed: sso.Signed, client_id: str) -> Response:
    await admin_clients.delete(svc, acting(signed, request), client_id)
    return console.redirect(f"{SECTION}?done=deleted")


async def _client_name(svc: Services, client_id: str) -> str:
    return (await _find(svc, client_id)).name


CONFIRMED = console.ConfirmedActions(
    param="client_id",
    name_of=_client_name,
    page_of=_client_path,
    purpose=_purpose,
    actions={
        "rotate-secret": console.Action(
            "Rotate the client secret?",
            "The current secret of {name} stops working at once. The new one is shown once.",
            "Rotate the secret",
            _rotate_secret,
        ),
        "delete": console.Action(
            "Delete this client?",
            "{name} is deleted: it can no longer get tokens. This cannot be undone.",
            "Delete the client",
            _delete,
        ),
    },
)


ROUTES = [
    route(SECTION, admin_only(list_clients), ["GET"]),
    route(SECTION, admin_only(create_client), ["POST"]),
    route(SECTION + "/new", admin_only(new_client), ["GET"]),
    route(SECTION + "/{client_id}", admin_only(show_client), ["GET"]),
    route(SECTION + "/{client_id}", admin_only(edit_client), ["POST"]),
    *CONFIRMED.routes(SECTION + "/{client_id}", admin_only),
]
