#!/usr/bin/env python3
"""Instructions per request of a whole ``gatepass serve`` process under load: uvicorn, the
event loop, the app, SQLite and the garbage collector, counted by callgrind, which other load on
the machine cannot move (the kernel's share is not counted).

    .venv/bin/python bench/callgrind_server.py                       # opaque client_credentials
    .venv/bin/python bench/callgrind_server.py --format jwt --seconds 60
    PYTHONPATH=<other tree>/src .venv/bin/python bench/callgrind_server.py   # another tree
    .venv/bin/python bench/callgrind_server.py --gc 10000            # gc.set_threshold(10000) at start

One worker on SQLite in a temporary directory, under ``valgrind --tool=callgrind`` (about 50x
slower: ~100 requests/s); ``wrk -t1 -c64 --timeout 30s`` on ``POST /oauth/token``
(client_credentials, HTTP Basic); after a warm-up the counters are zeroed
(``callgrind_control -z``), the load runs ``--seconds``, the counters are dumped
(``callgrind_control -d``) and divided by wrk's request count. ``--gc N`` sets the youngest
generation's threshold when the interpreter starts (a ``sitecustomize``); the app may set its own
after start-up (``server/app.py``), which then wins.
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
import urllib.request
from pathlib import Path

GATEPASS = str(Path(sys.executable).with_name("gatepass"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", choices=("opaque", "jwt"), default="opaque")
    ap.add_argument("--seconds", type=int, default=40, help="measured load")
    ap.add_argument("--warmup", type=int, default=15)
    ap.add_argument("--port", type=int, default=8297)
    ap.add_argument("--gc", type=int, default=0, help="young-generation threshold at start")
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
    created = subprocess.run(
        [GATEPASS, "client", "create", "cg", "--grant", "client_credentials", "--scope",
         "api:read", "--token-format", args.format, "--json"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    client = json.loads(created.stdout)
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    lua = work / "token.lua"
    lua.write_text(
        'wrk.method = "POST"\nwrk.body = "grant_type=client_credentials"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = "Basic {basic}"\n'
    )
    out = work / "callgrind.out"
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, GATEPASS,
         "serve", "--host", "127.0.0.1", "--port", str(args.port)],
        env=env, stdout=subprocess.DEVNULL, stderr=(work / "server.log").open("wb"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{args.port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=5).close()  # noqa: S310
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the server did not start: see {work / 'server.log'}")
                time.sleep(1)

        def load(seconds: int) -> int:
            r = subprocess.run(
                ["wrk", "-t1", "-c64", f"-d{seconds}", "--timeout", "30s", "-s", str(lua),
                 url + "/oauth/token"],
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
            ["callgrind_control", "-z", str(server.pid)], check=True, capture_output=True
        )
        print(f"measuring {args.seconds} s ...", file=sys.stderr)
        requests = load(args.seconds)
        subprocess.run(
            ["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True
        )
        dump = next(work.glob("callgrind.out.*"))
        found = re.search(r"^summary: (\d+)", dump.read_text(errors="replace"), re.M)
        if found is None:
            sys.exit(f"no summary in {dump}")
        instructions = int(found.group(1))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    result = {
        "format": args.format,
        "gc_young_threshold_at_start": args.gc or None,
        "requests": requests,
        "instructions": instructions,
        "instructions_per_request": round(instructions / requests),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.format}: {requests} requests, {instructions:,} instructions, "
            f"{result['instructions_per_request']:,} per request"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
