"""oauth/redirect_uris.py: what a client may register, and exact matching (RFC 8252 §7.3)."""

from __future__ import annotations

import pytest

from gatepass.errors import InvalidRequest
from gatepass.oauth.redirect_uris import check_registration, matches

WEB = "https://app.example/cb"


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/cb",
        "https://app.example:8443/cb?x=1",
        "http://127.0.0.1/cb",
        "http://[::1]:8080/cb",
        "http://localhost:3000/cb",
    ],
)
def test_web_clients_register_https_or_loopback(uri: str) -> None:
    assert check_registration([uri], public=False) == [uri]


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example/cb",  # http off loopback
        "https://app.example/cb#frag",
        "https://user:pw@app.example/cb",
        "https://app.example/c b",
        "https://app.example/\x00",
        "/relative/cb",
        "",
        "https://",
        "https://app.example:99999/cb",
        "myapp:/cb",  # not a reverse domain name
        "javascript:alert(1)",
        "HTTPS://app.example/cb",
        "https://" + "a" * 2000 + ".example/",
    ],
)
def test_refused_registrations(uri: str) -> None:
    with pytest.raises(InvalidRequest):
        check_registration([uri], public=True)


def test_private_use_schemes_only_for_public_clients() -> None:
    assert check_registration(["com.example.app:/cb"], public=True) == ["com.example.app:/cb"]
    with pytest.raises(InvalidRequest, match="public"):
        check_registration(["com.example.app:/cb"], public=False)


@pytest.mark.parametrize(
    "presented",
    [
        WEB + "/",
        "https://app.example/CB",
        "https://APP.example/cb",
        "https://app.example:443/cb",
        "https://app.example:8443/cb",
        WEB + "/more",
        WEB + "x",
        "https://user@app.example/cb",
        WEB + "#frag",
        WEB + "?",
        "http://app.example/cb",
    ],
)
def test_anything_but_the_exact_uri_is_refused(presented: str) -> None:
    assert matches([WEB], WEB)
    assert not matches([WEB], presented)


def test_loopback_literals_match_on_any_port_and_nothing_else() -> None:
    reg = ["http://127.0.0.1/cb", "http://[::1]:1/cb"]
    assert matches(reg, "http://127.0.0.1:51234/cb")
    assert matches(reg, "http://127.0.0.1/cb")
    assert matches(reg, "http://[::1]:4000/cb")
    assert not matches(reg, "http://127.0.0.1:51234/cb/")
    assert not matches(reg, "http://127.0.0.1:0/cb")
    assert not matches(reg, "http://127.0.0.1:99999/cb")
    assert not matches(reg, "http://127.0.0.1:08080/cb")
    assert not matches(reg, "http://127.0.0.1.evil.example/cb")
    assert not matches(reg, "http://127.0.0.1@evil.example/cb")
    assert not matches(reg, "http://127.0.0.1:80@evil.example/cb")
    assert not matches(reg, "https://127.0.0.1:5000/cb")
    # localhost is matched exactly (RFC 8252 §8.3 prefers the IP literal)
    assert not matches(["http://localhost:3000/cb"], "http://localhost:3001/cb")
