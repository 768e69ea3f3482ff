#!/usr/bin/env python3
"""The silent re-authorization of a logged-in user, gatepass against panva's oidc-provider in
one run: ``/oauth/authorize`` with a live session cookie -> 302 with a code -> the code
exchanged with PKCE at the token endpoint. Completed flows per second, p50/p99 of a flow; and
the login page's own cost (Argon2id, by design), as logins per second per core.

    bash ../shared/peers/run_all.sh setup      # once: oidc-provider's node deps in /tmp/gatepass-peers
    .venv/bin/python bench/authorize.py        # oidc-provider, then gatepass sqlite/pg x 1/2 workers
    .venv/bin/python bench/authorize.py --seconds 5 --settings sqlite:1

Servers (each started here and stopped by its pid before the next one starts):

  oidc-provider  bench/oidc_code_flow.mjs over the peers' node_modules: one Node process, memory
                 store; one confidential client (client_secret_basic), PKCE required, first-party
                 (no consent), authorization_code only; its interaction logs a fixed user in once.
  gatepass       ``gatepass serve`` on SQLite in a temp data dir or on a fresh PostgreSQL
                 database (127.0.0.1:5432, dropped afterwards), 1 worker or ``--workers 2``; a
                 user and a ``--first-party`` confidential client with only the
                 ``authorization_code`` grant (so no refresh token, as oidc-provider without
                 ``offline_access``) and opaque access tokens (oidc-provider's default; ``--token-
                 format jwt`` for gatepass's JWT instead). The user signs in once through the
                 hosted login page (tests/html_browser.py reads and submits the form).

Load (the same for both): an asyncio generator in this process (``lean_http.Client``: keep-alive
HTTP/1.1 over httptools, uvloop; httpx took a whole core for ~150 flows/s, so the generator set the pace),
``--concurrency`` flows at a time, each flow = GET authorize with the session cookie (redirects
not followed; the 302/303 must carry ``code`` and the request's ``state``) + POST token
(``authorization_code``, ``code_verifier``, HTTP Basic); the answer must be 200 with an
``id_token``. Every flow has its own PKCE verifier, state and nonce. A warm-up, then a
measured window: flows completed in it, the latency of each (from the GET to the token
answer), the CPU of the server's processes (from /proc) and of this load generator.

Logins: ``--logins`` sequential logins per gatepass setting, each from a fresh browser (GET
authorize -> the login page), timing only the POST of the login form, with the server's CPU
for that POST; logins per second per core = logins / server CPU seconds.

The load generator shares the machine's cores with the server: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from lean_http import NETWORK, Client  # noqa: E402
from oauth_vs_oidc import (  # noqa: E402  (the same server handling as the token benchmark)
    GATEPASS,
    PEERS,
    PG,
    WORK,
    Proc,
    _pg,
    descendants,
    gatepass_env,
    wait_http,
)

from html_browser import Browser, sign_in, silent  # noqa: E402  (one helper for tests and bench)
from servers import UNDER_LOAD, create_oidc_client, create_user, free_port  # noqa: E402

REDIRECT = "http://127.0.0.1:9/cb"  # nothing listens there: the flow reads the Location
OIDC_CLIENT = ("bench-code", "bench-secret-0123456789")
USER, PASSWORD = "bench", "correct horse battery staple"
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants (their children included when
    reaped: a uvicorn worker's CPU counts once it has ended too)."""
    total = 0
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / CLK


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


@dataclass
class Target:
    name: str
    setting: str
    pid: int
    authorize: str
    token: str
    client_id: str
    secret: str
    cookie: str
    scope: str = "openid"
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, state: str, nonce: str, challenge: str) -> str:
        q = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "scope": self.scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return self.authorize + "?" + urlencode(q)


