"""``gatepass serve``: the HTTP server (uvicorn), one process or ``--workers N``."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from gatepass.settings import Settings

# How long uvicorn's supervisor waits for a worker to answer its liveness ping before it kills
# and replaces the worker (uvicorn's default is 5 s). The ping goes out from the worker's first
# moment, and the worker only answers once its interpreter has started and imported the
# parent's __main__ (the gatepass command) and uvicorn: seconds on a loaded machine. With 5 s,
# on two busy cores (load average 15, bench/soak.py), every worker was killed before it could
# answer, and its replacement too: the server never came up. A hung worker is still replaced,
# after this long.
WORKER_PING_TIMEOUT = 30


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser("serve", help="run the HTTP server", parents=[common])
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument(
        "--workers", type=int, help="worker processes (default $GATEPASS_WORKERS or 1)"
    )


# uvloop, accepting connections in batches instead of one per turn of the loop (server/accept.py)
LOOP = "gatepass.server.accept:new_event_loop"


def serve(settings: Settings) -> int:
    import uvicorn

    from gatepass import logs
    from gatepass.server.app import create_app

    logs.configure(settings.log_level)
    workers = settings.workers
    # Keys, secret file and schema are made once here, before any worker starts.
    asyncio.run(_prepare(settings))
    if workers == 1:
        uvicorn.run(
            create_app(settings, freeze_gc=True),
            host=settings.host,
            port=settings.port,
            access_log=settings.access_log,
            log_config=None,
            server_header=False,
            loop=LOOP,
            **_proxy_options(settings),
        )
    else:
        import os

        os.environ.update(
            GATEPASS_HOST=settings.host,
            GATEPASS_PORT=str(settings.port),
            GATEPASS_DATA_DIR=str(settings.data_dir),
            GATEPASS_ISSUER=settings.issuer,
            GATEPASS_WORKERS=str(workers),
        )
        uvicorn.run(
            "gatepass.server.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            timeout_worker_healthcheck=WORKER_PING_TIMEOUT,
            access_log=settings.access_log,
            log_config=None,
            server_header=False,
            loop=LOOP,
            **_proxy_options(settings),
        )
    return 0


def _proxy_options(settings: Settings) -> dict[str, Any]:
    """Trust X-Forwarded-For / -Proto only from the proxies named in GATEPASS_TRUSTED_PROXIES;
    by default nobody, so a client cannot choose the address its failed logins count against."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.trusted_proxies)}


async def _prepare(settings: Settings) -> None:
    from gatepass.oauth.services import open_services

    svc = await open_services(settings)
    await svc.close()
