"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gatepass.oauth.services import Services
from gatepass.server.routing import route


async def healthz(svc: Services, request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(svc: Services, request: Request) -> Response:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2):
            async with svc.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        checks["database"] = "unreachable"
    if svc.settings.redis_url:
        checks["redis"] = await _redis_ping(svc.settings.redis_url)
        # Redis may answer a ping while this process's revocation feed is down: then every
        # verification answers 503, and so must readiness.
        checks["denylist"] = "ok" if svc.denylist.ready else "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else 503,
        headers={"Cache-Control": "no-store"},
    )


async def _redis_ping(url: str) -> str:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
        return "ok"
    except Exception:  # noqa: BLE001
        return "unreachable"
    finally:
        await client.aclose()


async def metrics(svc: Services, request: Request) -> Response:
    return Response(svc.metrics.render(), media_type=svc.metrics.content_type)


ROUTES = [
    route("/healthz", healthz, ["GET"]),
    route("/readyz", readyz, ["GET"]),
    route("/metrics", metrics, ["GET"]),
]
