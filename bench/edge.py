#!/usr/bin/env python3
"""The edge path: gatepass ``GET /edge/verify`` against nginx in the same run, and the SDK check.

    .venv/bin/python bench/edge.py                  # ~5-8 min: 3 rounds of 6 bounded wrk runs + SDK
    .venv/bin/python bench/edge.py --rounds 5       # more rounds
    .venv/bin/python bench/edge.py --quick          # 1 s warm-up + 4 s per run, 1 round, noisier
    .venv/bin/python bench/edge.py --sdk-only       # µs/op of the SDK function only (no servers)

Needs ``wrk`` and Debian's ``nginx-light`` (``apt-get install -y wrk nginx-light``) and the peers
in ``../shared/peers`` (``--peers DIR``): their ``nginx/start_nginx.sh`` config (``return 204``,
``secure_link_md5``, ``auth_request`` to ``/edge/verify``) and ``bench.py`` (one bounded wrk run
with CPU accounting, retried when other load disturbs it). Everything listens on 127.0.0.1 and
every process started here is stopped by its pid.

Runs, each with one worker per server and wrk -t2 -c64 on the same machine:

  nginx return 204          the ceiling: what an auth_request target can cost at best
  nginx secure_link_md5     nginx checking a (keyed MD5) signed URL by itself
  gatepass /edge/verify     direct, exact-path URL; and a prefix URL bound to an address
  nginx -> gatepass         the full chain: auth_request to gatepass, then a 2-byte static file
  uvicorn bare ASGI 204     the floor under gatepass: the same server answering without any work

"server CPU µs/req" is the server's CPU time per answered request (from /proc, over the measured
window): less sensitive than req/s to other load on the machine, which the load generator shares.
The SDK rows time ``SignedUrlVerifier.check`` in-process (µs per call, best of 5 rounds).
Results: a markdown table on stdout, JSON lines in bench/results/edge.jsonl (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import timeit
from functools import partial
from pathlib import Path
from statistics import median

import httpx

from gatepass.core import playback
from gatepass.core import signed_url as su
from gatepass.core.url_keys import playback_secret
from gatepass.oauth.signed_urls import secure_link_md5
from gatepass.sdk.signed_url import SignedUrlVerifier

REPO = Path(__file__).resolve().parent.parent
PEERS = REPO.parent / "shared" / "peers"
GATEPASS = [sys.executable, "-m", "gatepass.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the SDK function ---------------------------------------------------------------------------
def sdk_timings(rounds: int = 5, number: int = 50_000) -> list[dict]:
    secret, kid, now = secrets.token_bytes(32), "bench0000001", time.time()
    edge = SignedUrlVerifier({kid: secret}, issuer="https://auth.example")
    exact = su.sign(secret, kid, kind="path", scope="/videos/42/seg1.ts", exp=int(now) + 3600)
    q = su.sign_query(secret, kid, kind="prefix", scope="/videos/42/", exp=int(now) + 3600)
    prefix = "/videos/42/720p/seg00001.ts?" + q
    qb = su.sign_query(
        secret, kid, kind="prefix", scope="/videos/42/", exp=int(now) + 3600, ip="203.0.113.0/24"
    )
    bound = "/videos/42/720p/seg00001.ts?" + qb
    encoded = su.sign(secret, kid, kind="path", scope="/media/été 42.mp4", exp=int(now) + 3600)
    claims = playback.build_claims(
        issuer="https://auth.example", audience="gatepass-playback", subject="u1", vid="42",
        now=now, ttl=3600,
    )  # fmt: skip
    jwt_uri = "/videos/42/seg1.ts?token=" + playback.sign(claims, kid, playback_secret(secret))
    cases = [
        ("exact path", exact, None, True),
        ("prefix", prefix, None, True),
        ("prefix, bound to a /24", bound, "203.0.113.7", True),
        ("percent-encoded path", encoded, None, True),
        ("playback JWT", jwt_uri, None, True),
        ("refused: bad signature", exact[:-1] + ("A" if exact[-1] != "A" else "B"), None, False),
        ("refused: out of prefix", prefix.replace("/42/", "/43/", 1), None, False),
    ]
    out = []
    for name, uri, ip, expect in cases:
        if edge.check(uri, ip) is not expect:
            raise SystemExit(f"SDK case {name!r} did not give {expect}")
        best = min(timeit.repeat(partial(edge.check, uri, ip), number=number, repeat=rounds))
        out.append({"case": name, "us_per_op": round(best / number * 1e6, 2)})
    return out


# -- servers ------------------------------------------------------------------------------------
class Procs:
    """Processes started here, stopped by pid (with their children) at the end."""

    def __init__(self) -> None:
        self.pids: list[int] = []

    def add(self, pid: int) -> int:
        self.pids.append(pid)
        return pid

    def stop_all(self) -> None:
        for pid in reversed(self.pids):
            kids = _descendants(pid)
            for p in [pid, *kids]:
                try:
                    os.kill(p, signal.SIGTERM if p == pid else signal.SIGQUIT)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(_alive(p) for p in [pid, *kids]):
                time.sleep(0.1)
            for p in [pid, *kids]:
                if _alive(p):
                    os.kill(p, signal.SIGKILL)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        self.pids.clear()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for k in kids:
        out.append(int(k))
        out.extend(_descendants(int(k)))
    return out


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def start_gatepass(procs: Procs, work: Path, **settings: str) -> tuple[str, dict[str, str]]:
    """``gatepass serve`` on SQLite in ``work``; ``settings`` are more GATEPASS_* variables."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPASS_")}
    env.update(
        GATEPASS_DATA_DIR=str(work / "data"),
        GATEPASS_SECRET_KEY=secrets.token_urlsafe(32),
        GATEPASS_ISSUER=f"http://127.0.0.1:{port}",
        GATEPASS_SIGNED_URL_BASE="http://edge.invalid",
        GATEPASS_LOG_LEVEL="warning",
        **settings,
    )
    log = open(work / "gatepass.log", "wb")  # noqa: SIM115 - closed with the process
    p = subprocess.Popen([*GATEPASS, "serve", "--port", str(port)], env=env, stdout=log,
                         stderr=subprocess.STDOUT)  # fmt: skip
    procs.add(p.pid)
    wait_http(f"http://127.0.0.1:{port}/healthz", 60)
    return f"127.0.0.1:{port}", env


