"""examples/video-platform end to end in Debian's Chromium (Playwright for Python), every process
real: Redis, ``gatepass serve``, nginx (``auth_request`` to ``/edge/verify``) and the app's API,
started by the example's own ``stack.py`` on loopback; the media made by ffmpeg (VP9/Opus HLS).

The user signs in on gatepass's hosted login page (``/oauth/authorize``, through nginx on the
app's origin): the app's page redirects there with PKCE and comes back with a code, which it
redeems at ``/auth/login``. Lifetimes are short so that expiry can be waited for: playback
URLs 12 s, access tokens 12 s (the API allows no leeway), a refresh grace window of 2 s.
Without chromium, nginx, ffmpeg, redis-server or npm these tests are skipped, unless CI=true
(``.ci/run`` installs them).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import IN_CI, need_binary
from gatepass.core.alert_texts import REUSE_SENTENCE
from servers import wait_until

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "video-platform"
CHROMIUM = "/usr/bin/chromium"
PLAYBACK_TTL = ACCESS_TTL = 12
GRACE = 2
REFRESH_COOKIE = "__Secure-gp_refresh"


def _load(name: str) -> Any:
    sys.path.insert(0, str(EXAMPLE))  # the example's modules import each other by name
    spec = importlib.util.spec_from_file_location(name, EXAMPLE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


vstack = _load("stack")


def _need_everything() -> None:
    for name, hint in vstack.SYSTEM_PACKAGES.items():
        need_binary(name, hint)
    need_binary("chromium", "apt-get install -y chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is not installed (pip install -e '.[test]')")
        pytest.skip("playwright is not installed")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _need_everything()
    settings = vstack.Settings(
        access_token_ttl=ACCESS_TTL,
        refresh_reuse_grace=GRACE,
        playback_ttl=PLAYBACK_TTL,
        api_leeway=0,
    )
    s = vstack.Stack(tmp_path_factory.mktemp("video"), settings)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def browser(stack: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: VIDEO_SCREENSHOTS (to refresh the README's), else tmp_path."""
    return Path(os.environ.get("VIDEO_SCREENSHOTS") or tmp_path)


class Tab:
    """One page of the app, with what it sent and received."""

    def __init__(self, context: Any, stack: Any) -> None:
        self.page = context.new_page()
        self.stack = stack
        self.requests: list[Any] = []
        self.responses: list[Any] = []
        self.page.on("request", lambda r: self.requests.append(r))
        self.page.on("response", lambda r: self.responses.append(r))
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    @property
    def origin(self) -> str:
        return str(self.stack.origin)

    def open(self) -> Tab:
        self.page.goto(self.origin + "/")
        return self

    def sign_in(self, user: str, shots: Path | None = None) -> Tab:
        """Sign in as a person does: "Sign in", the hosted login page, back to the app."""
        self.open()
        self.page.locator("#signin").wait_for(state="visible", timeout=30_000)
        self.page.click("#signin-button")
        self.fill_hosted_login(user, shots)
        self.wait_signed_in()
        return self

    def fill_hosted_login(self, user: str, shots: Path | None = None) -> None:
        """On gatepass's login page (the authorization request's): fill it in and send it; the
        browser goes back to the app, which redeems the code at /auth/login."""
        password = {name: pw for name, pw, _ in vstack.USERS}[user]
        self.page.locator("input[name=password]").wait_for(timeout=30_000)
        assert urlsplit(self.page.url).path == "/oauth/authorize", self.page.url
        if shots is not None:
            self.page.screenshot(path=str(shots / "hosted-login.png"))
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", password)
        with self.page.expect_response(lambda r: r.url.endswith("/auth/login")) as login:
            self.page.get_by_role("button", name="Sign in").click()
        assert login.value.status == 200

    def wait_signed_in(self) -> None:
        self.page.locator("#library").wait_for(state="visible", timeout=30_000)
        self.page.locator("#videos button").first.wait_for(timeout=30_000)

    def js(self, expression: str, arg: Any = None) -> Any:
        # page.evaluate runs outside the page's CSP (wait_for_function would need unsafe-eval)
        return self.page.evaluate(expression, arg)

    def call(self, expression: str) -> Any:
        """The value of a promise-valued expression, or a failure after 60 s (never a hang)."""
        return self.js(
            f"Promise.race([Promise.resolve({expression}), new Promise((_, no) =>"
            " setTimeout(() => no(new Error('no answer within 60 s')), 60000))])"
        )

    def wait_js(self, expression: str, timeout: float = 60) -> None:
        assert wait_until(lambda: self.js(expression), timeout=timeout, interval=0.1), expression

    def play(self, video: str, status: int = 200) -> Any:
        """Press play; the API's last answer (after a silent refresh, when there was a 401),
        which must have ``status`` (else the failure shows its body and the servers' logs)."""

        def final(r: Any) -> bool:
            return r.url.endswith(f"/api/videos/{video}/play") and r.status != 401

        with self.page.expect_response(final) as r:
            self.page.click(f"button[data-video={video}]")
        answer = r.value
        assert answer.status == status, f"{answer.status} {answer.text()}\n{self.stack.log_tails()}"
        return answer

    def access_token(self) -> str:
        """The access token of the page's last API call (read off the wire: the page keeps it
        in memory only)."""
        for r in reversed(self.requests):
            auth = r.headers.get("authorization", "")
            if urlsplit(r.url).path.startswith("/api/") and auth.startswith("Bearer "):
                return str(auth.removeprefix("Bearer "))
        raise AssertionError("this page has not called the API")

    def media(self) -> list[Any]:
        return [r for r in self.responses if urlsplit(r.url).path.startswith("/videos/")]