async def one_flow(http: Client, t: Target) -> str | None:
    """One silent authorization and code exchange; None when complete, else what went wrong."""
    verifier, challenge = pkce()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    r = await http.request(
        "GET", path_of(t.url(state, nonce, challenge)), headers={"Cookie": t.cookie}
    )
    if r.status_code not in (302, 303):
        return f"authorize {r.status_code}"
    q = parse_qs(urlsplit(r.header("location") or "").query)
    if q.get("state") != [state] or "code" not in q:
        return "authorize: " + ",".join(sorted(q)) if q else "authorize: no code"
    form = {
        "grant_type": "authorization_code",
        "code": q["code"][0],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    r = await http.request("POST", path_of(t.token), data=form, auth=(t.client_id, t.secret))
    if r.status_code != 200:
        return f"token {r.status_code}"
    if b'"id_token"' not in r.content:
        return "token: no id_token"
    return None


def path_of(url: str) -> str:
    """The request target of ``url`` (its path and query)."""
    u = urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


def time_steps(t: Target, n: int) -> dict[str, float]:
    """``n`` flows one at a time, the server's CPU read around each request: the CPU of one
    authorize and of one code exchange, apart (clock ticks of 10 ms: averaged over ``n``)."""
    cpu = {"authorize": 0.0, "token": 0.0}
    with httpx.Client(timeout=30) as http:
        for i in range(n):
            verifier, challenge = pkce()
            c0 = cpu_seconds(t.pid)
            r = http.get(t.url(f"t{i}", f"n{i}", challenge), headers={"Cookie": t.cookie})
            c1 = cpu_seconds(t.pid)
            code = parse_qs(urlsplit(r.headers.get("location", "")).query).get("code")
            if code is None:
                raise SystemExit(f"{t.name}: authorize answered {r.status_code} without a code")
            form = {
                "grant_type": "authorization_code",
                "code": code[0],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            }
            r = http.post(t.token, data=form, auth=(t.client_id, t.secret))
            c2 = cpu_seconds(t.pid)
            if r.status_code != 200:
                raise SystemExit(f"{t.name}: token answered {r.status_code}: {r.text[:200]}")
            cpu["authorize"] += c1 - c0
            cpu["token"] += c2 - c1
    return {f"{k}_cpu_ms": v * 1000 / n for k, v in cpu.items()} if n else {}


async def load(t: Target, concurrency: int, warmup: float, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    u = urlsplit(t.authorize)
    http = Client(f"{u.scheme}://{u.netloc}", concurrency)
    try:
        start = time.perf_counter()
        measure_from, stop_at = start + warmup, start + warmup + seconds
        marks: dict[str, float] = {}

        async def worker() -> None:
            while True:
                t0 = time.perf_counter()
                if t0 >= stop_at:
                    return
                if "cpu0" not in marks and t0 >= measure_from:
                    marks["cpu0"], marks["me0"] = cpu_seconds(t.pid), time.process_time()
                    marks["t0"] = t0
                try:
                    problem = await one_flow(http, t)
                except NETWORK as e:
                    problem = type(e).__name__
                t1 = time.perf_counter()
                if measure_from <= t0 and t1 <= stop_at:
                    if problem is None:
                        latencies.append(t1 - t0)
                    else:
                        errors[problem] = errors.get(problem, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        end = time.perf_counter()
        server_cpu = cpu_seconds(t.pid) - marks.get("cpu0", 0.0)
        own_cpu = time.process_time() - marks.get("me0", 0.0)
    finally:
        await http.close()
    window = min(end, stop_at) - marks.get("t0", measure_from)
    return {
        "flows": len(latencies),
        "flows_per_s": len(latencies) / window if window > 0 else 0.0,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "errors": errors,
        "server_cpu_cores": server_cpu / window if window > 0 else 0.0,
        "loadgen_cpu_cores": own_cpu / window if window > 0 else 0.0,
        "window_s": window,
    }


def run_load(args: argparse.Namespace, t: Target) -> dict[str, Any]:
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    steps = time_steps(t, args.steps)
    rec = runner(load(t, args.concurrency, args.warmup, args.seconds))
    rec.update(name=t.name, setting=t.setting, **steps)
    print(
        f"  {t.name} {t.setting}: {rec['flows_per_s']:.1f} flows/s, p50 {rec['p50_ms']:.1f} ms, "
        f"p99 {rec['p99_ms']:.1f} ms, errors {rec['errors'] or 0}, server CPU "
        f"{rec['server_cpu_cores']:.2f} cores, load generator {rec['loadgen_cpu_cores']:.2f}; "
        f"one at a time, server CPU ms: authorize {steps.get('authorize_cpu_ms', 0):.1f}, "
        f"token {steps.get('token_cpu_ms', 0):.1f}",
        flush=True,
    )
    return rec


def discover(base: str) -> dict[str, Any]:
    meta: dict[str, Any] = httpx.get(base + "/.well-known/openid-configuration", timeout=10).json()
    return meta


def first_login(browser: Browser, t: Target, answer: Any) -> None:
    """Sign in once through the server's own pages; check the flow end to end; keep the
    session cookie in ``t``."""
    verifier, challenge = pkce()
    walk = browser.navigate(t.url("s0", "n0", challenge), REDIRECT, answer)
    if walk.landed is None:
        page = walk.pages[-1] if walk.pages else None
        detail = f"{page.status} {page.html[:500]}" if page else walk.redirects
        raise SystemExit(f"{t.name}: the first login did not come back with a code: {detail}")
    code = parse_qs(urlsplit(walk.landed).query)["code"][0]
    r = httpx.post(
        t.token,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(t.client_id, t.secret),
        timeout=30,
    )
    if r.status_code != 200 or "id_token" not in r.json():
        raise SystemExit(f"{t.name}: code exchange failed: {r.status_code} {r.text[:300]}")
    t.cookie = "; ".join(f"{k}={v}" for k, v in browser.jar.items())


# ---------------------------------------------------------------------------- oidc-provider
def run_oidc(args: argparse.Namespace) -> dict[str, Any]:
    node_dir = WORK / "oidc"
    if not (node_dir / "node_modules" / "oidc-provider").is_dir():
        sys.exit(f"oidc-provider is not installed: run  bash {PEERS}/run_all.sh setup")
    env = dict(os.environ, NODE_ENV="production")
    port = free_port()  # not a fixed port: other sessions run servers on this machine
    cmd = ["node", str(HERE / "oidc_code_flow.mjs"), str(node_dir), str(port)]
    proc = Proc(cmd, env, args.logs / "oidc-provider.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/.well-known/openid-configuration")
        meta = discover(base)
        t = Target(
            "oidc-provider 9",
            "1 Node process, memory",
            proc.pid,
            meta["authorization_endpoint"],
            meta["token_endpoint"],
            *OIDC_CLIENT,
            cookie="",
        )
        browser = Browser()
        try:
            first_login(browser, t, silent)  # the interaction signs the fixed user in
        finally:
            browser.close()
        return run_load(args, t)
    finally:
        proc.stop()


# ---------------------------------------------------------------------------- gatepass
def time_logins(t: Target, n: int) -> dict[str, Any]:
    """``n`` logins, each from a fresh browser; only the POST of the login form is timed."""
    walls, cpus = [], []
    for i in range(n):
        browser = Browser()
        try:
            _, challenge = pkce()
            walk = browser.navigate(t.url(f"l{i}", f"n{i}", challenge), REDIRECT, silent)
            if walk.landed is not None or not walk.pages or not walk.pages[-1].forms:
                raise SystemExit(f"no login page: {walk.redirects}")
            page = walk.pages[-1]
            form = page.forms[0]
            method, url, body = browser.form_request(
                page.url, form, {"username": USER, "password": PASSWORD}, form.buttons[0]
            )
            c0, w0 = cpu_seconds(t.pid), time.perf_counter()
            r = browser.request(method, url, body)
            w1 = time.perf_counter()
            time.sleep(0.02)  # let the server finish any work after its answer
            c1 = cpu_seconds(t.pid)
            if not r.is_redirect:
                raise SystemExit(f"login POST answered {r.status_code}: {r.text[:300]}")
            walls.append(w1 - w0)
            cpus.append(c1 - c0)
        finally:
            browser.close()
    return {
        "logins": n,
        "post_p50_ms": pct(walls, 50) * 1000,
        "post_p99_ms": pct(walls, 99) * 1000,
        "cpu_ms_per_login": statistics.fmean(cpus) * 1000 if cpus else float("nan"),
        "logins_per_core_s": n / sum(cpus) if sum(cpus) > 0 else float("nan"),
    }


def run_gatepass(args: argparse.Namespace, db: str, workers: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="gatepass-authorize-bench-"))
    pg_name = None
    url = None
    if db == "postgresql":
        pg_name = "gatepass_bench_" + secrets.token_hex(5)
        asyncio.run(_pg(f'CREATE DATABASE "{pg_name}"'))
        url = f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{pg_name}"
    port = free_port()
    env = gatepass_env(data_dir, url)
    env["GATEPASS_ISSUER"] = f"http://127.0.0.1:{port}"
    env.update({f"GATEPASS_{k}": v for k, v in UNDER_LOAD.items()})
    setting = f"{workers} worker{'s' if workers > 1 else ''}, uvicorn, {db}"
    proc = None
    try:
        create_user(env, USER, PASSWORD, email="bench@example.com", full_name="Bench User")
        creds = create_oidc_client(
            env,
            "bench-code",
            redirect_uri=REDIRECT,
            first_party=True,
            grants=("authorization_code",),
            extra=("--token-format", args.token_format),
        )
        cmd = [GATEPASS, "serve", "--host", "127.0.0.1", "--port", str(port)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        proc = Proc(cmd, env, args.logs / f"gatepass-{db}-{workers}w.log")
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz")
        if workers > 1:
            time.sleep(2)  # every worker up
        meta = discover(base)
        t = Target(
            "gatepass",
            setting,
            proc.pid,
            meta["authorization_endpoint"],
            meta["token_endpoint"],
            str(creds["client_id"]),
            str(creds["client_secret"]),
            cookie="",
        )
        logins = time_logins(t, args.logins) if args.logins else {}
        browser = Browser()
        try:
            first_login(browser, t, sign_in(USER, PASSWORD))
        finally:
            browser.close()
        rec = run_load(args, t)
        rec["login"] = logins
        if logins:
            print(
                f"  gatepass {setting}: login POST p50 {logins['post_p50_ms']:.0f} ms, "
                f"{logins['cpu_ms_per_login']:.0f} ms CPU each, "
                f"{logins['logins_per_core_s']:.1f} logins/s per core",
                flush=True,
            )
        return rec
    finally:
        if proc is not None:
            proc.stop()
        if pg_name is not None:
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------------------- report
def table(results: list[dict[str, Any]]) -> str:
    base = next((r for r in results if r["name"].startswith("oidc-provider")), None)
    rows = [
        "| server | setting | flows/s | p50 ms | p99 ms | errors | server CPU (cores) "
        "| flows per server core-s | load gen CPU | gatepass / oidc (flows/s) "
        "| gatepass / oidc (per core) | CPU ms: authorize | CPU ms: token |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        per_core = r["flows_per_s"] / r["server_cpu_cores"] if r["server_cpu_cores"] else 0.0
        ratio = ratio_core = ""
        if base is not None and r is not base and base["flows_per_s"]:
            ratio = f"{r['flows_per_s'] / base['flows_per_s']:.2f}"
            b_core = (
                base["flows_per_s"] / base["server_cpu_cores"] if base["server_cpu_cores"] else 0
            )
            ratio_core = f"{per_core / b_core:.2f}" if b_core else ""
        errs = sum(r["errors"].values())
        rows.append(
            f"| {r['name']} | {r['setting']} | {r['flows_per_s']:,.1f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {errs} | {r['server_cpu_cores']:.2f} | {per_core:,.0f} | "
            f"{r['loadgen_cpu_cores']:.2f} | {ratio} | {ratio_core} | "
            f"{r.get('authorize_cpu_ms', float('nan')):.1f} | "
            f"{r.get('token_cpu_ms', float('nan')):.1f} |"
        )
    logins = [r for r in results if r.get("login")]
    if logins:
        rows += [
            "",
            "| gatepass login POST (Argon2id) | setting | logins | p50 ms | p99 ms "
            "| server CPU ms / login | logins/s per core |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in logins:
            lg = r["login"]
            rows.append(
                f"| sequential, fresh browser each | {r['setting']} | {lg['logins']} | "
                f"{lg['post_p50_ms']:.0f} | {lg['post_p99_ms']:.0f} | "
                f"{lg['cpu_ms_per_login']:.0f} | {lg['logins_per_core_s']:.1f} |"
            )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--settings",
        default="sqlite:1,postgresql:1,sqlite:2,postgresql:2",
        help="gatepass settings to run, DB:WORKERS, comma-separated",
    )
    ap.add_argument("--no-oidc", action="store_true", help="skip oidc-provider")
    ap.add_argument("-c", "--concurrency", type=int, default=16, help="flows at a time")
    ap.add_argument("--seconds", type=float, default=10, help="measured window per server")
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--logins", type=int, default=10, help="timed logins per gatepass setting")
    ap.add_argument(
        "--steps", type=int, default=30, help="sequential flows timing each request's CPU"
    )
    ap.add_argument("--token-format", choices=["opaque", "jwt"], default="opaque")
    args = ap.parse_args()

    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.logs = WORK / f"authorize-{stamp}"
    args.logs.mkdir(parents=True, exist_ok=True)
    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])
    results: list[dict[str, Any]] = []
    if not args.no_oidc:
        results.append(run_oidc(args))
    for item in [s for s in args.settings.split(",") if s]:
        db, _, w = item.partition(":")
        if db not in ("sqlite", "postgresql"):
            sys.exit(f"unknown database {db!r} in --settings")
        results.append(run_gatepass(args, db, int(w or 1)))

    with open("/proc/loadavg") as f:
        load_after = " ".join(f.read().split()[:3])
    head = (
        f"\nsilent re-authorization (authorize with a session cookie + code exchange with PKCE), "
        f"{args.concurrency} flows at a time, {args.warmup:g} s warm-up + {args.seconds:g} s; "
        f"gatepass access tokens {args.token_format}; {os.cpu_count()} CPUs; load average "
        f"{load_before} before, {load_after} after\n"
    )
    report = table(results)
    (args.logs / "results.json").write_text(json.dumps(results, indent=1))
    (args.logs / "table.md").write_text(head + report + "\n")
    print(head)
    print(report)
    print(f"\nraw: {args.logs / 'results.json'}")


if __name__ == "__main__":
    main()
