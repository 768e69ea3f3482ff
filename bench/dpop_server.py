#!/usr/bin/env python3
"""client_credentials with DPoP (RFC 9449) at the token endpoint: gatepass against oidc-provider.

    bash ../shared/peers/run_all.sh setup          # once: wrk, oidc-provider's node deps
    .venv/bin/python bench/dpop_server.py          # oidc-provider, then gatepass: SQLite and
                                                   # PostgreSQL, 1 and 2 workers (~5 min)
    .venv/bin/python bench/dpop_server.py --quick --settings sqlite:1

The same load for both (issue 14's server target: gatepass ≥ 1.0× oidc-provider): wrk -t2 -c64
with ``bench/wrk_dpop.lua``, ``POST`` token, ``client_credentials`` with ``client_secret_basic``
and a JWT access token signed ES256, and a *new* DPoP proof on every request (ES256, its own
``jti`` and a current ``iat``; ``htu`` the server's token endpoint). The proofs are signed before
the load starts (``tests/dpop_keys.ProofKey``, the helper of ``bench/dpop.py``), written one per
line, and each wrk thread sends its own slice: no proof is sent twice, so both servers check a
signature, the claims and their replay cache on every request. Fresh proofs are made for the
warm-up and again just before the measured run (``../shared/peers/bench.py --seed-cmd``), since
gatepass accepts a proof for ``GATEPASS_DPOP_PROOF_MAX_AGE`` (60 s) and oidc-provider for 300 s.
Every answer must be 200 with ``"token_type":"DPoP"``; anything else counts as an error.

oidc-provider is the peers' ``oidc/provider.mjs`` (its DPoP feature is on by default in v9: no
nonce, ES256 accepted), one Node process, the MemoryAdapter over an LRU of 4,000,000 entries
(its DPoP replay records live there too); resource ``urn:bench:jwt`` gives a JWT ES256 access
token with ``cnf.jkt``. gatepass is ``gatepass serve`` (uvicorn) in a temp data dir, on SQLite
or a fresh PostgreSQL database on 127.0.0.1:5432 (dropped afterwards), with its in-process
replay cache with one worker; with ``--workers 2``, ``GATEPASS_REDIS_URL`` (``--redis``, under
a key prefix of its own), since without it each worker keeps its own replay cache and a proof
replayed to the other worker passes (the check before measuring catches that). The helpers (server processes, databases, clients) are ``bench/oauth_vs_oidc.py``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import oauth_vs_oidc as ovo

HERE = Path(__file__).resolve().parent
# ../shared/peers from the main checkout; ../../shared/peers from a worktree under /work/wt/
PEERS = next(
    (p for p in (HERE.parent.parent / "shared" / "peers", HERE.parent.parent.parent / "shared" / "peers")
     if p.is_dir()),
    ovo.PEERS,
)  # fmt: skip
OIDC_BODY = "grant_type=client_credentials&scope=api%3Aread&resource=urn%3Abench%3Ajwt"
GP_BODY = "grant_type=client_credentials&scope=api%3Aread"
EXPECT = '"token_type":"DPoP"'


def make_proofs(n: int, htu: str, out: Path) -> None:
    """``n`` proofs for ``POST htu``, one per line, each with its own jti and the current iat."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from dpop_keys import ProofKey

    key = ProofKey("ES256")
    tmp = out.with_suffix(".tmp")
    with tmp.open("w") as f:
        for _ in range(n):
            f.write(key.proof("POST", htu) + "\n")
    tmp.replace(out)


