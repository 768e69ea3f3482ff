"""The admin console in a real browser: Debian's Chromium driven by Playwright against a real
`gatepass serve`. An administrator signs in, registers a client (its secret shown once),
rotates each kind of key, disables a user and ends their sessions, and finds each action in the
event list, with who did it, to whom, and from where.

axe-core (``tests/a11y``, from npm) finds no serious or critical violation on any console page.
Screenshots of every console page go to PAGES_SCREENSHOTS (set it to docs/img to refresh the
README's ``console-*.png``), else to the test's temporary directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import IN_CI, PASSWORD
from servers import Server, create_user
from test_hosted_pages_browser import ARGS, CHROMIUM, _need_browser

pytestmark = pytest.mark.slow
BOB_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _need_browser()
    server = Server(tmp_path_factory.mktemp("console"), PRODUCT_NAME="Example Corp")
    create_user(server.env, "alice", PASSWORD, "admin")
    create_user(server.env, "bob", PASSWORD)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("PAGES_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def _sign_in(page: Any, url: str, username: str) -> None:
    page.goto(url + "/account/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def _confirm(page: Any) -> None:
    """The confirmation page: its one danger button."""
    page.locator("main button.danger").click()


def bob_id(page: Any, url: str) -> str:
    return bob_id_of(page, url, "bob")


def bob_id_of(page: Any, url: str, username: str) -> str:
    """A user's id, as the console's user list links to them."""
    page.goto(url + f"/console/users?q={username}")
    href = page.locator(f"main table a:text-is('{username}')").get_attribute("href")
    assert href is not None
    return href.rsplit("/", 1)[1]


def axe_violations(page: Any, url: str) -> list[Any]:
    """axe-core's violations on the page at ``url`` (the account pages' runner)."""
    from test_account_pages_browser import _axe

    return _axe(page, url)


def _need_axe() -> None:
    from test_account_pages_browser import AXE

    if not AXE.exists():
        msg = "axe-core is not installed (npm ci --prefix tests/a11y)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def test_an_admin_runs_the_console(server: Server, shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    _need_axe()
    url = server.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            # bob is signed in on another device
            bobs = browser.new_context(user_agent=BOB_AGENT).new_page()
            _sign_in(bobs, url, "bob")
            bobs.wait_for_url(url + "/account*")
            bobs.goto(url + "/account/login")  # signed in: no form, straight on
            assert bobs.locator("#password").count() == 0

            context = browser.new_context(viewport={"width": 1100, "height": 800})
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            # no session: the sign-in page, which comes back to the console
            page.goto(url + "/console/users")
            assert "/account/login" in page.url
            page.fill("#username", "alice")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/console/users")
            assert page.locator("nav.admin-nav a[aria-current=page]").inner_text() == "Users"
            page.screenshot(path=str(shots / "console-users.png"), full_page=True)

            # a client, with its redirect URIs; the secret shown once
            page.goto(url + "/console/clients/new")
            page.fill("#name", "Reports")
            page.check("#grant_authorization_code")
            page.check("#grant_refresh_token")
            page.fill("#scopes", "openid profile")
            page.fill("#redirect_uris", "https://reports.example/cb")
            page.screenshot(path=str(shots / "console-client-new.png"), full_page=True)
            page.click("main button.primary")
            secret = page.locator("#client-secret").inner_text()
            client_id = page.locator("#client-id").inner_text()
            assert secret.startswith("gps_") or len(secret) > 30
            page.screenshot(path=str(shots / "console-client-secret.png"), full_page=True)
            page.goto(url + f"/console/clients/{client_id}")
            assert secret not in page.content()
            page.screenshot(path=str(shots / "console-client.png"), full_page=True)
            page.goto(url + "/console/clients")
            assert page.locator("main table a", has_text="Reports").count() == 1
            page.screenshot(path=str(shots / "console-clients.png"), full_page=True)

            # each kind of key
            page.goto(url + "/console/keys")
            page.screenshot(path=str(shots / "console-keys.png"), full_page=True)
            for kind, link in (
                ("token", "Rotate access-token keys…"),
                ("id-token", "Rotate ID-token keys…"),
                ("url", "Rotate URL-signing keys…"),
                ("token-now", "Emergency rotation…"),
            ):
                page.goto(url + "/console/keys")
                page.click(f"text={link}")
                if kind == "token":
                    page.screenshot(path=str(shots / "console-confirm.png"), full_page=True)
                _confirm(page)
                page.wait_for_url(url + f"/console/keys?done={kind}")
                assert page.locator("[role=status]").is_visible()

            # bob: his sessions, then disabled and every session ended
            page.goto(url + "/console/users?q=bob")
            page.click("main table a:text-is('bob')")
            assert "Safari on macOS" in page.locator("main table").inner_text()
            page.screenshot(path=str(shots / "console-user.png"), full_page=True)
            page.click("text=End every session…")
            _confirm(page)
            assert page.locator("[role=status]").is_visible()
            page.click("text=Disable the account…")
            _confirm(page)
            assert "disabled" in page.locator("[role=status]").inner_text()
            # bob's browser is signed out: the sign-in page asks for his password again
            bobs.goto(url + "/account/login")
            assert bobs.locator("#password").count() == 1

            # every action in the event list: what, by whom, to whom, from where
            page.goto(url + "/console/events?type=admin.")
            page.goto(url + "/console/events")
            table = page.locator("main table").inner_text()
            for what in (
                "admin.client_created",
                "admin.keys_rotated",
                "admin.sessions_ended",
                "admin.user_disabled",
            ):
                assert what in table, what
            assert table.count("admin.keys_rotated") == 4
            assert "keys: url" in table and "keys: token" in table
            row = page.locator("main table tr", has_text="admin.user_disabled")
            assert "alice" in row.inner_text() and "bob" in row.inner_text()
            assert "127.0.0.1" in row.inner_text()
            page.screenshot(path=str(shots / "console-events.png"), full_page=True)
            page.fill("#type", "admin.keys_rotated")
            page.click("form.filters button[type=submit]")
            assert page.locator("main table tbody tr").count() == 4
            assert errors == []

            # at 360 px wide the pages still fit
            page.set_viewport_size({"width": 360, "height": 740})
            for path in ("/console/users", "/console/events", "/console/keys"):
                page.goto(url + path)
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 360, (path, width)
            page.screenshot(path=str(shots / "console-keys-360.png"), full_page=True)

            # axe on every console page (a context that bypasses the CSP, for axe only)
            checked = browser.new_context(bypass_csp=True, storage_state=context.storage_state())
            user_page = f"/console/users/{bob_id(page, url)}"
            paths = [
                "/console/users",
                user_page,
                f"{user_page}/end-sessions",
                "/console/clients",
                "/console/clients/new",
                f"/console/clients/{client_id}",
                f"/console/clients/{client_id}/delete",
                "/console/keys",
                "/console/keys/rotate?kind=url",
                "/console/events",
                "/console/users/no-such-user",
            ]
            found = {path: axe_violations(checked.new_page(), url + path) for path in paths}
            bad = {
                path: [v for v in violations if v["impact"] in ("serious", "critical")]
                for path, violations in found.items()
            }
            assert not any(bad.values()), json.dumps(bad, indent=1)
        finally:
            browser.close()


PAYLOAD = '"><img src=x onerror=alert(1)><script>alert(2)</script>'


def test_markup_in_a_client_name_and_a_user_agent_stays_text(server: Server) -> None:
    """Shown on the console pages as text: no element made of it, no dialog, and no script
    that the CSP had to block (a blocked one would log an error)."""
    from playwright.sync_api import sync_playwright

    url = server.url
    create_user(server.env, "carol", PASSWORD)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            carols = browser.new_context(user_agent="Mozilla/5.0 " + PAYLOAD).new_page()
            _sign_in(carols, url, "carol")
            carols.wait_for_url(url + "/account*")

            page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
            trouble: list[str] = []
            page.on("console", lambda m: trouble.append(m.text) if m.type == "error" else None)
            page.on("dialog", lambda d: (trouble.append(d.message), d.dismiss()))
            _sign_in(page, url, "alice")
            page.goto(url + "/console/clients/new")
            page.fill("#name", PAYLOAD)
            page.fill("#redirect_uris", "https://app.example/cb")
            page.click("main button.primary")
            client_id = page.locator("#client-id").inner_text()
            assert page.locator("dd", has_text=PAYLOAD).count() == 1
            carol = bob_id_of(page, url, "carol")
            for path in (
                "/console/clients",
                f"/console/clients/{client_id}",
                f"/console/clients/{client_id}/delete",
                f"/console/users/{carol}",
                "/console/events",
            ):
                page.goto(url + path)
                assert page.locator("main img, main script").count() == 0, path
            page.goto(url + "/console/events")
            agents = page.locator("main table [title]").evaluate_all(
                "els => els.map(e => e.getAttribute('title'))"
            )
            assert "Mozilla/5.0 " + PAYLOAD in agents
            assert trouble == []
        finally:
            browser.close()
