"""`gatepass sign-url` and `gatepass keys list|rotate --urls`, run in-process."""

from __future__ import annotations

import asyncio
import json
import os
import time
from urllib.parse import urlsplit

import pytest

from gatepass.cli import main
from gatepass.oauth.services import open_services
from gatepass.sdk.signed_url import verify_signed_url
from gatepass.settings import load_settings


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GATEPASS_SECRET_KEY", "cli-test-secret-0123456789abcdefgh")
    monkeypatch.setenv("GATEPASS_SIGNED_URL_BASE", "https://cdn.example")
    return str(tmp_path / "data")


def url_keys(data_dir: str) -> dict:
    async def load() -> dict:
        svc = await open_services(load_settings(data_dir=data_dir))
        try:
            return svc.url_keys.ring.verify_keys(time.time())
        finally:
            await svc.close()

    return asyncio.run(load())


def request_uri(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_sign_url_prints_a_ready_url(data_dir, capsys) -> None:
    assert main(["sign-url", "/videos/42/master.m3u8", "--data-dir", data_dir]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://cdn.example/videos/42/master.m3u8?exp=")
    assert verify_signed_url(request_uri(url), url_keys(data_dir))


def test_sign_url_prefix_json_ttl_and_address(data_dir, capsys) -> None:
    args = ["sign-url", "/videos/42/", "--ttl", "60", "--bind-ip", "203.0.113.7", "--json"]
    assert main([*args, "--data-dir", data_dir]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"url", "expires_at", "query"}
    assert abs(out["expires_at"] - (time.time() + 60)) < 5
    keys = url_keys(data_dir)
    seg = "/videos/42/seg1.ts?" + out["query"]
    assert verify_signed_url(seg, keys, client_ip="203.0.113.7")
    assert not verify_signed_url(seg, keys, client_ip="203.0.113.8")
    assert not verify_signed_url(
        "/videos/43/seg1.ts?" + out["query"], keys, client_ip="203.0.113.7"
    )


def test_sign_url_refuses_what_the_api_refuses(data_dir, capsys) -> None:
    assert main(["sign-url", "/a", "--ttl", "999999", "--data-dir", data_dir]) == 1
    assert "expires_in must be between 1 and 86400" in capsys.readouterr().err
    assert main(["sign-url", "/a/../b", "--data-dir", data_dir]) == 1
    assert main(["sign-url", "/a", "--format", "nginx", "--data-dir", data_dir]) == 1
    assert "GATEPASS_SECURE_LINK_SECRET" in capsys.readouterr().err


def test_url_keys_list_and_rotate(data_dir, capsys) -> None:
    assert main(["keys", "list", "--urls", "--json", "--data-dir", data_dir]) == 0
    before = json.loads(capsys.readouterr().out)
    assert sorted(k["state"] for k in before) == ["active", "next"]
    assert all("secret" not in json.dumps(k) for k in before)
    nxt = next(k["kid"] for k in before if k["state"] == "next")
    assert main(["sign-url", "/a", "--data-dir", data_dir]) == 0
    old_url = capsys.readouterr().out.strip()
    assert main(["keys", "rotate", "--urls", "--json", "--data-dir", data_dir]) == 0
    rotated = json.loads(capsys.readouterr().out)
    assert rotated["active"] == nxt
    assert rotated["previous_accepted_until"] > time.time() + 86400
    assert verify_signed_url(request_uri(old_url), url_keys(data_dir))
    assert main(["keys", "list", "--urls", "--data-dir", data_dir]) == 0
    text = capsys.readouterr().out
    assert "retiring" in text and "active" in text and "next" in text
    # the token-signing keys (both rings: access and ID tokens) are untouched
    assert main(["keys", "list", "--json", "--data-dir", data_dir]) == 0
    listed = json.loads(capsys.readouterr().out)
    for purpose in ("access", "id_token"):
        states = sorted(k["state"] for k in listed if k["purpose"] == purpose)
        assert states == ["active", "next"], purpose


def test_sign_url_refuses_an_ipv6_zone_id(data_dir, capsys) -> None:
    assert main(["sign-url", "/a", "--bind-ip", "fe80::1%eth0", "--data-dir", data_dir]) == 1
    assert "zone id" in capsys.readouterr().err