def run(args: argparse.Namespace, label: str, setting: str, pid: int, token_url: str,
        auth: str, body: str) -> dict[str, Any] | None:  # fmt: skip
    """Warm-up and one measured ../shared/peers/bench.py run, each on proofs of its own
    (bench.py hands its --body, --header and --expect to the Lua script's environment)."""
    proofs = args.logs / f"proofs-{secrets.token_hex(4)}.txt"
    make = (f"'{sys.executable}' '{Path(__file__).resolve()}' proofs --n {args.proofs} "
            f"--htu '{token_url}' --out '{proofs}'")  # fmt: skip
    env = dict(os.environ, WRK_PROOFS_FILE=str(proofs), WRK_BODY=body, WRK_EXPECT=EXPECT,
               WRK_HEADERS=f"{auth}|{ovo.FORM}", WRK_THREADS=str(args.threads))  # fmt: skip
    wrk = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--latency", "--timeout", "5s",
           "-s", str(HERE / "wrk_dpop.lua"), token_url]  # fmt: skip
    if args.warmup:  # bench.py runs no warm-up for a custom load command: run it here
        subprocess.run(["bash", "-c", make], check=True, timeout=120)
        subprocess.run([*wrk[:3], f"-d{args.warmup}s", *wrk[3:]], env=env, capture_output=True,
                       timeout=args.warmup + 30)  # fmt: skip
    cmd = [sys.executable, str(PEERS / "bench.py"), "--label", label, "--server", label,
           "--endpoint", "POST token, client_credentials + DPoP (JWT ES256)", "--workers",
           setting, "--pids", str(pid), "--url", token_url, "-t", str(args.threads), "-c",
           str(args.connections), "-d", str(args.duration), "--warmup", "0", "--out",
           str(args.out), "--note", setting, "--seed-cmd", make, "--method", "POST", "--body",
           body, "--header", auth, "--header", ovo.FORM, "--expect", EXPECT, "--loadgen",
           " ".join([*wrk[:3], f"-d{args.duration}s", *wrk[3:]])]  # fmt: skip
    before = args.out.read_text().count("\n") if args.out.exists() else 0
    r = subprocess.run(cmd, env=env, text=True, capture_output=True, timeout=900)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.stdout.write(r.stderr[-2000:])
        return None
    recs = [json.loads(x) for x in args.out.read_text().splitlines()[before:] if x.strip()]
    for p in args.logs.glob(proofs.stem + "*"):
        p.unlink()
    clean = [x for x in recs if not x.get("contaminated")]
    rec = clean[-1] if clean else min(recs, key=lambda x: float(x["other_cpu_cores"]))
    return {**rec, "setting": setting}


def run_oidc(args: argparse.Namespace) -> dict[str, Any] | None:
    node_dir = ovo.WORK / "oidc"
    if not (node_dir / "node_modules" / "oidc-provider").is_dir():
        sys.exit(f"oidc-provider is not installed: run  bash {PEERS}/run_all.sh setup")
    shutil.copy(PEERS / "oidc" / "provider.mjs", node_dir / "provider.mjs")
    env = dict(os.environ, BENCH_LRU_SIZE="4000000", NODE_ENV="production",
               PORT=str(ovo.OIDC_PORT))  # fmt: skip
    proc = ovo.Proc(["node", str(node_dir / "provider.mjs")], env, args.logs / "oidc.log")
    base = f"http://127.0.0.1:{ovo.OIDC_PORT}"
    try:
        ovo.wait_http(base + "/.well-known/openid-configuration")
        auth = ovo.basic(*ovo.OIDC_SECRET)
        check(base + "/token", auth, OIDC_BODY)
        return run(args, "oidc-provider", "1 process, memory", proc.pid, base + "/token", auth,
                   OIDC_BODY)  # fmt: skip
    finally:
        proc.stop()


