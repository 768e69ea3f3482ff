"""Small pure parts of the hosted pages: CSRF tokens (core/csrf.py), CSP sources
(server/pages.origin_of), scope words; and consent storage under concurrent first consents."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from conftest import Harness
from gatepass.core import csrf
from gatepass.server.pages import origin_of, policy
from gatepass.server.scope_words import describe

KEY = b"k" * 32


def test_a_csrf_token_is_bound_to_the_browser_and_the_purpose() -> None:
    browser = csrf.new_browser_id()
    token = csrf.token(KEY, browser, "login")
    assert csrf.valid(KEY, browser, "login", token)
    assert not csrf.valid(KEY, csrf.new_browser_id(), "login", token)
    assert not csrf.valid(KEY, browser, "consent gpo1", token)
    assert not csrf.valid(b"x" * 32, browser, "login", token)
    assert not csrf.valid(KEY, None, "login", token)
    assert not csrf.valid(KEY, browser, "login", None)
    assert not csrf.valid(KEY, browser, "login", token + "A" * 200)
    assert not csrf.valid(KEY, browser, "login", "é" * 43)


@pytest.mark.parametrize(
    ("uri", "source"),
    [
        ("https://app.example/cb", "https://app.example"),
        ("https://app.example:8443/cb?x=1", "https://app.example:8443"),
        ("http://127.0.0.1:53211/cb", "http://127.0.0.1:53211"),
        ("http://[::1]:8080/cb", "http://[::1]:8080"),
        ("com.example.app:/oauth", "com.example.app:"),
        ("https:///nohost", None),
        ("https://a b/", None),
        ("https://a;script-src *", None),
    ],
)
def test_the_csp_source_of_a_redirect_uri(uri: str, source: str | None) -> None:
    assert origin_of(uri) == source


def test_the_policy_lists_each_form_target_once() -> None:
    p = policy(["https://a.example/cb", "https://a.example/other", "https://a;b"])
    assert "form-action 'self' https://a.example;" in p


def test_scope_words() -> None:
    assert describe(["zeta", "openid", "offline_access", "alpha"]) == [
        ("openid", "Confirm your identity"),
        ("offline_access", "Stay signed in, and reach your account while you are away"),
        ("alpha", "Use “alpha”"),
        ("zeta", "Use “zeta”"),
    ]


def test_concurrent_first_consents_merge(
    make_harness: Callable[..., Harness], database_url: str
) -> None:
    h = make_harness(database_url=database_url)
    user = h.create_user("bob")

    async def race() -> frozenset[str] | None:
        scopes = [frozenset({f"s{i}", "openid"}) for i in range(6)]
        now = h.svc.clock.now()
        await asyncio.gather(*(h.svc.consents.allow(user.id, "app", s, now) for s in scopes))
        return await h.svc.consents.scopes(user.id, "app")

    assert h.run(race) == frozenset({"openid", *(f"s{i}" for i in range(6))})