def refresh_cookie(context: Any) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == REFRESH_COOKIE), None)


def api(stack: Any, method: str, path: str, token: str) -> httpx.Response:
    return httpx.request(
        method, stack.origin + path, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def edge(stack: Any, uri: str) -> int:
    return httpx.get(stack.origin + uri, timeout=30).status_code


def jwt_claims(token: str) -> dict:
    from gatepass.core.jose import b64url_decode

    return json.loads(b64url_decode(token.split(".")[1]))


def token_of(uri: str) -> str:
    return re.search(r"token=([^&]+)", uri).group(1)  # type: ignore[union-attr]


# -- the tests --------------------------------------------------------------------------------
def test_sign_in_and_play_through_the_edge(stack: Any, browser: Any, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 900, "height": 720})
    tab = Tab(context, stack).sign_in("alice", shots)
    tab.page.screenshot(path=str(shots / "signed-in.png"))
    home = next(r for r in tab.responses if r.url == stack.origin + "/")
    csp = home.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp

    tab.play("premiere")
    tab.wait_js("document.getElementById('player').currentTime > 2")
    tab.page.screenshot(path=str(shots / "playing.png"))
    # no hls.js error; a non-fatal stall of the decoder on a loaded machine is not one
    errors = [e for e in tab.js("videoApp.hlsErrors") if e["details"] != "bufferStalledError"]
    assert errors == []
    assert not any(e["fatal"] for e in tab.js("videoApp.hlsErrors"))
    assert tab.errors == []

    media = tab.media()
    segments = [r for r in media if urlsplit(r.url).path.endswith(".m4s")]
    assert len(segments) >= 3
    assert all(r.status == 200 for r in media), [(r.url, r.status) for r in media]
    # every one of them went through nginx's auth_request to gatepass, which let it through
    log = (stack.state / "nginx" / "access.log").read_text().splitlines()
    for r in segments:
        parts = urlsplit(r.url)
        line = f"GET {parts.path}?{parts.query} "
        assert any(entry.startswith(line) and entry.endswith(" 200 auth=204") for entry in log)
    # the playback JWT names the viewer (not the API's client), and gatepass recorded both
    me = api(stack, "GET", "/api/me", tab.access_token()).json()
    claims = jwt_claims(token_of(segments[0].url))
    assert claims["sub"] == me["sub"] and claims["vid"] == "premiere"
    records = [
        json.loads(line)
        for line in (stack.logs / "gatepass.log").read_text().splitlines()
        if '"signed url issued"' in line
    ]
    assert any(r["subject"] == me["sub"] and r["caller"] != me["sub"] for r in records)
    context.close()


