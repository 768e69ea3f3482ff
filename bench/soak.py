#!/usr/bin/env python3
"""Soak: every endpoint of gatepass mixed, at a fixed moderate rate, for a long time; does the
memory of the workers, the SQLite WAL or the PostgreSQL connection count keep growing?

    .venv/bin/python bench/soak.py                      # 30 min on SQLite, then 30 on PostgreSQL
    .venv/bin/python bench/soak.py --minutes 2 --db sqlite
    .venv/bin/python bench/soak.py --db postgresql --rate 200 --workers 2 --json out.json

Server: ``gatepass serve --workers N`` (tests/servers.py) on a fresh temporary data directory,
on SQLite there or on a fresh PostgreSQL database created on 127.0.0.1:5432 from ``test`` and
dropped afterwards; quiet logs and no login throttling (``servers.UNDER_LOAD``).

Load: an open-loop generator in this process (uvloop, keep-alive HTTP/1.1 over httptools): arrivals at fixed intervals of
1/rate, each a kind drawn at random by weight (``MIX``), each started on time whether or not the
earlier ones have answered (so the rate is the rate asked for, not what the server can take; an
arrival that finds ``--max-in-flight`` requests outstanding is counted as dropped, and the
generator's own lateness is reported). Kinds and what counts as their expected answer:

  cc_jwt, cc_opaque     POST /oauth/token client_credentials (JWT / opaque client)     200
  introspect            POST /oauth/introspect of a live opaque token                  200 active
  revoke                POST /oauth/revoke of an opaque or a JWT access token          200
  refresh               POST /oauth/token refresh_token, 64 chains (rotation)          200
  profile_fresh         GET /api/profile with a JWT never presented before             200
  profile_repeat        GET /api/profile with the same JWT (renewed every minute)      200
  auth_login            POST /auth/login (Argon2id, so rare), cookie kept              200
  auth_refresh          POST /auth/refresh with a kept cookie (rotates it)             200
  auth_logout           POST /auth/logout of the oldest kept cookie beyond 16          204
  edge_ok, edge_refused GET /edge/verify of a signed URL / of a forged one             204 / 403
  jwks, discovery       GET /.well-known/jwks.json / openid-configuration              200
  authorize, code_token the code flow with PKCE on a session from the hosted login    302 / 200
  userinfo              GET /oauth/userinfo with the code flow's access token          200

Sampled every ``--sample`` seconds from /proc and the database: the RSS of every worker
process (and of the supervisor), the size of the SQLite ``-wal`` file, and the connections
to the run's PostgreSQL database (``pg_stat_activity``). Reported per database: RSS after the
warm-up, peak and at the end; WAL and connections at the start, peak, end; requests, errors
(any other status or a failed check) and p50/p99 per kind (after the warm-up). A progress
line goes to stderr every ``--progress`` seconds. Target (issue 10): RSS at the end within 10%
of its value after the warm-up, no error, the WAL bounded.

``--trace-memory``: to find what grows. The server runs with a ``sitecustomize`` on its path
that, at SIGUSR2, starts tracemalloc in that worker and writes a snapshot and its objects
counted by type (``gc.get_objects``); the workers get one signal at the end of the warm-up and
one once the last answers are in, and the report lists what was allocated in between and is
still alive, by allocation site, and which types of objects grew. It slows the workers: its
figures are for finding a cause, not for the RSS table.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from authorize import REDIRECT, Target, cpu_seconds, first_login, pct, pkce  # noqa: E402
from lean_http import NETWORK, Answer, Client  # noqa: E402
from oauth_vs_oidc import descendants  # noqa: E402

from html_browser import Browser, sign_in  # noqa: E402
from servers import (  # noqa: E402
    UNDER_LOAD,
    Server,
    create_oidc_client,
    create_user,
    pg_database,
)

USER, PASSWORD = "soak", "correct horse battery staple"
EDGE_BASE = "http://edge.invalid"
CHAINS = 64  # refresh-token chains rotated in turn
COOKIES = 16  # browser sessions kept; beyond that auth_logout ends the oldest

# kind -> weight (requests per 100 arrivals, roughly; a code flow arrival is two requests)
MIX: dict[str, float] = {
    "cc_jwt": 11,
    "cc_opaque": 9,
    "introspect": 10,
    "revoke": 4,
    "refresh": 10,
    "profile_fresh": 9,
    "profile_repeat": 12,
    "auth_login": 0.5,
    "auth_refresh": 4,
    "auth_logout": 0.5,
    "edge_ok": 9,
    "edge_refused": 2,
    "jwks": 3,
    "discovery": 3,
    "code_flow": 4,  # authorize + code_token
    "userinfo": 5,
}
KINDS = [k for k in MIX if k != "code_flow"] + ["authorize", "code_token"]


# ---------------------------------------------------------------------------- server setup
@dataclass
class Setup:
    db: str
    server: Server
    data_dir: Path
    drop: Any
    pg_name: str | None
    jwt_auth: tuple[str, str]
    opaque_auth: tuple[str, str]
    code: Target
    chains: list[str]
    edge_ok: list[str]
    edge_refused: list[str]


def cli_json(server: Server, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(server.cli(*args))
    return out


def start(db: str, workers: int, trace: bool = False) -> Setup:
    data_dir = Path(tempfile.mkdtemp(prefix=f"gatepass-soak-{db}-"))
    settings = dict(UNDER_LOAD, SIGNED_URL_BASE=EDGE_BASE, ACCESS_LOG="false")
    drop, pg_name = None, None
    if db == "postgresql":
        url, drop = pg_database()
        pg_name = url.rsplit("/", 1)[1]
        settings["DATABASE_URL"] = url
    server = Server(data_dir, workers=workers, **settings)
    try:
        user_id = create_user(
            server.env, USER, PASSWORD, email="soak@example.com", full_name="Soak User"
        )
        jwt = cli_json(
            server,
            "client",
            "create",
            "soak-jwt",
            "--grant",
            "client_credentials",
            "--grant",
            "refresh_token",
            "--scope",
            "api:read",
            "--scope",
            "profile",
            "--json",
        )
        opaque = cli_json(
            server,
            "client",
            "create",
            "soak-opaque",
            "--grant",
            "client_credentials",
            "--scope",
            "api:read",
            "--token-format",
            "opaque",
            "--json",
        )
        code = create_oidc_client(
            server.env,
            "soak-code",
            redirect_uri=REDIRECT,
            first_party=True,
            grants=("authorization_code",),
        )
        # refresh chains: logins started on the database, as bench/oauth_vs_oidc.py seeds them
        seeded = subprocess.run(
            [
                sys.executable,
                str(HERE / "oauth_vs_oidc.py"),
                "seed",
                "--n",
                str(CHAINS),
                "--client-id",
                jwt["client_id"],
                "--user-id",
                user_id,
            ],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        chains = seeded.stdout.split()
        ok = []
        for i in range(2):
            signed = cli_json(server, "sign-url", f"/videos/{i}/", "--ttl", "86400", "--json")
            ok.append(signed["url"].removeprefix(EDGE_BASE))
        refused = [u.replace("/videos/", "/videos/9") for u in ok]  # outside the signed prefix
        if trace:  # the server only, not the commands above
            server.env.update(trace_env(data_dir))
        server.start(timeout=300)  # two workers importing on a loaded machine may take a while
        if workers > 1:
            time.sleep(2)  # every worker up
        meta = httpx.get(server.url + "/.well-known/openid-configuration", timeout=10).json()
        target = Target(
            "gatepass",
            db,
            server.proc.pid if server.proc else 0,
            meta["authorization_endpoint"],
            meta["token_endpoint"],
            str(code["client_id"]),
            str(code["client_secret"]),
            cookie="",
            scope="openid profile email",
        )
        browser = Browser()
        try:
            first_login(browser, target, sign_in(USER, PASSWORD))  # the hosted login page
        finally:
            browser.close()
        return Setup(
            db,
            server,
            data_dir,
            drop,
            pg_name,
            (jwt["client_id"], jwt["client_secret"]),
            (opaque["client_id"], opaque["client_secret"]),
            target,
            chains,
            ok,
            refused,
        )
    except BaseException:
        stop(server, data_dir, drop)
        raise


def stop(server: Server, data_dir: Path, drop: Any) -> None:
    try:
        tree = descendants(server.proc.pid) if server.proc is not None else []
        server.stop()
        for pid in tree[1:]:  # a worker that outlived its supervisor
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
    finally:
        if drop is not None:
            drop()
        shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------------------- sampling
def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def processes(root: int) -> dict[str, int]:
    """role -> pid: the supervisor and each worker (multiprocessing's helpers left out)."""
    out = {"supervisor": root}
    n = 0
    for pid in descendants(root)[1:]:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"resource_tracker" in cmd or b"semaphore_tracker" in cmd:
            continue
        n += 1
        out[f"worker{n}"] = pid
    if n == 0:  # one worker: the process itself serves
        out = {"worker1": root}
    return out


def wal_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("*-wal") if p.exists())


