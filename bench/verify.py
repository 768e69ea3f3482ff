#!/usr/bin/env python3
"""Access-token verification: gatepass's Verifier against the raw signature check and four
Python JOSE libraries, on the same RFC 9068 token, for ES256, EdDSA and RS256.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/verify.py            # ~1 min on 2 cores
    .venv/bin/python bench/verify.py --quick    # ~10 s, noisier
    .venv/bin/python bench/verify.py --json     # one JSON document on stdout
    .venv/bin/python bench/verify.py --instructions   # callgrind instructions per call, ~2 min

Cases, per algorithm (every one checks the signature with a pre-loaded key and an algorithm
allow-list, and iss, aud, exp, nbf, iat with 30 s of leeway):

  raw         cryptography's ``public_key.verify`` on the already-decoded signature of each
              token of the pool in turn (the ones the cache-miss case checks): the floor
  parse-only  the floor plus splitting, base64url-decoding, and parsing the payload's JSON: what
              every verifier does besides checking claims (it checks none), for reference
  gatepass    ``Verifier.verify``, cache missing: a pool of distinct tokens (distinct jti) cycled
              through a cache half the pool's size, so FIFO eviction guarantees every call misses
  gp-hit      ``Verifier.verify`` answered from the cache: the same token text, as a new ``str``
              object on every call (what a server gets from a request header)
  gp-hit-obj  the same, with the very same ``str`` object (its hash is cached by Python)
  pyjwt       ``jwt.decode`` with iss, aud and required claims
  joserfc     ``jwt.decode`` + ``JWTClaimsRegistry.validate``
  authlib     ``authlib.jose.JsonWebToken.decode`` + ``claims.validate``
  jwcrypto    ``jwt.JWT(jwt=..., key=..., algs=..., check_claims=...)``

Before timing, each case must accept the token and refuse a token with a wrong signature and one
with a wrong audience, so that no case is measured doing less than the others. Times are per
operation, from R rounds of a loop of N calls (garbage collector off during a loop, as in
``timeit``); the rounds of all cases are interleaved, so background load spreads over all of
them. ``min`` is the headline; ``median`` is shown beside it.
"""

from __future__ import annotations

import argparse
import binascii
import functools
import gc
import json
import os
import pickle
import platform
import re
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from gatepass.core.jose import b64url_decode, b64url_encode
from gatepass.sdk import Verifier

ISSUER = "https://auth.bench.example"
AUDIENCE = "urn:bench:api"
LEEWAY = 30
ALGS = ("ES256", "EdDSA", "RS256")
POOL = 256  # distinct tokens per algorithm for the cache-miss cases
LIBRARIES = ("pyjwt", "joserfc", "authlib", "jwcrypto")


# ------------------------------------------------------------------------------ keys, tokens
@dataclass
class Material:
    alg: str
    kid: str
    private: Any
    public: Any
    jwk: dict[str, str]
    tokens: list[str]  # POOL distinct valid tokens
    wrong_sig: str
    wrong_aud: str


def _int_b64(n: int) -> str:
    return b64url_encode(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def make_key(alg: str) -> tuple[Any, dict[str, str]]:
    if alg == "ES256":
        priv: Any = ec.generate_private_key(ec.SECP256R1())
        nums = priv.public_key().public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(nums.x.to_bytes(32, "big")),
            "y": b64url_encode(nums.y.to_bytes(32, "big")),
        }
    elif alg == "EdDSA":
        priv = ed25519.Ed25519PrivateKey.generate()
        jwk = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url_encode(priv.public_key().public_bytes_raw()),
        }
    else:
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        nums = priv.public_key().public_numbers()
        jwk = {"kty": "RSA", "n": _int_b64(nums.n), "e": _int_b64(nums.e)}
    jwk.update(kid=f"bench-{alg.lower()}", alg=alg, use="sig")
    return priv, jwk


