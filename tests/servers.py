"""Real processes for fault tests and benchmarks: `gatepass serve` and a private redis-server,
each on a free loopback port, always stopped by pid (never by name, never the machine's shared
servers); a fresh PostgreSQL database; and a TCP relay whose path to a server can be cut.

The benchmarks in bench/ use this module too (they put tests/ on their path)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
GATEPASS = str(Path(sys.executable).with_name("gatepass"))
SECRET = "test-master-secret-0123456789abcdef"


# a server under load (the benchmarks): quiet logs, and failed logins never throttled
UNDER_LOAD = {
    "LOG_LEVEL": "error",
    "LOGIN_ACCOUNT_THRESHOLD": "100000",
    "LOGIN_ACCOUNT_CEILING": "100000",  # at least the threshold, or the settings refuse to load
    "LOGIN_IP_THRESHOLD": "100000",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:``port``: a server started there would fail
    to bind, and that process would answer its readiness check instead."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.02) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def base_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPASS_")}
    env.update(
        GATEPASS_DATA_DIR=str(data_dir),
        GATEPASS_SECRET_KEY=SECRET,
        GATEPASS_LOG_LEVEL="warning",
        # keep password hashing at the OWASP minimum so logins are quick
        GATEPASS_ARGON2_MEMORY_KIB="19456",
    )
    env.update({f"GATEPASS_{k.upper()}": v for k, v in settings.items()})
    return env


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    r = subprocess.run(
        [GATEPASS, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )
    if r.returncode != 0:
        raise RuntimeError(f"gatepass {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


class Server:
    """One `gatepass serve` process (on a fresh temporary data directory unless given one)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        workers: int = 1,
        **settings: str,
    ) -> None:
        data_dir = data_dir or Path(tempfile.mkdtemp(prefix="gatepass-"))
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings.setdefault("ISSUER", self.url)
        self.env = base_env(data_dir, **settings)
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"server-{self.port}.log"

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """``gatepass ARGS`` with this server's settings."""
        return cli(self.env, *args, stdin=stdin)

    def start(self, timeout: float = 60) -> Server:
        if listening(self.port):
            raise RuntimeError(f"port {self.port} is in use by another process")
        data = Path(self.env["GATEPASS_DATA_DIR"])
        data.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        cmd = [GATEPASS, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        self.proc = subprocess.Popen(
            cmd,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                return httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_until(up, timeout=timeout):
            self.stop()
            raise RuntimeError("server did not start")
        return self

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@contextlib.contextmanager
def running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    try:
        for s in servers:
            s.start()
        yield servers
    finally:
        for s in servers:
            s.stop()


def pg_database(host: str = "127.0.0.1", port: int = 5432) -> tuple[str, Callable[[], None]]:
    """A fresh database on the PostgreSQL server at ``host:port``: (its URL, drop())."""
    import asyncio
    import secrets

    import asyncpg

    name = "gatepass_t_" + secrets.token_hex(6)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(host=host, port=port, user="postgres", database="test")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return f"postgresql://postgres@{host}:{port}/{name}", drop


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        from conftest import need_binary

        exe = need_binary("redis-server", "apt-get install -y redis-server")
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        if not wait_until(up, timeout=10):
            self.kill()
            raise RuntimeError("redis-server did not start")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def create_user(
    env: dict[str, str],
    name: str,
    password: str,
    *roles: str,
    email: str | None = None,
    full_name: str | None = None,
) -> str:
    """Make a user with ``gatepass user create``; its id."""
    import json

    args = ["user", "create", name, "--password-stdin", "--json"]
    for r in roles:
        args += ["--role", r]
    if email is not None:
        args += ["--email", email]
    if full_name is not None:
        args += ["--name", full_name]
    user_id: str = json.loads(cli(env, *args, stdin=password + "\n"))["id"]
    return user_id


def create_oidc_client(
    env: dict[str, str],
    name: str,
    *,
    redirect_uri: str,
    post_logout_redirect_uri: str | None = None,
    first_party: bool = False,
    public: bool = False,
    grants: tuple[str, ...] = ("authorization_code", "refresh_token"),
    extra: tuple[str, ...] = (),
) -> dict[str, str | None]:
    """A client for the authorization code flow (DESIGN "OpenID Connect"), made with
    ``gatepass client create``: ``{"client_id", "client_secret"}`` (the secret None if public)."""
    import json

    args = ["client", "create", name, "--redirect-uri", redirect_uri, "--json", *extra]
    for g in grants:
        args += ["--grant", g]
    if post_logout_redirect_uri is not None:
        args += ["--post-logout-redirect-uri", post_logout_redirect_uri]
    if first_party:
        args.append("--first-party")
    if public:
        args.append("--public")
    out: dict[str, str | None] = json.loads(cli(env, *args))
    return out


class TcpRelay:
    """A TCP forwarder from a local port to ``host:port``: a real network path that a test can
    cut (every connection reset, new ones refused, as when a database server goes away) and
    restore, without touching the server behind it."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpRelay:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        if self._listener is not None:  # shutdown too: close alone leaves accept() listening
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._open = self._open, set()
        for conn in conns:  # shutdown, not just close: it also wakes the pump blocked in recv
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def restore(self) -> None:
        self.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()
