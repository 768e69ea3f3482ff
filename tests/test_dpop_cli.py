"""The CLI's DPoP parts: ``gatepass client create --dpop`` and the binding that
``gatepass token inspect`` shows (RFC 9449 §6.1 ``cnf.jkt``)."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from gatepass.cli import main

JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"  # RFC 7638 §3.1's example thumbprint


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> str:
    for key in list(os.environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GATEPASS_SECRET_KEY", "cli-test-secret-0123456789abcdefgh")
    return str(tmp_path / "data")


def test_client_create_dpop_requires_proofs(data_dir: str, capsys) -> None:
    d = ["--data-dir", data_dir]
    assert main(["client", "create", "spa", "--public", "--dpop", "--json", *d]) == 0
    created = json.loads(capsys.readouterr().out)
    assert main(["client", "create", "web", "--json", *d]) == 0
    capsys.readouterr()
    assert main(["client", "list", "--json", *d]) == 0
    listed = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert listed["spa"]["client_id"] == created["client_id"]
    assert listed["spa"]["dpop_bound_access_tokens"] is True
    assert listed["web"]["dpop_bound_access_tokens"] is False


def _mint(data_dir: str, jkt: str | None) -> str:
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
                sid=None,
                jkt=jkt,
            )
            return token
        finally:
            await svc.close()

    return asyncio.run(mint())


def test_token_inspect_shows_the_dpop_binding(data_dir: str, capsys) -> None:
    bound = _mint(data_dir, JKT)
    assert main(["token", "inspect", bound, "--json", "--data-dir", data_dir]) == 0
    assert json.loads(capsys.readouterr().out)["dpop_jkt"] == JKT
    assert main(["token", "inspect", bound, "--data-dir", data_dir]) == 0
    assert f"binding: DPoP, key thumbprint {JKT}" in capsys.readouterr().out
    unbound = _mint(data_dir, None)
    assert main(["token", "inspect", unbound, "--data-dir", data_dir]) == 0
    assert "binding: none (a bearer token" in capsys.readouterr().out
