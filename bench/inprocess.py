#!/usr/bin/env python3
"""Microseconds per OAuth request inside one process: the ASGI app called directly (no HTTP,
no uvicorn), one request at a time, on uvloop, SQLite in a temp dir (or GATEPASS_DATABASE_URL).

    .venv/bin/python bench/inprocess.py                      # every kind, 3,000 requests each
    .venv/bin/python bench/inprocess.py refresh -n 5000 --profile   # + cProfile, top 30 by own time

Kinds: ``cc_jwt`` and ``cc_opaque`` (POST /oauth/token, client_credentials, HTTP Basic),
``introspect`` (POST /oauth/introspect of one live opaque token), ``refresh`` (POST /oauth/token,
refresh_token: each answer's refresh token is the next request's), ``edge`` (GET /edge/verify
of a valid signed URL: the nginx ``auth_request`` target) and ``profile`` (GET /api/profile with
a JWT access token: a bearer-protected endpoint), and ``code_flow``: the silent
re-authorization of ``authorize.py``, one flow = GET /oauth/authorize with a live session cookie
(302 with a code) + POST /oauth/token exchanging the code with its PKCE verifier (opaque access
token, RS256 ID token), with the CPU of each request apart. The figure is the CPU a
request costs gatepass itself: where its time goes, not what a server does under load
(``oauth_vs_oidc.py`` measures that, against oidc-provider). It leaves out what one request at a
time cannot show: inserts that arrive together share a commit (``storage/coalesce.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import os
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from gatepass.oauth.issuance import start_login
from gatepass.oauth.token_endpoint import token as token_endpoint
from gatepass.server.app import create_app
from gatepass.settings import load_settings

KINDS = ("cc_jwt", "cc_opaque", "introspect", "refresh", "edge", "profile", "code_flow")
FORM = b"application/x-www-form-urlencoded"


def http_scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b""
) -> dict[str, Any]:
    """The ASGI scope of one HTTP request from 127.0.0.1 (also ``callgrind_inprocess.py``'s)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


async def lifespan(app: Any) -> tuple[asyncio.Queue[dict[str, str]], asyncio.Task[None]]:
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started = asyncio.Event()
    await inbox.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()
        elif message["type"] == "lifespan.startup.failed":
            raise SystemExit(message.get("message", "start-up failed"))

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, send))
    await started.wait()
    return inbox, task


async def run(kind: str, n: int, profile: bool) -> tuple[float, float]:
    """(wall, CPU) µs per request: on a loaded machine, the CPU time of this process is the
    steadier figure (other processes' time is not in it), though still inflated."""
    if kind == "code_flow":
        return await code_flow(n, profile)
    data = Path(tempfile.mkdtemp(prefix="gp-bench-inprocess-"))
    settings = load_settings(
        data_dir=data,
        issuer="http://bench",
        secret_key="b" * 40,
        database_url=os.environ.get("GATEPASS_DATABASE_URL") or None,
    )
    app = create_app(settings)
    inbox, life = await lifespan(app)
    svc = app.state.services
    fmt = "opaque" if kind in ("cc_opaque", "introspect") else "jwt"
    client, secret = await svc.clients.create(
        "bench",
        grants=["client_credentials", "refresh_token", "password"],
        scopes=["read"],
        public=False,
        token_format=fmt,
        now=time.time(),
    )
    auth = b"Basic " + base64.b64encode(f"{client.id}:{secret}".encode())
    path, body = "/oauth/token", b"grant_type=client_credentials"
    access_token = ""
    if kind in ("introspect", "profile"):
        issued = await token_endpoint(
            svc,
            {"grant_type": "client_credentials"},
            authorization=auth.decode(),
            ip=None,
            user_agent=None,
        )
        access_token = issued.access_token
    if kind == "introspect":
        path, body = "/oauth/introspect", b"token=" + access_token.encode()
    if kind == "refresh":
        user = await svc.users.create("bench", "x", [], 0)
        login = await start_login(
            svc,
            user_id=user.id,
            roles=[],
            client_id=client.id,
            scope=frozenset(["read"]),
            ip=None,
            user_agent=None,
        )
        body = b"grant_type=refresh_token&refresh_token=" + str(login.refresh_token).encode()
    headers = [(b"host", b"bench"), (b"authorization", auth), (b"content-type", FORM)]
    method = "POST"
    if kind == "edge":
        from urllib.parse import urlsplit

        from gatepass.oauth.signed_urls import sign_url

        signed = sign_url(settings, svc.url_keys, time.time(), scope="/v/1.ts", prefix=False)
        parts = urlsplit(signed.url)
        uri = f"{parts.path}?{parts.query}".encode()
        method, path, body = "GET", "/edge/verify", b""
        headers = [(b"host", b"bench"), (b"x-original-uri", uri), (b"x-real-ip", b"10.0.0.1")]
    if kind == "profile":
        method, path, body = "GET", "/api/profile", b""
        headers = [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {access_token}".encode()),
        ]
    scope = http_scope(method, path, headers)
    state = {"body": body, "status": 0}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": state["body"], "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
        elif kind == "refresh" and message.get("body"):
            nxt = json.loads(message["body"])["refresh_token"]
            state["body"] = b"grant_type=refresh_token&refresh_token=" + nxt.encode()

    async def requests(count: int) -> None:
        for _ in range(count):
            await app({**scope, "state": {}}, receive, send)
            if state["status"] not in (200, 204):
                raise SystemExit(f"{kind}: answered {state['status']}")

    await requests(200)  # warm-up
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    await requests(n)
    if profiler:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    await inbox.put({"type": "lifespan.shutdown"})
    await life
    return elapsed / n * 1e6, cpu / n * 1e6


