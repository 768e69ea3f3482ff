"""Relying parties and their users in the registry: ``gatepass client create --grant
authorization_code --redirect-uri ... --post-logout-redirect-uri ... --first-party`` and the
same through ``POST /admin/clients``; ``gatepass user create --email --name --email-verified``
and ``POST /admin/users``; authorization codes purged once expired."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from conftest import Harness, basic_auth
from gatepass.cli import main
from gatepass.clock import FrozenClock
from gatepass.storage.purge import purge
from oidc_codes import new_code, rp, user_id

RP = {
    "name": "web",
    "grants": ["authorization_code", "refresh_token"],
    "redirect_uris": ["https://app.example/cb", "http://127.0.0.1/native"],
    "post_logout_redirect_uris": ["https://app.example/bye"],
    "first_party": True,
}


@pytest.fixture
def cli_dir(tmp_path, monkeypatch) -> str:
    for key in list(os.environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GATEPASS_SECRET_KEY", "cli-test-secret-0123456789abcdefgh")
    return str(tmp_path / "data")


def test_cli_client_create_with_redirect_uris(cli_dir: str, capsys) -> None:
    args = [
        "client",
        "create",
        "web",
        "--grant",
        "authorization_code",
        "--grant",
        "refresh_token",
        "--redirect-uri",
        "https://app.example/cb",
        "--redirect-uri",
        "https://app.example/cb2",
        "--post-logout-redirect-uri",
        "https://app.example/bye",
        "--first-party",
        "--data-dir",
        cli_dir,
    ]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["client_secret"].startswith("gps_")
    assert out["redirect_uris"] == ["https://app.example/cb", "https://app.example/cb2"]
    assert out["post_logout_redirect_uris"] == ["https://app.example/bye"]
    assert out["first_party"] is True
    assert main(["client", "list", "--json", "--data-dir", cli_dir]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["redirect_uris"] == out["redirect_uris"] and listed["first_party"] is True
    assert main(args) == 0  # the human-readable form names them
    text = capsys.readouterr().out
    assert "redirect URI: https://app.example/cb" in text and "first-party" in text


@pytest.mark.parametrize(
    "extra",
    [
        ["--grant", "authorization_code"],  # no redirect URI
        ["--grant", "authorization_code", "--redirect-uri", "http://app.example/cb"],
        ["--grant", "authorization_code", "--redirect-uri", "https://app.example/cb#x"],
        ["--grant", "authorization_code", "--redirect-uri", "com.example.app:/cb"],  # secret
        ["--grant", "password", "--redirect-uri", "https://app.example/cb"],
        ["--grant", "authorization_code", "--redirect-uri", "https://app.example/\x01"],
    ],
)
def test_cli_client_create_refuses_bad_redirects(cli_dir: str, capsys, extra: list[str]) -> None:
    assert main(["client", "create", "web", *extra, "--data-dir", cli_dir]) == 1
    err = capsys.readouterr().err
    assert "redirect" in err.lower() and "Traceback" not in err


def test_cli_public_native_app(cli_dir: str, capsys) -> None:
    args = ["client", "create", "app", "--public", "--grant", "authorization_code"]
    args += ["--redirect-uri", "com.example.app:/cb", "--json", "--data-dir", cli_dir]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["client_secret"] is None and out["redirect_uris"] == ["com.example.app:/cb"]


def test_admin_client_create_with_redirect_uris(gp: Harness) -> None:
    admin = gp.bearer(gp.admin_token())
    r = gp.client.post("/admin/clients", json=RP, headers=admin)
    assert r.status_code == 201, r.text
    body = r.json()
    for key in ("redirect_uris", "post_logout_redirect_uris", "first_party"):
        assert body[key] == RP[key], key
    got = gp.client.get(f"/admin/clients/{body['client_id']}", headers=admin).json()
    assert got["redirect_uris"] == RP["redirect_uris"]
    # and the client works: a code for it is exchanged
    code = new_code(gp, body["client_id"], user_id(gp, "bob"))
    r = gp.client.post(
        "/oauth/token",
        data=code.form(),
        headers=basic_auth(body["client_id"], body["client_secret"]),
    )
    assert r.status_code == 200 and "id_token" in r.json()


BAD_RP_VALUES: list[tuple[str, Any]] = [
    ("redirect_uris", "https://app.example/cb"),  # not a list
    ("redirect_uris", [1]),
    ("redirect_uris", [None]),
    ("redirect_uris", [["https://app.example/cb"]]),
    ("redirect_uris", {"a": "b"}),
    ("redirect_uris", []),  # the grant needs one
    ("redirect_uris", ["https://app.example/\u0000cb"]),
    ("redirect_uris", ["https://app.example/c\nb"]),
    ("redirect_uris", ["https://app.example/" + "x" * 3000]),
    (
        "redirect_uris",
        ["https://app.example/cb"] * 1 + [f"https://app.example/{i}" for i in range(30)],
    ),
    ("redirect_uris", ["javascript:alert(1)"]),
    ("redirect_uris", ["https://user@app.example/cb"]),
    ("post_logout_redirect_uris", "https://app.example/bye"),
    ("post_logout_redirect_uris", [True]),
    ("post_logout_redirect_uris", ["http://evil.example/bye"]),
    ("first_party", "yes"),
    ("first_party", 1),
    ("first_party", None),
]


@pytest.mark.parametrize("field,value", BAD_RP_VALUES)
def test_admin_client_create_bad_values_are_400(gp: Harness, field: str, value: Any) -> None:
    admin = gp.bearer(gp.admin_token())
    r = gp.client.post("/admin/clients", json={**RP, field: value}, headers=admin)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request"


def test_redirect_uris_only_with_the_code_grant_over_http(gp: Harness) -> None:
    admin = gp.bearer(gp.admin_token())
    r = gp.client.post("/admin/clients", json={**RP, "grants": ["password"]}, headers=admin)
    assert r.status_code == 400 and "authorization_code" in r.json()["error_description"]


def test_cli_user_create_with_email_verified(cli_dir: str, monkeypatch, capsys) -> None:
    import io
    import sys

    def stdin() -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO("a long password\n"))

    base = ["user", "create", "--password-stdin", "--json", "--data-dir", cli_dir]
    stdin()
    args = [*base[:2], "erin", *base[2:]]
    args += ["--email", "erin@example.com", "--name", "Erin E.", "--email-verified"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["email"] == "erin@example.com" and out["email_verified"] is True
    assert out["name"] == "Erin E."
    stdin()
    assert main([*base[:2], "fay", *base[2:], "--email", "fay@example.com"]) == 0
    assert json.loads(capsys.readouterr().out)["email_verified"] is False
    too_long = "a" * 64 + "@" + "b" * 185 + ".com"  # 254 characters: the limit
    assert len(too_long) == 254
    stdin()
    assert main([*base[:2], "gus", *base[2:], "--email", too_long]) == 0
    capsys.readouterr()
    for bad in ("a" * 64 + "@" + "b" * 186 + ".com", "no-at-sign", "x@y", "a b@example.com"):
        stdin()
        assert main([*base[:2], "hal", *base[2:], "--email", bad]) == 1
        assert "email must be an address" in capsys.readouterr().err
    stdin()
    assert main([*base[:2], "ivy", *base[2:], "--email-verified"]) == 1
    assert "email_verified needs an email" in capsys.readouterr().err


def test_admin_users_take_email_and_name(gp: Harness) -> None:
    admin = gp.bearer(gp.admin_token())
    body = {
        "username": "erin",
        "password": "a fine password",
        "email": "erin@example.com",
        "name": "Erin E.",
        "email_verified": True,
    }
    r = gp.client.post("/admin/users", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "erin@example.com" and r.json()["name"] == "Erin E."
    assert r.json()["email_verified"] is True and "password" not in r.text
    for n, (field, value) in enumerate(
        [
            ("email", "not an address"),
            ("email", 5),
            ("email", ["erin@example.com"]),
            ("email", "a" * 64 + "@" + "b" * 186 + ".com"),
            ("email", "erin@example.com\r\nBcc: x@evil.example"),
            ("name", "Erin\x00"),
            ("name", "Erin\x1b[31m"),
            ("name", "x" * 201),
            ("name", {"first": "Erin"}),
            ("email_verified", "true"),
        ]
    ):
        r = gp.client.post(
            "/admin/users", json={**body, "username": f"u{n}", field: value}, headers=admin
        )
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", (field, value)


def test_purge_deletes_expired_codes_used_or_not(
    make_harness: Callable[..., Harness], database_url: str
) -> None:
    from sqlalchemy import func, select

    from gatepass.storage.models import AuthorizationCode

    clock = FrozenClock()
    h = make_harness(clock=clock, database_url=database_url)
    h.create_user("bob")
    cid, secret = rp(h)
    bob = user_id(h, "bob")
    used = new_code(h, cid, bob)
    assert (
        h.client.post("/oauth/token", data=used.form(), headers=basic_auth(cid, secret)).status_code
        == 200
    )
    new_code(h, cid, bob)  # never used

    async def count() -> int:
        async with h.svc.sessions() as s:
            return int(
                (await s.execute(select(func.count()).select_from(AuthorizationCode))).scalar() or 0
            )

    assert h.run(purge, h.svc.sessions, clock.now()).counts["authorization_codes"] == 0
    assert h.run(count) == 2  # live codes are kept (a used one still catches replays)
    clock.advance(60)
    fresh = new_code(h, cid, bob)
    assert h.run(purge, h.svc.sessions, clock.now()).counts["authorization_codes"] == 2
    assert h.run(count) == 1
    r = h.client.post("/oauth/token", data=fresh.form(), headers=basic_auth(cid, secret))
    assert r.status_code == 200


def test_openid_scopes_are_registrable(cli_dir: str, capsys) -> None:
    args = ["client", "create", "pw", "--grant", "password"]
    for scope in ("openid", "email", "offline_access", "profile"):
        args += ["--scope", scope]
    assert main([*args, "--json", "--data-dir", cli_dir]) == 0
    capsys.readouterr()
    assert main(["client", "list", "--json", "--data-dir", cli_dir]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["scopes"] == ["email", "offline_access", "openid", "profile"]


def test_a_code_client_may_ask_for_the_openid_scopes_without_registering_them(
    gp: Harness,
) -> None:
    cid, secret = rp(gp, scope_list=["videos:read"])
    scope = ("openid", "profile", "email", "offline_access", "videos:read", "other")
    code = new_code(gp, cid, user_id(gp, "bob"), scope=scope)
    r = gp.client.post("/oauth/token", data=code.form(), headers=basic_auth(cid, secret))
    assert r.status_code == 200, r.text
    # never more than the client may hold: "other" was not registered
    assert r.json()["scope"] == "email offline_access openid profile videos:read"
