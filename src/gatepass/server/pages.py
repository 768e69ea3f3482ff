"""The hosted pages (login, consent, logout, errors): Jinja2 templates rendered with
autoescaping, one stylesheet of ours, and the headers every page carries.

- ``Content-Security-Policy``: nothing but our stylesheet and images (the logo); no script at
  all; forms post only to this server, and to the origin a form's answer redirects to (a
  browser applies ``form-action`` to the redirect too); no framing; no ``<base>``.
- ``Cache-Control: no-store`` (``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer``
  come from ``middleware.SecurityHeaders`` on every answer).
- Branding: ``GATEPASS_PRODUCT_NAME``, ``GATEPASS_LOGO_URL``; a template of the same name in
  ``GATEPASS_TEMPLATE_DIR`` overrides ours.

CSRF (``core/csrf.py``): the pre-session cookie ``__Host-gp_csrf`` identifies the browser; a
form's token is an HMAC over it and the form's purpose.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from gatepass.core import csrf
from gatepass.oauth.services import Services
from gatepass.server.routing import Endpoint
from gatepass.storage.db import UNAVAILABLE

log = logging.getLogger("gatepass.server")

CSRF_COOKIE = "__Host-gp_csrf"
STYLESHEET = "/static/gatepass.css"
_SOURCE = re.compile(r"[a-z][a-z0-9+.-]*://[A-Za-z0-9.\-\[\]:]+|[a-z][a-z0-9+.-]*:")


@functools.lru_cache(maxsize=8)
def environment(template_dir: Path | None) -> jinja2.Environment:
    """Our templates, behind the operator's (a template there overrides ours by name)."""
    ours = jinja2.PackageLoader("gatepass.server", "templates")
    loader: jinja2.BaseLoader = ours
    if template_dir is not None:
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(template_dir)), ours])
    return jinja2.Environment(
        loader=loader,
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.lru_cache(maxsize=1)
def stylesheet() -> bytes:
    return resources.files("gatepass.server").joinpath("static/gatepass.css").read_bytes()


async def css(svc: Services, request: Request) -> Response:
    return Response(
        stylesheet(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def origin_of(uri: str) -> str | None:
    """The CSP source of a URI's origin (``https://app.example:8443``, ``com.example.app:``),
    or None when it cannot be written as one."""
    parts = urlsplit(uri)
    source = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
    if parts.scheme in ("http", "https") and not parts.netloc:
        return None
    return source if _SOURCE.fullmatch(source) else None


def policy(form_targets: Iterable[str] = ()) -> str:
    extra = "".join(f" {o}" for o in dict.fromkeys(filter(None, map(origin_of, form_targets))))
    return (
        "default-src 'none'; style-src 'self'; img-src 'self' https:; "
        f"form-action 'self'{extra}; frame-ancestors 'none'; base-uri 'none'"
    )


class Browser:
    """The browser's pre-session id (new when it sent none) and the CSRF tokens bound to it."""

    def __init__(self, svc: Services, request: Request) -> None:
        sent = request.cookies.get(CSRF_COOKIE)
        self.key = svc.csrf_key
        self.sent = sent if sent and len(sent) <= csrf.MAX_LEN else None
        self.id = self.sent or csrf.new_browser_id()
        self.minted = False

    def token(self, purpose: str) -> str:
        self.minted = True
        return csrf.token(self.key, self.id, purpose)

    def check(self, purpose: str, presented: str | None) -> bool:
        return csrf.valid(self.key, self.sent, purpose, presented)

    def keep(self, response: Response) -> Response:
        """Set the cookie when the answer holds a form's token and the browser sent none."""
        if self.sent is None and self.minted:
            response.headers.append(
                "set-cookie",
                f"{CSRF_COOKIE}={self.id}; HttpOnly; Secure; SameSite=Lax; Path=/",
            )
        return response


def render(
    svc: Services,
    name: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    form_targets: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    s = svc.settings
    html = (
        environment(s.template_dir)
        .get_template(name)
        .render(
            product_name=s.product_name,
            logo_url=s.logo_url,
            stylesheet=STYLESHEET,
            **context,
        )
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": policy(form_targets),
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
            **(headers or {}),
        },
    )


def error_page(
    svc: Services,
    message: str,
    *,
    status: int = 400,
    title: str = "Something went wrong",
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    return render(
        svc, "error.html", {"title": title, "message": message}, status=status, headers=headers
    )


def unavailable_page(svc: Services) -> HTMLResponse:
    log.warning("database unavailable on a hosted page")
    return error_page(
        svc,
        "The service is temporarily unavailable. Try again in a moment.",
        status=503,
        title="Please try again",
        headers={"Retry-After": "1"},
    )


def guard(endpoint: Endpoint) -> Endpoint:
    """A page's endpoint whose database cannot answer, wherever in its work: a page saying so
    (503), not the JSON answer of the API endpoints."""

    async def guarded(svc: Services, request: Request) -> Response:
        try:
            return await endpoint(svc, request)
        except UNAVAILABLE:
            return unavailable_page(svc)

    guarded.__name__ = endpoint.__name__
    return guarded


class BadForm(Exception):
    pass


async def form_pairs(request: Request) -> list[tuple[str, str]]:
    """A page form's fields, in order (repeats kept, for the caller to judge); :class:`BadForm`
    when it is not form encoding, not UTF-8, or holds a NUL."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise BadForm
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise BadForm from None
    if any("\x00" in k or "\x00" in v for k, v in pairs):
        raise BadForm
    return pairs


def query_pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def same_origin(svc: Services, request: Request) -> bool:
    """Whether a form POST may come from where it says it comes from: an ``Origin`` that is
    present must be the issuer's own. ``Origin: null`` is what a browser sends from our own
    pages (their ``Referrer-Policy: no-referrer`` hides the origin), so it passes unless
    ``Sec-Fetch-Site`` says the request is cross-site; the CSRF token decides then."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return request.headers.get("sec-fetch-site") not in ("cross-site", "same-site")
    own = origin_of(svc.settings.issuer)
    return origin == own