def run_gatepass(args: argparse.Namespace, db: str, workers: int) -> dict[str, Any] | None:
    data_dir = Path(tempfile.mkdtemp(prefix="gatepass-dpop-bench-"))
    pg_name = None
    url = None
    if db == "postgresql":
        pg_name = "gatepass_bench_" + secrets.token_hex(5)
        asyncio.run(ovo._pg(f'CREATE DATABASE "{pg_name}"'))
        url = f"postgresql://{ovo.PG['user']}@{ovo.PG['host']}:{ovo.PG['port']}/{pg_name}"
    env = ovo.gatepass_env(data_dir, url)
    setting = f"{workers} worker{'s' if workers > 1 else ''}, uvicorn, {db}"
    if workers > 1:  # one replay cache for every worker (README, "Replay"); else per worker
        env.update(
            GATEPASS_REDIS_URL=args.redis, GATEPASS_REDIS_PREFIX=f"bench{secrets.token_hex(4)}"
        )
        setting += ", Redis replay cache"
    proc = None
    try:
        client = json.loads(ovo.cli(env, "client", "create", "bench-dpop", "--grant",
                                    "client_credentials", "--scope", "api:read", "--dpop",
                                    "--json"))  # fmt: skip
        cmd = [ovo.GATEPASS, "serve", "--host", "127.0.0.1", "--port", str(ovo.GP_PORT)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        proc = ovo.Proc(cmd, env, args.logs / f"gatepass-{db}-{workers}w.log")
        base = f"http://127.0.0.1:{ovo.GP_PORT}"
        ovo.wait_http(base + "/healthz")
        if workers > 1:
            time.sleep(2)  # every worker up
        auth = ovo.basic(client["client_id"], client["client_secret"])
        check(base + "/oauth/token", auth, GP_BODY)
        return run(args, f"gatepass {db} {workers}w", setting, proc.pid, base + "/oauth/token",
                   auth, GP_BODY)  # fmt: skip
    finally:
        if proc is not None:
            proc.stop()
        if pg_name is not None:
            asyncio.run(ovo._pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        shutil.rmtree(data_dir, ignore_errors=True)


def check(token_url: str, auth: str, body: str) -> None:
    """One request with a proof gives a DPoP token bound to the proof's key; the same proof
    again is refused (a replay), before anything is measured."""
    import urllib.error
    import urllib.request

    sys.path.insert(0, str(HERE.parent / "tests"))
    from dpop_keys import ProofKey
    from gatepass.core.jose import b64url_decode

    key = ProofKey("ES256")
    proof = key.proof("POST", token_url)
    name, _, value = auth.partition(": ")
    headers = {name: value, "Content-Type": "application/x-www-form-urlencoded", "DPoP": proof}

    def post() -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(token_url, data=body.encode(), headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback only
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    status, answer = post()
    claims = json.loads(b64url_decode(str(answer.get("access_token", "..")).split(".")[1] or "e30"))
    if status != 200 or answer.get("token_type") != "DPoP" or claims.get("cnf") != {"jkt": key.jkt}:
        raise SystemExit(f"{token_url}: no DPoP-bound token: {status} {answer}")
    status, answer = post()
    if status == 200:
        raise SystemExit(f"{token_url}: a replayed proof was accepted")


def table(rows: list[dict[str, Any]]) -> str:
    peer = next((r for r in rows if r["label"] == "oidc-provider"), None)
    out = ["| server | setting | req/s | p50 ms | p99 ms | errors | server CPU (cores) | "
           "req/s per server core | gatepass / oidc (req/s) | gatepass / oidc (per core) |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        cores = r.get("server_cpu_cores") or 0
        per_core = r["rps"] / cores if cores else 0
        ratio = ratio_core = ""
        if peer is not None and r is not peer:
            ratio = f"{r['rps'] / peer['rps']:.2f}"
            pc = peer["rps"] / peer["server_cpu_cores"] if peer.get("server_cpu_cores") else 0
            ratio_core = f"{per_core / pc:.2f}" if pc else ""
        flag = f"; other load {r['other_cpu_cores']:.2f} cores" if r.get("contaminated") else ""
        server = "oidc-provider 9" if r is peer else "gatepass"
        out.append(f"| {server} | {r['setting']} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | "
                   f"{r['p99_ms']:.1f} | {r['errors_total']}{flag} | {cores:.2f} | "
                   f"{per_core:,.0f} | {ratio} | {ratio_core} |")  # fmt: skip
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command")
    pp = sub.add_parser("proofs", help="(internal) write N fresh DPoP proofs, one per line")
    pp.add_argument("--n", type=int, required=True)
    pp.add_argument("--htu", required=True)
    pp.add_argument("--out", type=Path, required=True)
    ap.add_argument("--settings", default="sqlite:1,postgresql:1,sqlite:2,postgresql:2")
    ap.add_argument("--no-oidc", action="store_true")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0",
                    help="GATEPASS_REDIS_URL for --workers 2 (the proofs' replay cache)")  # fmt: skip
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-c", "--connections", type=int, default=64)
    ap.add_argument("-d", "--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--proofs", type=int, default=0,
                    help="proofs per run (default: 12,000 per second of the run, at least 40,000)")  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="1 s warm-up + 4 s per run")
    args = ap.parse_args()
    if args.command == "proofs":
        make_proofs(args.n, args.htu, args.out)
        return
    if args.quick:
        args.duration, args.warmup = 4, 1
    args.proofs = args.proofs or max(40_000, 12_000 * max(args.duration, args.warmup))
    if shutil.which("wrk") is None:
        sys.exit(f"wrk is not installed: run  bash {PEERS}/run_all.sh setup")
    args.logs = ovo.WORK / f"dpop_server-{time.strftime('%Y%m%d-%H%M%S')}"
    args.logs.mkdir(parents=True, exist_ok=True)
    args.out = args.logs / "results.jsonl"
    # the proofs age: a short wait for quiet, no retry on other proofs' time
    os.environ.setdefault("BENCH_QUIET_WAIT", "10")
    os.environ.setdefault("BENCH_RETRIES", "0")

    rows: list[dict[str, Any]] = []
    if not args.no_oidc:
        rows += [r for r in [run_oidc(args)] if r]
    for item in [s for s in args.settings.split(",") if s]:
        db, _, w = item.partition(":")
        if db not in ("sqlite", "postgresql"):
            sys.exit(f"unknown database {db!r} in --settings")
        rows += [r for r in [run_gatepass(args, db, int(w or 1))] if r]
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    head = (f"\nwrk -t{args.threads} -c{args.connections}, {args.warmup} s warm-up + "
            f"{args.duration} s, {args.proofs:,} proofs per run; load average {load}")  # fmt: skip
    report = table(rows)
    (args.logs / "table.md").write_text(head + "\n\n" + report + "\n")
    print(head + "\n")
    print(report)
    print(f"\nraw: {args.out}")


if __name__ == "__main__":
    main()