BARE_ASGI = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""


def start_bare_uvicorn(procs: Procs, work: Path) -> tuple[str, int]:
    """The floor under /edge/verify: uvicorn (as `gatepass serve` runs it) answering 204."""
    (work / "bare_asgi.py").write_text(BARE_ASGI)
    port = free_port()
    p = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_asgi:app", "--app-dir", str(work),
                          "--port", str(port), "--no-access-log", "--log-level", "warning",
                          "--no-server-header"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)  # fmt: skip
    procs.add(p.pid)
    wait_http(f"http://127.0.0.1:{port}/")
    return f"http://127.0.0.1:{port}/edge/verify", p.pid


def sign(env: dict[str, str], *args: str) -> str:
    r = subprocess.run([*GATEPASS, "sign-url", *args, "--json"], env=env, capture_output=True,
                       text=True, timeout=60, check=True)  # fmt: skip
    url = json.loads(r.stdout)["url"]
    return url.removeprefix("http://edge.invalid")


def status(url: str, headers: dict[str, str] | None = None) -> int:
    return httpx.get(url, headers=headers, timeout=5).status_code


# -- runs ---------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peers", default=str(PEERS))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3,
                    help="every run this many times in turn; the table gives medians")  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="1 s warm-up + 4 s per run, 1 round")
    ap.add_argument("--sdk-only", action="store_true")
    ap.add_argument("--quiet-wait", default=os.environ.get("BENCH_QUIET_WAIT", "60"),
                    help="seconds bench.py waits for other load to settle before each run")  # fmt: skip
    a = ap.parse_args()
    if a.quick:
        a.duration, a.warmup, a.rounds = 4, 1, 1

    sdk = sdk_timings(rounds=3 if a.quick else 5)
    if a.sdk_only:
        print_sdk(sdk)
        return
    peers = Path(a.peers)
    for need in ("wrk", "nginx"):
        if shutil.which(need) is None and not Path(f"/usr/sbin/{need}").exists():
            raise SystemExit(f"{need} is not installed: apt-get install -y wrk nginx-light")
    if not (peers / "bench.py").exists():
        raise SystemExit(f"no peers at {peers} (--peers DIR)")

    results_dir = REPO / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    out = results_dir / "edge.jsonl"
    work = Path(tempfile.mkdtemp(prefix="gatepass-edge-"))
    work.chmod(0o755)  # nginx's workers (user nobody under root) read the static file in it
    procs = Procs()
    rows: list[dict] = []
    run_id = time.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        gp, env = start_gatepass(procs, work)
        gp_pid = procs.pids[-1]
        exact = sign(env, "/v/videos/42/seg1.ts", "--ttl", "3600")
        prefix_url = sign(env, "/v/videos/42/", "--ttl", "3600", "--bind-ip", "127.0.0.0/8")
        prefix = "/v/videos/42/seg1.ts?" + prefix_url.split("?", 1)[1]

        nport = free_port()
        r = subprocess.run(["bash", str(peers / "nginx" / "start_nginx.sh"), str(work / "nginx"),
                            str(nport), "1", gp], capture_output=True, text=True, check=True,
                           env=dict(os.environ, PATH=os.environ["PATH"] + ":/usr/sbin"))  # fmt: skip
        nginx_pid = procs.add(int(r.stdout.strip().splitlines()[-1]))
        n = f"http://127.0.0.1:{nport}"
        wait_http(n + "/204")
        exp = int(time.time()) + 86400
        s_uri = "/s/videos/42/seg1.ts"
        s_url = f"{n}{s_uri}?md5={secure_link_md5('bench-secret', s_uri, exp)}&expires={exp}"
        direct = f"http://{gp}/edge/verify"
        checks = {
            "nginx 204": status(n + "/204") == 204,
            "nginx secure_link (gatepass-signed)": status(s_url) == 204,
            "secure_link tampered": status(s_url.replace("md5=", "md5=A")) == 403,
            "gatepass direct exact": status(direct, {"X-Original-URI": exact}) == 204,
            "gatepass direct prefix+ip": status(
                direct, {"X-Original-URI": prefix, "X-Real-IP": "127.0.0.1"}
            )
            == 204,
            "gatepass direct refused": status(direct, {"X-Original-URI": exact + "x"}) == 403,
            "chain": status(n + exact) == 200,
            "chain refused": status(n + exact.replace("seg1", "seg2")) == 403,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise SystemExit(f"correctness checks failed before measuring: {bad}")

        def bench(label: str, url: str, pids: list[int], workers: str, *headers: str,
                  expect: str = "", round_no: int = 0) -> None:  # fmt: skip
            cmd = [sys.executable, str(peers / "bench.py"), "--label", label, "--server", label,
                   "--endpoint", label, "--workers", workers, "--pids",
                   ",".join(map(str, pids)), "--url", url, "-t2", f"-c{a.connections}",
                   f"-d{a.duration}", "--warmup", str(a.warmup), "--out", str(work / "raw.jsonl"),
                   "--quiet-wait", str(a.quiet_wait)]  # fmt: skip
            for h in headers:
                cmd += ["--header", h]
            if expect:
                cmd += ["--expect", expect]
            subprocess.run(cmd, check=True, timeout=a.duration * 3 + 600)
            recs = [json.loads(line) for line in (work / "raw.jsonl").read_text().splitlines()]
            (work / "raw.jsonl").unlink()
            mine = [x for x in recs if x["label"] == label]
            clean = [x for x in mine if not x["contaminated"]] or mine
            best = max(clean, key=lambda x: x["rps"])
            rows.append({**best, "run": run_id, "round": round_no})

        bare_url, bare_pid = start_bare_uvicorn(procs, work)
        # every run once per round, in turn, so a ratio compares runs about a minute apart (one
        # server under the same load moved by up to a third between windows minutes apart)
        for k in range(a.rounds):
            bench("nginx return 204", n + "/204", [nginx_pid], "1", round_no=k)
            bench("nginx secure_link_md5", s_url, [nginx_pid], "1", round_no=k)
            bench("gatepass /edge/verify, exact path", direct, [gp_pid], "1",
                  f"X-Original-URI: {exact}", round_no=k)  # fmt: skip
            bench("gatepass /edge/verify, prefix + address", direct, [gp_pid], "1",
                  f"X-Original-URI: {prefix}", "X-Real-IP: 127.0.0.1", round_no=k)  # fmt: skip
            bench("nginx auth_request -> gatepass, 2-byte file", n + exact, [nginx_pid, gp_pid],
                  "1+1", expect="ok", round_no=k)  # fmt: skip
            bench("uvicorn, bare ASGI app answering 204 (floor)", bare_url, [bare_pid], "1",
                  f"X-Original-URI: {exact}", round_no=k)  # fmt: skip
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    with out.open("a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
        f.write(json.dumps({"run": run_id, "sdk": sdk}) + "\n")
    print_table(rows)
    print_sdk(sdk)


def print_table(rows: list[dict]) -> None:
    """One line per run: the median over the rounds of req/s, p50, p99 and CPU; "vs nginx 204"
    is the median of each round's ratio to that round's nginx ``return 204`` (range beside it)."""
    rounds = sorted({r["round"] for r in rows})
    ceiling = {r["round"]: r["rps"] for r in rows if r["label"] == "nginx return 204"}
    labels = list(dict.fromkeys(r["label"] for r in rows))
    print(f"\n{len(rounds)} round(s); medians over the rounds; the ratio is the median of the "
          "rounds' own ratios (range)")  # fmt: skip
    print("\n| run (1 worker each, wrk -t2 -c64) | req/s | vs nginx 204 | p50 ms | p99 ms | "
          "server CPU (cores) | server CPU µs/req | errors | disturbed |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label in labels:
        mine = [r for r in rows if r["label"] == label]
        ratios = [r["rps"] / ceiling[r["round"]] for r in mine if ceiling.get(r["round"])]
        ratio = f"{median(ratios):.2f}" if ratios else "-"
        if len(ratios) > 1:
            ratio += f" ({min(ratios):.2f}-{max(ratios):.2f})"
        us = [r["server_cpu_cores"] * 1e6 / r["rps"] for r in mine if r["rps"]]
        print(f"| {label} | {median(r['rps'] for r in mine):,.0f} | {ratio} | "
              f"{median(r['p50_ms'] for r in mine):.2f} | {median(r['p99_ms'] for r in mine):.2f} | "
              f"{median(r['server_cpu_cores'] for r in mine):.2f} | "
              f"{median(us) if us else float('nan'):.1f} | "
              f"{sum(r['errors_total'] for r in mine)} | "
              f"{sum(1 for r in mine if r['contaminated'])}/{len(mine)} |")  # fmt: skip


def print_sdk(sdk: list[dict]) -> None:
    print("\n| SDK `SignedUrlVerifier.check` | µs/op |")
    print("|---|---:|")
    for s in sdk:
        print(f"| {s['case']} | {s['us_per_op']:.2f} |")


if __name__ == "__main__":
    main()
