"""Starting `gatepass serve` for a benchmark: a free loopback port, a fresh data directory,
stopped by pid. (The test suite has its own copy in tests/servers.py; bench/ stays
independent of tests/.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

GATEPASS = str(Path(sys.executable).with_name("gatepass"))
SECRET = "bench-master-secret-0123456789abcdef"
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path | None = None, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="gatepass-bench-"))
        settings.setdefault("ISSUER", self.url)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPASS_")}
        self.env.update(
            GATEPASS_DATA_DIR=str(self.data_dir),
            GATEPASS_SECRET_KEY=SECRET,
            GATEPASS_LOG_LEVEL="error",
            GATEPASS_LOGIN_ACCOUNT_THRESHOLD="100000",
            GATEPASS_LOGIN_IP_THRESHOLD="100000",
        )
        self.env.update({f"GATEPASS_{k.upper()}": v for k, v in settings.items()})
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        r = subprocess.run(
            [GATEPASS, *args], env=self.env, input=stdin, capture_output=True, text=True
        )
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        return r.stdout

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            [GATEPASS, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def pg_database() -> tuple[str, object]:
    """A fresh database on the local PostgreSQL; returns (url, drop())."""
    import asyncio
    import secrets

    import asyncpg

    name = "gatepass_bench_" + secrets.token_hex(4)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="test")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return f"postgresql://postgres@127.0.0.1:5432/{name}", drop
