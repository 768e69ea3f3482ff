"""The video platform's API: a FastAPI service that trusts gatepass access tokens through the SDK.

It knows the catalogue and who may watch what (entitlements: a user with the role
``subscriber`` sees every video, anyone else only the free ones). ``POST /api/videos/{id}/play``
checks the entitlement, then asks gatepass for a playback URL *for this viewer*: the API is an
OAuth client of its own (``client_credentials``, scope ``urls:sign``) and names the viewer with
``"subject"``, so the playback JWT's ``sub`` is the viewer, not the API. The URL covers
``/videos/<id>`` and everything under it (the playlist and every segment), which nginx checks
with ``auth_request`` to gatepass ``/edge/verify``.

Configuration (environment):

- ``VIDEO_ISSUER``: gatepass's issuer, the public origin (metadata and JWKS are read from it);
- ``VIDEO_GATEPASS_URL``: where this API reaches gatepass for its own token and for signing;
- ``VIDEO_CLIENT_ID``, ``VIDEO_CLIENT_SECRET``: the API's own client (``urls:sign``);
- ``VIDEO_REDIS_URL``, ``VIDEO_REDIS_PREFIX``: gatepass's Redis, so that a revoked login is
  refused here within milliseconds (the SDK's ``RedisDenylist``);
- ``VIDEO_PLAYBACK_TTL`` (seconds, default 600), ``VIDEO_LEEWAY`` (default 5).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse

from gatepass.sdk import AccessClaims, Verifier
from gatepass.sdk.denylist import RedisDenylist
from gatepass.sdk.fastapi import BearerAuth

log = logging.getLogger("video.api")

WATCH_SCOPE = "videos:read"
SUBSCRIBER_ROLE = "subscriber"


@dataclass(frozen=True)
class Video:
    id: str
    title: str
    free: bool


CATALOGUE = (
    Video("intro", "Welcome to the platform (free)", free=True),
    Video("premiere", "The premiere (subscribers)", free=False),
)
BY_ID = {v.id: v for v in CATALOGUE}


def entitled(claims: AccessClaims, video: Video) -> bool:
    """Subscribers see every video; everyone else only the free ones."""
    return video.free or SUBSCRIBER_ROLE in claims.roles


@dataclass(frozen=True)
class Config:
    issuer: str
    gatepass_url: str
    client_id: str
    client_secret: str
    redis_url: str
    redis_prefix: str = "gatepass"
    playback_ttl: int = 600
    leeway: int = 5

    @classmethod
    def from_env(cls) -> Config:
        e = os.environ
        return cls(
            issuer=e["VIDEO_ISSUER"],
            gatepass_url=e["VIDEO_GATEPASS_URL"],
            client_id=e["VIDEO_CLIENT_ID"],
            client_secret=e["VIDEO_CLIENT_SECRET"],
            redis_url=e["VIDEO_REDIS_URL"],
            redis_prefix=e.get("VIDEO_REDIS_PREFIX", "gatepass"),
            playback_ttl=int(e.get("VIDEO_PLAYBACK_TTL", "600")),
            leeway=int(e.get("VIDEO_LEEWAY", "5")),
        )


class Signer:
    """Playback URLs from gatepass, with the API's own ``client_credentials`` token (kept until
    shortly before it expires, fetched again once when gatepass refuses it)."""

    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        self._token: str | None = None
        self._token_until = 0.0
        self._lock = asyncio.Lock()

    async def _access_token(self, *, fresh: bool = False) -> str:
        async with self._lock:
            if fresh or self._token is None or time.monotonic() >= self._token_until:
                r = await self._http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials", "scope": "urls:sign"},
                    auth=(self._config.client_id, self._config.client_secret),
                )
                if r.status_code != 200:
                    log.warning("gatepass answered %s to the API's token request", r.status_code)
                    raise HTTPException(503, "The signing service refused the API's client.")
                body = r.json()
                self._token = str(body["access_token"])
                self._token_until = time.monotonic() + int(body["expires_in"]) / 2
            return self._token

    async def playback(self, video: Video, viewer: str) -> dict[str, Any]:
        body = {
            "video_id": video.id,
            "format": "jwt",
            "subject": viewer,
            "expires_in": self._config.playback_ttl,
        }
        for fresh in (False, True):
            token = await self._access_token(fresh=fresh)
            r = await self._http.post(
                "/signed-urls", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            if r.status_code != 401:
                break
        if r.status_code != 200:
            log.warning("gatepass answered %s to POST /signed-urls", r.status_code)
            raise HTTPException(503, "Could not sign a playback URL.")
        signed = r.json()
        # gatepass answers <base>/videos/<id>?token=…; the token covers everything under
        # /videos/<id>/, so the player is given the playlist itself, on this origin.
        query = urlsplit(signed["url"]).query
        return {
            "video_id": video.id,
            "playlist": f"/videos/{video.id}/master.m3u8?{query}",
            "expires_at": signed["expires_at"],
        }


def create_app(config: Config | None = None) -> FastAPI:
    config = config or Config.from_env()
    denylist = RedisDenylist(config.redis_url, prefix=config.redis_prefix)
    verifier = Verifier.from_issuer(
        config.issuer, audience="gatepass", denylist=denylist, leeway=config.leeway
    )
    auth = BearerAuth(verifier)
    watcher = auth.require_scopes(WATCH_SCOPE)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        denylist.start()
        async with httpx.AsyncClient(base_url=config.gatepass_url, timeout=10) as http:
            app.state.signer = Signer(config, http)
            yield
        denylist.close()

    app = FastAPI(title="video platform API", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/api/healthz")
    async def healthz() -> dict[str, str]:
        if not denylist.ready:  # fail closed until the revocation feed has caught up
            raise HTTPException(503, "The revocation feed is not ready.")
        return {"status": "ok"}

    @app.get("/api/me")
    async def me(claims: AccessClaims = Depends(watcher)) -> dict[str, Any]:
        plan = "subscriber" if SUBSCRIBER_ROLE in claims.roles else "free"
        return {"sub": claims.sub, "plan": plan}

    @app.get("/api/videos")
    async def videos(claims: AccessClaims = Depends(watcher)) -> dict[str, Any]:
        return {
            "videos": [
                {"id": v.id, "title": v.title, "free": v.free, "entitled": entitled(claims, v)}
                for v in CATALOGUE
            ]
        }

    @app.post("/api/videos/{video_id}/play")
    async def play(video_id: str, claims: AccessClaims = Depends(watcher)) -> JSONResponse:
        video = BY_ID.get(video_id)
        if video is None:
            raise HTTPException(404, "No such video.")
        if not entitled(claims, video):
            raise HTTPException(403, "This video is for subscribers.")
        started = time.perf_counter()
        try:
            body = await app.state.signer.playback(video, claims.sub)
        except httpx.HTTPError as exc:
            log.warning("gatepass could not be reached: %s", type(exc).__name__)
            raise HTTPException(503, "The signing service is unreachable.") from None
        signing_ms = (time.perf_counter() - started) * 1000
        # Server-Timing: the browser's Resource Timing shows how much of the wait was signing
        headers = {"Cache-Control": "no-store", "Server-Timing": f"sign;dur={signing_ms:.1f}"}
        return JSONResponse(body, headers=headers)

    return app
