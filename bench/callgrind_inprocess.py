#!/usr/bin/env python3
"""Instructions per request of the ASGI app (no HTTP, no uvicorn), counted by callgrind: a
figure other load on the machine cannot move, for old/new comparisons of the app's own work.

    valgrind --tool=callgrind --toggle-collect=functools_reduce \\
        --callgrind-out-file=/tmp/cg.out .venv/bin/python bench/callgrind_inprocess.py cc_jwt 200
    grep -m1 '^summary:\\|^totals:' /tmp/cg.out      # Ir of the 200 measured requests

    PYTHONPATH=<other tree>/src valgrind ...          # the same for another tree

Kinds: ``cc_jwt``, ``introspect`` (an opaque token), ``edge`` (GET /edge/verify of a valid
signed URL), ``profile`` (GET /api/profile, a distinct client_credentials JWT per request, so the
Verifier's cache always misses); SQLite in a temporary directory. ``starlette_profile`` is the
peers' Starlette + PyJWT baseline (``../shared/peers/py/app_starlette.py``) on the same request,
for the same comparison ``profile_http.py`` makes over HTTP. After a warm-up, each measured request is driven
to completion without the event loop (it must not suspend: the client record is cached and the
cache kept for the run), inside one ``functools.reduce`` call, so ``--toggle-collect`` counts
those requests and nothing else. The app's periodic tasks (key refresh, upkeep) are not started:
their cost grows with the wall time, which valgrind stretches ~50x.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gatepass.server.app as app_module
from gatepass.oauth.signed_urls import sign_url
from gatepass.oauth.token_endpoint import token as token_endpoint
from gatepass.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inprocess import http_scope, lifespan  # noqa: E402

FORM = b"application/x-www-form-urlencoded"
WARM = 350  # requests before the measured ones (the last 50 driven as those are)


async def _idle(_: Any) -> None:
    await asyncio.Event().wait()


def _profile_scopes(tokens: list[str]) -> list[dict[str, Any]]:
    return [
        http_scope(
            "GET",
            "/api/profile",
            [
                (b"host", b"bench"),
                (b"user-agent", b"wrk"),
                (b"authorization", b"Bearer " + t.encode()),
            ],
        )
        for t in tokens
    ]


async def _drive(app: Any, kind: str, scopes: list[dict[str, Any]], body: bytes, n: int) -> None:
    """``n`` measured requests, the i-th with ``scopes[i % len(scopes)]``, after a warm-up."""
    status = [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    def one(acc: None, i: int) -> None:
        coro = app({**scopes[i % len(scopes)], "state": {}}, receive, send)
        try:
            coro.send(None)
        except StopIteration:
            pass
        else:
            raise SystemExit(f"{kind}: a request suspended; the count would be wrong")
        if status[0] not in (200, 204):
            raise SystemExit(f"{kind}: answered {status[0]}")
        return acc

    for i in range(WARM - 50):
        await app({**scopes[i % len(scopes)], "state": {}}, receive, send)
    for i in range(WARM - 50, WARM):
        one(None, i)
    gc.collect()
    functools.reduce(one, range(WARM, WARM + n), None)  # the measured requests: --toggle-collect


async def starlette_profile(n: int) -> None:
    import os

    os.environ["BENCH_KEYS_DIR"] = tempfile.mkdtemp(prefix="gp-callgrind-keys-")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "peers" / "py"))
    import app_starlette  # type: ignore[import-not-found]
    import common  # type: ignore[import-not-found]

    tokens = [common.issue_access_token("user-1", "bench", "api:read") for _ in range(WARM + n)]
    await _drive(app_starlette.app, "starlette_profile", _profile_scopes(tokens), b"", n)


async def main(kind: str, n: int) -> None:
    if kind == "starlette_profile":
        return await starlette_profile(n)
    app_module.maintain = _idle  # type: ignore[assignment]
    app_module._refresh_keys = _idle  # type: ignore[assignment]  # noqa: SLF001
    data = Path(tempfile.mkdtemp(prefix="gp-callgrind-"))
    settings = load_settings(data_dir=data, issuer="http://bench", secret_key="b" * 40)
    app = app_module.create_app(settings)
    inbox, life = await lifespan(app)
    svc = app.state.services
    client, secret = await svc.clients.create(
        "bench",
        grants=["client_credentials"],
        scopes=["read"],
        public=False,
        token_format="opaque" if kind == "introspect" else "jwt",
        now=time.time(),
    )
    auth = b"Basic " + base64.b64encode(f"{client.id}:{secret}".encode())

    async def issued() -> str:
        answer = await token_endpoint(
            svc,
            {"grant_type": "client_credentials"},
            authorization=auth.decode(),
            ip=None,
            user_agent=None,
        )
        return answer.access_token

    method, path, body = "POST", "/oauth/token", b"grant_type=client_credentials&scope=read"
    if kind == "introspect":
        path, body = "/oauth/introspect", b"token=" + (await issued()).encode()
    headers = [
        (b"host", b"bench"),
        (b"user-agent", b"wrk"),
        (b"authorization", auth),
        (b"content-type", FORM),
        (b"content-length", str(len(body)).encode()),
    ]
    if kind == "edge":
        signed = sign_url(settings, svc.url_keys, time.time(), scope="/v/1.ts", prefix=False)
        parts = urlsplit(signed.url)
        method, path, body = "GET", "/edge/verify", b""
        uri = f"{parts.path}?{parts.query}".encode()
        headers = [(b"host", b"bench"), (b"x-original-uri", uri), (b"x-real-ip", b"10.0.0.1")]
    scopes = [http_scope(method, path, headers)]
    if kind == "profile":
        body = b""
        scopes = _profile_scopes([await issued() for _ in range(WARM + n)])

    svc.clients._ttl = 1e9  # noqa: SLF001 - no expiry of the cached client during the run
    await _drive(app, kind, scopes, body, n)
    await inbox.put({"type": "lifespan.shutdown"})
    await life


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
