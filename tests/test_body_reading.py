"""Reading request bodies on a real `gatepass serve` process, over raw sockets: a client that
hangs up in the middle of its body is no error (no 500, no ERROR line, no traceback), and a body
that does not all arrive within ``GATEPASS_BODY_TIMEOUT`` is answered 408 and its connection
closed, so half-sent bodies cannot hold connections."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx
import pytest

from conftest import PASSWORD
from servers import Server, create_user, running, wait_until

pytestmark = pytest.mark.slow

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def _head(path: str, content_type: str, length: int, extra: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}"]
    lines += [f"Content-Length: {length}", *(f"{k}: {v}" for k, v in extra.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _hang_up_mid_body(port: int, path: str, content_type: str, extra: dict[str, str]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(_head(path, content_type, 200, extra) + b"grant_type=pass")


def _counts(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", timeout=10).text
    found = re.findall(r'gatepass_request_duration_seconds_count\{route="([^"]+)"\} (\S+)', text)
    return {route: float(n) for route, n in found}


def _admin_token(url: str) -> str:
    r = httpx.post(
        url + "/oauth/token",
        data={"grant_type": "password", "username": "root", "password": PASSWORD},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_a_client_hanging_up_mid_body_is_no_error(tmp_path: Path) -> None:
    server = Server(tmp_path)
    create_user(server.env, "root", PASSWORD, "admin")
    with running(server):
        bearer = {"Authorization": f"Bearer {_admin_token(server.url)}"}
        session = {"X-Requested-With": "fetch"}
        targets = [
            ("/oauth/token", FORM, {}),
            ("/oauth/introspect", FORM, {}),
            ("/oauth/revoke", FORM, {}),
            ("/auth/login", JSON, session),
            ("/auth/password", JSON, bearer),
            ("/admin/users", JSON, bearer),
            ("/admin/clients", JSON, bearer),
        ]
        before = _counts(server.url)
        for path, content_type, extra in targets:
            for _ in range(3):
                _hang_up_mid_body(server.port, path, content_type, extra)

        def all_handled() -> bool:
            now = _counts(server.url)
            return all(now.get(p, 0) >= before.get(p, 0) + 3 for p, _, _ in targets)

        assert wait_until(all_handled, timeout=60), (before, _counts(server.url))
        # still serving
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
    log = server.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert '"level": "ERROR"' not in log and "ERROR" not in log, log[-3000:]
    assert "Exception in ASGI application" not in log, log[-3000:]


def _read_all(s: socket.socket) -> bytes:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


@pytest.mark.parametrize(
    ("path", "content_type", "extra"),
    [("/oauth/token", FORM, {}), ("/auth/login", JSON, {"X-Requested-With": "fetch"})],
)
def test_a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closed(
    tmp_path: Path, path: str, content_type: str, extra: dict[str, str]
) -> None:
    server = Server(tmp_path, BODY_TIMEOUT="1")
    with running(server):
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
            s.sendall(_head(path, content_type, 200, extra) + b"grant_type=pass")
            answer = _read_all(s)  # the server answers, then closes (EOF ends the read)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), answer
        assert b"connection: close" in head.lower(), answer
        assert json.loads(body)["error"] == "invalid_request"
        # a whole body in time is unaffected
        r = httpx.post(server.url + "/oauth/token", data={"grant_type": "nope"}, timeout=10)
        assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    log = server.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]


def test_body_timeout_setting_is_checked(make_settings) -> None:  # type: ignore[no-untyped-def]
    from gatepass.settings import ConfigError

    assert make_settings().body_timeout == 10.0
    for bad in (0, -1, 3601):
        with pytest.raises((ConfigError, ValueError)):
            make_settings(body_timeout=bad)
