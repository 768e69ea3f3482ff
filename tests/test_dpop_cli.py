"""The CLI's DPoP parts: ``gatepass client create --dpop`` and the binding that
``gatepass token inspect`` shows (RFC 9449 §6.1 ``cnf.jkt``)."""

from __future__ import annotations

import json
import os

import pytest

from cli_tokens import mint_access_token
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


def test_token_inspect_shows_the_dpop_binding(data_dir: str, capsys) -> None:
    bound = mint_access_token(data_dir, sid=None, jkt=JKT)
    assert main(["token", "inspect", bound, "--json", "--data-dir", data_dir]) == 0
    assert json.loads(capsys.readouterr().out)["dpop_jkt"] == JKT
    assert main(["token", "inspect", bound, "--data-dir", data_dir]) == 0
    assert f"binding: DPoP, key thumbprint {JKT}" in capsys.readouterr().out
    unbound = mint_access_token(data_dir, sid=None)
    assert main(["token", "inspect", unbound, "--data-dir", data_dir]) == 0
    assert "binding: none (a bearer token" in capsys.readouterr().out
