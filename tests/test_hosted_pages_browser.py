"""The hosted pages in a real browser: Debian's Chromium driven by Playwright against a real
`gatepass serve`, with two applications whose redirect URIs point at a small local receiver.

Login and consent for app A; single sign-on into app B without a password; prompt=none with
and without a session; prompt=login; logout, after which B's prompt=none is login_required.
Screenshots of the login, consent and error pages are saved to PAGES_SCREENSHOTS (set it to
docs/img to refresh the README's), else to the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from conftest import IN_CI, PASSWORD, need_binary
from gatepass.oauth.clients import create_client
from gatepass.oauth.services import open_services
from gatepass.settings import load_settings
from hosted import pkce
from servers import SECRET, Server, create_user

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Receiver:
    """The applications' redirect URIs: records every query it is sent."""

    def __init__(self) -> None:
        received: list[tuple[str, dict[str, str]]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                received.append((parts.path, q))
                body = b"<!doctype html><title>app</title><p>back at the app</p>"
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def last(self, path: str) -> dict[str, str]:
        found = [q for p, q in self.received if p == path]
        assert found, f"nothing received at {path}: {self.received}"
        return found[-1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _need_browser() -> None:
    need_binary("chromium", "apt-get install -y chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is not installed (pip install -e '.[test]')")
        pytest.skip("playwright is not installed")


def _register(env: dict[str, str], receiver: Receiver) -> dict[str, str]:
    """Two applications (public clients) registered in the server's database."""

    async def run() -> dict[str, str]:
        settings = load_settings(
            data_dir=Path(env["GATEPASS_DATA_DIR"]),
            secret_key=SECRET,
            issuer=env["GATEPASS_ISSUER"],
        )
        svc = await open_services(settings)
        try:
            ids = {}
            for key, name in (("a", "Photo Album"), ("b", "Recipe Box")):
                client, _ = await create_client(
                    svc,
                    name,
                    grants=["authorization_code", "refresh_token"],
                    public=True,
                    redirects=[receiver.url + "/cb"],
                    post_logout_redirects=[receiver.url + "/bye"],
                )
                ids[key] = client.id
            return ids
        finally:
            await svc.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _need_browser()
    receiver = Receiver()
    server = Server(tmp_path_factory.mktemp("pages"), PRODUCT_NAME="Example Corp")
    create_user(server.env, "bob", PASSWORD)
    clients = _register(server.env, receiver)
    server.start()
    try:
        yield {"server": server, "receiver": receiver, "clients": clients}
    finally:
        server.stop()
        receiver.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("PAGES_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def authorize_url(world: dict[str, Any], app: str, **extra: str) -> str:
    _, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": world["clients"][app],
        "redirect_uri": world["receiver"].url + "/cb",
        "scope": "openid profile email",
        "state": f"state-{app}-{len(world['receiver'].received)}",
        "nonce": "n-0S6_WzA2Mj",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return world["server"].url + "/oauth/authorize?" + urlencode(params)


def test_login_consent_sso_prompts_and_logout(world: dict[str, Any], shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    server, receiver = world["server"], world["receiver"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 480, "height": 720})
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            # app A: the login page, then consent, then a code at the app
            url = authorize_url(world, "a", login_hint="bob")
            page.goto(url)
            assert page.locator("input[name=username]").input_value() == "bob"
            assert page.evaluate("document.activeElement.id") == "password"
            page.screenshot(path=str(shots / "login.png"), full_page=True)
            page.fill("#password", "not the password")
            page.click("button[type=submit]")
            assert page.locator("[role=alert]").is_visible()
            assert page.locator("#password").get_attribute("aria-invalid") == "true"
            assert page.evaluate("document.activeElement.id") == "password"
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.locator("button[name=consent][value=allow]").wait_for()
            page.screenshot(path=str(shots / "consent.png"), full_page=True)
            page.click("button[name=consent][value=allow]")
            page.wait_for_url(receiver.url + "/cb?*")
            got = receiver.last("/cb")
            assert set(got) == {"code", "state", "iss"} and got["iss"] == server.url
            assert got["state"] == parse_qs(urlsplit(url).query)["state"][0]
            (cookie,) = [c for c in context.cookies() if c["name"] == "__Host-gp_session"]
            assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
            assert cookie["path"] == "/" and cookie["value"].startswith("gpo_")

            # app B: single sign-on, no password; consent for B
            page.goto(authorize_url(world, "b"))
            assert page.locator("input[name=password]").count() == 0
            page.click("button[name=consent][value=allow]")
            page.wait_for_url(receiver.url + "/cb?*")
            assert "code" in receiver.last("/cb")

            # prompt=none with a session and consent: straight back with a code
            page.goto(authorize_url(world, "b", prompt="none"))
            page.wait_for_url(receiver.url + "/cb?*")
            assert "code" in receiver.last("/cb")

            # prompt=none in a browser without a session: login_required
            other = browser.new_context().new_page()
            other.goto(authorize_url(world, "b", prompt="none"))
            other.wait_for_url(receiver.url + "/cb?*")
            assert receiver.last("/cb")["error"] == "login_required"

            # prompt=login: the form again, although signed in
            page.goto(authorize_url(world, "a", prompt="login"))
            assert page.locator("input[name=password]").is_visible()

            # at 320 px wide the form still fits
            page.set_viewport_size({"width": 320, "height": 640})
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, width
            page.screenshot(path=str(shots / "login-320.png"), full_page=True)
            page.set_viewport_size({"width": 480, "height": 720})

            # an error page: a redirect URI the app did not register
            page.goto(authorize_url(world, "a", redirect_uri=receiver.url + "/evil"))
            assert page.locator("[role=alert]").is_visible()
            page.screenshot(path=str(shots / "error.png"), full_page=True)

            # logout through the app: confirm, back at the app with its state
            page.goto(
                server.url
                + "/oauth/logout?"
                + urlencode(
                    {
                        "client_id": world["clients"]["a"],
                        "post_logout_redirect_uri": receiver.url + "/bye",
                        "state": "bye-1",
                    }
                )
            )
            page.click("button[type=submit]")
            page.wait_for_url(receiver.url + "/bye?*")
            assert receiver.last("/bye") == {"state": "bye-1"}
            assert not [c for c in context.cookies() if c["name"] == "__Host-gp_session"]

            # after logout, B's prompt=none is login_required
            page.goto(authorize_url(world, "b", prompt="none"))
            page.wait_for_url(receiver.url + "/cb?*")
            assert receiver.last("/cb")["error"] == "login_required"
            refused = [e for e in errors if "Content Security Policy" in e or "Refused" in e]
            assert not refused, refused  # nothing of ours is blocked by our own policy
        finally:
            browser.close()