async def code_flow(n: int, profile: bool) -> tuple[float, float]:
    """(wall, CPU) µs per flow: authorize + code exchange; each request's CPU printed apart."""
    from urllib.parse import parse_qs, urlencode, urlsplit

    from gatepass.oauth import sso
    from gatepass.oauth.authorization_code import s256
    from gatepass.oauth.clients import create_client

    data = Path(tempfile.mkdtemp(prefix="gp-bench-inprocess-"))
    settings = load_settings(
        data_dir=data,
        issuer="http://bench",
        secret_key="b" * 40,
        database_url=os.environ.get("GATEPASS_DATABASE_URL") or None,
    )
    app = create_app(settings)
    inbox, life = await lifespan(app)
    svc = app.state.services
    redirect = "http://127.0.0.1:9/cb"
    client, secret = await create_client(
        svc,
        "bench",
        grants=["authorization_code"],
        token_format="opaque",
        redirects=[redirect],
        first_party=True,
    )
    user = await svc.users.create("bench", "x", [], 0)
    cookie, _ = await sso.sign_in(svc, user, ip=None, user_agent=None)
    auth = b"Basic " + base64.b64encode(f"{client.id}:{secret}".encode())
    verifier = "v" * 64
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.id,
            "redirect_uri": redirect,
            "scope": "openid",
            "state": "s" * 22,
            "nonce": "n" * 22,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
    ).encode()
    authorize = http_scope(
        "GET",
        "/oauth/authorize",
        [(b"host", b"bench"), (b"cookie", f"{sso.COOKIE}={cookie}".encode())],
        query,
    )
    exchange = http_scope(
        "POST",
        "/oauth/token",
        [(b"host", b"bench"), (b"authorization", auth), (b"content-type", FORM)],
    )
    state: dict[str, Any] = {"body": b"", "status": 0, "location": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": state["body"], "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
            state["location"] = dict(message["headers"]).get(b"location", b"")

    cpu = {"authorize": 0.0, "token": 0.0}

    async def flows(count: int) -> None:
        for _ in range(count):
            c0 = time.process_time()
            await app({**authorize, "state": {}}, receive, send)
            c1 = time.process_time()
            code = parse_qs(urlsplit(state["location"].decode()).query).get("code")
            if state["status"] != 302 or code is None:
                raise SystemExit(f"authorize: answered {state['status']} {state['location']!r}")
            form = {
                "grant_type": "authorization_code",
                "code": code[0],
                "redirect_uri": redirect,
                "code_verifier": verifier,
            }
            state["body"] = urlencode(form).encode()
            c2 = time.process_time()
            await app({**exchange, "state": {}}, receive, send)
            cpu["authorize"] += c1 - c0
            cpu["token"] += time.process_time() - c2
            if state["status"] != 200:
                raise SystemExit(f"token: answered {state['status']}")

    await flows(200)  # warm-up
    cpu.update(authorize=0.0, token=0.0)
    profiler = cProfile.Profile() if profile else None
    started, spent = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    await flows(n)
    if profiler:
        profiler.disable()
    elapsed, spent = time.perf_counter() - started, time.process_time() - spent
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    print(
        f"code_flow: authorize {cpu['authorize'] / n * 1e6:.0f} us CPU, "
        f"code exchange {cpu['token'] / n * 1e6:.0f} us CPU"
    )
    await inbox.put({"type": "lifespan.shutdown"})
    await life
    return elapsed / n * 1e6, spent / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kinds", nargs="*", help=f"any of {', '.join(KINDS)} (default: all)")
    ap.add_argument("-n", type=int, default=3000, help="requests per kind")
    ap.add_argument("--profile", action="store_true", help="cProfile (slows every call)")
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    unknown = set(args.kinds) - set(KINDS)
    if unknown:
        ap.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    for kind in args.kinds or KINDS:
        wall, cpu = asyncio.run(run(kind, args.n, args.profile))
        print(f"{kind:11} {wall:7.1f} us/request wall, {cpu:7.1f} us CPU")


if __name__ == "__main__":
    main()