def sign(alg: str, priv: Any, signing_input: bytes) -> bytes:
    if alg == "ES256":
        r, s = decode_dss_signature(priv.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "EdDSA":
        return priv.sign(signing_input)
    return priv.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def make_token(alg: str, priv: Any, kid: str, jti: str, *, aud: str = AUDIENCE) -> str:
    now = int(time.time())
    header = {"alg": alg, "typ": "at+jwt", "kid": kid}
    claims = {
        "iss": ISSUER,
        "sub": "5f0c2a4e-8d1b-4c7e-9a36-0b1d2e3f4a5b",
        "aud": aud,
        "exp": now + 3600,
        "iat": now,
        "nbf": now,
        "jti": jti,
        "client_id": "gpc_bench_client",
        "scope": "openid profile videos:read",
        "roles": ["editor", "user"],
        "sid": "sid_7Jx2mQ4rT9vK1pZ8",
    }

    def seg(obj: Any) -> str:
        return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())

    signing_input = f"{seg(header)}.{seg(claims)}"
    return f"{signing_input}.{b64url_encode(sign(alg, priv, signing_input.encode()))}"


def material(alg: str) -> Material:
    priv, jwk = make_key(alg)
    kid = jwk["kid"]
    tokens = [make_token(alg, priv, kid, f"jti-{i:06d}-{alg}") for i in range(POOL)]
    h, p, s = tokens[0].split(".")
    bad = b64url_decode(s)
    wrong_sig = f"{h}.{p}.{b64url_encode(bytes([bad[0] ^ 1]) + bad[1:])}"
    wrong_aud = make_token(alg, priv, kid, "jti-wrong-aud", aud="urn:other:api")
    return Material(alg, kid, priv, priv.public_key(), jwk, tokens, wrong_sig, wrong_aud)


# ------------------------------------------------------------------------------ the cases
Verify = Callable[[str], Any]  # returns something holding the claims, raises on refusal


def raw_case(m: Material) -> Verify:
    """The floor: each token's own signature check, its input and signature decoded beforehand
    (one dictionary lookup per call finds them). Each token's own, not one token's again and
    again: an Ed25519 check takes branches that depend on the signature, and checking the same
    one repeatedly lets the CPU predict them all (1.4-3.9 us faster than the pool's mean here),
    a floor the cache-miss case, which checks distinct tokens, could never reach."""
    calls = dict(zip(m.tokens, raw_pool_calls(m), strict=True))
    return lambda t: calls[t]()


def parse_case(m: Material) -> Verify:
    """The floor plus what every verifier does before it checks a claim: split the token,
    base64url-decode the signature and the payload, verify, parse the JSON. No check at all."""
    key = m.public

    def b64(segment: str) -> bytes:
        return binascii.a2b_base64(
            segment.replace("-", "+").replace("_", "/") + "=" * (-len(segment) % 4)
        )

    if m.alg == "ES256":
        ecdsa = ec.ECDSA(hashes.SHA256())

        def check(msg: bytes, sig: bytes) -> None:
            r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            key.verify(encode_dss_signature(r, s), msg, ecdsa)
    elif m.alg == "EdDSA":

        def check(msg: bytes, sig: bytes) -> None:
            key.verify(sig, msg)
    else:
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

        def check(msg: bytes, sig: bytes) -> None:
            key.verify(sig, msg, pkcs1, sha256)

    def verify(t: str) -> Any:
        h, p, s = t.split(".")
        check(f"{h}.{p}".encode(), b64(s))
        return json.loads(b64(p))

    return verify


def gatepass_verifier(m: Material, cache_size: int) -> Verifier:
    return Verifier.from_jwks(
        ISSUER, {"keys": [m.jwk]}, audience=AUDIENCE, leeway=LEEWAY, cache_size=cache_size
    )


def pyjwt_case(m: Material) -> Verify:
    import jwt

    key, algs = m.public, [m.alg]
    options = {"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]}
    return lambda t: jwt.decode(
        t, key, algorithms=algs, issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY, options=options
    )


def joserfc_case(m: Material) -> Verify:
    from joserfc import jwk, jwt

    key = jwk.import_key(m.jwk)
    algs = [m.alg]
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nbf={"essential": True},
        jti={"essential": True},
    )

    def verify(t: str) -> Any:
        token = jwt.decode(t, key, algorithms=algs)
        registry.validate(token.claims)
        return token.claims

    return verify


