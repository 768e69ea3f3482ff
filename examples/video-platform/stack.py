"""Set up and run the video platform on loopback: Redis, gatepass, nginx and the app's API.

Used by ``demo.py`` (``make demo``) and by ``tests/test_video_platform.py``. Everything made at
setup (the HLS media, hls.js from npm, nginx's configuration, gatepass's data) goes under one
state directory; every process is started here and stopped by its pid, in reverse order.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"

# program -> the line that installs it (Debian)
SYSTEM_PACKAGES = {
    "nginx": "apt-get install -y nginx-light",
    "ffmpeg": "apt-get install -y ffmpeg",
    "redis-server": "apt-get install -y redis-server",
    "npm": "apt-get install -y npm",
}

# Demo users: (name, password, roles). A subscriber sees every video, a free user the free ones.
USERS = (
    ("alice", "alice-subscriber-pass", ("subscriber",)),
    ("bob", "bob-free-user-pass", ()),
    ("ops", "ops-admin-pass-0123", ("admin",)),
)
# video id -> ffmpeg test source (a few seconds of test pattern with a tone)
VIDEOS = {"intro": ("testsrc2", 440), "premiere": ("smptehdbars", 660)}
SECONDS, SEGMENT = 6, 1


class MissingPackage(RuntimeError):
    pass


def find_program(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if os.access(p, os.X_OK)),
        None,
    )
    if found is None:
        raise MissingPackage(f"{name} is not installed: {SYSTEM_PACKAGES[name]}")
    return found


def missing_packages() -> list[str]:
    """One line per missing program, naming the command that installs it."""
    out = []
    for name in SYSTEM_PACKAGES:
        try:
            find_program(name)
        except MissingPackage as exc:
            out.append(str(exc))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_until(ok: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s")


def http_ok(url: str) -> Callable[[], bool]:
    import httpx

    def ok() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    return ok


# -- setup: media, hls.js ---------------------------------------------------------------------
def make_media(root: Path) -> None:
    """HLS in fMP4 with VP9 video and Opus audio (what Debian's Chromium decodes for sure; its
    H.264 support depends on the build), ``SEGMENT``-second segments, made once per state dir."""
    ffmpeg = find_program("ffmpeg")
    for vid, (source, tone) in VIDEOS.items():
        out = root / "videos" / vid
        if (out / "master.m3u8").exists():
            continue
        tmp = out.with_name(vid + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        cmd = [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"{source}=size=320x180:rate=25:duration={SECONDS}",
            "-f", "lavfi", "-i", f"sine=frequency={tone}:duration={SECONDS}",
            "-c:v", "libvpx-vp9", "-b:v", "250k", "-deadline", "realtime", "-cpu-used", "8",
            "-g", "25", "-keyint_min", "25", "-pix_fmt", "yuv420p",
            "-c:a", "libopus", "-b:a", "48k",
            "-f", "hls", "-hls_time", str(SEGMENT), "-hls_playlist_type", "vod",
            "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", str(tmp / "seg%d.m4s"),
            "-master_pl_name", "master.m3u8", str(tmp / "stream.m3u8"),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, timeout=300)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)


def vendor_hls() -> Path:
    """hls.js from the npm registry (package-lock.json pins it), installed next to this file."""
    dist = HERE / "node_modules" / "hls.js" / "dist"
    if not (dist / "hls.mjs").exists():
        npm = find_program("npm")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(HERE)],
            check=True,
            timeout=600,
            stdout=subprocess.DEVNULL,
        )
    return dist


# -- processes -------------------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]

    def stop(self) -> None:
        p = self.popen
        if p.poll() is not None:
            return
        # nginx stops gracefully on SIGQUIT (its master ends its workers); the others on SIGTERM
        os.kill(p.pid, signal.SIGQUIT if self.name == "nginx" else signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=15)


@dataclass
class Settings:
    """What a run may change: short lifetimes make the tests quick."""

    port: int = 0  # nginx, the public origin; 0: a free port
    access_token_ttl: int = 300
    refresh_reuse_grace: int = 10
    playback_ttl: int = 600
    api_leeway: int = 5


@dataclass
class Stack:
    state: Path
    settings: Settings = field(default_factory=Settings)
    procs: list[Proc] = field(default_factory=list)
    origin: str = ""
    gatepass_url: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    def log_tails(self, lines: int = 15) -> str:
        """The last lines of each process's log: what a failed check prints beside its answer."""
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> Proc:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as out:
            popen = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc = Proc(name, popen)
        self.procs.append(proc)
        return proc

    def _alive(self, proc: Proc, check: Callable[[], bool]) -> Callable[[], bool]:
        def ok() -> bool:
            if proc.popen.poll() is not None:
                log = (self.logs / f"{proc.name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{proc.name} exited:\n{log}")
            return check()

        return ok

    def gatepass_cli(self, *args: str, stdin: str | None = None) -> str:
        r = subprocess.run(
            [str(BIN / "gatepass"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if r.returncode != 0:
            raise RuntimeError(f"gatepass {args[0]} failed: {r.stderr.strip()[-500:]}")
        return r.stdout

    def start(self) -> Stack:
        problems = missing_packages()
        if problems:
            raise MissingPackage("\n".join(problems))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        s = self.settings
        self.state.mkdir(parents=True, exist_ok=True)
        make_media(self.state / "media")
        vendor = vendor_hls()
        port = s.port or free_port()
        self.origin = f"http://{HOST}:{port}"

        # Redis of our own: gatepass publishes revocations there, the API's SDK follows them
        redis_port = free_port()
        redis = self._spawn(
            "redis",
            [
                find_program("redis-server"), "--port", str(redis_port), "--bind", HOST,
                "--save", "", "--appendonly", "no",
            ],
        )  # fmt: skip
        wait_until(self._alive(redis, _redis_up(redis_port)), "redis-server")
        redis_url = f"redis://{HOST}:{redis_port}/0"

        data = self.state / "gatepass-data"
        shutil.rmtree(data, ignore_errors=True)  # a fresh login database every run
        gp_port = free_port()
        self.gatepass_url = f"http://{HOST}:{gp_port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPASS_")}
        self.env.update(
            GATEPASS_DATA_DIR=str(data),
            GATEPASS_SECRET_KEY=secrets.token_urlsafe(32),
            GATEPASS_ISSUER=self.origin,
            GATEPASS_REDIS_URL=redis_url,
            GATEPASS_DEFAULT_SCOPES="profile videos:read",
            GATEPASS_TRUSTED_PROXIES=HOST,
            GATEPASS_ACCESS_TOKEN_TTL=str(s.access_token_ttl),
            GATEPASS_REFRESH_REUSE_GRACE=str(s.refresh_reuse_grace),
            GATEPASS_LOG_LEVEL="info",
        )
        # one CLI call (each costs an interpreter start): the operator; the rest over HTTP
        admin_name, admin_password, admin_roles = USERS[-1]
        self.gatepass_cli(
            "user", "create", admin_name, "--role", *admin_roles, "--password-stdin",
            stdin=admin_password + "\n",
        )  # fmt: skip
        gp = self._spawn(
            "gatepass", [str(BIN / "gatepass"), "serve", "--host", HOST, "--port", str(gp_port)],
            self.env,
        )  # fmt: skip
        wait_until(self._alive(gp, http_ok(self.gatepass_url + "/healthz")), "gatepass")
        client = self._provision()
        web_client = self._register_web_app()

        api_port = free_port()
        prefix = self.state / "nginx"
        prefix.mkdir(exist_ok=True)
        conf = (HERE / "nginx.conf.in").read_text()
        for name, value in {
            "@PREFIX@": str(prefix),
            "@LISTEN@": f"{HOST}:{port}",
            "@GATEPASS@": f"{HOST}:{gp_port}",
            "@API@": f"{HOST}:{api_port}",
            "@WEB_ROOT@": str(HERE / "web"),
            "@VENDOR@": str(vendor),
            "@MEDIA_ROOT@": str(self.state / "media"),
            "@WEB_CLIENT_ID@": web_client,
            # as root, workers would become "nobody", who may not read the state dir
            "@USER@": "user root;" if os.geteuid() == 0 else "",
        }.items():
            conf = conf.replace(name, value)
        (prefix / "nginx.conf").write_text(conf)
        nginx_cmd = [find_program("nginx"), "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
        subprocess.run([*nginx_cmd, "-t", "-q"], check=True, capture_output=True, timeout=30)
        nginx = self._spawn("nginx", [*nginx_cmd, "-g", "daemon off;"])
        wait_until(self._alive(nginx, http_ok(self.origin + "/")), "nginx")

        api_env = dict(os.environ)
        api_env.update(
            VIDEO_ISSUER=self.origin,
            VIDEO_GATEPASS_URL=self.gatepass_url,
            VIDEO_CLIENT_ID=client["client_id"],
            VIDEO_CLIENT_SECRET=client["client_secret"],
            VIDEO_REDIS_URL=redis_url,
            VIDEO_PLAYBACK_TTL=str(s.playback_ttl),
            VIDEO_LEEWAY=str(s.api_leeway),
        )
        api = self._spawn(
            "api",
            [
                str(BIN / "python"), "-m", "uvicorn", "--app-dir", str(HERE), "--factory",
                "api:create_app", "--host", HOST, "--port", str(api_port), "--no-access-log",
            ],
            api_env,
        )  # fmt: skip
        wait_until(self._alive(api, http_ok(self.origin + "/api/healthz")), "the API")

    def admin_token(self) -> str:
        """An access token of the demo operator (role admin), through the built-in client."""
        import httpx

        name, password, _ = USERS[-1]
        r = httpx.post(
            self.gatepass_url + "/oauth/token",
            data={
                "grant_type": "password",
                "username": name,
                "password": password,
                "scope": "gatepass:admin",  # the admin API needs it (DESIGN.md, Administration)
            },
            timeout=30,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def _provision(self) -> dict[str, str]:
        """The demo users and the API's OAuth client (client_credentials, scope urls:sign),
        through gatepass's admin API; returns the client's id and secret."""
        import httpx

        headers = {"Authorization": f"Bearer {self.admin_token()}"}
        with httpx.Client(base_url=self.gatepass_url, headers=headers, timeout=30) as http:
            for name, password, roles in USERS[:-1]:
                r = http.post(
                    "/admin/users",
                    json={"username": name, "password": password, "roles": list(roles)},
                )
                r.raise_for_status()
            r = http.post(
                "/admin/clients",
                json={
                    "name": "video-api",
                    "grants": ["client_credentials"],
                    "scopes": ["urls:sign"],
                },
            )
            r.raise_for_status()
            body = r.json()
        return {"client_id": body["client_id"], "client_secret": body["client_secret"]}

    def _register_web_app(self) -> str:
        """The single-page app's own client: public (a page keeps no secret), the code grant
        with the refresh grant, this origin's page as its redirect URI and post-logout redirect
        URI, first-party (its users are not asked for consent); returns its id."""
        import httpx

        page = self.origin + "/"
        r = httpx.post(
            self.gatepass_url + "/admin/clients",
            headers={"Authorization": f"Bearer {self.admin_token()}"},
            json={
                "name": "Video platform",
                "public": True,
                "first_party": True,
                "grants": ["authorization_code", "refresh_token"],
                "scopes": ["profile", "videos:read"],
                "redirect_uris": [page],
                "post_logout_redirect_uris": [page],
            },
            timeout=30,
        )
        r.raise_for_status()
        return str(r.json()["client_id"])

    def stop(self) -> None:
        """Stop each process by its pid, the last started first."""
        while self.procs:
            self.procs.pop().stop()


def _redis_up(port: int) -> Callable[[], bool]:
    def ok() -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    return ok
