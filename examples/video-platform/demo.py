"""``make demo``: the video platform on loopback, until Ctrl-C.

Starts Redis, gatepass, nginx and the app's API (``stack.py``), creates the demo users and the
API's OAuth client, prints the URL and the credentials, and on Ctrl-C stops each process by its
pid. A missing system package is named with the line that installs it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from stack import HERE, USERS, MissingPackage, Settings, Stack, missing_packages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="nginx, the public origin")
    parser.add_argument("--state", type=Path, default=HERE / ".demo", help="state directory")
    args = parser.parse_args(argv)
    problems = missing_packages()
    if problems:
        print("Missing system packages (run as root, after apt-get update):", file=sys.stderr)
        for line in problems:
            print("  " + line, file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stack = Stack(args.state, Settings(port=args.port))
    print("Setting up (media, hls.js, users) and starting Redis, gatepass, nginx, the API…")
    try:
        stack.start()
    except MissingPackage as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        print(f"\n  Open {stack.origin}/  (Chromium, or any browser: http://127.0.0.1 is a secure")
        print("  context, so the Secure refresh cookie works without TLS)\n")
        for name, password, roles in USERS:
            print(f"  {name:6} {password:24} {', '.join(roles) or 'free'}")
        print(f"\n  Logs: {stack.logs}/   Ctrl-C stops everything.")
        for p in stack.procs:
            print(f"  {p.name:9} pid {p.popen.pid}")
        while not stop.wait(0.5):
            dead = [p.name for p in stack.procs if p.popen.poll() is not None]
            if dead:
                print(f"{', '.join(dead)} stopped; see {stack.logs}/", file=sys.stderr)
                return 1
    finally:
        print("\nStopping…")
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