def authlib_case(m: Material) -> Verify:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # authlib.jose is deprecated in favour of joserfc
        from authlib.jose import JsonWebKey, JsonWebToken

    key = JsonWebKey.import_key(m.jwk)
    decoder = JsonWebToken([m.alg])
    options = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": AUDIENCE},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nbf": {"essential": True},
        "jti": {"essential": True},
    }

    def verify(t: str) -> Any:
        claims = decoder.decode(t, key, claims_options=options)
        claims.validate(leeway=LEEWAY)
        return claims

    return verify


def jwcrypto_case(m: Material) -> Verify:
    from jwcrypto import jwk, jwt

    key = jwk.JWK(**m.jwk)
    algs = [m.alg]
    check = {"iss": ISSUER, "aud": AUDIENCE, "exp": None, "iat": None, "nbf": None, "sub": None}

    def verify(t: str) -> Any:
        token = jwt.JWT(jwt=t, key=key, algs=algs, check_claims=check, expected_type="JWS")
        return json.loads(token.claims)

    return verify


def sub_of(result: Any) -> str | None:
    if hasattr(result, "sub"):
        return str(result.sub)
    if isinstance(result, dict):
        return result.get("sub")
    return None


def refuses(fn: Verify, token: str) -> bool:
    try:
        fn(token)
    except Exception:  # noqa: BLE001 - each library has its own error tree
        return True
    return False


def check_case(name: str, fn: Verify, m: Material) -> None:
    """Accepts the token, refuses a bad signature and a wrong audience."""
    if name == "raw":
        fn(m.tokens[0])
        return
    if sub_of(fn(m.tokens[0])) is None:
        sys.exit(f"{m.alg} {name}: accepted the token but returned no sub")
    for what, bad in (("wrong signature", m.wrong_sig), ("wrong audience", m.wrong_aud)):
        if name == "parse-only" and what == "wrong audience":
            continue  # checks nothing but the signature, by design
        if not refuses(fn, bad):
            sys.exit(f"{m.alg} {name}: accepted a token with a {what}")


# ------------------------------------------------------------------------------ timing
@dataclass
class Case:
    alg: str
    name: str
    fn: Verify
    inputs: list[str]  # one call per element
    samples: list[float]


TIMERS = {"cpu": time.thread_time, "wall": time.perf_counter}
timer = TIMERS["cpu"]


def run_loop(fn: Verify, inputs: list[str]) -> float:
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t0 = timer()
        for t in inputs:
            fn(t)
        return timer() - t0
    finally:
        if gc_was:
            gc.enable()


def calibrate(fn: Verify, base: list[str], target_s: float) -> list[str]:
    """Repeat ``base`` so that one loop takes about ``target_s``."""
    per_op = run_loop(fn, base) / len(base)
    reps = max(1, round(target_s / (per_op * len(base))))
    return base * reps


