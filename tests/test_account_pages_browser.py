"""The account pages in a real browser: Debian's Chromium driven by Playwright against a real
`gatepass serve`, with a real SMTP server (aiosmtpd) and a webhook receiver.

- Two devices: the laptop sees both sessions, signs the phone out, and the phone's next refresh
  fails.
- A replayed refresh token: the sentence on the activity page, the email, the signed webhook
  (verified by the `standardwebhooks` package).
- axe-core (tests/a11y, from npm) in every account page and the sign-in page: no serious or
  critical violation. The pages' CSP allows no script, so the axe run, and only it, uses a
  context with ``bypass_csp``.
- Markup in a user's name, a client's name and a User-Agent: shown as text, no dialog.

Screenshots of every account page are saved to PAGES_SCREENSHOTS (set it to docs/img to
refresh the README's), else to the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from alert_receivers import SmtpInbox, WebhookInbox
from conftest import IN_CI, PASSWORD
from gatepass.oauth.clients import create_client
from gatepass.oauth.services import open_services
from gatepass.settings import load_settings
from hosted import pkce
from servers import SECRET, Server, cli, wait_until
from test_hosted_pages_browser import ARGS, CHROMIUM, Receiver, _need_browser

pytestmark = pytest.mark.slow
HOOK_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
AXE = Path(__file__).parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
LAPTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
    "Safari/537.36"
)
PAYLOAD = '<script>alert(1)</script> "><img src=x onerror=alert(1)>'
REUSE = "A stolen refresh token was used; we ended that session."
SPA = {"X-Requested-With": "fetch"}


def _register(env: dict[str, str], receiver: Receiver) -> dict[str, str]:
    async def run() -> dict[str, str]:
        settings = load_settings(
            data_dir=Path(env["GATEPASS_DATA_DIR"]),
            secret_key=SECRET,
            issuer=env["GATEPASS_ISSUER"],
        )
        svc = await open_services(settings)
        try:
            ids = {}
            for key, name in (("album", "Photo Album"), ("hostile", "App " + PAYLOAD)):
                client, _ = await create_client(
                    svc,
                    name,
                    grants=["authorization_code", "refresh_token"],
                    public=True,
                    redirects=[receiver.url + "/cb"],
                )
                ids[key] = client.id
            return ids
        finally:
            await svc.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _need_browser()
    smtp, hooks, receiver = SmtpInbox().start(), WebhookInbox().start(), Receiver()
    server = Server(
        tmp_path_factory.mktemp("account"),
        PRODUCT_NAME="Example Corp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp.port),
        SMTP_STARTTLS="false",
        SMTP_SENDER="security@gatepass.example",
        WEBHOOK_URLS=hooks.url,
        WEBHOOK_SECRET=HOOK_SECRET,
        REFRESH_REUSE_GRACE="0",  # a replay right after the rotation is reuse
    )
    for name in ("bob", "carol", "mallory"):
        args = ["user", "create", name, "--email", f"{name}@example.com", "--password-stdin"]
        cli(server.env, *args, stdin=PASSWORD + "\n")
    clients = _register(server.env, receiver)
    server.start()
    try:
        yield {
            "server": server,
            "smtp": smtp,
            "hooks": hooks,
            "receiver": receiver,
            "clients": clients,
        }
    finally:
        server.stop()
        smtp.stop()
        hooks.stop()
        receiver.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("PAGES_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def sign_in(page: Any, url: str, username: str, path: str = "/account") -> None:
    page.goto(url + path)
    page.wait_for_url("**/account/login?*")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(url + path)


def allow(page: Any, world: dict[str, Any], app: str) -> None:
    """The user connects an app: the authorization flow's consent page, Allow."""
    _, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": world["clients"][app],
        "redirect_uri": world["receiver"].url + "/cb",
        "scope": "openid profile email",
        "state": "s-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page.goto(world["server"].url + "/oauth/authorize?" + urlencode(params))
    page.click("button[name=consent][value=allow]")
    page.wait_for_url(world["receiver"].url + "/cb?*")


def fits_320(page: Any) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size({"width": 1000, "height": 800})
    assert width <= 320, (page.url, width)


