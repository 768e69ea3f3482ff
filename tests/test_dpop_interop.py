"""DPoP with a client nobody here wrote: Node's oauth4webapi (tests/interop/dpop_client.mjs)
against a real ``gatepass serve`` and an SDK-protected FastAPI service in its own process.

It obtains DPoP-bound tokens with client_credentials and with the refresh grant (after a
password login as a public client registered with ``--dpop``), calls ``/api/profile`` and the
service with them, and finds that the bound refresh token is useless with another key. Run with
server nonces off (the default) and on (``use_dpop_nonce``, which the library answers itself).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from conftest import IN_CI, PASSWORD, need_binary
from servers import Server, cli, create_user, free_port, wait_until

INTEROP = Path(__file__).parent / "interop"

pytestmark = pytest.mark.slow


def _node() -> str:
    node = need_binary("node", "apt-get install -y nodejs")
    if not (INTEROP / "node_modules" / "oauth4webapi").is_dir():
        msg = "oauth4webapi is not installed (npm ci --prefix tests/interop)"
        if IN_CI:
            pytest.fail(msg + " (CI=true: .ci/run must install it)")
        pytest.skip(msg)
    return node


def _service(issuer: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(INTEROP / "dpop_service.py"), issuer, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited: {proc.stderr.read() if proc.stderr else b''!r}")
        try:
            return httpx.get(url + "/healthz", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(up, timeout=60):
        proc.kill()
        raise RuntimeError("the SDK-protected service did not start")
    return proc, url


@pytest.mark.parametrize("nonce", ["false", "true"], ids=["no-nonce", "server-nonce"])
def test_oauth4webapi_gets_and_uses_dpop_bound_tokens(tmp_path: Path, nonce: str) -> None:
    node = _node()
    server = Server(tmp_path / "data", dpop_nonce=nonce).start()
    service = None
    try:
        create_user(server.env, "bob", PASSWORD)
        cc = json.loads(
            cli(server.env, "client", "create", "svc", "--grant", "client_credentials", "--json")
        )
        spa = json.loads(
            cli(
                server.env,
                *("client", "create", "spa", "--public", "--dpop", "--json"),
                *("--grant", "password", "--grant", "refresh_token"),
            )
        )
        service, service_url = _service(server.url)
        env = {
            "PATH": "/usr/bin:/bin",
            "CC_CLIENT_ID": cc["client_id"],
            "CC_CLIENT_SECRET": cc["client_secret"],
            "PUBLIC_CLIENT_ID": spa["client_id"],
            "USERNAME": "bob",
            "PASSWORD": PASSWORD,
        }
        run = subprocess.run(
            [node, "dpop_client.mjs", server.url, service_url],
            cwd=INTEROP,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        out = json.loads(run.stdout)
    finally:
        if service is not None:
            service.kill()
            service.wait(timeout=10)
        server.stop()

    cc_out, refresh = out["cc"], out["refresh"]
    assert cc_out["token_type"] == "dpop"  # oauth4webapi lower-cases it
    assert (
        cc_out["profile"]["status"] == 200 and cc_out["profile"]["body"]["sub"] == cc["client_id"]
    )
    assert cc_out["service"]["status"] == 200 and cc_out["service"]["body"]["dpop_jkt"]
    assert cc_out["as_bearer"] == 401  # the same token without its key
    assert refresh["login_token_type"] == "dpop" and refresh["token_type"] == "dpop"
    assert refresh["profile"]["status"] == 200 and refresh["service"]["status"] == 200
    assert refresh["stolen_refresh"] == "invalid_grant"
