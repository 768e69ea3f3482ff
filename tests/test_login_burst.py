"""Issue 9, finding 1: parallel guesses must not get past the failed-login throttle.

Real `gatepass serve` processes, a burst of concurrent requests from threads released together;
on SQLite and PostgreSQL, and with two server processes on one database. Whatever the burst, at
most the threshold of passwords are checked (answered 400 ``invalid_grant``), every other
attempt is refused (429), and the right password sent after the burst is refused too.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from servers import Server, create_user, running

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
THRESHOLD = 5
BURST = 40


def burst(requests: list[Callable[[], httpx.Response]]) -> Counter[int]:
    """Send every request at once (one thread each, released together); count the statuses."""
    gate = threading.Barrier(len(requests))

    def go(send: Callable[[], httpx.Response]) -> int:
        gate.wait()
        return send().status_code

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return Counter(pool.map(go, requests))


def password_grant(url: str, password: str) -> Callable[[], httpx.Response]:
    form = {"grant_type": "password", "username": "bob", "password": password}
    return lambda: httpx.post(url + "/oauth/token", data=form, timeout=60)


def session_login(url: str, password: str) -> Callable[[], httpx.Response]:
    body = {"username": "bob", "password": password}
    headers = {"X-Requested-With": "test"}
    return lambda: httpx.post(url + "/auth/login", json=body, headers=headers, timeout=60)


def _servers(tmp_path: Path, database_url: str, n: int) -> list[Server]:
    data = tmp_path / "data"
    settings = {"login_account_threshold": str(THRESHOLD)}
    if database_url.startswith("postgresql"):
        settings["database_url"] = database_url
    return [Server(data, **settings) for _ in range(n)]


def test_parallel_wrong_passwords_get_at_most_the_threshold_checked(tmp_path) -> None:
    (srv,) = _servers(tmp_path, "sqlite", 1)
    with running(srv):
        create_user(srv.env, "bob", PASSWORD)
        # the password grant and the session login count on the same keys
        sends = [password_grant(srv.url, f"wrong guess {i}") for i in range(BURST // 2)]
        sends += [session_login(srv.url, f"wrong guess {i}") for i in range(BURST // 2)]
        statuses = burst(sends)
        assert statuses[400] == THRESHOLD, statuses
        assert statuses[429] == BURST - THRESHOLD, statuses
        assert password_grant(srv.url, PASSWORD)().status_code == 429


def test_parallel_guesses_across_two_server_processes_share_the_threshold(
    tmp_path, database_url
) -> None:
    servers = _servers(tmp_path, database_url, 2)
    with running(*servers):
        create_user(servers[0].env, "bob", PASSWORD)
        sends = [password_grant(servers[i % 2].url, f"wrong guess {i}") for i in range(BURST)]
        statuses = burst(sends)
        assert statuses[400] <= THRESHOLD and statuses[200] == 0, statuses
        assert statuses[400] + statuses[429] == BURST, statuses
        for srv in servers:
            assert password_grant(srv.url, PASSWORD)().status_code == 429


def test_stolen_token_cannot_brute_force_the_current_password(tmp_path) -> None:
    """`/auth/password` checks `current_password` through the same throttle: a burst with a
    stolen access token gets at most the threshold checked, and the right one is refused."""
    (srv,) = _servers(tmp_path, "sqlite", 1)
    with running(srv):
        create_user(srv.env, "bob", PASSWORD)
        token = password_grant(srv.url, PASSWORD)().json()["access_token"]

        def change(current: str) -> Callable[[], httpx.Response]:
            body = {"current_password": current, "new_password": "taken over at last"}
            headers = {"Authorization": f"Bearer {token}"}
            return lambda: httpx.post(
                srv.url + "/auth/password", json=body, headers=headers, timeout=60
            )

        statuses = burst([change(f"wrong guess {i}") for i in range(BURST)])
        assert statuses[400] <= THRESHOLD and statuses[204] == 0, statuses
        assert statuses[400] + statuses[429] == BURST, statuses
        assert change(PASSWORD)().status_code == 429
