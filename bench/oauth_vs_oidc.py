#!/usr/bin/env python3
"""OAuth endpoints of gatepass against panva's oidc-provider, in one run on this machine.

    bash ../shared/peers/run_all.sh setup        # once: wrk, nginx, node deps in /tmp/gatepass-peers
    .venv/bin/python bench/oauth_vs_oidc.py      # ~10-25 min: oidc-provider, then gatepass per setting
    .venv/bin/python bench/oauth_vs_oidc.py --settings sqlite:1 --endpoints cc_jwt --duration 5

Servers (each started here and stopped by its pid before the next one starts):

  oidc-provider   ../shared/peers/oidc/provider.mjs, one Node process, the stock MemoryAdapter over
                  an LRU of BENCH_LRU_SIZE (4,000,000) entries, so that rotated refresh tokens are
                  not evicted under load; its side port (PORT+1) GET /seed mints refresh tokens.
  gatepass        ``gatepass serve`` (uvicorn, uvloop + httptools) with a fresh temp data dir, on
                  SQLite there, or on a fresh PostgreSQL database created on 127.0.0.1:5432 (as
                  user postgres, from database ``test``) and dropped afterwards; 1 worker, and
                  ``--workers 2`` reported separately (oidc-provider is always one process).

Endpoints, the same load for both (``../shared/peers/bench.py``: wrk -t2 -c64, 3 s warm-up +
10 s measured, per-run CPU of the server and of wrk; a run disturbed by other load on the
machine is retried):

  cc_jwt       POST token, client_credentials, client_secret_basic, JWT access token signed ES256
               (oidc-provider: resource=urn:bench:jwt; gatepass: a client with token_format jwt)
  cc_opaque    the same, opaque access token (oidc: resource=urn:bench:opaque; gatepass: opaque
               client; both store it, gatepass as a digest in its database)
  introspect   POST introspection (RFC 7662) of one live opaque access token, client-authenticated
  refresh      POST token, refresh_token: every answer's refresh token is the next request's
               (../shared/peers/wrk_refresh.lua); a JWT ES256 access token comes back with it
               (oidc: resource=urn:bench:jwt, scope offline_access, no id_token). 128 fresh
               refresh tokens are minted before the warm-up and again before the measured run:
               by the /seed side port for oidc-provider, and for gatepass by this script's
               ``seed`` command, which starts logins through gatepass's own
               ``gatepass.oauth.issuance.start_login`` on the same database (a password grant
               per login would spend the time in Argon2id, which is not what is measured).

The last lines printed are a markdown table (also written next to the raw JSON lines): req/s,
p50/p99, errors, server CPU (for gatepass on PostgreSQL, the database's processes included: the
postmaster's children), and the ratio gatepass / oidc-provider per endpoint. The load
generator shares the two cores with the server: compare ratios within one run, not absolute
figures across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
from servers import listening  # noqa: E402  (one helper for tests and bench)

PEERS = Path(os.environ.get("PEERS", ROOT.parent / "shared" / "peers")).resolve()
WORK = Path(os.environ.get("WORK", "/tmp/gatepass-peers"))
GATEPASS = str(Path(sys.executable).with_name("gatepass"))
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test"}
FORM = "Content-Type: application/x-www-form-urlencoded"
ENDPOINTS = ("cc_jwt", "cc_opaque", "introspect", "refresh")
TITLES = {
    "cc_jwt": "client_credentials, JWT ES256",
    "cc_opaque": "client_credentials, opaque",
    "introspect": "introspection of an opaque AT",
    "refresh": "refresh rotation (+ JWT ES256 AT)",
}
# other sessions on the machine may run this bench at the same time: BENCH_GP_PORT moves gatepass
OIDC_PORT, GP_PORT = 3000, int(os.environ.get("BENCH_GP_PORT", "8210"))
OIDC_SECRET = ("bench", "bench-secret-0123456789")
TRACE = ""  # --trace DIR


def basic(client_id: str, secret: str) -> str:
    raw = f"{urllib.parse.quote(client_id)}:{urllib.parse.quote(secret)}".encode()
    return "Authorization: Basic " + base64.b64encode(raw).decode()


def post(url: str, fields: dict[str, str], auth: str) -> dict[str, object]:
    name, _, value = auth.partition(": ")
    req = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(fields).encode(),
        headers={name: value, "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback only
        return dict(json.load(r))


def require_free(port: int) -> None:
    """Exit if something listens on ``port`` already: it would answer the readiness check and
    take the load meant for the server about to start (which then exits with "Address already
    in use"), and the run would report another process's figures."""
    if listening(port):
        sys.exit(f"port {port} is in use by another process: stop it or set BENCH_GP_PORT")


def wait_http(url: str, seconds: float = 60, proc: Proc | None = None) -> None:
    """Until ``url`` answers; a RuntimeError if ``proc`` (the server) exits meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.p.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.p.returncode}: see {proc.log.name}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url}")


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


class Proc:
    """A server started here; ``stop`` ends it and any process it started, by pid."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log.open("wb")
        self.p = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.p.pid

    def stop(self) -> None:
        tree = descendants(self.p.pid)
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for pid in tree[1:]:  # a worker that outlived its parent
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


def bench(
    args: argparse.Namespace,
    label: str,
    server: str,
    workers: str,
    endpoint: str,
    pids: str,
    url: str,
    *extra: str,
) -> dict[str, Any] | None:
    """One ../shared/peers/bench.py run; returns its record (the last line bench.py wrote).
    ``pids``: the server's processes (comma-separated; their descendants count too)."""
    cmd = [
        sys.executable,
        str(PEERS / "bench.py"),
        "--label",
        label,
        "--server",
        server,
        "--endpoint",
        TITLES[endpoint],
        "--workers",
        workers,
        "--pids",
        pids,
        "--url",
        url,
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "--out",
        str(args.out),
        *extra,
    ]
    before = args.out.read_text().count("\n") if args.out.exists() else 0
    r = subprocess.run(cmd, text=True, capture_output=True, timeout=900)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.stdout.write(r.stderr[-2000:])
        return None
    lines = [ln for ln in args.out.read_text().splitlines()[before:] if ln.strip()]
    recs = [json.loads(ln) for ln in lines]
    clean = [x for x in recs if not x.get("contaminated")]
    if clean:
        return clean[-1]
    return min(recs, key=lambda x: float(x.get("other_cpu_cores", 0))) if recs else None


def load_args(auth: str, *, body: str, expect: str) -> list[str]:
    return [
        "--method",
        "POST",
        "--body",
        body,
        "--header",
        auth,
        "--header",
        FORM,
        "--expect",
        expect,
    ]


# ---------------------------------------------------------------------------- oidc-provider
def run_oidc(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    node_dir = WORK / "oidc"
    if not (node_dir / "node_modules" / "oidc-provider").is_dir():
        sys.exit(f"oidc-provider is not installed: run  bash {PEERS}/run_all.sh setup")
    shutil.copy(PEERS / "oidc" / "provider.mjs", node_dir / "provider.mjs")
    env = dict(os.environ, BENCH_LRU_SIZE=str(args.lru), NODE_ENV="production", PORT=str(OIDC_PORT))
    require_free(OIDC_PORT)
    proc = Proc(["node", str(node_dir / "provider.mjs")], env, args.logs / "oidc-provider.log")
    base = f"http://127.0.0.1:{OIDC_PORT}"
    try:
        wait_http(base + "/.well-known/openid-configuration", proc=proc)
        auth = basic(*OIDC_SECRET)
        token_url = base + "/token"
        srv = "oidc-provider"

        def run(endpoint: str, url: str, *extra: str) -> None:
            rec = bench(
                args,
                f"oidc-provider {endpoint}",
                srv,
                "1",
                endpoint,
                str(proc.pid),
                url,
                "--note",
                f"1 Node process, MemoryAdapter over LRU({args.lru})",
                *extra,
            )
            if rec is not None:
                results.append({**rec, "key": ("oidc", endpoint), "setting": "1 process, memory"})

        cc = "grant_type=client_credentials&scope=api%3Aread&resource="
        if "cc_jwt" in args.endpoints:
            run(
                "cc_jwt",
                token_url,
                *load_args(auth, body=cc + "urn%3Abench%3Ajwt", expect="access_token"),
            )
        if "cc_opaque" in args.endpoints:
            run(
                "cc_opaque",
                token_url,
                *load_args(auth, body=cc + "urn%3Abench%3Aopaque", expect="access_token"),
            )
        if "introspect" in args.endpoints:
            at = post(
                token_url,
                {
                    "grant_type": "client_credentials",
                    "scope": "api:read",
                    "resource": "urn:bench:opaque",
                },
                auth,
            )["access_token"]
            run(
                "introspect",
                base + "/token/introspection",
                *load_args(auth, body=f"token={at}", expect='"active":true'),
            )
        if "refresh" in args.endpoints:
            tokens = args.logs / "oidc-refresh-tokens.txt"
            q = "n=128&scope=offline_access&resource=urn%3Abench%3Ajwt"
            seed = f"curl -sf 'http://127.0.0.1:{OIDC_PORT + 1}/seed?{q}' > '{tokens}'"
            run(
                "refresh",
                token_url,
                "--seed-cmd",
                seed,
                "--refresh-tokens",
                str(tokens),
                "--header",
                auth,
            )
    finally:
        proc.stop()


# ---------------------------------------------------------------------------- gatepass
async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(**PG)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postmaster_pid() -> int | None:
    """PostgreSQL's postmaster, whose children are the backends serving gatepass (and its WAL
    writer, checkpointer, autovacuum); None when it is not a process of this machine."""
    import asyncpg

    async def backend() -> int:
        conn = await asyncpg.connect(**PG)
        try:
            return int(await conn.fetchval("SELECT pg_backend_pid()"))
        finally:
            await conn.close()

    try:
        with open(f"/proc/{asyncio.run(backend())}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])  # the parent: field 4
    except (OSError, ValueError, IndexError):
        return None


def gatepass_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPASS_")}
    env.update(
        GATEPASS_DATA_DIR=str(data_dir),
        GATEPASS_ISSUER=f"http://127.0.0.1:{GP_PORT}",
        GATEPASS_SECRET_KEY="bench-" + secrets.token_hex(24),
        GATEPASS_LOG_LEVEL="warning",
    )
    if database_url:
        env["GATEPASS_DATABASE_URL"] = database_url
    if TRACE:  # --trace: loop lag, GC pauses, periodic work (bench/tail_trace.py)
        env["GATEPASS_TAIL_TRACE"] = TRACE
    return env


def cli(env: dict[str, str], *argv: str, stdin: str | None = None) -> str:
    r = subprocess.run([GATEPASS, *argv], env=env, input=stdin, text=True, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"gatepass {' '.join(argv)}: {r.stderr.strip()}")
    return r.stdout


def run_gatepass(
    args: argparse.Namespace, db: str, workers: int, results: list[dict[str, Any]]
) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="gatepass-oauth-bench-"))
    pg_name = None
    if db == "postgresql":
        pg_name = "gatepass_bench_" + secrets.token_hex(5)
        asyncio.run(_pg(f'CREATE DATABASE "{pg_name}"'))
        url = f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{pg_name}"
    else:
        url = None
    env = gatepass_env(data_dir, url)
    setting = f"{workers} worker{'s' if workers > 1 else ''}, uvicorn, {db}"
    proc = None
    try:
        jwt_client = json.loads(
            cli(
                env,
                "client",
                "create",
                "bench-jwt",
                "--grant",
                "client_credentials",
                "--grant",
                "refresh_token",
                "--scope",
                "api:read",
                "--json",
            )
        )
        opaque_client = json.loads(
            cli(
                env,
                "client",
                "create",
                "bench-opaque",
                "--grant",
                "client_credentials",
                "--scope",
                "api:read",
                "--token-format",
                "opaque",
                "--json",
            )
        )
        user = json.loads(
            cli(
                env,
                "user",
                "create",
                "bench",
                "--password-stdin",
                "--json",
                stdin="correct horse battery staple\n",
            )
        )
        cmd = [GATEPASS, "serve", "--host", "127.0.0.1", "--port", str(GP_PORT)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        require_free(GP_PORT)
        proc = Proc(cmd, env, args.logs / f"gatepass-{db}-{workers}w.log")
        base = f"http://127.0.0.1:{GP_PORT}"
        wait_http(base + "/healthz", proc=proc)
        if workers > 1:
            time.sleep(2)  # every worker up
        token_url = base + "/oauth/token"
        jwt_auth = basic(jwt_client["client_id"], jwt_client["client_secret"])
        opaque_auth = basic(opaque_client["client_id"], opaque_client["client_secret"])
        srv = f"gatepass {db}"
        # with PostgreSQL, the database's processes are the server's too: oidc-provider keeps
        # its data in its own process, and they would count as other load on the machine
        postmaster = postmaster_pid() if db == "postgresql" else None
        pids = f"{proc.pid},{postmaster}" if postmaster else str(proc.pid)

        def run(endpoint: str, url: str, *extra: str) -> None:
            rec = bench(
                args,
                f"gatepass {db} {workers}w {endpoint}",
                srv,
                str(workers),
                endpoint,
                pids,
                url,
                "--note",
                setting,
                *extra,
            )
            if rec is not None:
                results.append({**rec, "key": (f"{db}:{workers}", endpoint), "setting": setting})

        cc = "grant_type=client_credentials&scope=api%3Aread"
        if "cc_jwt" in args.endpoints:
            run("cc_jwt", token_url, *load_args(jwt_auth, body=cc, expect="access_token"))
        if "cc_opaque" in args.endpoints:
            run("cc_opaque", token_url, *load_args(opaque_auth, body=cc, expect="access_token"))
        if "introspect" in args.endpoints:
            at = post(
                token_url, {"grant_type": "client_credentials", "scope": "api:read"}, opaque_auth
            )["access_token"]
            run(
                "introspect",
                base + "/oauth/introspect",
                *load_args(jwt_auth, body=f"token={at}", expect='"active":true'),
            )
        if "refresh" in args.endpoints:
            tokens = args.logs / f"gatepass-{db}-{workers}w-refresh-tokens.txt"
            seed_env = " ".join(
                shlex.quote(f"{k}={v}") for k, v in env.items() if k.startswith("GATEPASS_")
            )
            seed = (
                f"env {seed_env} '{sys.executable}' '{Path(__file__).resolve()}' seed "
                f"--n 128 --client-id '{jwt_client['client_id']}' --user-id '{user['id']}' "
                f"> '{tokens}'"
            )
            run(
                "refresh",
                token_url,
                "--seed-cmd",
                seed,
                "--refresh-tokens",
                str(tokens),
                "--header",
                jwt_auth,
            )
    finally:
        if proc is not None:
            proc.stop()
        if pg_name is not None:
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        shutil.rmtree(data_dir, ignore_errors=True)


async def seed(n: int, client_id: str, user_id: str) -> list[str]:
    """Start ``n`` logins of ``user_id`` through ``client_id``; their first refresh tokens."""
    from gatepass.oauth.issuance import start_login
    from gatepass.oauth.services import open_services
    from gatepass.settings import load_settings

    svc = await open_services(load_settings(), migrate=False)
    try:
        user = await svc.users.by_id(user_id)
        client = await svc.clients.get(client_id)
        if user is None or client is None:
            raise SystemExit("seed: unknown user or client")
        out = []
        for _ in range(n):
            login = await start_login(
                svc,
                user_id=user.id,
                roles=user.roles,
                client_id=client.id,
                scope=frozenset(client.scopes),
                ip="127.0.0.1",
                user_agent="oauth_vs_oidc seed",
            )
            if login.refresh_token is None:
                raise SystemExit("seed: no refresh token")
            out.append(login.refresh_token)
        return out
    finally:
        await svc.close()


# ---------------------------------------------------------------------------- report
def per_core(r: dict[str, Any]) -> float | None:
    cores = r.get("server_cpu_cores")
    return float(r["rps"]) / float(cores) if cores else None


def table(results: list[dict[str, Any]], endpoints: list[str]) -> str:
    """Markdown: one row per server and endpoint; ratios against oidc-provider's row."""
    oidc = {r["key"][1]: r for r in results if r["key"][0] == "oidc"}
    rows = [
        "| endpoint | server | setting | req/s | p50 ms | p99 ms | errors | server CPU (cores) "
        "| req/s per server core | gatepass / oidc (req/s) | gatepass / oidc (per core) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ep in endpoints:
        for r in [x for x in results if x["key"][1] == ep]:
            err = str(r.get("errors_total", 0))
            extra = [f"{k} {r[k]}" for k in ("lost", "starved") if r.get(k)]
            if extra:
                err += f" ({', '.join(extra)})"
            if r.get("contaminated"):
                err += f"; other load {r.get('other_cpu_cores')} cores"
            ratio = ratio_core = ""
            pc = per_core(r)
            if r["key"][0] != "oidc" and ep in oidc:
                ratio = f"{float(r['rps']) / float(oidc[ep]['rps']):.2f}"
                base = per_core(oidc[ep])
                if pc and base:
                    ratio_core = f"{pc / base:.2f}"
            server = "oidc-provider 9" if r["key"][0] == "oidc" else "gatepass"
            rows.append(
                f"| {TITLES[ep]} | {server} | {r['setting']} | {float(r['rps']):,.0f} | "
                f"{float(r['p50_ms']):.1f} | {float(r['p99_ms']):.1f} | {err} | "
                f"{r.get('server_cpu_cores')} | {f'{pc:,.0f}' if pc else '?'} | {ratio} | "
                f"{ratio_core} |"
            )
    return "\n".join(rows)


def from_results(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a results.jsonl written by this script: per label, the last clean run
    (else the least disturbed one), keyed as ``main`` keys them."""
    best: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        cur = best.get(r["label"])
        if (
            cur is None
            or not r.get("contaminated")
            or (cur.get("contaminated") and r["other_cpu_cores"] < cur["other_cpu_cores"])
        ):
            best[r["label"]] = r
    out = []
    for label, r in best.items():
        words = label.split()
        ep = words[-1]
        if words[0] == "oidc-provider":
            out.append({**r, "key": ("oidc", ep), "setting": "1 process, memory"})
        else:
            db, w = words[1], int(words[2].rstrip("w"))
            setting = f"{w} worker{'s' if w > 1 else ''}, uvicorn, {db}"
            out.append({**r, "key": (f"{db}:{w}", ep), "setting": setting})
    eps = [e for e in ENDPOINTS if any(x["key"][1] == e for x in out)]
    return out, eps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command")
    sp = sub.add_parser("seed", help="(internal) print N fresh refresh tokens of gatepass")
    sp.add_argument("--n", type=int, default=128)
    sp.add_argument("--client-id", required=True)
    sp.add_argument("--user-id", required=True)
    rp = sub.add_parser("report", help="print the table of an earlier run's results.jsonl")
    rp.add_argument("results", type=Path)
    ap.add_argument(
        "--settings",
        default="sqlite:1,postgresql:1,sqlite:2,postgresql:2",
        help="gatepass settings to run, DB:WORKERS, comma-separated",
    )
    ap.add_argument("--endpoints", default=",".join(ENDPOINTS))
    ap.add_argument("--no-oidc", action="store_true", help="skip oidc-provider")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-c", "--connections", type=int, default=64)
    ap.add_argument("-d", "--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--lru", type=int, default=4_000_000, help="oidc-provider BENCH_LRU_SIZE")
    ap.add_argument("--out", type=Path, default=None, help="JSON lines (default in $WORK)")
    ap.add_argument(
        "--trace",
        action="store_true",
        help="gatepass records its loop lag, GC pauses and periodic work (GATEPASS_TAIL_TRACE) "
        "into the run's directory; summarise with bench/tail_trace.py DIR",
    )
    args = ap.parse_args()
    if args.command == "seed":
        for t in asyncio.run(seed(args.n, args.client_id, args.user_id)):
            print(t)
        return
    if args.command == "report":
        print(table(*from_results(args.results)))
        return

    if shutil.which("wrk") is None:
        sys.exit(f"wrk is not installed: run  bash {PEERS}/run_all.sh setup")
    args.endpoints = [e for e in args.endpoints.split(",") if e]
    unknown = set(args.endpoints) - set(ENDPOINTS)
    if unknown:
        sys.exit(f"unknown endpoints: {', '.join(sorted(unknown))}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.logs = WORK / f"oauth_vs_oidc-{stamp}"
    args.logs.mkdir(parents=True, exist_ok=True)
    args.out = args.out or args.logs / "results.jsonl"
    if args.trace:
        global TRACE
        TRACE = str(args.logs)
    # other sessions may share the machine: wait less for quiet, retry a disturbed run once
    os.environ.setdefault("BENCH_QUIET_WAIT", "45")
    os.environ.setdefault("BENCH_RETRIES", "1")

    results: list[dict[str, Any]] = []
    if not args.no_oidc:
        run_oidc(args, results)
    for item in [s for s in args.settings.split(",") if s]:
        db, _, w = item.partition(":")
        if db not in ("sqlite", "postgresql"):
            sys.exit(f"unknown database {db!r} in --settings")
        run_gatepass(args, db, int(w or 1), results)

    report = table(results, args.endpoints)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    head = (
        f"\nwrk -t{args.threads} -c{args.connections}, {args.warmup} s warm-up + "
        f"{args.duration} s; {os.cpu_count()} CPUs; load average before the report "
        f"{' '.join(load)}; oidc-provider is one Node process (in memory); gatepass's server "
        "CPU includes PostgreSQL's processes in the postgresql settings\n"
    )
    (args.logs / "table.md").write_text(head + report + "\n")
    print(head)
    print(report)
    print(f"\nraw: {args.out}\ntable: {args.logs / 'table.md'}")


if __name__ == "__main__":
    main()
