"""The gatepass command, run in-process (fast) and as a real process where it matters."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from gatepass.cli import main


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GATEPASS_SECRET_KEY", "cli-test-secret-0123456789abcdefgh")
    return str(tmp_path / "data")


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_user_create_with_password_stdin(data_dir, monkeypatch, capsys) -> None:
    _stdin(monkeypatch, "a long password\n")
    assert (
        main(
            [
                "user",
                "create",
                "alice",
                "--role",
                "admin",
                "--password-stdin",
                "--json",
                "--data-dir",
                data_dir,
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["username"] == "alice" and out["roles"] == ["admin"]
    _stdin(monkeypatch, "a long password\n")
    assert main(["user", "create", "alice", "--password-stdin", "--data-dir", data_dir]) == 1
    assert "already exists" in capsys.readouterr().err
    _stdin(monkeypatch, "short\n")
    assert main(["user", "create", "bob", "--password-stdin", "--data-dir", data_dir]) == 1
    err = capsys.readouterr().err
    assert "at least 8" in err and "short" not in err.replace("at least", "")


def test_user_create_with_email_and_name(data_dir, monkeypatch, capsys) -> None:
    import asyncio

    from gatepass.oauth.services import open_services
    from gatepass.settings import load_settings

    args = ["user", "create", "carol", "--password-stdin", "--data-dir", data_dir]
    _stdin(monkeypatch, "a long password\n")
    assert main([*args, "--email", "carol@example.com", "--name", "Carol Q. Public"]) == 0
    _stdin(monkeypatch, "a long password\n")
    bad = ["user", "create", "dave", "--password-stdin", "--data-dir", data_dir]
    assert main([*bad, "--email", "dave@example.com\r\nBcc: x@evil.example"]) == 1
    assert "email must be an address" in capsys.readouterr().err

    async def read() -> tuple[str | None, str | None]:
        svc = await open_services(load_settings(data_dir=data_dir))
        try:
            user = await svc.users.by_name("carol")
            assert user is not None and await svc.users.by_name("dave") is None
            return user.email, user.name
        finally:
            await svc.close()

    assert asyncio.run(read()) == ("carol@example.com", "Carol Q. Public")


def test_client_create_json_prints_secret_once(data_dir, capsys) -> None:
    assert (
        main(
            ["client", "create", "svc", "--scope", "videos:read", "--json", "--data-dir", data_dir]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert {"client_id", "client_secret"} <= set(out) and out["client_secret"].startswith("gps_")
    assert out["redirect_uris"] == [] and out["first_party"] is False
    assert main(["client", "list", "--json", "--data-dir", data_dir]) == 0
    listed = capsys.readouterr().out
    assert out["client_id"] in listed and out["client_secret"] not in listed
    assert main(["client", "create", "spa", "--public", "--json", "--data-dir", data_dir]) == 0
    assert json.loads(capsys.readouterr().out)["client_secret"] is None


def test_client_create_refuses_unknown_grant(data_dir, capsys) -> None:
    assert main(["client", "create", "x", "--grant", "implicit", "--data-dir", data_dir]) == 2
    assert "--grant" in capsys.readouterr().err


def test_keys_list_and_rotate(data_dir, capsys) -> None:
    assert main(["keys", "list", "--json", "--data-dir", data_dir]) == 0
    before = json.loads(capsys.readouterr().out)
    for purpose in ("access", "id_token"):  # both rings by default
        states = sorted(k["state"] for k in before if k["purpose"] == purpose)
        assert states == ["active", "next"]
    nxt = next(k["kid"] for k in before if k["state"] == "next" and k["purpose"] == "access")
    id_nxt = next(k["kid"] for k in before if k["state"] == "next" and k["purpose"] == "id_token")
    assert main(["keys", "rotate", "--json", "--data-dir", data_dir]) == 0
    rotated = json.loads(capsys.readouterr().out)
    assert rotated["active"] == nxt and rotated["access"]["active"] == nxt
    assert rotated["id_token"] == {"active": id_nxt, "alg": "RS256"}
    assert main(["keys", "list", "--data-dir", data_dir]) == 0
    table = capsys.readouterr().out
    assert "retiring" in table and "active" in table and "next" in table


def test_token_inspect(data_dir, monkeypatch, capsys) -> None:
    import asyncio

    from gatepass.oauth.issuance import issue_access_token
    from gatepass.oauth.services import open_services
    from gatepass.settings import load_settings

    async def mint() -> str:
        svc = await open_services(load_settings(data_dir=data_dir))
        try:
            token, _ = await issue_access_token(
                svc,
                token_format="jwt",
                subject="u1",
                client_id="c",
                scope=["profile"],
                roles=[],
                sid="s",
            )
            return token
        finally:
            await svc.close()

    token = asyncio.run(mint())
    assert main(["token", "inspect", token, "--json", "--data-dir", data_dir]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is True and report["claims"]["sub"] == "u1"
    assert report["header"]["typ"] == "at+jwt"
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert main(["token", "inspect", tampered, "--data-dir", data_dir]) == 1
    assert "does NOT verify" in capsys.readouterr().out
    assert main(["token", "inspect", "garbage", "--data-dir", data_dir]) == 1
    assert "not a JWT" in capsys.readouterr().out


def test_bad_configuration_stops_serve_with_one_line(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPASS_")}
    env["GATEPASS_ACCESS_TOKEN_TTL"] = "soon"
    p = subprocess.run(
        [sys.executable, "-m", "gatepass.cli", "serve", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "gatepass: configuration error: GATEPASS_ACCESS_TOKEN_TTL: expected a whole number"
    ]


def test_unreachable_database_is_one_line_without_credentials(
    data_dir, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("GATEPASS_DATABASE_URL", "postgresql://u:hunter2secret@127.0.0.1:1/x")
    assert main(["keys", "list", "--data-dir", data_dir]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unreachable" in err and "hunter2secret" not in err


def test_wrong_master_secret_is_a_configuration_error(data_dir, monkeypatch, capsys) -> None:
    assert main(["keys", "list", "--data-dir", data_dir]) == 0
    monkeypatch.setenv("GATEPASS_SECRET_KEY", "a-different-secret-0123456789abcdef")
    assert main(["keys", "list", "--data-dir", data_dir]) == 2
    assert "GATEPASS_SECRET_KEY" in capsys.readouterr().err


def test_a_client_sent_user_agent_cannot_reach_the_terminal_as_an_escape_sequence() -> None:
    from gatepass.cli.sessions import _printable

    assert _printable("curl/8 \x1b[2J\x9b31m") == "curl/8 ?[2J?31m"
    assert _printable(None) == "-"