def test_sign_in_goes_through_the_hosted_login_page_and_the_code_is_redeemed_once(
    stack: Any, browser: Any
) -> None:
    context = browser.new_context()
    tab = Tab(context, stack).sign_in("bob")
    paths = [urlsplit(r.url) for r in tab.requests]
    # the authorization request: the app's public client, PKCE S256, a state
    (ask,) = [p for p in paths if p.path == "/oauth/authorize"]
    query = parse_qs(ask.query)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [stack.origin + "/"] and len(query["state"][0]) >= 43
    assert len(query["code_challenge"][0]) == 43 and query["client_id"][0].startswith("gpc_")
    page = next(r for r in tab.responses if urlsplit(r.url).path == "/oauth/authorize")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # the password went to gatepass's page only, never to the app or its API
    for r in tab.requests:
        if urlsplit(r.url).path != "/oauth/authorize/login":
            assert "bob-free-user-pass" not in (r.post_data or ""), r.url
    # back with code, state and iss, which the app took out of the address bar at once
    (back,) = [p for p in paths if p.path == "/" and "code=" in p.query]
    answer = parse_qs(back.query)
    assert answer["state"] == query["state"] and answer["iss"] == [stack.origin]
    assert tab.page.url == stack.origin + "/"
    assert "code=" not in tab.js("location.href")
    (login,) = [r for r in tab.requests if urlsplit(r.url).path == "/auth/login"]
    sent = json.loads(login.post_data or "{}")
    assert set(sent) == {"code", "code_verifier", "redirect_uri", "client_id"}
    assert sent["code"] == answer["code"][0] and sent["client_id"] == query["client_id"][0]
    assert set(login.response().json()) == {"access_token", "token_type", "expires_in"}
    claims = jwt_claims(tab.access_token())
    assert claims["client_id"] == query["client_id"][0] and "videos:read" in claims["scope"]
    # nothing a script can read holds the verifier, the code or a token any more
    storage = tab.js(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert sent["code_verifier"] not in storage and "gpk_" not in storage and "eyJ" not in storage
    # the code works once: a second redemption is refused and ends the login it started
    again = httpx.post(
        stack.origin + "/auth/login",
        json=sent,
        headers={"X-Requested-With": "test", "Origin": stack.origin},
        timeout=30,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert wait_until(
        lambda: api(stack, "GET", "/api/me", tab.access_token()).status_code == 401, timeout=10
    )
    context.close()


def test_video_not_entitled_is_refused_by_the_api_and_at_the_edge(stack: Any, browser: Any) -> None:
    context = browser.new_context()
    tab = Tab(context, stack).sign_in("bob")
    tab.play("premiere", 403)
    tab.page.get_by_text("This video is for subscribers.").wait_for()
    assert tab.media() == []
    tab.play("intro")  # a free video: bob's own playback URL
    tab.wait_js("document.getElementById('player').currentTime > 0")
    intro = next(r.url for r in tab.media() if r.url.split("?")[0].endswith("master.m3u8"))
    token = token_of(intro)
    # hand-made URLs for the video bob may not watch
    assert edge(stack, "/videos/premiere/master.m3u8") == 403
    assert edge(stack, f"/videos/premiere/master.m3u8?token={token}") == 403
    assert edge(stack, f"/videos/premiere/seg0.m4s?token={token}") == 403
    assert edge(stack, f"/videos/intro/master.m3u8?token={token}") == 200
    context.close()


def test_segment_url_refused_after_expiry_or_changed_and_api_401_refreshes_silently(
    stack: Any, browser: Any
) -> None:
    context = browser.new_context()
    tab = Tab(context, stack).sign_in("bob")
    tab.play("intro")
    tab.wait_js("document.getElementById('player').currentTime > 0")
    seg = urlsplit(next(r.url for r in tab.media() if r.url.split("?")[0].endswith(".m4s")))
    uri = f"{seg.path}?{seg.query}"
    token = token_of(uri)
    assert edge(stack, uri) == 200  # copied out of the page, it works until it expires
    for changed in (
        uri.replace("/videos/intro/", "/videos/premiere/"),
        uri.replace("/videos/intro/", "/videos/intro/%2e%2e/premiere/"),
        uri.replace("/videos/intro/", "/videos/intro2/"),
        uri.replace("/videos/intro/", "/video/intro/"),
        uri.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")),
    ):
        assert edge(stack, changed) in (403, 404), changed
        assert edge(stack, changed) != 200
    assert edge(stack, uri.replace("/videos/intro/", "/videos/premiere/")) == 403
    expires = jwt_claims(token)["exp"]
    stale_access = tab.access_token()
    access_expires = jwt_claims(stale_access)["exp"]
    time.sleep(max(0.0, max(expires, access_expires) - time.time()) + 1.1)
    assert edge(stack, uri) == 403  # the playback URL has expired
    assert api(stack, "GET", "/api/me", stale_access).status_code == 401
    # the app's access token has expired too: the API answers 401 (to the play request, or to
    # the app's heartbeat if it came first), the app refreshes through the cookie and tries once
    # more, without the user seeing anything
    before = len(tab.responses)
    tab.play("intro")
    seen = [(urlsplit(r.url).path, r.status) for r in tab.responses[before:]]
    first_401 = next(i for i, (path, status) in enumerate(seen) if status == 401)
    path = seen[first_401][0]
    assert path.startswith("/api/")
    assert seen[first_401 + 1 : first_401 + 3] == [("/auth/refresh", 200), (path, 200)], seen
    assert tab.page.locator("#notice").is_hidden()
    tab.wait_js("document.getElementById('player').currentTime > 0")
    context.close()


def test_reload_keeps_the_user_signed_in_through_the_cookie_alone(stack: Any, browser: Any) -> None:
    context = browser.new_context()
    tab = Tab(context, stack).sign_in("alice")
    cookie = refresh_cookie(context)
    assert cookie is not None
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/auth"
    # nothing a script can read holds a token
    assert tab.js("document.cookie") == ""
    storage = tab.js(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert "eyJ" not in storage and "gpr_" not in storage
    with tab.page.expect_request(lambda r: r.url.endswith("/auth/refresh")) as req:
        tab.page.reload()
    tab.wait_signed_in()
    headers = req.value.all_headers()
    assert "authorization" not in headers and REFRESH_COOKIE in headers.get("cookie", "")
    assert req.value.response().status == 200
    context.close()


def test_two_tabs_refreshing_at_the_same_moment_both_stay_signed_in(
    stack: Any, browser: Any
) -> None:
    context = browser.new_context()
    one = Tab(context, stack).sign_in("alice")
    two = Tab(context, stack).open()
    two.wait_signed_in()  # its own access token, from the shared cookie
    # Both tabs refresh at the same moment: each request is held until the other has been made,
    # then both go on together, so both present the same cookie (whichever reaches gatepass
    # second is within the grace window of the first's rotation).
    sent: list[Any] = []
    held: list[Any] = []

    def hold(route: Any) -> None:
        sent.append(route.request)
        held.append(route)
        if len(held) == 2:
            for r in held:
                r.continue_()
        elif len(held) > 2:  # a later refresh (an access token expired meanwhile) goes on at once
            route.continue_()

    for tab in (one, two):
        tab.page.route("**/auth/refresh", hold)
    for tab in (one, two):
        tab.js("() => { window.__refreshed = videoApp.refreshNow(); }")
    assert one.call("window.__refreshed") is True
    assert two.call("window.__refreshed") is True
    # both presented the same refresh cookie: one rotated it, the other was in the grace window
    cookies = [r.all_headers().get("cookie") for r in sent[:2]]
    assert cookies[0] is not None and cookies[0] == cookies[1]
    assert {r.frame.page for r in sent[:2]} == {one.page, two.page}
    assert [r.response().status for r in sent] == [200] * len(sent)
    for tab in (one, two):
        assert tab.call("videoApp.checkSession()") == 200
        assert tab.page.locator("#notice").is_hidden()
    assert one.call("videoApp.refreshNow()") is True  # and the login goes on
    context.close()


def test_theft_of_the_refresh_cookie_ends_the_login_in_both_browsers(
    stack: Any, browser: Any, shots: Path
) -> None:
    victim_ctx = browser.new_context(viewport={"width": 900, "height": 720})
    victim = Tab(victim_ctx, stack).sign_in("alice")
    stolen = refresh_cookie(victim_ctx)
    assert stolen is not None
    assert victim.call("videoApp.refreshNow()") is True  # the real tab rotates the cookie
    assert refresh_cookie(victim_ctx)["value"] != stolen["value"]  # type: ignore[index]
    assert victim.call("videoApp.checkSession()") == 200
    victim_access = victim.access_token()
    time.sleep(GRACE + 0.5)  # past the grace window, the stolen copy is plain reuse

    thief_ctx = browser.new_context()
    thief_ctx.add_cookies([stolen])
    thief = Tab(thief_ctx, stack)
    with thief.page.expect_response(lambda r: r.url.endswith("/auth/refresh")) as refused:
        thief.open()
    assert refused.value.status == 400  # invalid_grant; its body is not read: Playwright's
    # Response.json() never returned here with Debian's Chromium
    thief.page.locator("#signin").wait_for(state="visible")
    assert refresh_cookie(thief_ctx) is None

    # the whole login has ended: the victim's access token is refused by the API (revocation
    # reaches it through Redis), and its refresh cookie no longer works
    assert wait_until(
        lambda: api(stack, "GET", "/api/me", victim_access).status_code == 401, timeout=10
    )
    # the victim's next call to the API (its heartbeat may come first) is refused, and its
    # refresh too: the app is signed out
    assert victim.call("videoApp.checkSession()") == 401
    refreshes = [r for r in victim.responses if urlsplit(r.url).path == "/auth/refresh"]
    assert refreshes[-1].status == 400
    notice = victim.page.locator("#notice")
    notice.wait_for(state="visible")
    assert "You were signed out" in notice.inner_text()
    assert "ended elsewhere" in victim.page.locator("#notice-reason").inner_text()
    assert victim.page.locator("#library").is_hidden()
    assert victim.js("document.getElementById('player').getAttribute('src')") is None
    assert refresh_cookie(victim_ctx) is None
    victim.page.screenshot(path=str(shots / "signed-out-after-theft.png"))
    assert api(stack, "POST", "/api/videos/intro/play", victim_access).status_code == 401

    # the security event is recorded, for alice
    admin = httpx.get(
        stack.gatepass_url + "/admin/events",
        params={"type": "refresh_reuse"},
        headers={"Authorization": f"Bearer {stack.admin_token()}"},
        timeout=30,
    )
    assert admin.status_code == 200, admin.text
    alice = jwt_claims(victim_access)["sub"]
    events = admin.json()["events"]
    assert any(e["type"] == "refresh_reuse" and e["user_id"] == alice for e in events), events

    # the login came from gatepass's single sign-on session in the victim's browser: that
    # session has ended too, so "Sign in" there asks for the password again (no silent code)
    victim.page.click("#signin-button")
    victim.page.locator("input[name=password]").wait_for(timeout=30_000)
    assert urlsplit(victim.page.url).path == "/oauth/authorize"

    # alice sees what happened on her account's security activity page (a fresh browser)
    account_ctx = browser.new_context()
    account = account_ctx.new_page()
    account.goto(stack.origin + "/account/activity")
    account.locator("input[name=password]").wait_for(timeout=30_000)
    account.fill("input[name=username]", "alice")
    account.fill("input[name=password]", dict((n, p) for n, p, _ in vstack.USERS)["alice"])
    account.get_by_role("button", name="Sign in").click()
    account.wait_for_url(stack.origin + "/account/activity")
    account.get_by_text(REUSE_SENTENCE).first.wait_for(timeout=30_000)
    account.screenshot(path=str(shots / "account-activity-after-theft.png"), full_page=True)
    account_ctx.close()
    victim_ctx.close()
    thief_ctx.close()


def test_sign_out_clears_the_cookie_and_ends_api_and_playback(stack: Any, browser: Any) -> None:
    context = browser.new_context()
    tab = Tab(context, stack).sign_in("alice")
    tab.play("intro")
    access = tab.access_token()
    other = Tab(context, stack).open()  # a second tab of the same browser
    other.wait_signed_in()
    with tab.page.expect_response(lambda r: r.url.endswith("/auth/logout")) as out:
        tab.page.click("#signout")
    assert out.value.status == 204
    other.page.locator("#notice-reason").wait_for(state="visible")  # told by the first tab
    assert other.page.locator("#notice-reason").inner_text() == "You signed out in another tab."
    assert refresh_cookie(context) is None
    assert wait_until(lambda: api(stack, "GET", "/api/me", access).status_code == 401, timeout=10)
    assert api(stack, "POST", "/api/videos/intro/play", access).status_code == 401
    # then gatepass's own session: RP-initiated logout, which asks the user (the app holds no
    # ID token to vouch for the request) and comes back to the app with its state
    tab.page.wait_for_url(re.compile(r"/oauth/logout\?"))
    logout = parse_qs(urlsplit(tab.page.url).query)
    assert logout["post_logout_redirect_uri"] == [stack.origin + "/"] and logout["state"]
    tab.page.get_by_role("button", name="Sign out").click()
    tab.page.locator("#notice-reason").wait_for(state="visible")
    assert tab.page.url == stack.origin + "/"
    assert tab.page.locator("#notice-reason").inner_text() == "You signed out."
    assert tab.js("document.getElementById('player').getAttribute('src')") is None
    tab.page.locator("#signin").wait_for(state="visible")
    tab.page.reload()
    tab.page.locator("#signin").wait_for(state="visible")
    # the single sign-on session has ended: signing in again asks for the password
    tab.page.click("#signin-button")
    tab.fill_hosted_login("alice")
    tab.wait_signed_in()
    context.close()


# -- the one command ----------------------------------------------------------------------------
def test_demo_names_missing_packages_with_the_install_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = _load("demo")
    monkeypatch.setitem(
        vstack.SYSTEM_PACKAGES, "no-such-program-x", "apt-get install -y no-such-package-x"
    )
    assert demo.main(["--state", "/nonexistent"]) == 1
    assert "no-such-program-x is not installed: apt-get install -y no-such-package-x" in (
        capsys.readouterr().err
    )


def test_demo_starts_everything_and_stops_each_process_on_ctrl_c(tmp_path: Path) -> None:
    _need_everything()
    from servers import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "demo.py"), "--port", str(port), "--state", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        out = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in out, out
        for name, password, _ in vstack.USERS:
            assert name in out and password in out
        pids = [int(p) for p in re.findall(r"pid (\d+)", out)]
        for _ in range(4):
            lines.append(proc.stdout.readline())
        pids = [int(p) for p in re.findall(r"pid (\d+)", "".join(lines))]
        assert len(pids) == 4, lines
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        for pid in pids:
            assert (
                not Path(f"/proc/{pid}").exists()
                or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
            ), pid
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
