"""A scripted browser for gatepass's hosted pages (login, consent, logout), for the interop tests
and bench/authorize.py: it keeps cookies, follows redirects by hand up to the client's own URI
(never fetched), and reads each page's HTML form generically (action, method, every named
input, the submit buttons), the way a browser submits it. Nothing about gatepass's paths is
written here; only the contract's field and button names are, in :func:`sign_in`.

Cookies: gatepass's SSO cookie is ``__Host-`` prefixed and ``Secure``. httpx's (the standard
library's) cookie jar never sends a Secure cookie over http, so on the loopback test server the
session would silently be lost. Browsers treat ``http://127.0.0.1`` as a secure context and do
send it; this browser does the same by keeping the cookies itself: every ``Set-Cookie`` is
parsed here and sent back in a ``Cookie`` header (one site only, the issuer). The attributes
seen are kept in ``set_cookies`` so that a test can check them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import httpx


@dataclass
class Form:
    action: str | None
    method: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (name, type, value)
    buttons: list[dict[str, str]] = field(default_factory=list)  # attributes of each submit

    def names(self) -> list[str]:
        return [name for name, _, _ in self.fields]

    def button(self, name: str, value: str) -> dict[str, str] | None:
        return next(
            (b for b in self.buttons if b.get("name") == name and b.get("value") == value), None
        )


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = Form(a.get("action"), (a.get("method") or "get").lower())
            self.forms.append(self._open)
            return
        if self._open is None or tag not in ("input", "button"):
            return
        kind = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
        if kind in ("submit", "image"):
            self._open.buttons.append(a)
        elif "name" in a and kind not in ("button", "reset", "file"):
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._open.fields.append((a["name"], kind, a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def parse_forms(html: str) -> list[Form]:
    p = _FormParser()
    p.feed(html)
    p.close()
    return p.forms


def _strip_query(url: str) -> str:
    s = urlsplit(url)
    return urlunsplit((s.scheme, s.netloc, s.path, "", ""))


Answer = Callable[[Form], tuple[dict[str, str], dict[str, str] | None] | None]


@dataclass
class Page:
    url: str
    status: int
    headers: httpx.Headers
    html: str
    forms: list[Form]


@dataclass
class Walk:
    landed: str | None  # the redirect to the target URI, with its query; None if it never came
    pages: list[Page]
    redirects: list[str]


class Browser:
    def __init__(self, client: httpx.Client | None = None) -> None:
        self.http = client or httpx.Client(timeout=30)
        self.jar: dict[str, str] = {}
        self.set_cookies: list[str] = []

    def close(self) -> None:
        self.http.close()

    def _keep(self, response: httpx.Response) -> None:
        for line in response.headers.get_list("set-cookie"):
            self.set_cookies.append(line)
            pair, *attrs = line.split(";")
            name, _, value = pair.partition("=")
            gone = False
            for attr in attrs:
                key, _, val = attr.strip().partition("=")
                if key.lower() == "max-age" and val.strip().lstrip("-").isdigit():
                    gone = gone or int(val) <= 0
                elif key.lower() == "expires":
                    try:
                        gone = gone or parsedate_to_datetime(val).timestamp() < time.time()
                    except (TypeError, ValueError):
                        pass
            if gone:
                self.jar.pop(name.strip(), None)
            else:
                self.jar[name.strip()] = value.strip()

    def request(
        self, method: str, url: str, data: dict[str, str] | list[tuple[str, str]] | None = None
    ) -> httpx.Response:
        headers = {"Accept": "text/html"}
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        content = None
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            s = urlsplit(url)
            headers["Origin"] = f"{s.scheme}://{s.netloc}"  # as a browser's form POST does
            content = urlencode(data)
        r = self.http.request(method, url, headers=headers, content=content)
        self._keep(r)
        return r

    @staticmethod
    def form_request(
        page_url: str, form: Form, fill: dict[str, str], button: dict[str, str] | None
    ) -> tuple[str, str, list[tuple[str, str]] | None]:
        """(method, url, body) of submitting ``form`` with ``fill`` and ``button``."""
        pairs = [(name, fill.get(name, value)) for name, _, value in form.fields]
        if button and button.get("name"):
            pairs.append((button["name"], button.get("value", "")))
        action = urljoin(page_url, form.action) if form.action else page_url
        if form.method == "post":
            return "POST", action, pairs
        return "GET", _strip_query(action) + "?" + urlencode(pairs), None

    def navigate(self, url: str, target: str, answer: Answer, max_steps: int = 12) -> Walk:
        """Follow redirects and answer forms until a redirect whose URI (without query) is
        ``target``. ``answer(form)`` gives ``(fill, button)``, or None to stop there."""
        method, body = "GET", None
        pages: list[Page] = []
        redirects: list[str] = []
        for _ in range(max_steps):
            r = self.request(method, url, body)
            if r.is_redirect:
                url = urljoin(url, r.headers["location"])
                redirects.append(url)
                if _strip_query(url) == target:
                    return Walk(url, pages, redirects)
                method, body = "GET", None
                continue
            page = Page(url, r.status_code, r.headers, r.text, parse_forms(r.text))
            pages.append(page)
            if r.status_code != 200 or len(page.forms) != 1:
                return Walk(None, pages, redirects)
            choice = answer(page.forms[0])
            if choice is None:
                return Walk(None, pages, redirects)
            method, url, body = self.form_request(url, page.forms[0], *choice)
        raise RuntimeError(f"more than {max_steps} steps from {url}")


def sign_in(username: str, password: str, consent: str = "allow") -> Answer:
    """What a user does on the hosted pages (DESIGN "OpenID Connect"): fills ``username`` and
    ``password`` on the login form; presses ``consent=allow`` (or ``deny``) on the consent page;
    anything else is left alone."""

    def answer(form: Form) -> tuple[dict[str, str], dict[str, str] | None] | None:
        if "password" in form.names():
            button = form.buttons[0] if form.buttons else None
            return {"username": username, "password": password}, button
        chosen = form.button("consent", consent)
        if chosen is not None:
            return {}, chosen
        return None

    return answer


def silent(form: Form) -> None:
    """For a request that must not show any page."""
    return None
