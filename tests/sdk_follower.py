"""A third process for the fault tests: an SDK Verifier with a RedisDenylist, as a service of
someone else's would run it. Usage: sdk_follower.py ISSUER REDIS_URL PREFIX; then one token on
stdin. Prints ``ready``, ``verified``, then ``revoked <time.time()>`` (or ``timeout``)."""

from __future__ import annotations

import sys
import time

from gatepass.sdk import RevokedToken, Verifier
from gatepass.sdk.denylist import RedisDenylist


def main() -> int:
    issuer, redis_url, prefix = sys.argv[1:4]
    denylist = RedisDenylist(redis_url, prefix=prefix)
    verifier = Verifier.from_issuer(issuer, audience="gatepass", denylist=denylist)
    if not denylist.wait_ready(10):
        print("not ready", flush=True)
        return 1
    print("ready", flush=True)
    token = sys.stdin.readline().strip()
    verifier.verify(token)
    print("verified", flush=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            verifier.verify(token)
        except RevokedToken:
            print(f"revoked {time.time():.6f}", flush=True)
            return 0
        time.sleep(0.0005)
    print("timeout", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