@dataclass
class Series:
    """Samples of one figure: (seconds since start, value)."""

    points: list[tuple[float, float]] = field(default_factory=list)

    def add(self, t: float, v: float) -> None:
        self.points.append((t, v))

    def at(self, t: float) -> float | None:
        """The first value sampled at or after ``t``."""
        return next((v for s, v in self.points if s >= t), None)

    def summary(self, warm: float) -> dict[str, float | None]:
        vals = [v for _, v in self.points]
        if not vals:
            return {"start": None, "after_warmup": None, "peak": None, "end": None}
        after = [v for s, v in self.points if s >= warm]
        return {
            "start": vals[0],
            "after_warmup": self.at(warm),
            "peak": max(vals),
            "peak_after_warmup": max(after) if after else None,
            "end": vals[-1],
        }


# ---------------------------------------------------------------------------- --trace-memory
# Put on the server's PYTHONPATH: every process of the server, on SIGUSR2, traces its
# allocations from then on (tracemalloc) and writes a snapshot and its live objects by type.
TRACER = """
import os
if os.environ.get("SOAK_TRACE_DIR"):
    import collections, gc, json, signal, time, tracemalloc

    def _dump(signum, frame):
        # the first signal starts tracing (tracing a whole start-up under load takes minutes),
        # so the last snapshot holds what was allocated since the first and is still alive
        if not tracemalloc.is_tracing():
            tracemalloc.start(int(os.environ.get("SOAK_TRACE_FRAMES", "6")))
        out = os.path.join(os.environ["SOAK_TRACE_DIR"], f"{os.getpid()}-{time.time():.0f}")
        gc.collect()
        tracemalloc.take_snapshot().dump(out + ".tm")
        counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
        with open(out + ".types.json", "w") as f:
            json.dump(counts, f)
        os.rename(out + ".tm", out + ".snap")  # complete

    signal.signal(signal.SIGUSR2, _dump)
"""


