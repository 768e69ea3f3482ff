"""Opt-in tracing of where a worker's tail latency comes from (``bench/tail_trace.py``).

Off unless ``GATEPASS_TAIL_TRACE`` names a directory: then each worker process records, while it
serves, and writes ``tail-<pid>.json`` there when it stops:

- the event loop's lag: a task asks to wake every millisecond and records how late it woke
  (a histogram, and every lag over 20 ms with its time);
- garbage-collector pauses, from ``gc.callbacks`` (generation, duration, objects collected);
- spans of the periodic work (``span(name)``: the denylist poll, key reloads, purges, WAL
  checkpoints in their thread) with their start and duration;
- per request, the time the app held it (ASGI call to the end of the response) in a histogram,
  and each one over 20 ms;
- connections opened (``connection_made`` of uvicorn's protocol), per 100 ms.

Nothing here runs when the variable is unset: ``span`` is then a no-op context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

DIR = os.environ.get("GATEPASS_TAIL_TRACE") or None
SLOW = 0.020  # seconds: lags, pauses and requests above this are kept one by one
_EDGES_MS = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


def _hist() -> list[int]:
    return [0] * (len(_EDGES_MS) + 1)


def _bucket(hist: list[int], ms: float) -> None:
    for i, edge in enumerate(_EDGES_MS):
        if ms <= edge:
            hist[i] += 1
            return
    hist[-1] += 1


class _Trace:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.lag = _hist()
        self.lags: list[tuple[float, float]] = []
        self.gcs: list[tuple[float, int, float, int]] = []
        self.spans: list[tuple[float, str, float]] = []
        self.req = _hist()
        self.slow_reqs: list[tuple[float, float, str]] = []
        self.accepts: dict[int, int] = {}
        self._gc_start = 0.0

    def now(self) -> float:
        return time.monotonic() - self.t0

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
            return
        dur = time.perf_counter() - self._gc_start
        self.gcs.append((round(self.now(), 4), info["generation"], dur, info["collected"]))

    async def watch_loop(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lag = time.perf_counter() - t - 0.001
            _bucket(self.lag, lag * 1000)
            if lag > SLOW:
                self.lags.append((round(self.now(), 4), lag))

    def dump(self) -> None:
        assert DIR is not None
        out = {
            "pid": os.getpid(),
            "seconds": self.now(),
            "edges_ms": _EDGES_MS,
            "lag_hist": self.lag,
            "lags": self.lags,
            "gc": self.gcs,
            "spans": self.spans,
            "req_hist": self.req,
            "slow_reqs": self.slow_reqs,
            "accepts": sorted(self.accepts.items()),
            "gc_threshold": gc.get_threshold(),
            "gc_frozen": gc.get_freeze_count(),
        }
        path = os.path.join(DIR, f"tail-{os.getpid()}.json")
        with open(path, "w") as f:
            json.dump(out, f)


_trace: _Trace | None = None


@contextlib.contextmanager
def span(name: str) -> Iterator[None]:
    """Record how long the periodic work ``name`` took, and when (only while tracing)."""
    tr = _trace
    if tr is None:
        yield
        return
    t = time.perf_counter()
    try:
        yield
    finally:
        with tr.lock:
            tr.spans.append((round(tr.now(), 4), name, time.perf_counter() - t))


@contextlib.asynccontextmanager
async def running() -> Any:
    """Inside a worker's lifespan: trace while it serves, write the record when it stops."""
    global _trace
    if DIR is None:
        yield
        return
    tr = _trace = _Trace()
    gc.callbacks.append(tr.on_gc)
    _patch_accepts(tr)
    watcher = asyncio.create_task(tr.watch_loop())
    try:
        yield
    finally:
        watcher.cancel()
        gc.callbacks.remove(tr.on_gc)
        _trace = None
        tr.dump()


def _patch_accepts(tr: _Trace) -> None:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover
        return
    made = HttpToolsProtocol.connection_made

    def connection_made(self: Any, transport: Any) -> None:
        slot = int(tr.now() * 10)
        tr.accepts[slot] = tr.accepts.get(slot, 0) + 1
        made(self, transport)

    HttpToolsProtocol.connection_made = connection_made  # type: ignore[method-assign]


class RequestTimes:
    """Outermost ASGI wrapper (only while tracing): how long the app held each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tr = _trace
        if tr is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            dur = time.perf_counter() - t
            _bucket(tr.req, dur * 1000)
            if dur > SLOW:
                tr.slow_reqs.append((round(tr.now(), 4), dur, scope["path"]))
