#!/usr/bin/env python3
"""Instructions per request of a whole ``gatepass serve`` process under load: uvicorn, the
event loop, the app, SQLite and the garbage collector, counted by callgrind, which other load on
the machine cannot move (the kernel's share is not counted).

    .venv/bin/python bench/callgrind_server.py                       # opaque client_credentials
    .venv/bin/python bench/callgrind_server.py --format jwt --seconds 60
    PYTHONPATH=<other tree>/src .venv/bin/python bench/callgrind_server.py   # another tree
    .venv/bin/python bench/callgrind_server.py --gc 10000            # gc.set_threshold(10000) at start
    .venv/bin/python bench/callgrind_server.py --endpoint edge       # GET /edge/verify, exact path
    .venv/bin/python bench/callgrind_server.py --endpoint edge-prefix  # prefix URL bound to an address
    .venv/bin/python bench/callgrind_server.py --endpoint bare       # edge.py's floor: bare uvicorn
    .venv/bin/python bench/callgrind_server.py --endpoint edge --keep /tmp/cg   # keep the dump

One worker on SQLite in a temporary directory, under ``valgrind --tool=callgrind`` (about 50x
slower: ~100 requests/s); ``wrk -t1 -c64 --timeout 30s`` on ``POST /oauth/token``
(client_credentials, HTTP Basic); counting starts after a warm-up
(instrumentation starts off, ``callgrind_control -i on`` turns it on), the load runs
``--seconds``, and the counts dumped then (``callgrind_control -d``: only those of the
measured load) are divided by wrk's request count. ``--endpoint edge`` loads
``GET /edge/verify`` with an exact-path signed URL in ``X-Original-URI`` instead,
``--endpoint edge-prefix`` with a prefix URL bound to 127.0.0.0/8 and ``X-Real-IP`` (the
prefix + address row of ``bench/edge.py``), and ``--endpoint bare`` the floor of
``bench/edge.py`` (uvicorn answering 204 with no app) with the same request as ``edge``.
``--keep DIR`` keeps the dump (names uncompressed, so ``callgrind_annotate`` reads it per
function; the signature checks of OpenSSL run without the CPU's SHA extensions there).
``--gc N`` sets the youngest generation's threshold when the interpreter starts (a
``sitecustomize``); the app may set its own after start-up (``server/app.py``), which then wins.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from edge import BARE_ASGI, sign  # bench/edge.py's floor (an app answering 204), its URLs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import GATEPASS, cli  # noqa: E402  (one helper for tests and bench)


def wait_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()  # noqa: S310
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the server did not start: see {log}")
            time.sleep(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", choices=("token", "edge", "edge-prefix", "bare"), default="token")
    ap.add_argument("--format", choices=("opaque", "jwt"), default="opaque")
    ap.add_argument("--seconds", type=int, default=40, help="measured load")
    ap.add_argument("--warmup", type=int, default=15)
    ap.add_argument("--port", type=int, default=8297)
    ap.add_argument("--gc", type=int, default=0, help="young-generation threshold at start")
    ap.add_argument("--keep", type=Path, default=None, help="copy the dump into this directory")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install -y valgrind wrk)")

    work = Path(tempfile.mkdtemp(prefix="gp-callgrind-server-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPASS_")}
    env.update(
        GATEPASS_DATA_DIR=str(work / "data"),
        GATEPASS_ISSUER=f"http://127.0.0.1:{args.port}",
        GATEPASS_SIGNED_URL_BASE="http://edge.invalid",
        GATEPASS_LOG_LEVEL="warning",
    )
    if args.gc:
        (work / "site").mkdir()
        (work / "site" / "sitecustomize.py").write_text(
            f"import gc\ngc.set_threshold({args.gc}, *gc.get_threshold()[1:])\n"
        )
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (env.get("PYTHONPATH", ""), str(work / "site")) if p
        )
    url = f"http://127.0.0.1:{args.port}"
    lua = work / "load.lua"
    if args.endpoint == "token":
        client = json.loads(cli(env, "client", "create", "cg", "--grant", "client_credentials",
                                "--scope", "api:read", "--token-format", args.format, "--json"))  # fmt: skip
        secret = f"{client['client_id']}:{client['client_secret']}".encode()
        lua.write_text(
            'wrk.method = "POST"\nwrk.body = "grant_type=client_credentials"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.headers["Authorization"] = "Basic {base64.b64encode(secret).decode()}"\n'
        )
        target = url + "/oauth/token"
    else:
        target = url + "/edge/verify"
    if args.endpoint == "bare":
        (work / "bare_asgi.py").write_text(BARE_ASGI)
        command = [sys.executable, "-m", "uvicorn", "bare_asgi:app", "--app-dir", str(work),
                   "--port", str(args.port), "--no-access-log", "--log-level", "warning",
                   "--no-server-header"]  # fmt: skip
    else:
        command = [sys.executable, GATEPASS, "serve", "--host", "127.0.0.1", "--port",
                   str(args.port)]  # fmt: skip
    out = work / "callgrind.out"
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         "--compress-strings=no", "--compress-pos=no", "--instr-atstart=no", *command],
        env=env, stdout=subprocess.DEVNULL, stderr=(work / "server.log").open("wb"),
    )  # fmt: skip
    try:
        wait_up(target if args.endpoint == "bare" else url + "/healthz", server, work)
        # URLs signed by the server's URL key (made at start-up), as bench/edge.py signs them
        headers: dict[str, str] = {}
        if args.endpoint == "edge-prefix":  # bench/edge.py's prefix + address row
            q = sign(env, "/v/videos/42/", "--ttl", "3600", "--bind-ip", "127.0.0.0/8")
            headers["X-Original-URI"] = "/v/videos/42/seg1.ts?" + q.split("?", 1)[1]
            headers["X-Real-IP"] = "127.0.0.1"
        elif args.endpoint != "token":  # an exact path; the floor is sent the same request
            headers["X-Original-URI"] = sign(env, "/v/videos/42/seg1.ts", "--ttl", "3600")
        if headers:
            lua.write_text("".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items()))

        def load(seconds: int) -> int:
            r = subprocess.run(
                ["wrk", "-t1", "-c64", f"-d{seconds}", "--timeout", "30s", "-s", str(lua),
                 target],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            if "Non-2xx" in r.stdout:
                sys.exit(f"errors under load:\n{r.stdout}")
            found = re.search(r"(\d+) requests in", r.stdout)
            if found is None:
                sys.exit(f"wrk printed no request count:\n{r.stdout}")
            return int(found.group(1))

        print(f"warm-up {args.warmup} s ...", file=sys.stderr)
        load(args.warmup)
        subprocess.run(
            ["callgrind_control", "-i", "on", str(server.pid)], check=True, capture_output=True
        )
        print(f"measuring {args.seconds} s ...", file=sys.stderr)
        requests = load(args.seconds)
        subprocess.run(
            ["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True
        )
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    dump = next(work.glob("callgrind.out.*"), None)  # the dump of the measured load
    if dump is None:
        sys.exit(f"callgrind wrote no dump: see {work / 'server.log'}")
    found = re.search(r"^summary: (\d+)", dump.read_text(errors="replace"), re.M)
    if found is None:
        sys.exit(f"no summary in {dump}")
    instructions = int(found.group(1))
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(dump, args.keep / f"callgrind.{args.endpoint}")
    what = args.format if args.endpoint == "token" else args.endpoint
    result = {
        "endpoint": args.endpoint,
        "format": args.format if args.endpoint == "token" else None,
        "gc_young_threshold_at_start": args.gc or None,
        "requests": requests,
        "instructions": instructions,
        "instructions_per_request": round(instructions / requests),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{what}: {requests} requests, {instructions:,} instructions, "
            f"{result['instructions_per_request']:,} per request"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
