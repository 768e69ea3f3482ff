#!/usr/bin/env python3
"""DPoP checks in a service (RFC 9449 §7): gatepass's SDK against PyJWT with hand-written proof
checks, next to the raw signature check, ES256, µs per request.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/dpop.py            # ~1 min on 2 cores
    .venv/bin/python bench/dpop.py --quick
    .venv/bin/python bench/dpop.py --instructions 2000   # callgrind: instructions per request

Cases (each call judges one request; every proof is new, with its own jti):

  raw-sig       cryptography's ``verify`` of one proof's signature: the floor a DPoP request adds
  gp-bearer     ``Verifier.verify_request("Bearer …")``, an unbound token (answered from the
                verifier's token cache, as a busy service mostly is)
  gp-dpop       ``Verifier.verify_request("DPoP …", proofs=[proof])``, the same token bound to the
                proof's key (token from the cache; proof: signature, typ, alg, jwk, htm, htu, iat,
                ath, jkt, and jti through the in-memory replay cache)
  pyjwt-bearer  ``jwt.decode`` of the token with iss, aud and required claims
  pyjwt-dpop    the same, plus the proof by hand on PyJWT: header, ``PyJWK`` from its jwk (cached
                by jwk), ``jwt.decode`` of the proof, htm, htu, iat, ath, RFC 7638 thumbprint vs
                ``cnf.jkt``, jti in a dict

The target (issue 14): gp-dpop ≤ gp-bearer + raw-sig + 15 µs. Rounds of every case are
interleaved, so background load spreads over all of them; ``min`` of the rounds is the headline.
The machine these figures come from is shared: see bench/README.md for the conditions.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt as pyjwt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from dpop_keys import ProofKey  # noqa: E402  (one helper for tests and benchmarks)
from gatepass.core import jose  # noqa: E402
from gatepass.core import keys as k  # noqa: E402
from gatepass.core.access_token import ACCESS_TOKEN_TYP, build_claims  # noqa: E402
from gatepass.core.rfc9449 import access_token_hash  # noqa: E402
from gatepass.sdk import Verifier  # noqa: E402
from gatepass.sdk.dpop import Dpop  # noqa: E402

ISSUER = "https://auth.bench.example"
AUDIENCE = "urn:bench:api"
URL = "https://api.bench.example/things"
MAX_AGE = 3600  # proofs are all signed before timing starts (signing is the client's work)


def token(signing: k.SigningKey, jkt: str | None) -> str:
    claims = build_claims(
        issuer=ISSUER,
        subject="user-1",
        audience=AUDIENCE,
        client_id="gpc_bench",
        scope=["things:read"],
        roles=[],
        now=time.time(),
        ttl=3600,
        sid=None,
        extra={"cnf": {"jkt": jkt}} if jkt else None,
    )
    return k.KeyRing((signing,)).sign(claims, ACCESS_TOKEN_TYP)


class PyJwtDpop:
    """The peer: PyJWT for both JWTs, the RFC 9449 §4.3 checks written by hand."""

    def __init__(self, public_key: Any) -> None:
        self.key = public_key
        self.seen: dict[str, float] = {}
        self.jwks: dict[str, tuple[Any, str]] = {}

    def bearer(self, tok: str) -> dict[str, Any]:
        return pyjwt.decode(
            tok,
            self.key,
            algorithms=["ES256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=30,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
        )

    def dpop(self, tok: str, proof: str, method: str, url: str) -> dict[str, Any]:
        claims = self.bearer(tok)
        header = pyjwt.get_unverified_header(proof)
        if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
            raise ValueError("typ/alg")
        jwk = header["jwk"]
        if "d" in jwk:
            raise ValueError("private jwk")
        raw = json.dumps(jwk, sort_keys=True)
        cached = self.jwks.get(raw)
        if cached is None:
            members = {m: jwk[m] for m in ("crv", "kty", "x", "y")}
            canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
            thumb = jose.b64url_encode(hashlib.sha256(canonical).digest())
            cached = self.jwks[raw] = (pyjwt.PyJWK(jwk, "ES256").key, thumb)
        key, thumb = cached
        p = pyjwt.decode(proof, key, algorithms=["ES256"], options={"verify_aud": False})
        now = time.time()
        if p["htm"] != method or p["htu"] != url:
            raise ValueError("htm/htu")
        if not now - MAX_AGE - 5 <= p["iat"] <= now + 5:
            raise ValueError("iat")
        if p.get("ath") != access_token_hash(tok) or thumb != claims["cnf"]["jkt"]:
            raise ValueError("ath/jkt")
        replay = f"{thumb}.{p['jti']}"
        if replay in self.seen:
            raise ValueError("replay")
        self.seen[replay] = now + MAX_AGE + 11
        return claims


def build_cases(count: int) -> dict[str, Callable[[int], None]]:
    """The five cases, each taking the index of its proof (``count`` proofs, signed here)."""
    signing = k.SigningKey.new("ES256", state="active", now=time.time())
    client = ProofKey("ES256")
    bound, unbound = token(signing, client.jkt), token(signing, None)
    print(f"signing {count} proofs…", file=sys.stderr)
    proofs = [client.proof("GET", URL, token=bound) for _ in range(count)]

    verifier = Verifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys={signing.kid: signing.verification_key()},
        dpop=Dpop(max_age=MAX_AGE),
    )
    peer = PyJwtDpop(pyjwt.PyJWK(signing.public_jwk(), "ES256").key)
    proof_key = jose.verification_key_from_jwk({**client.public_jwk, "kid": "p"}, "ES256")
    split = [
        (p[: p.rindex(".")].encode(), jose.b64url_decode(p[p.rindex(".") + 1 :])) for p in proofs
    ]

    # every case must accept its request (and the DPoP ones refuse a replay) before timing
    verifier.verify_request(
        f"DPoP {bound}", method="GET", url=URL, proofs=[client.proof("GET", URL, token=bound)]
    )
    peer.dpop(bound, client.proof("GET", URL, token=bound), "GET", URL)
    assert proof_key.verify(*split[0])

    bearer_header, dpop_header = f"Bearer {unbound}", f"DPoP {bound}"

    # "".join(header) builds a new string each call, as a request's header is: its hash is
    # not cached from the last call
    def case_raw(i: int) -> None:
        proof_key.verify(*split[i])

    def case_gp_bearer(i: int) -> None:
        verifier.verify_request("".join(bearer_header), method="GET", url=URL)

    def case_gp_dpop(i: int) -> None:
        verifier.verify_request("".join(dpop_header), method="GET", url=URL, proofs=[proofs[i]])

    def case_pyjwt_bearer(i: int) -> None:
        peer.bearer(unbound)

    def case_pyjwt_dpop(i: int) -> None:
        peer.dpop(bound, proofs[i], "GET", URL)

    return {
        "raw-sig": case_raw,
        "gp-bearer": case_gp_bearer,
        "gp-dpop": case_gp_dpop,
        "pyjwt-bearer": case_pyjwt_bearer,
        "pyjwt-dpop": case_pyjwt_dpop,
    }


def run_one(case: str, count: int, calls: int) -> None:
    """Sign ``count`` proofs, then make ``calls`` calls of one case (for ``--instructions``)."""
    fn = build_cases(count).get(case)
    gc.disable()  # as in the timed rounds; a collection would count for whichever case it fell in
    for i in range(calls):
        if fn is not None:
            fn(i)


def instructions(count: int) -> None:
    """Instructions per request, counted by callgrind (robust to a loaded machine): each case
    runs in its own process with the same setup, less a process that sets up and calls nothing."""
    # the same hash seed in every process, and no bytecode written by the first for the others
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}

    def collected(case: str, calls: int) -> int:
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                __file__,
                "--run-one",
                case,
                str(count),
                str(calls),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return int(re.findall(r"Collected : (\d+)", run.stderr)[-1])

    base = collected("none", 0)
    per = {}
    for case in ("raw-sig", "gp-bearer", "gp-dpop"):
        per[case] = (collected(case, count) - base) / count
        print(f"{case:14} {per[case]:12,.0f} instructions per request")
    ours = per["gp-dpop"] - per["gp-bearer"] - per["raw-sig"]
    print(f"\nDPoP over Bearer, beyond the proof's signature: {ours:,.0f} instructions")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--instructions", type=int, metavar="N", help="count instructions (callgrind), N calls"
    )
    ap.add_argument(
        "--run-one", nargs=3, metavar=("CASE", "COUNT", "CALLS"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.run_one:
        run_one(args.run_one[0], int(args.run_one[1]), int(args.run_one[2]))
        return
    if args.instructions:
        instructions(args.instructions)
        return
    rounds, n = (5, 400) if args.quick else (15, 1000)
    cases = build_cases(rounds * n)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(rounds):
        for name, fn in cases.items():
            gc.disable()
            t0 = time.perf_counter()
            for i in range(r * n, (r + 1) * n):
                fn(i)
            elapsed = time.perf_counter() - t0
            gc.enable()
            times[name].append(elapsed / n * 1e6)

    best = {name: min(v) for name, v in times.items()}
    print(f"{'case':14} {'min µs':>8} {'median µs':>10}")
    for name, v in times.items():
        print(f"{name:14} {min(v):8.1f} {statistics.median(v):10.1f}")
    ours = best["gp-dpop"] - best["gp-bearer"] - best["raw-sig"]
    theirs = best["pyjwt-dpop"] - best["pyjwt-bearer"] - best["raw-sig"]
    print(
        f"\nDPoP over Bearer, beyond the proof's signature: gatepass {ours:.1f} µs "
        f"(target ≤ 15), PyJWT + hand checks {theirs:.1f} µs"
    )
    print(f"gp-dpop vs pyjwt-dpop: {best['pyjwt-dpop'] / best['gp-dpop']:.2f}× faster")


if __name__ == "__main__":
    main()