def build_cases(alg: str, m: Material, libraries: tuple[str, ...], target_s: float) -> list[Case]:
    cases: list[Case] = []
    pool = m.tokens

    def add(name: str, fn: Verify, base: list[str]) -> None:
        check_case(name, fn, m)
        cases.append(Case(alg, name, fn, calibrate(fn, base, target_s), []))

    add("raw", raw_case(m), pool)
    add("parse-only", parse_case(m), pool)

    # cache miss: FIFO cache of half the pool, pool cycled in order => every call misses
    miss = gatepass_verifier(m, cache_size=POOL // 2)
    first = miss.verify(pool[0])
    for t in pool[1:]:
        miss.verify(t)
    if miss.verify(pool[0]) is first:
        sys.exit("gatepass miss case: the cache answered")
    add("gatepass", miss.verify, pool)

    hit = gatepass_verifier(m, cache_size=4096)
    token = pool[0]
    first = hit.verify(token)
    fresh = [(token + ".")[:-1] for _ in range(1000)]  # equal text, distinct str objects
    if hit.verify(fresh[0]) is not first:
        sys.exit("gatepass hit case: the cache did not answer")
    add("gp-hit", hit.verify, fresh)
    add("gp-hit-obj", hit.verify, [token] * 1000)

    makers = {
        "pyjwt": pyjwt_case,
        "joserfc": joserfc_case,
        "authlib": authlib_case,
        "jwcrypto": jwcrypto_case,
    }
    for lib in libraries:
        add(lib, makers[lib](m), pool)
    return cases


def machine_busy(seconds: float = 0.5) -> float:
    """Cores busy (all processes) over ``seconds``, from /proc/stat; 0.0 where unavailable."""

    def ticks() -> tuple[int, int]:
        with open("/proc/stat") as f:
            vals = [int(x) for x in f.readline().split()[1:]]
        return sum(vals), vals[3] + vals[4]

    try:
        a0, i0 = ticks()
        time.sleep(seconds)
        a1, i1 = ticks()
    except OSError:
        return 0.0
    return ((a1 - a0) - (i1 - i0)) / os.sysconf("SC_CLK_TCK") / seconds


def wait_quiet(max_wait: float, threshold: float = 0.3) -> float:
    """Other work on the machine slows every case: wait (bounded) until it is quiet."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = machine_busy()
        if busy <= threshold or time.monotonic() >= deadline:
            return busy


def measure(cases: list[Case], rounds: int, quiet_wait: float) -> list[float]:
    background = []
    for _ in range(rounds):
        background.append(wait_quiet(quiet_wait) if quiet_wait > 0 else 0.0)
        for c in cases:
            c.samples.append(run_loop(c.fn, c.inputs) / len(c.inputs) * 1e6)
    return background


# ------------------------------------------------------------------------------ instructions
INSTRUCTION_CASES = ("raw", "gatepass")
WARM = POOL // 2 + 2  # tokens verified before counting: the cache full, the header kept


def raw_pool_calls(m: Material) -> list[Callable[[], Any]]:
    """The floor for each token of the pool: its own signature check (decoded beforehand)."""
    key = m.public
    ecdsa, pkcs1, sha256 = ec.ECDSA(hashes.SHA256()), padding.PKCS1v15(), hashes.SHA256()
    calls: list[Callable[[], Any]] = []
    for t in m.tokens:
        h, p, s = t.split(".")
        msg, sig = f"{h}.{p}".encode(), b64url_decode(s)
        if m.alg == "ES256":
            r, s_ = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            der = encode_dss_signature(r, s_)
            calls.append(lambda der=der, msg=msg: key.verify(der, msg, ecdsa))
        elif m.alg == "EdDSA":
            calls.append(lambda sig=sig, msg=msg: key.verify(sig, msg))
        else:
            calls.append(lambda sig=sig, msg=msg: key.verify(sig, msg, pkcs1, sha256))
    return calls


def run_one(path: str, alg: str, case: str) -> None:
    """For ``--instructions``: set ``case`` up on the saved keys and tokens, verify the first
    ``WARM`` tokens, then each of the others once inside ``functools.reduce``, the only place
    callgrind counts in (``--toggle-collect``). ``gatepass`` misses the cache on every one of them
    (a cache of ``POOL // 2`` that has seen only older tokens); ``raw`` checks the same
    signatures, so the two differ by exactly what gatepass does around the check."""
    with open(path, "rb") as f:
        saved = pickle.load(f)[alg]
    priv = serialization.load_pem_private_key(saved.pop("pem"), None)
    m = Material(private=priv, public=priv.public_key(), **saved)
    warm, counted = m.tokens[:WARM], m.tokens[WARM:]
    if case == "raw":
        floor = raw_pool_calls(m)
        for call in floor[:WARM]:
            call()
        calls = floor[WARM:]
        gc.disable()  # as in the timed rounds
        functools.reduce(lambda _, call: call(), calls, None)
        return
    fn = gatepass_verifier(m, POOL // 2).verify
    for t in warm:
        fn(t)
    gc.disable()
    functools.reduce(lambda _, t: fn(t), counted, None)


def instructions(algs: tuple[str, ...], jobs: int) -> dict[str, dict[str, float]]:
    """Instructions per call, counted by callgrind (robust to a loaded machine), for
    ``POOL - WARM`` calls of each case, each case in its own process on the same keys and tokens.
    Not µs: under valgrind OpenSSL runs without SHA and other CPU extensions, so the signature
    check weighs more than it does natively; the overhead (gatepass less raw) is Python's."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    saved = {}
    for alg in algs:
        m = material(alg)
        pem = m.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fields = {k: v for k, v in vars(m).items() if k not in ("private", "public")}
        saved[alg] = {**fields, "pem": pem}
    with tempfile.NamedTemporaryFile(suffix=".pickle") as f:
        pickle.dump(saved, f)
        f.flush()

        def collected(job: tuple[str, str]) -> int:
            run = subprocess.run(
                ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
                + ["--collect-atstart=no", "--toggle-collect=functools_reduce"]
                + [sys.executable, __file__, "--run-one", f.name, *job],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            return int(re.findall(r"Collected : (\d+)", run.stderr)[-1])

        jobs_list = [(a, c) for a in algs for c in INSTRUCTION_CASES]
        with ThreadPoolExecutor(jobs) as ex:
            counts = dict(zip(jobs_list, ex.map(collected, jobs_list), strict=True))
    calls = POOL - WARM
    out: dict[str, dict[str, float]] = {}
    for alg in algs:
        per = {c: counts[(alg, c)] / calls for c in INSTRUCTION_CASES}
        per["gatepass overhead"] = per["gatepass"] - per["raw"]
        out[alg] = per
    return out


# ------------------------------------------------------------------------------ report
def summarize(cases: list[Case]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    by_alg: dict[str, dict[str, Case]] = {}
    for c in cases:
        by_alg.setdefault(c.alg, {})[c.name] = c
    for alg, named in by_alg.items():
        floor = min(named["raw"].samples)
        floor_med = statistics.median(named["raw"].samples)
        gp_ovh = min(named["gatepass"].samples) - floor
        for name, c in named.items():
            lo, med = min(c.samples), statistics.median(c.samples)
            row: dict[str, Any] = {
                "alg": alg,
                "case": name,
                "min_us": round(lo, 3),
                "median_us": round(med, 3),
                "rounds": len(c.samples),
                "calls_per_round": len(c.inputs),
            }
            if name not in ("raw", "gp-hit", "gp-hit-obj"):
                row["overhead_us"] = round(lo - floor, 3)
                row["overhead_median_us"] = round(med - floor_med, 3)
            if name in LIBRARIES and gp_ovh > 0:
                row["overhead_vs_gatepass"] = round((lo - floor) / gp_ovh, 2)
            rows.append(row)
    return rows


def verdict(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for alg in dict.fromkeys(r["alg"] for r in rows):
        named = {r["case"]: r for r in rows if r["alg"] == alg}
        gp = named["gatepass"]["overhead_us"]
        libs = [named[x]["overhead_us"] for x in LIBRARIES if x in named]
        best = min(libs) if libs else None
        out.append(
            {
                "alg": alg,
                "gatepass_overhead_us": gp,
                "overhead_target_10us": gp <= 10.0,
                "best_library_overhead_us": best,
                "best_library_over_gatepass": round(best / gp, 2) if best and gp > 0 else None,
                "half_of_best_library": best is not None and gp * 2 <= best,
                "cache_hit_us": named["gp-hit"]["min_us"],
                "cache_hit_target_3us": named["gp-hit"]["min_us"] < 3.0,
            }
        )
    return out


def environment() -> dict[str, Any]:
    libs = ("cryptography", "PyJWT", "joserfc", "Authlib", "jwcrypto", "gatepass")
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "versions": {name: version(name) for name in libs},
    }


def print_table(
    env: dict[str, Any], rows: list[dict[str, Any]], verdicts: list[dict[str, Any]]
) -> None:
    vers = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    print(f"Python {env['python']} on {env['cpus']} CPUs; {vers}")
    busy = env["background_cores_before_rounds"]
    print(
        f"other load before each round (cores busy): max {max(busy):.2f}, median {statistics.median(busy):.2f}"
    )
    print("µs per verification (min of rounds; median beside it); overhead = time above the raw")
    print("signature check; 'x gatepass' = that library's overhead / gatepass's overhead.\n")
    head = f"{'case':<12}{'min µs':>10}{'median':>10}{'overhead':>10}{'x gatepass':>12}"
    for alg in dict.fromkeys(r["alg"] for r in rows):
        print(f"== {alg}")
        print(head)
        for r in (r for r in rows if r["alg"] == alg):
            ovh = f"{r['overhead_us']:.2f}" if "overhead_us" in r else ""
            ratio = f"{r['overhead_vs_gatepass']:.1f}x" if "overhead_vs_gatepass" in r else ""
            print(f"{r['case']:<12}{r['min_us']:>10.2f}{r['median_us']:>10.2f}{ovh:>10}{ratio:>12}")
        print()
    print("targets: overhead <= 10 µs; best library's overhead >= 2x gatepass's; cache hit < 3 µs")
    for v in verdicts:
        best = v["best_library_over_gatepass"]
        print(
            f"  {v['alg']:<6} overhead {v['gatepass_overhead_us']:.2f} µs "
            f"[{'ok' if v['overhead_target_10us'] else 'MISSED'}]; "
            f"best library {v['best_library_overhead_us']} µs = {best}x "
            f"[{'ok' if v['half_of_best_library'] else 'MISSED'}]; "
            f"cache hit {v['cache_hit_us']:.2f} µs [{'ok' if v['cache_hit_target_3us'] else 'MISSED'}]"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer, shorter rounds (~10 s)")
    ap.add_argument(
        "--json", action="store_true", help="print one JSON document instead of a table"
    )
    ap.add_argument("--alg", action="append", choices=ALGS, help="only this algorithm (repeatable)")
    ap.add_argument("--no-libs", action="store_true", help="gatepass and the floor only")
    ap.add_argument("--rounds", type=int, help="rounds per case (default 15, --quick 5)")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="before each round, wait up to this many seconds for the machine to be idle (0: never)",
    )
    ap.add_argument(
        "--timer",
        choices=sorted(TIMERS),
        default="cpu",
        help="cpu: this thread's CPU time (default; a shared machine's other work does not count); "
        "wall: elapsed time, as timeit",
    )
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions (callgrind) per call of raw and gatepass (cache miss)",
    )
    ap.add_argument("--jobs", type=int, default=2, help="callgrind processes at once")
    ap.add_argument("--run-one", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run_one:
        run_one(*a.run_one)
        return 0
    if a.instructions:
        per_alg = instructions(tuple(a.alg or ALGS), a.jobs)
        if a.json:
            json.dump(per_alg, sys.stdout, indent=1)
            print()
            return 0
        print(f"instructions per call (callgrind, {POOL - WARM} calls, PYTHONHASHSEED=0)")
        for alg, per in per_alg.items():
            print(f"== {alg}")
            for case, n in per.items():
                print(f"{case:22}{n:14,.0f}")
        return 0
    global timer
    timer = TIMERS[a.timer]

    rounds = a.rounds or (5 if a.quick else 15)
    target_s = 0.02 if a.quick else 0.05
    libraries = () if a.no_libs else LIBRARIES
    cases: list[Case] = []
    for alg in a.alg or ALGS:
        cases += build_cases(alg, material(alg), libraries, target_s)
    background = measure(cases, rounds, a.quiet_wait)
    rows = summarize(cases)
    verdicts = verdict(rows) if libraries else []
    env = environment() | {"background_cores_before_rounds": [round(b, 2) for b in background]}
    if a.json:
        json.dump({"environment": env, "results": rows, "targets": verdicts}, sys.stdout, indent=1)
        print()
    else:
        print_table(env, rows, verdicts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
