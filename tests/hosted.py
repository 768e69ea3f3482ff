"""A browser for the hosted pages in tests: its own cookie jar (``Secure`` cookies included,
which an http test client would not send back), redirects followed by hand, forms read from
the HTML, PKCE values."""

from __future__ import annotations

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from conftest import PASSWORD, Harness
from gatepass.oauth.clients import create_client

REDIRECT = "https://app.example/cb"
LOGOUT_REDIRECT = "https://app.example/bye"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def make_client(
    h: Harness,
    name: str = "Photo Album",
    *,
    redirects: tuple[str, ...] = (REDIRECT,),
    post_logout: tuple[str, ...] = (LOGOUT_REDIRECT,),
    first_party: bool = False,
    scope_list: tuple[str, ...] = (),
) -> str:
    client, _ = h.run(
        create_client,
        h.svc,
        name,
        grants=["authorization_code", "refresh_token"],
        public=True,
        redirects=list(redirects),
        post_logout_redirects=list(post_logout),
        first_party=first_party,
        scope_list=list(scope_list),
    )
    return str(client.id)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "buttons": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["fields"][a.get("name", "")] = a.get("value", "")
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append((a.get("name"), a.get("value")))


def form(html: str) -> tuple[str, dict[str, str]]:
    """The page's one form: its action and fields (hidden ones with their values)."""
    parser = _Forms()
    parser.feed(html)
    (only,) = parser.forms
    return only["action"], dict(only["fields"])


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


class Browser:
    def __init__(self, h: Harness, address: str = "203.0.113.7") -> None:
        self.h = h
        self.client = TestClient(h.client.app, client=(address, 50000))
        self.client.portal = h.client.portal
        self.jar: dict[str, str] = {}

    def _send(self, method: str, path: str, **kw: Any) -> Any:
        self.client.cookies.clear()
        headers = dict(kw.pop("headers", None) or {})
        if self.jar and "Cookie" not in headers:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        r = self.client.request(method, path, headers=headers, follow_redirects=False, **kw)
        for header in r.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in header:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return r

    def get(self, path: str, **kw: Any) -> Any:
        return self._send("GET", path, **kw)

    def post(self, path: str, data: dict[str, str], **kw: Any) -> Any:
        return self._send("POST", path, data=data, **kw)

    def authorize(self, client_id: str, **params: str) -> Any:
        _, challenge = pkce()
        base = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "st-" + secrets.token_hex(4),
        }
        base.update(params)
        return self.get("/oauth/authorize", params={k: v for k, v in base.items() if v != ""})

    def submit(self, page: Any, extra: dict[str, str] | None = None, **kw: Any) -> Any:
        action, fields = form(page.text)
        return self.post(action, {**fields, **(extra or {})}, **kw)

    def log_in(self, page: Any, username: str = "bob", password: str = PASSWORD) -> Any:
        return self.submit(page, {"username": username, "password": password})

    def sign_in_to(self, client_id: str, username: str = "bob", **params: str) -> dict[str, str]:
        """The whole flow (login, consent when asked): the query of the final redirect."""
        r = self.authorize(client_id, **params)
        if r.status_code == 200 and 'name="password"' in r.text:
            r = self.log_in(r, username)
        if r.status_code == 200 and 'name="consent"' in r.text:
            r = self.submit(r, {"consent": "allow"})
        assert r.status_code == 302, r.text
        return query(r.headers["location"])
