#!/usr/bin/env python3
"""GET /api/profile under the same load: `gatepass serve` against the hand-written FastAPI and
Starlette + PyJWT baselines of ../shared/peers/py, one uvicorn worker each, on loopback.

    .venv/bin/python bench/profile_http.py            # 5 runs x 2 repeats, 3 s + 10 s each: 4-15 min
    .venv/bin/python bench/profile_http.py --quick    # 1 s + 4 s per run, one repeat, no retries
    .venv/bin/python bench/profile_http.py --json     # best and all records as JSON on stdout

Each server is a subprocess on a free 127.0.0.1 port; they are started first (a server waits idle
while another is under load) and stopped at the end by pid (SIGTERM, then SIGKILL for it and any
process it left). Every load run is bounded (warm-up + duration <= 20 s; the peers' bench.py
refuses more), and the runs are interleaved over --repeat rounds. The load is wrk (-t2 -c64) run by
../shared/peers/bench.py, which also records the CPU used by the server and by wrk and retries a
run that other processes on the machine disturbed. Without wrk (`apt-get install -y wrk`) the
peers' loadgen.py is used, given a Python with aiohttp (--loadgen-python).

gatepass: SQLite in a temporary data directory, a user made with `gatepass user create NAME
--password-stdin`, a token from POST /oauth/token (password grant); access log off (the
default). It is measured twice: with that one token (the SDK Verifier answers repeats from its
cache, as in a service whose callers reuse their token), and with --miss-tokens distinct tokens
(client_credentials) cycled in order across the warm-up and the measured runs, so that a token
comes back only after all the others have pushed it out of the cache (4096 entries): every
request verifies a signature, like the baselines, which keep no cache.
Baselines: ES256 tokens (like gatepass's default key) from the peers' common.py, keys in a
temporary BENCH_KEYS_DIR; with wrk, --miss-tokens distinct ones through the same wrk script as
gatepass's cache-miss run (they keep no cache, so this only gives wrk the same work for both:
a Lua request() per request), without it one token; FastAPI's /api/profile has a plain `def` dependency (run in a thread
pool), /api/profile-async the same check as `async def`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_PEERS = ROOT.parent / "shared" / "peers"
PEERS_VENV_PYTHON = Path("/tmp/gatepass-peers/venv/bin/python")  # made by `run_all.sh setup`
PASSWORD = "correct horse battery staple"
EXPECT = "Welcome user"


# ------------------------------------------------------------------------------ processes
@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:
            continue
        for c in children:
            out.append(int(c))
            out.extend(descendants(int(c)))
    return out


def stop(server: Server) -> None:
    """SIGTERM the server, wait (bounded), then SIGKILL it and anything it left, by pid."""
    pids = [server.proc.pid, *descendants(server.proc.pid)]
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=5)
    for pid in pids[1:]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def start(name: str, cmd: list[str], env: dict[str, str], port: int, workdir: Path) -> Server:
    log = workdir / f"{name}.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            cmd, env=env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = Server(name, proc, port, log, env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited at start:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} within 30 s")


@contextlib.contextmanager
def running(
    name: str, cmd: list[str], env: dict[str, str], port: int, workdir: Path
) -> Iterator[Server]:
    server = start(name, cmd, env, port, workdir)
    try:
        yield server
    finally:
        stop(server)


# ------------------------------------------------------------------------------ HTTP helpers
def http(
    method: str,
    url: str,
    *,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def check_profile(base: str, token: str) -> None:
    status, body = http("GET", f"{base}/api/profile", headers={"Authorization": f"Bearer {token}"})
    if status != 200 or EXPECT.encode() not in body:
        raise RuntimeError(f"GET {base}/api/profile answered {status}: {body[:300]!r}")


# ------------------------------------------------------------------------------ gatepass
def gatepass_bin() -> str:
    candidate = Path(sys.executable).with_name("gatepass")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("gatepass")
    if not found:
        sys.exit("the gatepass command is not installed (pip install -e . in the project venv)")
    return found


def gatepass_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPASS_")}
    env.update(
        GATEPASS_DATA_DIR=str(data_dir),
        GATEPASS_ISSUER=f"http://127.0.0.1:{port}",
        GATEPASS_ACCESS_LOG="false",
        GATEPASS_LOG_LEVEL="warning",
    )
    return env


def gatepass_prepare(data_dir: Path, env: dict[str, str]) -> tuple[str, str]:
    """A user and a client_credentials client, by the CLI; returns (client_id, secret)."""
    gp = gatepass_bin()
    subprocess.run(
        [gp, "user", "create", "bench", "--password-stdin", "--data-dir", str(data_dir)],
        input=f"{PASSWORD}\n".encode(),
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    out = subprocess.run(
        [
            gp,
            "client",
            "create",
            "bench-miss",
            "--grant",
            "client_credentials",
            "--scope",
            "profile",
            "--json",
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    created = json.loads(out.stdout)
    return created["client_id"], created["client_secret"]


def gatepass_login(base: str) -> str:
    status, body = http(
        "POST",
        f"{base}/oauth/token",
        data={"grant_type": "password", "username": "bench", "password": PASSWORD},
    )
    if status != 200:
        raise RuntimeError(f"password grant answered {status}: {body[:300]!r}")
    return str(json.loads(body)["access_token"])


def gatepass_mint(base: str, client_id: str, secret: str, n: int) -> list[str]:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()

    def one(_: int) -> str:
        status, body = http(
            "POST",
            f"{base}/oauth/token",
            data={"grant_type": "client_credentials", "scope": "profile"},
            headers={"Authorization": f"Basic {basic}"},
        )
        if status != 200:
            raise RuntimeError(f"client_credentials answered {status}: {body[:300]!r}")
        return str(json.loads(body)["access_token"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(one, range(n)))
    if len(set(tokens)) != n:
        raise RuntimeError("minted tokens are not all distinct")
    return tokens


# ------------------------------------------------------------------------------ load
@dataclass
class Load:
    peers: Path
    out: Path
    duration: int
    warmup: int
    connections: int
    threads: int
    quiet_wait: int
    retries: int
    loadgen_python: str | None

    def run(
        self,
        label: str,
        server: Server,
        path: str,
        token: str | None = None,
        tokens_file: Path | None = None,
    ) -> dict[str, Any]:
        url = f"{server.base}{path}"
        cmd = [
            sys.executable,
            str(self.peers / "bench.py"),
            "--label",
            label,
            "--server",
            server.name,
            "--endpoint",
            f"GET {path}",
            "--workers",
            "1",
            "--pids",
            str(server.proc.pid),
            "--url",
            url,
            "-t",
            str(self.threads),
            "-c",
            str(self.connections),
            "-d",
            str(self.duration),
            "--warmup",
            str(self.warmup),
            "--expect",
            EXPECT,
            "--out",
            str(self.out),
            "--quiet-wait",
            str(self.quiet_wait),
            "--retries",
            str(self.retries),
        ]
        env = dict(os.environ)
        if tokens_file is not None:
            # bench.py runs no warm-up for a custom load command: run it here, same shape
            env.update(
                WRK_TOKENS_FILE=str(tokens_file),
                WRK_STATE_FILE=str(tokens_file.with_suffix(".state")),
                WRK_EXPECT=EXPECT,
                WRK_THREADS=str(self.threads),
            )
            wrk = [
                "wrk",
                f"-t{self.threads}",
                f"-c{self.connections}",
                "--latency",
                "--timeout",
                "5s",
                "-s",
                str(HERE / "wrk_tokens.lua"),
                url,
            ]
            if self.warmup:
                subprocess.run(
                    wrk[:3] + [f"-d{self.warmup}s"] + wrk[3:],
                    env=env,
                    capture_output=True,
                    timeout=self.warmup + 30,
                )
            cmd += ["--loadgen", " ".join([*wrk[:3], f"-d{self.duration}s", *wrk[3:]])]
        else:
            cmd += ["--header", f"Authorization: Bearer {token}"]
            if not shutil.which("wrk"):
                cmd += ["--loadgen", self._loadgen(url, token)]
        before = self.out.read_text().count("\n") if self.out.exists() else 0
        subprocess.run(
            cmd,
            env=env,
            check=True,
            stdout=sys.stderr,  # its progress lines; this script's own output is the summary
            timeout=(self.quiet_wait + self.warmup + self.duration + 60) * (self.retries + 1),
        )
        records = [
            json.loads(line) for line in self.out.read_text().splitlines()[before:] if line.strip()
        ]
        if not records:
            raise RuntimeError(f"{label}: bench.py wrote no record")
        clean = [r for r in records if not r.get("contaminated")] or records
        return max(clean, key=lambda r: r["rps"])

    def _loadgen(self, url: str, token: str) -> str:
        py = self.loadgen_python
        if not py:
            sys.exit(
                "wrk is not installed (apt-get install -y wrk), and no --loadgen-python "
                "with aiohttp was given for the peers' loadgen.py"
            )
        return (
            f"{py} {self.peers / 'loadgen.py'} --mode fixed --url {url} -c {self.connections} "
            f"-d {self.duration} --warmup {self.warmup} --header 'Authorization: Bearer {token}' "
            f"--expect '{EXPECT}'"
        )


# ------------------------------------------------------------------------------ main
@dataclass
class Run:
    label: str
    server: Server
    path: str
    token: Callable[[], str] | None = None  # the bearer token (made fresh when it gets old)
    tokens_file: Callable[[], Path] | None = None  # or many, cycled


class Fresh:
    """A value made again when it is older than ``max_age`` (access tokens live 900 s)."""

    def __init__(self, make: Callable[[], Any], max_age: float = 600.0) -> None:
        self.make, self.max_age = make, max_age
        self.value: Any = None
        self.made = float("-inf")

    def __call__(self) -> Any:
        if time.monotonic() - self.made > self.max_age:
            self.value, self.made = self.make(), time.monotonic()
        return self.value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 s warm-up, 4 s runs, no retries")
    ap.add_argument("--json", action="store_true", help="print the records as JSON")
    ap.add_argument("--peers", type=Path, default=DEFAULT_PEERS, help=f"default {DEFAULT_PEERS}")
    default_py = str(PEERS_VENV_PYTHON) if PEERS_VENV_PYTHON.exists() else None
    ap.add_argument(
        "--peer-python",
        default=default_py,
        help="Python with ../shared/peers/py/requirements.txt installed, for the baselines "
        f"(default {PEERS_VENV_PYTHON}, made by `bash run_all.sh setup`)",
    )
    ap.add_argument(
        "--loadgen-python",
        default=default_py,
        help="Python with aiohttp, for the peers' loadgen.py when wrk is absent",
    )
    ap.add_argument("-d", "--duration", type=int, help="seconds per run (default 10, --quick 4)")
    ap.add_argument("--warmup", type=int, help="seconds (default 3, --quick 1)")
    ap.add_argument("-c", "--connections", type=int, default=64)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="run the whole sequence this many times, interleaved (default 2); the table shows "
        "the best undisturbed run of each",
    )
    ap.add_argument(
        "--miss-tokens",
        type=int,
        default=6000,
        help="distinct tokens for the cache-miss run (0: skip it); cycled in order, so each comes "
        "back after all the others: more than the Verifier's cache (4096) means none is cached",
    )
    ap.add_argument("--quiet-wait", type=int, default=30, help="bench.py: wait for an idle machine")
    ap.add_argument("--retries", type=int, help="bench.py: retries of a disturbed run (default 1)")
    ap.add_argument("--only", action="append", choices=["gatepass", "fastapi", "starlette"])
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    a = ap.parse_args()

    duration = a.duration or (4 if a.quick else 10)
    warmup = a.warmup if a.warmup is not None else (1 if a.quick else 3)
    retries = a.retries if a.retries is not None else (0 if a.quick else 1)
    peers = a.peers.resolve()
    if not (peers / "bench.py").exists():
        sys.exit(f"no bench.py in {peers} (--peers)")
    only = a.only or ["gatepass", "fastapi", "starlette"]
    if set(only) - {"gatepass"} and not a.peer_python:
        sys.exit("no Python for the baselines: give --peer-python (see --help)")
    if a.miss_tokens and not shutil.which("wrk"):
        print("wrk is absent: no cache-miss run", file=sys.stderr)
        a.miss_tokens = 0

    work = Path(tempfile.mkdtemp(prefix="gatepass-bench-"))
    load = Load(
        peers,
        work / "results.jsonl",
        duration,
        warmup,
        a.connections,
        a.threads,
        a.quiet_wait,
        retries,
        a.loadgen_python,
    )
    rows: list[dict[str, Any]] = []
    try:
        with contextlib.ExitStack() as servers:
            runs: list[Run] = []
            for name in only:
                if name == "gatepass":
                    runs += gatepass_runs(servers, work, a.miss_tokens)
                else:
                    runs += peer_runs(servers, work, load.peers, name, a.peer_python, a.miss_tokens)
            for n in range(a.repeat):
                for run in runs:
                    tokens_file = run.tokens_file() if run.tokens_file else None
                    token = run.token() if run.token else None
                    record = load.run(run.label, run.server, run.path, token, tokens_file)
                    rows.append(record | {"repeat": n})
    finally:
        if a.keep:
            print(f"logs and results kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    best = best_runs(rows)
    if a.json:
        json.dump({"best": best, "runs": rows}, sys.stdout, indent=1)
        print()
    else:
        report(best, len(rows))
    return 0


def gatepass_runs(servers: contextlib.ExitStack, work: Path, miss_tokens: int) -> list[Run]:
    data_dir = work / "gatepass-data"
    port = free_port()
    env = gatepass_env(data_dir, port)
    client_id, secret = gatepass_prepare(data_dir, env)
    cmd = [gatepass_bin(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = servers.enter_context(
        running("gatepass", cmd + ["--data-dir", str(data_dir)], env, port, work)
    )
    token = Fresh(lambda: gatepass_login(server.base))
    check_profile(server.base, token())
    runs = [Run("gatepass /api/profile (one token: cache)", server, "/api/profile", token=token)]
    if miss_tokens:

        def mint() -> Path:
            t0 = time.monotonic()
            tokens = gatepass_mint(server.base, client_id, secret, miss_tokens)
            print(f"minted {len(tokens)} tokens in {time.monotonic() - t0:.1f} s", file=sys.stderr)
            check_profile(server.base, tokens[0])
            path = work / "tokens.txt"
            path.write_text("\n".join(tokens) + "\n")
            return path

        label = f"gatepass /api/profile ({miss_tokens} tokens: no cache)"
        runs.append(Run(label, server, "/api/profile", tokens_file=Fresh(mint)))
    return runs


def peer_runs(
    servers: contextlib.ExitStack,
    work: Path,
    peers: Path,
    fw: str,
    python: str,
    miss_tokens: int,
) -> list[Run]:
    """A baseline's runs. With ``miss_tokens`` (and wrk), each request carries its own token
    from a file, through the same wrk script as gatepass's cache-miss run: the baselines keep
    no cache, so this changes nothing for them but the load, which is then the same work for
    wrk (a Lua ``request()`` per request, a header of the same size) as gatepass's run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env["BENCH_KEYS_DIR"] = str(work / "peer-keys")
    py_dir = peers / "py"

    def peer(*args: str) -> str:
        return subprocess.run(
            [python, *args],
            cwd=py_dir,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    token = peer("common.py", "token").strip()  # valid for a day
    port = free_port()
    app = [python, "-m", "uvicorn", f"app_{fw}:app", "--app-dir", str(py_dir)]
    opts = ["--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
    cmd = [*app, "--host", "127.0.0.1", "--port", str(port), *opts]
    server = servers.enter_context(running(fw, cmd, env, port, work))
    check_profile(server.base, token)
    load: dict[str, Any] = {"token": lambda: token}
    if miss_tokens:

        def mint() -> Path:
            script = (
                "import sys, common\n"
                "for _ in range(int(sys.argv[1])):\n"
                "    print(common.issue_access_token('user-1', 'bench', 'api:read', ['user']))"
            )
            tokens = peer("-c", script, str(miss_tokens)).split()
            check_profile(server.base, tokens[0])
            path = work / f"tokens-{fw}.txt"
            path.write_text("\n".join(tokens) + "\n")
            return path

        load = {"tokens_file": Fresh(mint)}
    runs = [Run(f"{fw}+PyJWT /api/profile", server, "/api/profile", **load)]
    if fw == "fastapi":
        label = "fastapi+PyJWT /api/profile-async"
        runs.append(Run(label, server, "/api/profile-async", **load))
    return runs


def best_runs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per label, the fastest undisturbed run (or the fastest, when every run was disturbed)."""
    out = []
    for label in dict.fromkeys(r["label"] for r in rows):
        mine = [r for r in rows if r["label"] == label]
        clean = [r for r in mine if not r.get("contaminated")]
        out.append(max(clean or mine, key=lambda r: r["rps"]) | {"runs": len(mine)})
    return out


def per_cpu(r: dict[str, Any]) -> float:
    """Requests per second of server CPU: steadier than req/s when the machine is shared."""
    cores = r.get("server_cpu_cores") or 0.0
    return float(r["rps"]) / cores if cores > 0 else 0.0


def report(best: list[dict[str, Any]], total: int) -> None:
    print(f"best of {total} runs per label; wrk -t2 -c64; cpu in cores; 'other' = other processes")
    print(
        f"{'run':<48}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'err':>5}"
        f"{'srv cpu':>8}{'req/cpu-s':>10}{'wrk cpu':>8}{'other':>6}"
    )
    for r in best:
        print(
            f"{r['label']:<48}{r['rps']:>8.0f}{r['p50_ms']:>8.2f}{r['p99_ms']:>8.2f}"
            f"{r['errors_total']:>5}{r['server_cpu_cores']:>8.2f}{per_cpu(r):>10.0f}"
            f"{r['loadgen_cpu_cores']:>8.2f}{r['other_cpu_cores']:>6.2f}"
            + ("  (disturbed)" if r.get("contaminated") else "")
        )
    gp = [r for r in best if r["label"].startswith("gatepass")]
    base = [r for r in best if not r["label"].startswith("gatepass")]
    if gp and base:
        print(
            "\nratios gatepass / baseline:                                          req/s  req/cpu-s"
        )
        for g in gp:
            for b in base:
                cpu = per_cpu(g) / per_cpu(b) if per_cpu(b) else float("nan")
                print(
                    f"  {g['label']:<44} / {b['label']:<33}{g['rps'] / b['rps']:>6.2f}{cpu:>9.2f}"
                )


if __name__ == "__main__":
    sys.exit(main())
