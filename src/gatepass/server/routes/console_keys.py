"""The admin console's key page (``/console/keys``): token-signing keys (by ``purpose``:
access tokens or ID tokens) and URL-signing keys, listed without private material, and each
ring rotated after a confirmation; the JSON twins are ``GET /admin/keys``,
``POST /admin/keys/rotate`` and ``POST /admin/url-keys/rotate``.

``POST /admin/keys/rotate`` rotates the one token-signing ring (``KeyManager``), whose keys
sign every token gatepass issues; ``revoke_old`` makes it an emergency rotation. The page
offers both, and the URL-signing ring."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gatepass.errors import NotFound
from gatepass.oauth import admin_keys, sso
from gatepass.oauth.key_listing import all_keys
from gatepass.oauth.services import Services
from gatepass.server import console
from gatepass.server.admin_pages import HOME, acting, admin_only, render, utc
from gatepass.server.routing import route

SECTION = f"{HOME}/keys"
ROTATE = f"{SECTION}/rotate"
# kind: (title, what happens, button, notice)
KINDS = {
    "token": (
        "Rotate the access-token keys?",
        "The next key starts signing new access tokens. Tokens signed by the current key stay "
        "valid until they expire; its public key stays published until then.",
        "Rotate access-token keys",
        "The access-token keys were rotated.",
    ),
    "id-token": (
        "Rotate the ID-token keys?",
        "The next key starts signing new OpenID Connect ID tokens. The current key stays "
        "published until the ID tokens it signed have expired.",
        "Rotate ID-token keys",
        "The ID-token keys were rotated.",
    ),
    "token-now": (
        "Emergency rotation of the token-signing keys?",
        "A new key signs access tokens and ID tokens from now on, and every older key is retired "
        "at once: every token signed before now stops being accepted. Use this when a key may "
        "have leaked.",
        "Rotate and retire the old keys now",
        "The token-signing keys were rotated, and the old ones retired.",
    ),
    "url": (
        "Rotate the URL-signing keys?",
        "The next key signs new URLs. URLs signed by the current key keep working until they "
        "expire.",
        "Rotate URL-signing keys",
        "The URL-signing keys were rotated.",
    ),
}


async def list_keys(svc: Services, request: Request, signed: sso.Signed) -> Response:
    done = request.query_params.get("done", "")
    return render(
        svc,
        request,
        signed,
        "admin_keys.html",
        {
            "title": "Keys",
            **{ring: [_dated(k) for k in keys] for ring, keys in (await all_keys(svc)).items()},
            "rotate": ROTATE,
            "notice": KINDS[done][3] if done in KINDS else None,
        },
        section=SECTION,
    )


def _dated(key: dict[str, Any]) -> dict[str, Any]:
    return {**key, "created": utc(key["created_at"]), "retires": utc(key["retire_at"])}


def _kind(request: Request) -> str:
    kind = request.query_params.get("kind", "")
    if kind not in KINDS:
        raise NotFound("No such kind of key.")
    return kind


async def confirm(svc: Services, request: Request, signed: sso.Signed) -> Response:
    kind = _kind(request)
    title, message, button, _ = KINDS[kind]
    step = console.Confirm(
        title=title,
        message=message,
        action=f"{ROTATE}?kind={kind}",
        purpose=f"admin keys rotate {kind}",
        button=button,
        back=SECTION,
    )
    return console.confirm_page(svc, signed, step, current=console.ADMIN_HOME)


async def rotate(svc: Services, request: Request, signed: sso.Signed) -> Response:
    kind = _kind(request)
    await console.posted(svc, request, signed, f"admin keys rotate {kind}")
    who = acting(signed, request)
    if kind == "url":
        await admin_keys.rotate_url_keys(svc, who)
    else:
        purpose = {"token": "access", "id-token": "id_token"}.get(kind, "all")
        await admin_keys.rotate_token_keys(
            svc, who, revoke_old=kind == "token-now", purpose=purpose
        )
    return console.redirect(f"{SECTION}?done={kind}")


ROUTES = [
    route(SECTION, admin_only(list_keys), ["GET"]),
    route(ROTATE, admin_only(confirm), ["GET"]),
    route(ROTATE, admin_only(rotate), ["POST"]),
]