def trace_env(work: Path) -> dict[str, str]:
    site = work / "trace-site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(TRACER)
    out = work / "trace"
    out.mkdir(exist_ok=True)
    path = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": os.pathsep.join(p for p in (str(site), path) if p),
        "SOAK_TRACE_DIR": str(out),
    }


async def dump_memory(pids: dict[str, int], out: Path, timeout: float = 120) -> dict[str, Path]:
    """SIGUSR2 to each worker; the path of each one's snapshot, once written."""
    before = set(out.glob("*.snap"))
    for role, pid in pids.items():
        if role != "supervisor":
            os.kill(pid, signal.SIGUSR2)
    found: dict[str, Path] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(found) < len(pids) - ("supervisor" in pids):
        await asyncio.sleep(1)
        for snap in set(out.glob("*.snap")) - before:
            pid = int(snap.name.split("-")[0])
            role = next((r for r, p in pids.items() if p == pid), None)
            if role is not None:
                found[role] = snap
    return found


def memory_diff(first: Path, last: Path, top: int = 15) -> dict[str, Any]:
    """What grew between two snapshots of one worker: by allocation site and by type."""
    import tracemalloc

    a = tracemalloc.Snapshot.load(str(first))
    b = tracemalloc.Snapshot.load(str(last))
    sites = []
    for st in b.compare_to(a, "traceback")[:top]:
        frames = [
            f"{f.filename.split('site-packages/')[-1].split('/src/')[-1]}:{f.lineno}"
            for f in list(st.traceback)[-4:]
        ]
        sites.append({"kib": st.size_diff / 1024, "count": st.count_diff, "at": frames})
    ta = json.loads(first.with_suffix(".types.json").read_text())
    tb = json.loads(last.with_suffix(".types.json").read_text())
    types = sorted(((tb.get(k, 0) - ta.get(k, 0), k) for k in set(ta) | set(tb)), reverse=True)
    traced = (
        sum(s.size for s in a.statistics("filename")) / 2**20,
        sum(s.size for s in b.statistics("filename")) / 2**20,
    )
    return {
        "traced_mib": traced,
        "sites": sites,
        "types": [{"type": k, "more": d} for d, k in types[:top]],
    }


