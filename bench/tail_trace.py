#!/usr/bin/env python3
"""Summarise what gatepass recorded with ``GATEPASS_TAIL_TRACE`` (``src/gatepass/tailtrace.py``).

    .venv/bin/python bench/oauth_vs_oidc.py --no-oidc --settings sqlite:1 --endpoints cc_jwt \\
        -d 5 --warmup 2 --trace
    .venv/bin/python bench/tail_trace.py /tmp/gatepass-peers/oauth_vs_oidc-<time>/

Per worker (``tail-<pid>.json``): the event loop's lag histogram, GC pauses per generation, the
periodic work (count, longest, total), the time the app held each request (histogram), the
requests held over 20 ms grouped by the 100 ms in which they started, and connections opened
per 100 ms. Times are seconds since the worker's start-up; a run directory holds several wrk
runs (warm-up, measured, retries), one after the other.
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path


def hist(edges: list[float], counts: list[int]) -> str:
    total = sum(counts) or 1
    labels = [f"<={e:g}" for e in edges] + [f">{edges[-1]:g}"]
    return "  ".join(f"{lab}:{n}" for lab, n in zip(labels, counts, strict=True) if n) + (
        f"  (n={total}, >20 ms: {sum(counts[edges.index(20) + 1 :]) / total:.2%})"
    )


def summarise(path: Path) -> None:
    d = json.loads(path.read_text())
    edges = list(d["edges_ms"])
    print(f"== {path.name}: {d['seconds']:.1f} s traced, gc threshold {d['gc_threshold']}, "
          f"frozen {d['gc_frozen']}")  # fmt: skip
    print("loop lag (ms):    ", hist(edges, d["lag_hist"]))
    print("request held (ms):", hist(edges, d["req_hist"]))
    gens: dict[int, list[float]] = collections.defaultdict(list)
    for _, gen, dur, _ in d["gc"]:
        gens[gen].append(dur * 1000)
    for gen, ms in sorted(gens.items()):
        print(f"gc gen{gen}: {len(ms)} runs, max {max(ms):.2f} ms, total {sum(ms):.1f} ms")
    spans: dict[str, list[float]] = collections.defaultdict(list)
    for _, name, dur in d["spans"]:
        spans[name].append(dur * 1000)
    for name, ms in sorted(spans.items()):
        print(f"{name}: {len(ms)} runs, max {max(ms):.1f} ms (wall), total {sum(ms):.0f} ms")
    starts: dict[float, list[float]] = collections.defaultdict(list)
    for end, dur, _ in d["slow_reqs"]:
        starts[round(int((end - dur) * 10) / 10, 1)].append(dur * 1000)
    if starts:
        print("requests held > 20 ms, by the 100 ms in which they started (count, longest ms):")
        print(
            "  "
            + ", ".join(f"{t:.1f}s: {len(v)} ({max(v):.0f})" for t, v in sorted(starts.items()))
        )
    lags = [(t, lag * 1000) for t, lag in d["lags"] if lag > 0.05]
    if lags:
        print("loop lags > 50 ms (s, ms):", ", ".join(f"{t:.2f}: {ms:.0f}" for t, ms in lags[:40]))
    acc = d["accepts"]
    print("connections opened per 100 ms (s: n):", ", ".join(f"{s / 10:.1f}: {n}" for s, n in acc))


def main() -> None:
    for arg in sys.argv[1:] or ["."]:
        p = Path(arg)
        for f in sorted(p.glob("tail-*.json")) if p.is_dir() else [p]:
            summarise(f)


if __name__ == "__main__":
    main()