def test_two_devices_and_the_other_one_signed_out(world: dict[str, Any], shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    url = world["server"].url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            laptop = browser.new_context(viewport={"width": 1000, "height": 800}, user_agent=LAPTOP)
            page = laptop.new_page()
            page.goto(url + "/account/login")
            page.screenshot(path=str(shots / "account-login.png"), full_page=True)
            sign_in(page, url, "bob", "/account/sessions")

            # the phone: a single-page app's login, its refresh token in its cookie jar
            phone = browser.new_context(user_agent=PHONE)
            body = json.dumps({"username": "bob", "password": PASSWORD})
            r = phone.request.post(
                url + "/auth/login", data=body, headers={**SPA, "content-type": "application/json"}
            )
            assert r.ok, r.text()
            assert phone.request.post(url + "/auth/refresh", headers=SPA).ok

            page.reload()
            rows = page.locator("table.list tbody tr")
            assert rows.count() == 2
            assert page.locator("tr.current").count() == 1
            assert "Chrome on Linux" in page.locator("tr.current").inner_text()
            other = page.locator("tbody tr:not(.current)")
            assert "Safari on iOS" in other.inner_text()
            page.screenshot(path=str(shots / "account-sessions.png"), full_page=True)
            fits_320(page)
            page.set_viewport_size({"width": 320, "height": 640})
            page.screenshot(path=str(shots / "account-sessions-320.png"), full_page=True)
            page.set_viewport_size({"width": 1000, "height": 800})

            other.get_by_role("link", name="Sign out").click()
            page.wait_for_url("**/end")
            assert page.get_by_role("heading", name="Sign out this session?").is_visible()
            page.screenshot(path=str(shots / "account-confirm.png"), full_page=True)
            page.click("button.danger")
            page.wait_for_url("**/account/sessions?done=ended")
            assert page.locator("table.list tbody tr").count() == 1
            assert page.locator("[role=status]").inner_text() == "That session was signed out."

            # the phone's next refresh fails; the laptop is still signed in
            refused = phone.request.post(url + "/auth/refresh", headers=SPA)
            assert refused.status in (400, 401), refused.status
            page.goto(url + "/account")
            assert page.url == url + "/account"
        finally:
            browser.close()


def test_a_replayed_refresh_token_alerts_the_user_everywhere(
    world: dict[str, Any], shots: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, smtp, hooks = world["server"].url, world["smtp"], world["hooks"]
    with httpx.Client(base_url=url, timeout=30) as http:
        login = {"grant_type": "password", "username": "carol", "password": PASSWORD}
        r = http.post("/oauth/token", data=login)
        assert r.status_code == 200, r.text
        data = {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]}
        assert http.post("/oauth/token", data=data).status_code == 200
        replayed = http.post("/oauth/token", data=data)
        assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800}, user_agent=LAPTOP)
            sign_in(page, url, "carol", "/account/activity")
            alert = page.locator("tr.alerted", has_text=REUSE)
            assert alert.count() == 1 and alert.is_visible()
            page.screenshot(path=str(shots / "account-activity.png"), full_page=True)
        finally:
            browser.close()

    def mailed() -> list[Any]:
        return [
            m
            for m in smtp.received()
            if m.rcpt_tos == ["carol@example.com"] and REUSE in m.message.get_content()
        ]

    assert wait_until(lambda: len(mailed()) == 1, timeout=60)
    assert mailed()[0].message["From"] == "security@gatepass.example"

    def reuse_hooks() -> list[dict[str, Any]]:
        found = []
        for d in hooks.received():
            event = Webhook(HOOK_SECRET).verify(d.body, d.headers)  # raises unless it verifies
            if event["type"] == "security.refresh_reuse":
                found.append(event)
        return found

    assert wait_until(lambda: len(reuse_hooks()) == 1, timeout=60)
    (event,) = reuse_hooks()
    assert event["data"]["username"] == "carol" or event["data"]["user_id"]
    d = hooks.received()[0]
    with pytest.raises(WebhookVerificationError):  # another secret's signature does not verify
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(d.body, d.headers)


def test_every_page_screenshot_320_px_and_axe(world: dict[str, Any], shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    if not AXE.exists():
        msg = "axe-core is not installed (npm ci --prefix tests/a11y)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    url = world["server"].url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1000, "height": 800}, user_agent=LAPTOP
            )
            page = context.new_page()
            sign_in(page, url, "bob", "/account")
            page.fill("#name", "Bob Example")
            page.get_by_role("button", name="Save").click()
            page.wait_for_url("**/account?done=profile")
            assert page.locator("#name").input_value() == "Bob Example"
            page.screenshot(path=str(shots / "account-profile.png"), full_page=True)
            allow(page, world, "album")
            targets = {
                "profile": "/account",
                "password": "/account/password",
                "apps": "/account/apps",
                "activity": "/account/activity",
                "sessions": "/account/sessions",
                "confirm-others": "/account/sessions/end-others",
            }
            for name, path in targets.items():
                page.goto(url + path)
                assert page.url == url + path
                if name not in ("profile", "sessions", "activity"):  # theirs are taken above
                    page.screenshot(path=str(shots / f"account-{name}.png"), full_page=True)
                fits_320(page)
            page.goto(url + "/account/apps")
            assert (
                page.get_by_role("cell", name="Photo Album").count()
                + page.locator("th", has_text="Photo Album").count()
                >= 1
            )

            # axe: every account page, a confirm page, and the sign-in page
            state = context.storage_state()
            checked = browser.new_context(bypass_csp=True, storage_state=state)
            anonymous = browser.new_context(bypass_csp=True)
            found: dict[str, list[Any]] = {}
            for path in [*targets.values(), "/account/apps"]:
                found[path] = _axe(checked.new_page(), url + path)
            found["/account/login"] = _axe(anonymous.new_page(), url + "/account/login")
            bad = {
                path: [v for v in violations if v["impact"] in ("serious", "critical")]
                for path, violations in found.items()
            }
            assert not any(bad.values()), json.dumps(bad, indent=1)
        finally:
            browser.close()


def _axe(page: Any, url: str) -> list[Any]:
    page.goto(url)
    assert page.url == url, page.url  # signed in: not sent to the sign-in page
    page.add_script_tag(path=str(AXE))
    result: list[Any] = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    page.close()
    return result


def test_markup_in_names_and_user_agents_stays_text(world: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    url = world["server"].url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1000, "height": 800}, user_agent="Mozilla/5.0 " + PAYLOAD
            )
            dialogs: list[str] = []
            context.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page = context.new_page()
            sign_in(page, url, "mallory", "/account")
            page.fill("#name", PAYLOAD)
            page.get_by_role("button", name="Save").click()
            page.wait_for_url("**/account?done=profile")
            allow(page, world, "hostile")
            seen = {}
            for path in (
                "/account",
                "/account/sessions",
                "/account/apps",
                "/account/activity",
                "/account/password",
            ):
                page.goto(url + path)
                assert page.locator("main img").count() == 0
                assert page.locator("main script").count() == 0
                seen[path] = PAYLOAD in page.inner_text("main")
            page.goto(url + f"/account/apps/{world['clients']['hostile']}/revoke")
            assert PAYLOAD in page.inner_text("main")
            assert seen["/account"] and seen["/account/sessions"] and seen["/account/apps"]
            assert dialogs == []
        finally:
            browser.close()