# ---------------------------------------------------------------------------- the load
class Soak:
    def __init__(self, s: Setup, args: argparse.Namespace) -> None:
        self.s = s
        self.args = args
        self.base = s.server.url
        self.rng = random.Random(args.seed)
        self.lat: dict[str, list[float]] = {k: [] for k in KINDS}
        self.count: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.error_samples: dict[str, str] = {}
        self.dropped = 0
        self.late: list[float] = []
        self.in_flight = 0
        self.warm = args.warmup
        self.t0 = 0.0
        # token pools
        self.introspectable: collections.deque[str] = collections.deque(maxlen=512)
        self.revocable: collections.deque[tuple[str, tuple[str, str]]] = collections.deque(
            maxlen=512
        )
        self.fresh: collections.deque[str] = collections.deque(maxlen=512)
        self.repeat: str | None = None
        self.repeat_at = 0.0
        self.chains: collections.deque[str] = collections.deque(s.chains)
        self.cookies: collections.deque[str] = collections.deque()
        self.userinfo: collections.deque[str] = collections.deque(maxlen=64)
        self.rss: dict[str, Series] = {}
        self.wal = Series()
        self.pg = Series()
        self.pids: dict[str, int] = {}
        self.snaps: dict[str, dict[str, Path]] = {}

    # -- helpers
    def now(self) -> float:
        return time.perf_counter() - self.t0

    def record(self, kind: str, started: float, ok: bool, detail: str = "") -> None:
        self.count[kind] += 1
        if not ok:
            self.errors[kind] += 1
            self.error_samples.setdefault(f"{kind}: {detail}"[:60], detail[:200])
        elif started - self.t0 >= self.warm:
            self.lat[kind].append(time.perf_counter() - started)

    async def call(
        self, kind: str, method: str, path: str, expect: int, check: str | None = None, **kw: Any
    ) -> Answer | None:
        started = time.perf_counter()
        try:
            r = await self.http.request(method, path, **kw)
        except NETWORK as e:
            self.record(kind, started, False, type(e).__name__)
            return None
        ok = r.status_code == expect and (check is None or check in r.text)
        self.record(kind, started, ok, f"{r.status_code} {r.text[:120]}" if not ok else "")
        return r if ok else None

    # -- kinds
    async def cc_jwt(self) -> None:
        form = {"grant_type": "client_credentials", "scope": "api:read profile"}
        r = await self.call("cc_jwt", "POST", "/oauth/token", 200, data=form, auth=self.s.jwt_auth)
        if r is not None:
            token = r.json()["access_token"]
            if self.rng.random() < 0.1:
                self.revocable.append((token, self.s.jwt_auth))
            else:
                self.fresh.append(token)

    async def cc_opaque(self) -> None:
        form = {"grant_type": "client_credentials", "scope": "api:read"}
        r = await self.call(
            "cc_opaque", "POST", "/oauth/token", 200, data=form, auth=self.s.opaque_auth
        )
        if r is not None:
            token = r.json()["access_token"]
            if self.rng.random() < 0.3:
                self.revocable.append((token, self.s.opaque_auth))
            else:
                self.introspectable.append(token)

    async def introspect(self) -> None:
        if not self.introspectable:
            return await self.cc_opaque()
        token = self.introspectable[self.rng.randrange(len(self.introspectable))]
        await self.call(
            "introspect",
            "POST",
            "/oauth/introspect",
            200,
            '"active":true',
            data={"token": token},
            auth=self.s.jwt_auth,
        )

    async def revoke(self) -> None:
        if not self.revocable:
            return await self.cc_opaque()
        token, auth = self.revocable.popleft()  # revoked by the client it was issued to
        await self.call("revoke", "POST", "/oauth/revoke", 200, data={"token": token}, auth=auth)

    async def refresh(self) -> None:
        if not self.chains:
            self.dropped += 1
            return
        rt = self.chains.popleft()
        r = await self.call(
            "refresh",
            "POST",
            "/oauth/token",
            200,
            data={"grant_type": "refresh_token", "refresh_token": rt},
            auth=self.s.jwt_auth,
        )
        if r is None:
            return  # this chain is lost (counted as an error)
        body = r.json()
        self.chains.append(body["refresh_token"])
        self.fresh.append(body["access_token"])

    async def profile_fresh(self) -> None:
        if not self.fresh:
            return await self.cc_jwt()
        token = self.fresh.popleft()
        await self.call(
            "profile_fresh",
            "GET",
            "/api/profile",
            200,
            "Welcome user",
            headers={"Authorization": f"Bearer {token}"},
        )

    async def profile_repeat(self) -> None:
        if self.repeat is None or self.now() - self.repeat_at > 60:
            if not self.fresh:
                return await self.cc_jwt()
            self.repeat, self.repeat_at = self.fresh.popleft(), self.now()
        await self.call(
            "profile_repeat",
            "GET",
            "/api/profile",
            200,
            "Welcome user",
            headers={"Authorization": f"Bearer {self.repeat}"},
        )

    def cookie_of(self, r: Answer) -> str | None:
        for header in r.headers_named("set-cookie"):
            name, _, rest = header.partition("=")
            if name.endswith("gp_refresh"):
                value = rest.split(";", 1)[0]
                return f"{name}={value}" if value else None
        return None

    async def auth_login(self) -> None:
        r = await self.call(
            "auth_login",
            "POST",
            "/auth/login",
            200,
            "access_token",
            json_body={"username": USER, "password": PASSWORD},
            headers={"X-Requested-With": "soak"},
        )
        if r is not None and (cookie := self.cookie_of(r)):
            self.cookies.append(cookie)

    async def auth_refresh(self) -> None:
        if not self.cookies:  # every kept session is being rotated: not this time
            self.dropped += 1
            return
        cookie = self.cookies.popleft()
        r = await self.call(
            "auth_refresh",
            "POST",
            "/auth/refresh",
            200,
            "access_token",
            headers={"X-Requested-With": "soak", "Cookie": cookie},
        )
        if r is not None and (new := self.cookie_of(r)):
            self.cookies.append(new)

    async def auth_logout(self) -> None:
        if len(self.cookies) <= COOKIES:  # keep the sessions' number steady
            return await self.auth_refresh()
        cookie = self.cookies.popleft()
        await self.call(
            "auth_logout",
            "POST",
            "/auth/logout",
            204,
            headers={"X-Requested-With": "soak", "Cookie": cookie},
        )

    async def edge_ok(self) -> None:
        uri = self.rng.choice(self.s.edge_ok)  # a segment under the signed prefix
        uri = uri.replace("/?", f"/seg{self.rng.randrange(1000)}.ts?", 1)
        await self.call("edge_ok", "GET", "/edge/verify", 204, headers={"X-Original-URI": uri})

    async def edge_refused(self) -> None:
        uri = self.rng.choice(self.s.edge_refused)
        await self.call("edge_refused", "GET", "/edge/verify", 403, headers={"X-Original-URI": uri})

    async def jwks(self) -> None:
        await self.call("jwks", "GET", "/.well-known/jwks.json", 200, '"keys"')

    async def discovery(self) -> None:
        path = self.rng.choice(
            ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
        )
        await self.call("discovery", "GET", path, 200, '"issuer"')

    async def code_flow(self) -> None:
        t = self.s.code
        verifier, challenge = pkce()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        url = urlsplit(t.url(state, nonce, challenge))
        started = time.perf_counter()
        try:
            r = await self.http.request(
                "GET", f"{url.path}?{url.query}", headers={"Cookie": t.cookie}
            )
        except NETWORK as e:
            return self.record("authorize", started, False, type(e).__name__)
        q = {k: v[0] for k, v in parse_qs(urlsplit(r.header("location") or "").query).items()}
        ok = r.status_code in (302, 303) and q.get("state") == state and "code" in q
        self.record("authorize", started, ok, f"{r.status_code} {sorted(q)}")
        if not ok:
            return
        form = {
            "grant_type": "authorization_code",
            "code": q["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        }
        r2 = await self.call(
            "code_token",
            "POST",
            "/oauth/token",
            200,
            '"id_token"',
            data=form,
            auth=(t.client_id, t.secret),
        )
        if r2 is not None:
            self.userinfo.append(r2.json()["access_token"])

    async def userinfo_(self) -> None:
        if not self.userinfo:
            return await self.code_flow()
        token = self.userinfo[self.rng.randrange(len(self.userinfo))]
        await self.call(
            "userinfo",
            "GET",
            "/oauth/userinfo",
            200,
            '"sub"',
            headers={"Authorization": f"Bearer {token}"},
        )

    # -- the run
    async def one(self, kind: str) -> None:
        try:
            fn = self.userinfo_ if kind == "userinfo" else getattr(self, kind)
            await fn()
        except Exception as e:  # noqa: BLE001 - a bug here or an odd answer: an error, not a crash
            self.errors[kind] += 1
            self.error_samples.setdefault(f"{kind}: {type(e).__name__}", repr(e)[:200])
        finally:
            self.in_flight -= 1

    async def sampler(self, stop_at: float) -> None:
        pg = None
        if self.s.pg_name is not None:
            import asyncpg

            pg = await asyncpg.connect(
                host="127.0.0.1", port=5432, user="postgres", database="test"
            )
        try:
            while True:
                t = self.now()
                assert self.s.server.proc is not None
                pids = processes(self.s.server.proc.pid)
                if self.pids and pids != self.pids:
                    self.errors["worker_restart"] += 1
                    self.error_samples.setdefault("worker_restart", f"{self.pids} -> {pids}")
                self.pids = pids
                for role, pid in pids.items():
                    kib = rss_kib(pid)
                    if kib is not None:
                        self.rss.setdefault(role, Series()).add(t, kib / 1024)
                if pg is not None:
                    n = await pg.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", self.s.pg_name
                    )
                    self.pg.add(t, float(n))
                else:
                    self.wal.add(t, wal_bytes(self.s.data_dir) / 2**20)
                if self.args.trace_memory and "warm" not in self.snaps and t >= self.warm:
                    self.snaps["warm"] = await dump_memory(pids, self.s.data_dir / "trace")
                if t >= stop_at:
                    return
                await asyncio.sleep(min(self.args.sample, max(0.0, stop_at - t)))
        finally:
            if pg is not None:
                await pg.close()

    def progress_line(self) -> str:
        t = self.now()
        total = sum(self.count.values())
        rss = " ".join(f"{r}={s.points[-1][1]:.0f}" for r, s in self.rss.items() if s.points)
        db = (
            f"pg_conns={self.pg.points[-1][1]:.0f}"
            if self.pg.points
            else f"wal={self.wal.points[-1][1]:.1f}MiB"
            if self.wal.points
            else ""
        )
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        cpu = (time.process_time() - self.cpu0) / max(t, 1e-9)
        assert self.s.server.proc is not None
        server = (cpu_seconds(self.s.server.proc.pid) - self.server_cpu0) / max(t, 1e-9)
        return (
            f"[{self.s.db} {t:6.0f}s] {total} requests ({total / max(t, 1e-9):.0f}/s), "
            f"CPU server {server:.2f} generator {cpu:.2f}, "
            f"errors {sum(self.errors.values())}, dropped {self.dropped}, in flight "
            f"{self.in_flight}, RSS MiB {rss}, {db}, load {load}"
        )

    async def run(self) -> None:
        a = self.args
        duration = a.minutes * 60
        weights = list(MIX.values())
        kinds = list(MIX)
        self.http = Client(self.base, a.connections)
        try:
            for _ in range(COOKIES):  # the browser sessions that auth_refresh rotates
                r = await self.http.request(
                    "POST",
                    "/auth/login",
                    headers={"X-Requested-With": "soak"},
                    json_body={"username": USER, "password": PASSWORD},
                )
                cookie = self.cookie_of(r)
                if r.status_code != 200 or cookie is None:
                    raise SystemExit(f"/auth/login answered {r.status_code}: {r.text[:200]}")
                self.cookies.append(cookie)
            self.t0 = time.perf_counter()
            self.cpu0 = time.process_time()
            assert self.s.server.proc is not None
            self.server_cpu0 = cpu_seconds(self.s.server.proc.pid)
            sampler = asyncio.create_task(self.sampler(duration))
            tasks: set[asyncio.Task[None]] = set()
            interval = 1.0 / a.rate
            n = 0
            next_progress = a.progress
            while True:
                due = n * interval
                if due >= duration:
                    break
                now = self.now()
                if due > now:
                    await asyncio.sleep(due - now)
                    now = self.now()
                # every arrival due by now, each on its own task
                while n * interval <= now and n * interval < duration:
                    self.late.append(now - n * interval)
                    n += 1
                    if self.in_flight >= a.max_in_flight:
                        self.dropped += 1
                        continue
                    kind = self.rng.choices(kinds, weights)[0]
                    self.in_flight += 1
                    task = asyncio.create_task(self.one(kind))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if now >= next_progress:
                    print(self.progress_line(), file=sys.stderr, flush=True)
                    next_progress += a.progress
            self.arrivals = n
            if tasks:
                await asyncio.wait(tasks, timeout=60)
            self.wall = self.now()
            self.cpu = time.process_time() - self.cpu0
            self.server_cpu = cpu_seconds(self.s.server.proc.pid) - self.server_cpu0
            await sampler
            if a.trace_memory:  # once the last answers are in: what is still held is kept
                self.snaps["end"] = await dump_memory(self.pids, self.s.data_dir / "trace")
            print(self.progress_line(), file=sys.stderr, flush=True)
        finally:
            await self.http.close()

    def report(self) -> dict[str, Any]:
        a = self.args
        rss = {role: s.summary(self.warm) for role, s in self.rss.items()}
        for v in rss.values():
            if v["after_warmup"] and v["end"] is not None:
                v["end_vs_warm_pct"] = (v["end"] / v["after_warmup"] - 1) * 100
        kinds = {}
        for k in KINDS:
            lat = self.lat[k]
            kinds[k] = {
                "requests": self.count[k],
                "errors": self.errors[k],
                "p50_ms": pct(lat, 50) * 1000 if lat else None,
                "p99_ms": pct(lat, 99) * 1000 if lat else None,
            }
        total = sum(self.count.values())
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        late = sorted(self.late)
        growth = {}
        for role, first in self.snaps.get("warm", {}).items():
            last = self.snaps.get("end", {}).get(role)
            if last is not None:
                growth[role] = memory_diff(first, last)
        return {
            "memory_growth": growth,
            "db": self.s.db,
            "workers": a.workers,
            "minutes": a.minutes,
            "warmup_s": self.warm,
            "rate_asked": a.rate,
            "arrivals": self.arrivals,
            "requests": total,
            "requests_per_s": total / self.wall if self.wall else 0.0,
            "dropped": self.dropped,
            "generator_late_p99_ms": pct(late, 99) * 1000 if late else None,
            "generator_cpu_cores": self.cpu / self.wall if self.wall else None,
            "server_cpu_cores": self.server_cpu / self.wall if self.wall else None,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "error_samples": self.error_samples,
            "rss_mib": rss,
            "sqlite_wal_mib": self.wal.summary(self.warm) if self.wal.points else None,
            "pg_connections": self.pg.summary(self.warm) if self.pg.points else None,
            "kinds": kinds,
            "loadavg_end": load,
            "cpus": os.cpu_count(),
            "series": {
                "rss_mib": {r: s.points for r, s in self.rss.items()},
                "wal_mib": self.wal.points,
                "pg_connections": self.pg.points,
            },
        }


def run_one(db: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"[{db}] setting up ({args.workers} workers)", file=sys.stderr, flush=True)
    s = start(db, args.workers, args.trace_memory)
    try:
        soak = Soak(s, args)
        try:
            import uvloop

            uvloop.run(soak.run())
        except ImportError:  # pragma: no cover
            asyncio.run(soak.run())
        return soak.report()
    finally:
        stop(s.server, s.data_dir, s.drop)


# ---------------------------------------------------------------------------- report
def f(v: float | None, spec: str = ".0f") -> str:
    return "-" if v is None else format(v, spec)


def table(r: dict[str, Any]) -> str:
    lines = [
        f"### {r['db']}, {r['workers']} workers, {r['minutes']} min "
        f"({r['warmup_s']:.0f} s warm-up), asked {r['rate_asked']:.0f} arrivals/s",
        "",
        f"{r['requests']} requests, {r['requests_per_s']:.1f} req/s; dropped "
        f"{r['dropped']}; generator late p99 {f(r['generator_late_p99_ms'], '.1f')} ms, "
        f"CPU {f(r['generator_cpu_cores'], '.2f')} cores; server CPU "
        f"{f(r['server_cpu_cores'], '.2f')} cores; "
        f"errors {r['errors']} {r['error_kinds'] or ''}; load average at the end "
        f"{' '.join(r['loadavg_end'])} ({r['cpus']} CPUs)",
        "",
        "| process | RSS after warm-up MiB | peak MiB | end MiB | end vs warm-up |",
        "|---|---:|---:|---:|---:|",
    ]
    for role, v in r["rss_mib"].items():
        lines.append(
            f"| {role} | {f(v['after_warmup'], '.1f')} | {f(v['peak'], '.1f')} | "
            f"{f(v['end'], '.1f')} | {f(v.get('end_vs_warm_pct'), '+.1f')}% |"
        )
    for name, key, spec in (
        ("SQLite WAL MiB", "sqlite_wal_mib", ".2f"),
        ("PostgreSQL connections", "pg_connections", ".0f"),
    ):
        v = r.get(key)
        if v:
            lines.append(
                f"\n{name}: start {f(v['start'], spec)}, after warm-up "
                f"{f(v['after_warmup'], spec)}, peak {f(v['peak'], spec)}, end "
                f"{f(v['end'], spec)}"
            )
    lines += ["", "| kind | requests | errors | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    for k, v in r["kinds"].items():
        lines.append(
            f"| {k} | {v['requests']} | {v['errors']} | {f(v['p50_ms'], '.1f')} | "
            f"{f(v['p99_ms'], '.1f')} |"
        )
    for role, g in r.get("memory_growth", {}).items():
        lines += [
            "",
            f"{role}: allocated since the warm-up and alive at the end "
            f"{g['traced_mib'][1]:.1f} MiB; "
            "grew most (KiB, blocks, where):",
        ]
        lines += [
            f"- {x['kib']:+.1f} {x['count']:+d} {' < '.join(reversed(x['at']))}"
            for x in g["sites"][:10]
        ]
        lines += [
            "  objects by type: "
            + ", ".join(f"{t['type']} {t['more']:+d}" for t in g["types"][:10])
        ]
    if r["error_samples"]:
        lines += ["", "errors (first of each):"]
        lines += [f"- {k}" for k in list(r["error_samples"])[:20]]
    return "\n".join(lines)


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # the servers are stopped and the database dropped on the way out


def main() -> None:
    # SIGTERM and SIGINT (ignored by a shell's background jobs) both end the run cleanly
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=200, help="arrivals per second (fixed)")
    ap.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds before the RSS baseline (default 120, a quarter of short runs)",
    )
    ap.add_argument("--connections", type=int, default=64, help="client connections at most")
    ap.add_argument("--max-in-flight", type=int, default=512)
    ap.add_argument("--sample", type=float, default=5, help="seconds between samples")
    ap.add_argument("--progress", type=float, default=30, help="seconds between progress lines")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--trace-memory",
        action="store_true",
        help="tracemalloc in the workers; report what grew between the warm-up and the end",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args()
    if args.warmup is None:
        args.warmup = min(120.0, args.minutes * 60 / 4)
    results = []
    for db in [d for d in args.db.split(",") if d]:
        if db not in ("sqlite", "postgresql"):
            sys.exit(f"unknown database {db!r}")
        rec = run_one(db, args)
        results.append(rec)
        print(table(rec), flush=True)
        print(flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
