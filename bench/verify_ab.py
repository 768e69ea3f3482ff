#!/usr/bin/env python3
"""A/B of ``Verifier.verify`` on a cache miss, between source trees, in one process.

    git archive <old-commit> src | tar -x -C /tmp/old
    .venv/bin/python bench/verify_ab.py before=/tmp/old/src after=src [--rounds 40]

Each tree's ``gatepass`` is imported in turn (the modules of the one before are dropped from
``sys.modules``, its classes keep theirs), then every case runs on the same keys and 256 tokens as
``verify.py``'s ``gatepass`` case (a cache of half the pool: every call misses), in interleaved
rounds with the raw signature check, timed with this thread's CPU time, the garbage collector off.
Prints µs above the raw check per algorithm: min over the rounds and median.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def load_trees(trees: dict[str, str]) -> dict[str, Any]:
    verifiers = {}
    for name, path in trees.items():
        for mod in [m for m in sys.modules if m == "gatepass" or m.startswith("gatepass.")]:
            del sys.modules[mod]
        full = str(Path(path).resolve())
        sys.path.insert(0, full)
        sdk = importlib.import_module("gatepass.sdk")
        if not str(sdk.__file__).startswith(full):
            sys.exit(f"{name}: imported {sdk.__file__}, not from {full}")
        verifiers[name] = sdk.Verifier
        sys.path.remove(full)
    return verifiers


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("trees", nargs="+", help="name=path/to/src")
    ap.add_argument("--rounds", type=int, default=40)
    a = ap.parse_args()
    verifiers = load_trees(dict(t.split("=", 1) for t in a.trees))
    sys.path.insert(0, str(HERE))
    import verify as vb  # the last tree's gatepass, for making keys and tokens

    for alg in vb.ALGS:
        m = vb.material(alg)
        pool = m.tokens
        raw = vb.raw_pool_calls(m)
        cases: dict[str, Any] = {"raw": None}
        for name, cls in verifiers.items():
            v = cls.from_jwks(
                vb.ISSUER,
                {"keys": [m.jwk]},
                audience=vb.AUDIENCE,
                leeway=vb.LEEWAY,
                cache_size=vb.POOL // 2,
            )
            for t in pool:  # warm: the cache holds the second half, the header is kept
                v.verify(t)
            cases[name] = v.verify
        samples: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(a.rounds):
            for name, fn in cases.items():
                gc.disable()
                t0 = time.thread_time()
                if fn is None:
                    for call in raw:
                        call()
                else:
                    for t in pool:
                        fn(t)
                dt = time.thread_time() - t0
                gc.enable()
                samples[name].append(dt / len(pool) * 1e6)
        floor, floor_med = min(samples["raw"]), statistics.median(samples["raw"])
        print(f"== {alg}: raw check {floor:.2f} µs (min), {floor_med:.2f} (median)")
        for name, s in samples.items():
            if name != "raw":
                lo, med = min(s) - floor, statistics.median(s) - floor_med
                print(f"  {name:<10} above raw: min {lo:6.2f} µs, median {med:6.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
